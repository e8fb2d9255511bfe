"""Partner feed dates through the command line: what `once` stores and says of them."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.conftest import OFFLINE_TRANSLATION, run_cli, write_config
from tests.feedserver import FeedServer


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
    body = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Forum</title>'
        "<link>https://forum.example.kz/</link>"
        + "".join(
            f'<item><guid isPermaLink="false">{guid}</guid><title>Story {guid}</title>'
            f"<description>Words of story {guid}.</description><pubDate>{date}</pubDate></item>"
            for guid, date in items
        )
        + "</channel></rss>"
    ).encode()
    url = feed_server.add("/forum.xml", body, headers={"Content-Type": "application/rss+xml"})
    config = write_config(
        tmp_path, sources=[{"id": "forum", "url": url}], translation=OFFLINE_TRANSLATION
    )
    result = run_cli("once", "--config", str(config))
    assert "Traceback" not in result.output
    said = " ".join(result.output.split())
    assert "1 item(s) with a date that could not be read" in said
    assert "'2025-13-45T99:00:00Z'" in said
    with sqlite3.connect(tmp_path / "data" / "test.db") as conn:
        stored = dict(
            conn.execute("SELECT guid, published FROM articles WHERE source_id = 'forum'")
        )
    assert stored["a"].startswith("2020-01-10T14:33:00")
    assert stored["b"].startswith("2025-06-01T07:00:00")
    assert stored["c"].startswith("2025-06-01T10:00:00")
    assert stored["d"] is None  # not 2026-01-01: filed when first seen
