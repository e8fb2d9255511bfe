"""Partner feed dates through the command line: what `once` stores and says of them."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from tests.conftest import OFFLINE_TRANSLATION, run_cli, write_config
from tests.feedserver import FeedServer


def _rss(items: list[tuple[str, str]]) -> bytes:
    """An RSS feed of one item per (guid, pubDate), titled `Story GUID`."""
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Forum</title>'
        "<link>https://forum.example.kz/</link>"
        + "".join(
            f'<item><guid isPermaLink="false">{guid}</guid><title>Story {guid}</title>'
            f"<description>Words of story {guid}.</description><pubDate>{date}</pubDate></item>"
            for guid, date in items
        )
        + "</channel></rss>"
    ).encode()


def _stored(tmp_path: Path, source: str) -> dict[str, str | None]:
    """What the store holds as each story's published date, by guid."""
    with sqlite3.connect(tmp_path / "data" / "test.db") as conn:
        return dict(
            conn.execute("SELECT guid, published FROM articles WHERE source_id = ?", (source,))
        )


def test_once_reads_the_regions_dates_and_names_a_date_it_cannot_read(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """A forum's `2020/1/10 14:33:00` was stored as 2020-12-01 and a Russian date as none,
    silently; an impossible date became the next January. Now each reads as written, and the
    one that cannot be read is said on the source's row, its story filed when first seen."""
    items = [
        ("a", "2020/1/10 14:33:00"),
        ("b", "Вс, 01 июн 2025 10:00:00 +0300"),
        ("c", "2025年6月1日 10:00"),
        ("d", "2025-13-45T99:00:00Z"),
    ]
    headers = {"Content-Type": "application/rss+xml"}
    url = feed_server.add("/forum.xml", _rss(items), headers=headers)
    config = write_config(
        tmp_path, sources=[{"id": "forum", "url": url}], translation=OFFLINE_TRANSLATION
    )
    result = run_cli("once", "--config", str(config))
    assert "Traceback" not in result.output
    said = " ".join(result.output.split())
    assert "1 item(s) with a date that could not be read" in said
    assert "'2025-13-45T99:00:00Z'" in said
    stored = _stored(tmp_path, "forum")
    assert stored["a"].startswith("2020-01-10T14:33:00")
    assert stored["b"].startswith("2025-06-01T07:00:00")
    assert stored["c"].startswith("2025-06-01T10:00:00")
    assert stored["d"] is None  # not 2026-01-01: filed when first seen


def test_a_zone_abbreviation_is_its_offset_and_an_unknown_one_no_date(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """A German partner's `CET`, a Japanese one's `JST`, `UTC+6` and the like were all stored
    as if written in UTC, hours off and said nowhere. Now each is its offset; a zone nobody
    knows (`XYZ`) or one naming several (`IST`: India, Ireland, Israel) is no date, said on
    the source's row, never UTC."""
    day = "Tue, 02 Dec 2025 15:30:00"
    zones = ["CET", "JST", "PKT", "UTC+6", "GMT+6", "UTC+05:30", "CST", "XYZ", "IST"]
    headers = {"Content-Type": "application/rss+xml"}
    url = feed_server.add("/zones.xml", _rss([(z, f"{day} {z}") for z in zones]), headers=headers)
    config = write_config(
        tmp_path, sources=[{"id": "zones", "url": url}], translation=OFFLINE_TRANSLATION
    )
    result = run_cli("once", "--config", str(config))
    assert "Traceback" not in result.output
    said = " ".join(result.output.split())
    assert (
        f"2 item(s) with a date that could not be read ('{day} XYZ', '{day} IST'): "
        "filed when first seen" in said
    )
    stored = _stored(tmp_path, "zones")
    assert {z: (d or "")[:16] for z, d in stored.items()} == {
        "CET": "2025-12-02T14:30",
        "JST": "2025-12-02T06:30",
        "PKT": "2025-12-02T10:30",
        "UTC+6": "2025-12-02T09:30",
        "GMT+6": "2025-12-02T09:30",
        "UTC+05:30": "2025-12-02T10:00",
        "CST": "2025-12-02T21:30",  # RFC 822's own: US Central
        "XYZ": "",
        "IST": "",
    }


def test_a_feeds_dates_without_a_zone_are_in_the_sources_timezone(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """A Chinese CMS writes `2025-12-02 09:15:00`, Beijing time, and `timezone:` could not be
    set on a feed (refused as an articles folder's key): every story was dated 8 hours ahead.
    Now a feed's `timezone:` is the zone of the dates it writes without one (RSS and JSON
    Feed, fetched or on disk); a date that writes its zone is unchanged."""
    rss = _rss(
        [
            ("cms", "2025-12-02 09:15:00"),
            ("gbk", "2025年12月02日 10:30"),
            ("utc", "Tue, 02 Dec 2025 09:15:00 +0000"),
            ("cet", "Tue, 02 Dec 2025 15:30:00 CET"),
        ]
    )
    url = feed_server.add("/cn.xml", rss, headers={"Content-Type": "application/rss+xml"})
    export = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Export",
        "items": [
            {"id": "json", "title": "Story json", "content_text": "Words of story json.",
             "date_published": "2025-12-02T11:00:00"},
        ],
    }  # fmt: skip
    (tmp_path / "export.json").write_text(json.dumps(export), encoding="utf-8")
    beijing = {"language": "en", "timezone": "Asia/Shanghai"}
    config = write_config(
        tmp_path,
        editions=["en"],
        sources=[
            {"id": "cn", "url": url, **beijing},
            {"id": "export", "file": "export.json", **beijing},
        ],
    )
    result = run_cli("once", "--config", str(config))
    assert result.code == 0, result.output
    feed = json.loads((tmp_path / "public" / "en" / "feed.json").read_text(encoding="utf-8"))
    published = {
        item["title"]: datetime.fromisoformat(item["date_published"]) for item in feed["items"]
    }
    assert published == {
        "Story cms": datetime(2025, 12, 2, 1, 15, tzinfo=UTC),
        "Story gbk": datetime(2025, 12, 2, 2, 30, tzinfo=UTC),
        "Story utc": datetime(2025, 12, 2, 9, 15, tzinfo=UTC),
        "Story cet": datetime(2025, 12, 2, 14, 30, tzinfo=UTC),
        "Story json": datetime(2025, 12, 2, 3, 0, tzinfo=UTC),
    }
