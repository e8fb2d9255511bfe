"""A partner that changes an item's guid while the item stays the same story (another guid
style, http:// become https://, a guid resolved against a moved feed's URL): the story keeps
the id it was published under, and is not duplicated.

Owns: tests of parse → save (syndication.ingest.decide, save) for a guid that disappears from
a source's feed while a new one appears with the same link, on both store backends.
"""

from __future__ import annotations

import pytest

from syndication.ingest.parse import SourceInfo, parse_feed
from syndication.ingest.save import save_articles
from syndication.store import Store

LANGS = ["kk", "zh", "en"]
HOST = "http://host.example/www"

Item = tuple[str, str, str, str]  # guid (as the feed writes the element), link, title, text


def _items(guids: list[str], links: list[str] | None = None) -> list[Item]:
    links = links or [f"{HOST}/mut/{n}" for n in range(1, len(guids) + 1)]
    return [
        (guid, link, f"Story number {n}", f"The text of story {n}.")
        for n, (guid, link) in enumerate(zip(guids, links, strict=True), start=1)
    ]


def _rss(items: list[Item], home: str = f"{HOST}/") -> bytes:
    """An RSS feed of `items` (also test_shared_guids.py's), its channel linking `home`."""
    entries = "".join(
        f"<item>{g}"
        + (f"<link>{p}</link>" if p else "")
        + f"<title>{t}</title><description>{x}</description></item>"
        for g, p, t, x in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>P</title>'
        f"<link>{home}</link>{entries}</channel></rss>"
    ).encode()


def _poll(
    store: Store, items: list[Item], feed_url: str = f"{HOST}/feed.xml", source: str = "mut"
) -> tuple[int, int, int]:
    info = SourceInfo(id=source, url=feed_url)
    parsed = parse_feed(_rss(items), {}, info, 10**6)
    return save_articles(store, source, parsed.articles, LANGS, shared=parsed.shared)


def _stories(store: Store) -> dict[str, tuple[str, str]]:
    """Every stored story: id → (title, text)."""
    found = {}
    for article_id in store.ids_by_date():
        stored = store.get_article(article_id)
        assert stored is not None
        found[article_id] = (stored.article.title, stored.article.summary)
    return found


def _plain(guid: str) -> str:
    return f"<guid isPermaLink='false'>{guid}</guid>"


@pytest.fixture
def store(store_url: str) -> Store:
    return Store.open(store_url)


def test_a_partner_switching_guid_style_keeps_every_story_once(store: Store) -> None:
    assert _poll(store, _items([_plain(f"id-{n}") for n in range(1, 5)])) == (4, 0, 0)
    first = _stories(store)
    permalinks = [f"<guid isPermaLink='true'>{HOST}/mut/{n}</guid>" for n in range(1, 5)]
    assert _poll(store, _items(permalinks)) == (0, 0, 4)
    assert _stories(store) == first
    assert set(first) == {f"mut:id-{n}" for n in range(1, 5)}
    assert store.article_count("mut") == 4
    # Polled again as it is now, nothing changes either.
    assert _poll(store, _items(permalinks)) == (0, 0, 4)
    assert _stories(store) == first


def test_a_guid_moving_from_http_to_https_is_the_same_story(store: Store) -> None:
    _poll(store, _items([_plain("http://host.example/a/1")], [f"{HOST}/story/1"]))
    assert _poll(store, _items([_plain("https://host.example/a/1")], [f"{HOST}/story/1"])) == (
        0,
        0,
        1,
    )
    assert list(_stories(store)) == ["mut:http://host.example/a/1"]


def test_a_guid_resolved_against_a_moved_feed_url_is_the_same_story(store: Store) -> None:
    """<guid>ep-3</guid> is a permalink to feedparser, made absolute against the feed's URL:
    reached through a redirect to another path, the same item has another guid."""
    item = _items(["<guid>ep-3</guid>"], [f"{HOST}/episodes/3"])
    assert _poll(store, item, feed_url=f"{HOST}/feed.xml", source="cdn") == (1, 0, 0)
    first = _stories(store)
    assert list(first) == [f"cdn:{HOST}/ep-3"]
    assert _poll(store, item, feed_url=f"{HOST}/v2/feed.xml", source="cdn") == (0, 0, 1)
    assert _stories(store) == first


def test_a_renamed_story_whose_text_changed_is_updated_under_its_id(store: Store) -> None:
    _poll(store, _items([_plain("id-1")]))
    edited = [(_plain("new-1"), f"{HOST}/mut/1", "Story number 1", "Corrected text.")]
    assert _poll(store, edited) == (0, 1, 0)
    assert _stories(store) == {"mut:id-1": ("Story number 1", "Corrected text.")}


def test_two_items_sharing_a_link_in_the_feed_stay_two_stories(store: Store) -> None:
    """A live blog: each update is an item of its own, every one linking to the same page."""
    page = f"{HOST}/live"
    _poll(store, _items([_plain("u1")], [page]))
    assert _poll(store, _items([_plain("u1"), _plain("u2")], [page, page])) == (1, 0, 1)
    assert set(_stories(store)) == {"mut:u1", "mut:u2"}


def test_a_rename_and_a_new_item_on_one_link_make_one_new_story(store: Store) -> None:
    page = f"{HOST}/live"
    _poll(store, [(_plain("u1"), page, "First update", "One.")])
    renamed = (_plain("v1"), page, "First update", "One.")
    added = (_plain("v2"), page, "Second update", "Two.")
    assert _poll(store, [added, renamed]) == (1, 0, 1)
    stories = _stories(store)
    assert stories["mut:u1"] == ("First update", "One.")  # the unchanged one kept its id
    assert stories["mut:v2"] == ("Second update", "Two.")
    assert len(stories) == 2


def test_an_item_without_a_link_is_never_taken_for_another(store: Store) -> None:
    _poll(store, [(_plain("a"), "", "No link here", "Text.")])
    assert _poll(store, [(_plain("b"), "", "No link here", "Text.")]) == (1, 0, 0)
    assert set(_stories(store)) == {"mut:a", "mut:b"}


def test_another_sources_story_is_not_renamed_into(store: Store) -> None:
    """The same link from another source stays the cross-source duplicate it always was."""
    _poll(store, _items([_plain("id-1")]), source="other")
    assert _poll(store, _items([_plain("x-1")])) == (0, 0, 1)
    assert set(_stories(store)) == {"other:id-1"}


def test_a_story_its_source_withdrew_comes_back_under_its_id(store: Store) -> None:
    from syndication.model import Withdrawal

    _poll(store, _items([_plain("id-1")]))
    store.withdraw_from_source("mut", [Withdrawal("mut:id-1", "tombstone")], "partner")
    assert _poll(store, _items([_plain("new-1")])) == (0, 1, 0)
    stored = store.get_article("mut:id-1")
    assert stored is not None and not stored.withdrawn
    assert store.article_count("mut", include_withdrawn=True) == 1


def test_a_story_the_operator_withdrew_stays_withdrawn_and_single(store: Store) -> None:
    _poll(store, _items([_plain("id-1")]))
    store.withdraw("mut:id-1", "legal")
    _poll(store, _items([_plain("new-1")]))
    stored = store.get_article("mut:id-1")
    assert stored is not None and stored.withdrawn
    assert store.article_count("mut", include_withdrawn=True) == 1


def test_a_new_story_on_a_section_page_link_is_not_the_one_that_left(store: Store) -> None:
    """Every item links to the section page; the oldest drops off as a new one comes."""
    page = f"{HOST}/news"
    one = (_plain("s1"), page, "Wheat harvest begins", "Farmers started.")
    two = (_plain("s2"), page, "New bridge opens", "Traffic flows.")
    three = (_plain("s3"), page, "Museum reopens", "Visitors return.")
    _poll(store, [two, one])
    assert _poll(store, [three, two]) == (1, 0, 1)
    stories = _stories(store)
    assert stories["mut:s1"] == ("Wheat harvest begins", "Farmers started.")
    assert stories["mut:s3"] == ("Museum reopens", "Visitors return.")


def test_a_renamed_item_on_a_section_page_link_keeps_its_id(store: Store) -> None:
    page = f"{HOST}/news"
    one = (_plain("s1"), page, "Wheat harvest begins", "Farmers started.")
    two = (_plain("s2"), page, "New bridge opens", "Traffic flows.")
    _poll(store, [two, one])
    assert _poll(store, [(_plain("n2"), *two[1:]), (_plain("n1"), *one[1:])]) == (0, 0, 2)
    assert set(_stories(store)) == {"mut:s1", "mut:s2"}
