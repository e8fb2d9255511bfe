"""Stories a partner lists under one guid: each keeps the id it was first published under,
whatever order the feed lists them in, as they are edited, joined by others or left alone.

Owns: tests of parse → save (syndication.ingest.entries, decide, save) for feeds that give
one guid to more than one distinct story, on both store backends.
"""

from __future__ import annotations

import pytest

from syndication.ingest.parse import SourceInfo, parse_feed
from syndication.ingest.save import save_articles
from syndication.store import Store
from tests.unit.ingest.test_renamed_guids import _rss as rss

SOURCE = SourceInfo(id="p", url="https://partner.example.org/feed.xml")
LANGS = ["kk", "zh", "en"]

Item = tuple[str, str, str, str]  # guid, link path, title, text
ONE: Item = ("g", "/one", "Shanghai port handles record cargo", "Throughput hit a record.")
TWO: Item = ("g", "/two", "Taipei mayor announces a transport policy", "Residents cheered.")
OWN: Item = ("own", "/own", "A story with a guid of its own", "Nothing shared.")


def _rss(items: list[Item]) -> bytes:
    home = "https://partner.example.org"
    return rss(
        [
            (f"<guid isPermaLink='false'>{g}</guid>", f"{home}{p}" if p else "", t, x)
            for g, p, t, x in items
        ],
        home=f"{home}/",
    )


def _poll(store: Store, items: list[Item]) -> tuple[int, int, int]:
    parsed = parse_feed(_rss(items), {}, SOURCE, 10**6)
    return save_articles(store, "p", parsed.articles, LANGS, shared=parsed.shared)


def _by_id(store: Store) -> dict[str, tuple[str, str]]:
    """Every stored story of source p: id → (title, text)."""
    found = {}
    for article_id in store.ids_by_date():
        stored = store.get_article(article_id)
        assert stored is not None
        found[article_id] = (stored.article.title, stored.article.summary)
    return found


@pytest.fixture
def store(store_url: str) -> Store:
    return Store.open(store_url)


def test_swapping_two_stories_that_share_a_guid_changes_nothing(store: Store) -> None:
    assert _poll(store, [ONE, OWN, TWO]) == (3, 0, 0)
    first = _by_id(store)
    assert first["p:g"][0] == ONE[2]  # at first sight the first listed has the bare guid
    assert _poll(store, [TWO, OWN, ONE]) == (0, 0, 3)
    assert _by_id(store) == first


def test_a_new_story_on_top_under_the_same_guid_is_new_not_a_correction(store: Store) -> None:
    """A feed whose every item carries one guid: the newest arrives first in the list."""
    _poll(store, [ONE, TWO])
    first = _by_id(store)
    newest: Item = ("g", "/three", "Almaty weather turns cold", "Snow expected.")
    assert _poll(store, [newest, ONE, TWO]) == (1, 0, 2)
    now = _by_id(store)
    assert {i: now[i] for i in first} == first
    assert len(now) == 3 and newest[2] in {title for title, _ in now.values()}


def test_an_edited_story_keeps_its_id_when_a_new_one_joins_above_it(store: Store) -> None:
    _poll(store, [ONE, TWO])
    first = _by_id(store)
    edited_one: Item = (*ONE[:3], "Throughput hit a record, officials said.")
    edited_two: Item = (*TWO[:3], "Residents cheered loudly.")
    newest: Item = ("g", "/three", "Almaty weather turns cold", "Snow expected.")
    assert _poll(store, [newest, edited_two, edited_one]) == (1, 2, 0)
    now = _by_id(store)
    assert [now[i][0] for i in first] == [first[i][0] for i in first]
    assert {now[i][1] for i in first} == {edited_one[3], edited_two[3]}


def test_a_sibling_left_alone_under_the_guid_keeps_its_own_id(store: Store) -> None:
    _poll(store, [ONE, TWO])
    first = _by_id(store)
    assert _poll(store, [TWO]) == (0, 0, 1)
    assert _by_id(store) == first


def test_a_story_alone_under_its_guid_is_still_corrected_under_it(store: Store) -> None:
    """No sibling ever shared the guid: a new title is that story's correction."""
    _poll(store, [OWN])
    assert _poll(store, [("own", "/own", "A retitled story", OWN[3])]) == (0, 1, 0)
    assert _by_id(store) == {"p:own": ("A retitled story", OWN[3])}


def test_stories_with_one_title_and_no_link_under_one_guid_keep_their_ids(store: Store) -> None:
    first_text: Item = ("g", "", "Briefing", "Morning briefing text.")
    second_text: Item = ("g", "", "Briefing", "Evening briefing text.")
    _poll(store, [first_text, second_text])
    first = _by_id(store)
    assert len(first) == 2
    assert _poll(store, [second_text, first_text]) == (0, 0, 2)
    assert _by_id(store) == first
