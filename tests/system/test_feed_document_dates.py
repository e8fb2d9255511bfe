"""A published feed document's own date (RSS `lastBuildDate`, Atom feed `updated`) through
`syndication once`, as stories of any date enter the feed from a partner on loopback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

from lxml import etree

from tests.conftest import OFFLINE_TRANSLATION, run_cli, write_config
from tests.feedserver import FeedItem, FeedServer, GrowingFeed

ATOM_UPDATED = "{http://www.w3.org/2005/Atom}updated"


def _dates(edition: Path) -> tuple[datetime, datetime]:
    """The RSS `lastBuildDate` and the Atom feed `updated` of a feed's current document."""
    rss = etree.fromstring((edition / "rss.xml").read_bytes())
    atom = etree.fromstring((edition / "atom.xml").read_bytes())
    built = parsedate_to_datetime(rss.findtext("channel/lastBuildDate", ""))
    return built, datetime.fromisoformat(atom.findtext(ATOM_UPDATED, ""))


def _story(source: str, n: int, published: datetime) -> FeedItem:
    return FeedItem(
        guid=f"{source}-{n}",
        title=f"{source} story {n}",
        link=f"https://{source}.example.kz/{n}",
        summary=f"The words of {source} story {n}.",
        published=published,
    )


def test_a_feeds_date_never_goes_back_when_a_partners_old_stories_enter_it(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """Today's stories published, then a partner's back catalogue of last month's was first
    polled: the edition's RSS `lastBuildDate` and Atom `updated` went back a month (they were
    the newest item's date), though the feed changed that minute (RFC 4287: the last time it
    changed). Now they are never earlier than before; a closed archive page keeps its bytes."""
    now = datetime.now(UTC).replace(microsecond=0)
    fresh = GrowingFeed(feed_server, "/fresh.xml", title="Fresh")
    old = GrowingFeed(feed_server, "/old.xml", title="Old")
    for n in range(3):
        fresh.publish(_story("fresh", n, now - timedelta(hours=n + 1)))
    config = write_config(
        tmp_path,
        sources=[
            {"id": "fresh", "url": fresh.url, "language": "en"},
            {"id": "old", "url": old.url, "language": "en"},
        ],
        editions=["en"],  # nothing to translate: the partners write English
        feeds={"items": 5},
        translation=OFFLINE_TRANSLATION,
    )
    edition = tmp_path / "public" / "en"

    first = run_cli("once", "--config", str(config))
    assert first.code == 0, first.output
    before = _dates(edition)

    for n in range(30):
        old.publish(_story("old", n, now - timedelta(days=31 + n % 28)))
    second = run_cli("once", "--config", str(config))
    assert second.code == 0, second.output
    after = _dates(edition)
    assert after[0] >= before[0] and after[1] >= before[1], (before, after)
    # The current document holds the back catalogue (stories rank by when they entered)...
    assert b"old story" in (edition / "rss.xml").read_bytes()
    # ...and today's are on the archive pages, whose oldest is closed (33 stories, 5 a page).
    closed = edition / "archive" / "1" / "atom.xml"
    kept = closed.read_bytes()

    fresh.publish(_story("fresh", 3, now))
    third = run_cli("once", "--config", str(config))
    assert third.code == 0, third.output
    assert _dates(edition)[1] >= after[1]
    assert closed.read_bytes() == kept
