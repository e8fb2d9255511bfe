"""A source that changes a story's guid (or a local file's path) while the story stays the same
(the same link): through the command line, `once` keeps it once, under the id it was published
by, in the store and in every published feed; a story its source withdraws as a replacement
takes its link is two stories; an item with no guid whose link gains or changes tracking
parameters (`?utm_source=feedburner`) is the same story, also in a store written before they
were ignored. On both store backends."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from syndication.config import load
from syndication.ingest.parse import SourceInfo, parse_feed
from syndication.model import utcnow
from syndication.store import ArticleWrite, Store
from tests.conftest import OFFLINE_TRANSLATION, run_cli, write_config
from tests.feedserver import FeedServer

pytestmark = pytest.mark.usefixtures("store_url")


def _feed(base: str, guids: list[str], query: str = "") -> bytes:
    """Items linking `{base}/www/mut/N{query}`, each with the guid element given ("": none)."""
    items = "".join(
        f"<item>{guid}<link>{base}/www/mut/{n}{query}</link><title>Story number {n}</title>"
        f"<description>The text of story {n}.</description>"
        f"<pubDate>Mon, 0{n} Dec 2025 10:00:00 GMT</pubDate></item>"
        for n, guid in enumerate(guids, start=1)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Mut</title>'
        f"<link>{base}/www/</link><language>en</language>{items}</channel></rss>"
    ).encode()


def _counts(store: Store, source_id: str) -> tuple[int, int, int]:
    """(new, updated, unchanged) of the source's last poll, as `status` shows them."""
    state = store.source_state(source_id)
    assert state is not None and state.result == "ok", state
    return state.new, state.updated, state.unchanged


def _published_ids(root: Path, folder: str) -> list[str]:
    feed = json.loads((root / folder / "feed.json").read_text(encoding="utf-8"))
    return sorted(item["id"] for item in feed["items"])


def test_a_partner_switching_guid_style_duplicates_nothing(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    base = feed_server.base
    plain = [f"<guid isPermaLink='false'>id-{n}</guid>" for n in range(1, 5)]
    url = feed_server.add("/www/feed.xml", _feed(base, plain))
    config = write_config(
        tmp_path,
        sources=[{"id": "mut", "url": url, "language": "en"}],
        translation=OFFLINE_TRANSLATION,
    )
    run_cli("once", "--config", str(config))
    store = Store.open(load(config).store_url)
    assert _counts(store, "mut") == (4, 0, 0)
    public = tmp_path / "public"
    before = _published_ids(public, "en")
    assert len(before) == 4
    permalinks = [f"<guid isPermaLink='true'>{base}/www/mut/{n}</guid>" for n in range(1, 5)]
    feed_server.add("/www/feed.xml", _feed(base, permalinks))
    run_cli("once", "--config", str(config))
    assert _counts(store, "mut") == (0, 0, 4)
    assert _published_ids(public, "en") == before
    assert _published_ids(public, "en/sources/mut") == before
    assert store.article_count("mut", include_withdrawn=True) == 4


def test_a_feed_reached_through_a_redirect_keeps_its_stories(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """<guid>ep-3</guid> is made absolute against the feed's URL: a temporary redirect to
    another path gives the same item another guid."""
    base = feed_server.base
    body = _feed(base, ["<guid>ep-1</guid>", "<guid>ep-2</guid>", "<guid>ep-3</guid>"])
    url = feed_server.add("/www/feed.xml", body)
    config = write_config(
        tmp_path,
        sources=[{"id": "cdn", "url": url, "language": "en"}],
        translation=OFFLINE_TRANSLATION,
    )
    run_cli("once", "--config", str(config))
    before = _published_ids(tmp_path / "public", "en")
    assert any(f":cdn:{base}/www/ep-3/" in i for i in before), before
    feed_server.add("/www/v2/feed.xml", body)
    feed_server.add("/www/feed.xml", status=302, headers={"Location": "/www/v2/feed.xml"})
    run_cli("once", "--config", str(config))
    assert len(feed_server.requests_for("/www/v2/feed.xml")) == 1
    store = Store.open(load(config).store_url)
    assert _counts(store, "cdn") == (0, 0, 3)
    assert _published_ids(tmp_path / "public", "en") == before
    assert store.article_count("cdn", include_withdrawn=True) == 3


def _guid_only_feed(episodes: int) -> bytes:
    """Items with no <link>: only a guid that is no URL (isPermaLink left at its default, so
    feedparser makes it absolute against the feed's URL, and takes it for the link too)."""
    items = "".join(
        f"<item><guid>ep-{n}</guid><title>Episode {n}</title>"
        f"<description>What episode {n} says.</description>"
        f"<pubDate>Mon, 0{n} Dec 2025 10:00:00 GMT</pubDate></item>"
        for n in range(1, episodes + 1)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Pod</title>'
        f"<language>en</language>{items}</channel></rss>"
    ).encode()


def test_a_moved_feed_keeps_the_stories_of_its_guid_only_items(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """A partner moves its feed (a permanent redirect, then the operator copies the new URL
    into the YAML as `status` tells): items known only by a guid such as `ep-3` keep their
    ids and are never published twice."""
    body = _guid_only_feed(3)
    url = feed_server.add("/www/feed.xml", body)
    config = write_config(
        tmp_path,
        sources=[{"id": "pod", "url": url, "language": "en"}],
        translation=OFFLINE_TRANSLATION,
    )
    run_cli("once", "--config", str(config))
    public = tmp_path / "public"
    before = _published_ids(public, "en")
    assert len(before) == 3
    store = Store.open(load(config).store_url)
    stored = store.article_count("pod", include_withdrawn=True)
    assert stored == 3
    moved = feed_server.add("/news/feed.xml", body)
    feed_server.add("/www/feed.xml", status=301, headers={"Location": "/news/feed.xml"})
    run_cli("once", "--config", str(config))
    assert len(feed_server.requests_for("/news/feed.xml")) == 1
    assert store.article_count("pod", include_withdrawn=True) == 3
    assert _published_ids(public, "en") == before
    config = write_config(
        tmp_path,
        sources=[{"id": "pod", "url": moved, "language": "en"}],
        translation=OFFLINE_TRANSLATION,
    )
    run_cli("once", "--config", str(config))
    assert len(feed_server.requests_for("/news/feed.xml")) == 2
    assert store.article_count("pod", include_withdrawn=True) == 3
    assert _published_ids(public, "en") == before
    assert _published_ids(public, "en/sources/pod") == before


def test_a_moved_article_file_with_its_link_stays_published(tmp_path: Path) -> None:
    """A newsroom renames an article's file: the story (its `link:` unchanged) keeps its id
    and is not withdrawn as a deleted file."""
    desk = tmp_path / "desk"
    desk.mkdir()
    text = (
        "---\ntitle: Astana hosts a book fair\nlanguage: en\nlink: https://news.example.kz/fair\n"
        "date: 2025-12-01T09:30:00+05:00\n---\nPublishers from three countries came.\n"
    )
    (desk / "fair.md").write_text(text, encoding="utf-8")
    config = write_config(
        tmp_path,
        sources=[{"id": "desk", "articles": "desk", "language": "en"}],
        translation=OFFLINE_TRANSLATION,
    )
    run_cli("once", "--config", str(config))
    before = _published_ids(tmp_path / "public", "en")
    assert len(before) == 1
    (desk / "fair.md").rename(desk / "2025-12-01-fair.md")
    run_cli("once", "--config", str(config))
    assert _published_ids(tmp_path / "public", "en") == before
    store = Store.open(load(config).store_url)
    assert store.article_count("desk") == 1
    assert store.article_count("desk", include_withdrawn=True) == 1


def test_a_withdrawn_file_and_its_replacement_on_the_same_link_are_two_stories(
    tmp_path: Path,
) -> None:
    desk = tmp_path / "desk"
    desk.mkdir()
    head = "---\nlanguage: en\nlink: https://news.example.kz/fair\ndate: 2025-12-01T09:30:00Z\n"
    (desk / "fair.md").write_text(f"{head}title: The fair\n---\nFirst text.\n", "utf-8")
    config = write_config(
        tmp_path,
        sources=[{"id": "desk", "articles": "desk", "language": "en"}],
        translation=OFFLINE_TRANSLATION,
    )
    run_cli("once", "--config", str(config))
    (desk / "fair.md").write_text(
        f"{head}title: The fair\nstatus: withdrawn\n---\nFirst text.\n", "utf-8"
    )
    (desk / "fair-2.md").write_text(f"{head}title: The fair, again\n---\nNew text.\n", "utf-8")
    run_cli("once", "--config", str(config))
    store = Store.open(load(config).store_url)
    old, new = store.get_article("desk:fair"), store.get_article("desk:fair-2")
    assert old is not None and old.withdrawn
    assert new is not None and not new.withdrawn


def _atom(entries: str, tombstone: str = "") -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom" '
        'xmlns:at="http://purl.org/atompub/tombstones/1.0"><title>P</title><id>urn:p</id>'
        f"<updated>2025-12-01T00:00:00Z</updated>{entries}{tombstone}</feed>"
    ).encode()


def _entry(guid: str, title: str) -> str:
    return (
        f"<entry><id>{guid}</id><title>{title}</title><updated>2025-12-01T10:00:00Z</updated>"
        "<link href='https://partner.example.kz/story'/><summary>Its text.</summary></entry>"
    )


def test_a_story_tombstoned_as_another_takes_its_link_is_no_rename(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """The partner withdraws an item and lists a replacement on the same page in the same
    document: the replacement is a story of its own, published; the old one withdrawn."""
    url = feed_server.add("/feed.xml", _atom(_entry("urn:1", "The first version")))
    config = write_config(
        tmp_path,
        sources=[{"id": "p", "url": url, "language": "en"}],
        translation=OFFLINE_TRANSLATION,
    )
    run_cli("once", "--config", str(config))
    tombstone = '<at:deleted-entry ref="urn:1" when="2025-12-02T00:00:00Z"/>'
    feed_server.add("/feed.xml", _atom(_entry("urn:2", "The replacement"), tombstone))
    run_cli("once", "--config", str(config))
    store = Store.open(load(config).store_url)
    old, new = store.get_article("p:urn:1"), store.get_article("p:urn:2")
    assert old is not None and old.withdrawn
    assert new is not None and not new.withdrawn
    assert [i for i in _published_ids(tmp_path / "public", "en") if ":p:urn:2/" in i]


TRACKED = "?utm_source=feedburner&amp;utm_medium=feed"  # as a feed writes it, in XML


def test_a_link_gaining_tracking_parameters_is_the_same_story(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """FeedBurner and many CMSs add `?utm_source=…` to their items' links, later or changing
    them: an item with no guid is known by its link without them, so it stays one story in
    every feed, not even updated (the link first seen stays)."""
    base = feed_server.base
    url = feed_server.add("/www/feed.xml", _feed(base, ["", ""]))
    config = write_config(
        tmp_path,
        editions=["en"],
        sources=[{"id": "mut", "url": url, "language": "en"}],
        translation=OFFLINE_TRANSLATION,
    )
    run_cli("once", "--config", str(config))
    store = Store.open(load(config).store_url)
    public = tmp_path / "public"
    before = _published_ids(public, "en")
    assert len(before) == 2
    for query in (TRACKED, "?utm_campaign=Feed%3A+mut&amp;fbclid=IwAR0x&amp;gclid=Cj0K"):
        feed_server.add("/www/feed.xml", _feed(base, ["", ""], query))
        run_cli("once", "--config", str(config))
        assert _counts(store, "mut") == (0, 0, 2)
        assert _published_ids(public, "en") == before
        assert _published_ids(public, "en/sources/mut") == before
    assert store.article_count("mut", include_withdrawn=True) == 2
    first = store.get_article(f"mut:{base}/www/mut/1")
    assert first is not None and first.article.link == f"{base}/www/mut/1"


def test_a_story_stored_under_its_tracked_link_keeps_its_id(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """A store written before tracking parameters were ignored holds an item with no guid
    under an id made of its whole link, keyed by it: polled again, the item keeps that id
    (it was published under it) and is stored and published once."""
    base = feed_server.base
    body = _feed(base, [""], TRACKED)
    url = feed_server.add("/www/feed.xml", body)
    config = write_config(
        tmp_path,
        editions=["en"],
        sources=[{"id": "mut", "url": url, "language": "en"}],
        translation=OFFLINE_TRANSLATION,
    )
    store = Store.open(load(config).store_url)
    # The story as the earlier version stored it: the same item, its id and key its whole link.
    (story,) = parse_feed(body, {}, SourceInfo(id="mut", url=url, language="en"), 10**6).articles
    link = f"{base}/www/mut/1?utm_source=feedburner&utm_medium=feed"
    earlier = replace(story, id=f"mut:{link}", guid=link)
    with store.article_batch() as batch:
        key = link.removeprefix("http://")
        batch.insert([ArticleWrite(earlier, canonical=key, first_seen=utcnow())])
    run_cli("once", "--config", str(config))
    assert _counts(store, "mut") == (0, 0, 1)
    assert store.article_count("mut", include_withdrawn=True) == 1
    assert store.get_article(earlier.id) is not None
    (published,) = _published_ids(tmp_path / "public", "en")
    assert "utm_source" in published, published
