"""Polling through the command line: one broken source never holds up the others, failing
sources back off, moved feeds are reported, and a killed run loses and duplicates nothing."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from syndication.config import load
from syndication.ingest.poll import due_sources
from syndication.ingest.schedule import scheduled_after
from syndication.store import Store
from tests.conftest import OFFLINE_TRANSLATION, PARTNER_FEED, REPO, run_cli, write_config
from tests.feedserver import FeedServer


def _articles(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        return dict(conn.execute("SELECT source_id, count(*) FROM articles GROUP BY source_id"))


def test_broken_sources_are_reported_and_the_rest_goes_on(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    good = feed_server.add("/good.xml", PARTNER_FEED.read_bytes())
    html = feed_server.add(
        "/html.xml",
        b"<!DOCTYPE html><html><head><title>Account Suspended</title></head><body>x</body></html>",
        headers={"Content-Type": "text/html"},
    )
    missing = feed_server.url("/missing.xml")
    config = write_config(
        tmp_path,
        sources=[
            {"id": "good", "url": good},
            {"id": "html", "url": html},
            {"id": "gone", "url": missing},
            {"id": "nofile", "file": "no/such.xml"},
            {"id": "newsroom", "articles": "articles"},
        ],
        translation=OFFLINE_TRANSLATION,
    )
    result = run_cli("once", "--config", str(config))
    assert result.code == 1
    assert "Traceback" not in result.output
    assert "html" in result.output and "not a feed" in result.output
    assert "Account Suspended" in result.output
    assert "HTTP 404" in result.output
    assert "no/such.xml" in result.output
    counts = _articles(tmp_path / "data" / "test.db")
    assert counts == {"good": 3, "newsroom": 4}
    status = run_cli("status", "--config", str(config))
    assert status.code == 0
    assert "error" in status.output and "HTTP 404" in status.output


def test_failing_source_backs_off_and_recovers(tmp_path: Path, feed_server: FeedServer) -> None:
    url = feed_server.add("/flaky.xml", b"oops", status=503, headers={"Retry-After": "120"})
    config_path = write_config(
        tmp_path,
        sources=[{"id": "flaky", "url": url, "every": "1m"}],
        translation=OFFLINE_TRANSLATION,
    )
    run_cli("once", "--config", str(config_path))
    # Named, it is polled whatever the partner asked (a plain `once` waits: the next test).
    run_cli("once", "--source", "flaky", "--config", str(config_path))
    config = load(config_path)
    store = Store.open(config.store_url)
    state = store.source_state("flaky")
    assert state is not None and state.failures == 2 and state.result == "error"
    assert "retry after 120s" in state.error
    assert state.next_due is not None and state.last_attempt is not None
    assert state.next_due - state.last_attempt >= timedelta(seconds=120)
    # Not due yet for the scheduler (backoff), though `once --source` polls it anyway.
    assert due_sources(config, store, now=datetime.now(UTC)) == []
    feed_server.add("/flaky.xml", PARTNER_FEED.read_bytes())
    assert run_cli("once", "--source", "flaky", "--config", str(config_path)).code == 1
    state = store.source_state("flaky")
    assert state is not None and state.failures == 0 and state.result == "ok" and state.new == 3


def test_once_keeps_to_a_partners_retry_after(tmp_path: Path, feed_server: FeedServer) -> None:
    """A cron job running `once` every few minutes does not ask again a partner that
    answered 429 with Retry-After before that time: it says so (exit 1: the source is
    failing), polls every other source, and polls it when named or once the wait is over."""
    busy = feed_server.add("/busy.xml", b"", status=429, headers={"Retry-After": "60"})
    good = feed_server.add("/good.xml", PARTNER_FEED.read_bytes())
    config = write_config(
        tmp_path,
        sources=[{"id": "busy", "url": busy}, {"id": "good", "url": good}],
        translation=OFFLINE_TRANSLATION,
    )
    first = run_cli("once", "--config", str(config))
    assert first.code == 1 and "retry after 60s" in " ".join(first.output.split())
    assert len(feed_server.requests_for("/busy.xml")) == 1
    again = run_cli("once", "--config", str(config))
    assert again.code == 1
    said = " ".join(again.output.split())
    assert "source busy: not polled: its partner asked to wait until" in said, said
    assert "`syndication once --source busy` polls it now" in said
    assert len(feed_server.requests_for("/busy.xml")) == 1  # not asked again
    assert len(feed_server.requests_for("/good.xml")) == 2  # the rest as ever
    # Named, it is polled now (and asks for 2 s this time).
    feed_server.add("/busy.xml", b"", status=429, headers={"Retry-After": "2"})
    assert run_cli("once", "--source", "busy", "--config", str(config)).code == 1
    assert len(feed_server.requests_for("/busy.xml")) == 2
    # Once the wait is over, a plain `once` polls it again, and it recovers.
    feed_server.add("/busy.xml", PARTNER_FEED.read_bytes())
    time.sleep(2.5)
    last = run_cli("once", "--config", str(config))
    assert "not polled" not in last.output, last.output
    assert len(feed_server.requests_for("/busy.xml")) == 3
    shown = json.loads(run_cli("status", "--json", "--config", str(config)).stdout)
    assert {s["id"]: s["result"] for s in shown["sources"]}["busy"] == "ok"


def test_a_retry_after_past_the_backoff_cap_is_said_as_kept(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """A partner asking for 99999999999999 s is waited for `fetch.max_backoff` (6 h), and the
    note says the wait that is kept, not one no one will wait."""
    url = feed_server.add("/busy.xml", b"", status=429, headers={"Retry-After": "99999999999999"})
    config_path = write_config(
        tmp_path, sources=[{"id": "busy", "url": url}], translation=OFFLINE_TRANSLATION
    )
    result = run_cli("once", "--config", str(config_path))
    assert "retry after 21600s" in " ".join(result.output.split()), result.output
    assert "99999999999999" not in result.output


def test_permanent_redirect_is_reported(tmp_path: Path, feed_server: FeedServer) -> None:
    target = feed_server.add("/new.xml", PARTNER_FEED.read_bytes())
    old = feed_server.add("/old.xml", b"", status=301, headers={"Location": "/new.xml"})
    config = write_config(
        tmp_path, sources=[{"id": "moved", "url": old}], translation=OFFLINE_TRANSLATION
    )
    result = run_cli("once", "--config", str(config))
    assert f"moved permanently to {target}" in result.output
    assert "update the YAML" in result.output


def test_unchanged_source_is_not_parsed_again(tmp_path: Path, feed_server: FeedServer) -> None:
    url = feed_server.add(
        "/feed.xml",
        PARTNER_FEED.read_bytes(),
        etag='"abc"',
        last_modified="Wed, 30 Apr 2025 10:00:00 GMT",
    )
    config = write_config(
        tmp_path, sources=[{"id": "p", "url": url}], translation=OFFLINE_TRANSLATION
    )
    run_cli("once", "--config", str(config))
    result = run_cli("once", "--config", str(config))
    assert "not-modified" in result.output
    second = feed_server.requests_for("/feed.xml")[-1]
    assert second.header("If-None-Match") == '"abc"'
    assert second.header("If-Modified-Since") == "Wed, 30 Apr 2025 10:00:00 GMT"


def test_many_quiet_sources_are_one_row_of_the_summary(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    urls = [feed_server.add(f"/f{n}.xml", _big_feed(n, 2), etag=f'"e{n}"') for n in range(25)]
    config = write_config(
        tmp_path,
        sources=[{"id": f"p{n:02d}", "url": url} for n, url in enumerate(urls)],
        translation=OFFLINE_TRANSLATION,
    )

    def rows(output: str) -> dict[str, str]:
        cells = [line.split("│") for line in output.splitlines() if "│" in line]
        return {c[0].strip(): c[1].strip() for c in cells if len(c) > 2}

    first = rows(run_cli("once", "--config", str(config)).output)
    assert all(first[f"p{n:02d}"] == "ok" for n in range(25))  # every new source has its row
    feed_server.add("/f7.xml", _big_feed(7, 2), etag='"e7-again"')  # answers 200 again
    second = run_cli("once", "--config", str(config))
    found = rows(second.output)
    # The source with something to say keeps its row; the 24 that answered 304 are one row.
    assert found == {"p07": "ok", "24 more sources": "not-modified"}
    assert "syndication status" in second.output


def _big_feed(feed: int, entries: int) -> bytes:
    items = "".join(
        f"<item><title>Story number {n} about the regional economy</title>"
        f"<link>https://partner.example.org/{feed}/{n}</link><guid>g-{n}</guid>"
        f"<description>&lt;p&gt;Paragraph {n} of a long partner export with enough words to "
        f"be a real story.&lt;/p&gt;</description></item>"
        for n in range(entries)
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Big'
        f"</title><link>https://partner.example.org/</link>{items}</channel></rss>"
    ).encode()


def test_killed_run_loses_and_duplicates_nothing(tmp_path: Path, feed_server: FeedServer) -> None:
    sources = []
    for n in range(4):
        url = feed_server.add(f"/big{n}.xml", _big_feed(n, 400))
        sources.append({"id": f"big{n}", "url": url})
    config = write_config(tmp_path, sources=sources, translation=OFFLINE_TRANSLATION)
    db = tmp_path / "data" / "test.db"
    for delay in (0.7, 1.4, 2.1):
        process = subprocess.Popen(
            [sys.executable, "-m", "syndication", "once", "--config", str(config)],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=os.environ.copy(),
        )
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait()
    final = run_cli("once", "--config", str(config), timeout=300)
    assert final.code == 1, final.output  # only the unreachable translator
    assert _articles(db) == {f"big{n}": 400 for n in range(4)}
    with sqlite3.connect(db) as conn:
        (translations,) = conn.execute("SELECT count(*) FROM translations").fetchone()
    assert translations == 4 * 400 * 2  # English stories into kk and zh, each exactly once


def test_the_schedule_in_force_now_says_when_a_source_is_due(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    good = feed_server.add("/good.xml", PARTNER_FEED.read_bytes())
    flaky = feed_server.add("/flaky.xml", b"oops", status=503, headers={"Retry-After": "120"})
    sources = [{"id": "good", "url": good}, {"id": "flaky", "url": flaky}]
    path = write_config(tmp_path, sources=sources, translation=OFFLINE_TRANSLATION)
    run_cli("once", "--config", str(path))
    store = Store.open(load(path).store_url)
    soon = datetime.now(UTC) + timedelta(seconds=5)
    # Before the healthy source's next slot of its 10 minutes (its phase may put that slot a
    # few seconds after the poll: then 5 s later it is due, rightly), and within the 2 min
    # of the failing one's Retry-After, neither is due.
    polled = store.source_state("good")
    assert polled is not None and polled.last_attempt is not None
    slot = scheduled_after(load(path).settings.sources[0], polled.last_attempt)
    before = min(soon, slot - timedelta(microseconds=1))
    assert due_sources(load(path), store, now=before) == []
    # Polled every second from now on: the healthy source is due a second after its last
    # poll, whatever next time that poll recorded; the failing one waits out its backoff …
    path = write_config(
        tmp_path, sources=[{**s, "every": "1s"} for s in sources], translation=OFFLINE_TRANSLATION
    )
    assert [s.id for s in due_sources(load(path), store, now=soon)] == ["good"]
    # … unless `fetch.max_backoff` now caps it shorter.
    path = write_config(
        tmp_path,
        sources=[{**s, "every": "1s"} for s in sources],
        fetch={"max_backoff": "2s"},
        translation=OFFLINE_TRANSLATION,
    )
    assert [s.id for s in due_sources(load(path), store, now=soon)] == ["good", "flaky"]


# Two distinct stories a partner lists under one guid ("j1"), and a third with its own.
_SHARED_GUID = [
    ("j1", "/one", "Shanghai port handles record cargo", "Throughput hit a record."),
    ("j2", "/two", "Taipei mayor announces a transport policy", "Residents welcomed it."),
    ("j1", "/one-dup", "Duplicate id j1 second copy", "A different story."),
]


def _shared_guid_feed(kind: str, items: list[tuple[str, str, str, str]]) -> bytes:
    if kind == "json":
        return json.dumps(
            {
                "version": "https://jsonfeed.org/version/1.1",
                "title": "Partner",
                "home_page_url": "https://partner.example.org/",
                "items": [
                    {"id": g, "url": f"https://partner.example.org{p}", "title": t,
                     "content_text": x}
                    for g, p, t, x in items
                ],
            }
        ).encode()  # fmt: skip
    entries = "".join(
        f"<item><guid isPermaLink='false'>{g}</guid><link>https://partner.example.org{p}</link>"
        f"<title>{t}</title><description>{x}</description></item>"
        for g, p, t, x in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Partner'
        f"</title><link>https://partner.example.org/</link>{entries}</channel></rss>"
    ).encode()


def _titles_by_id(db: Path, source: str) -> dict[str, str]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT id, title FROM articles WHERE source_id = ?", (source,))
        return dict(rows.fetchall())


@pytest.mark.parametrize("kind", ["json", "rss"])
def test_stories_sharing_a_guid_keep_their_ids_when_the_feed_reorders_them(
    tmp_path: Path, feed_server: FeedServer, kind: str
) -> None:
    """An item's id never changes once published: not when the partner swaps two items that
    share a guid, nor when a new one joins them at the top (a feed whose every item carries
    the same guid), nor when one of them leaves the feed."""
    url = feed_server.add("/dupg", _shared_guid_feed(kind, _SHARED_GUID))
    config = write_config(
        tmp_path, sources=[{"id": "dupg", "url": url}], translation=OFFLINE_TRANSLATION
    )
    db = tmp_path / "data" / "test.db"
    run_cli("once", "--config", str(config))
    first = _titles_by_id(db, "dupg")
    assert sorted(first.values()) == sorted(t for _, _, t, _ in _SHARED_GUID)

    one, two, dup = _SHARED_GUID
    for items in ([dup, two, one], [("j1", "/new", "Newest story", "Just in."), dup, two, one]):
        feed_server.add("/dupg", _shared_guid_feed(kind, items))
        result = run_cli("once", "--config", str(config))
        assert "Traceback" not in result.output
        now = _titles_by_id(db, "dupg")
        assert {i: now[i] for i in first} == first  # no story moved to another id
        assert len(set(now.values())) == len(now)  # and none is held twice
        state = Store.open(load(config).store_url).source_state("dupg")
        assert state is not None and state.updated == 0, result.output
    assert len(now) == 4

    # The story holding the bare guid leaves the feed: its sibling keeps its own id.
    feed_server.add("/dupg", _shared_guid_feed(kind, [dup, two]))
    run_cli("once", "--config", str(config))
    assert _titles_by_id(db, "dupg") == now
    state = Store.open(load(config).store_url).source_state("dupg")
    assert state is not None and (state.new, state.updated) == (0, 0)


def _status_of(config: Path, source_id: str) -> dict[str, object]:
    shown = json.loads(run_cli("status", "--json", "--config", str(config)).stdout)
    return next(s for s in shown["sources"] if s["id"] == source_id)


def test_a_last_modified_in_the_future_is_not_sent_back(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """A partner with no ETag whose Last-Modified says 2099 (a wrong clock) would answer 304 to
    that date sent back as If-Modified-Since until 2099: its new stories never arrive while
    the source looks healthy. The date is not kept; the poll says why."""
    future = "Thu, 01 Jan 2099 00:00:00 GMT"
    url = feed_server.add("/feed.xml", _big_feed(0, 1), last_modified=future)
    config = write_config(
        tmp_path, sources=[{"id": "p", "url": url}], translation=OFFLINE_TRANSLATION
    )
    run_cli("once", "--config", str(config))
    feed_server.add("/feed.xml", _big_feed(0, 2), last_modified=future)  # a new story
    second = run_cli("once", "--config", str(config))
    assert feed_server.requests_for("/feed.xml")[-1].header("If-Modified-Since") is None
    assert _articles(tmp_path / "data" / "test.db") == {"p": 2}
    shown = _status_of(config, "p")
    assert shown["last_counts"] == {"new": 1, "updated": 0, "unchanged": 1}
    assert shown["health"] == "ok"
    assert shown["notes"] == [
        f"the partner's Last-Modified ({future}) is in the future: not kept as a validator "
        "(If-Modified-Since not sent; its clock or its CMS is wrong)"
    ]
    assert "Last-Modified" in second.output  # the poll's row says it too


def test_a_304_to_a_request_without_validators_is_a_failure(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """A partner answering 304 to the very first poll has delivered nothing: a failing
    source, not a healthy unchanged one."""
    url = feed_server.add("/feed.xml", status=304)
    config = write_config(
        tmp_path, sources=[{"id": "p", "url": url}], translation=OFFLINE_TRANSLATION
    )
    result = run_cli("once", "--config", str(config))
    assert result.code == 1
    said = " ".join(result.output.split())
    assert "answered 304 Not Modified to a request without validators" in said, said
    shown = _status_of(config, "p")
    assert (shown["health"], shown["result"], shown["failures"]) == ("failing", "error", 1)
    assert "nothing to compare with" in str(shown["error"])


def test_a_gone_feed_is_reported_and_polled_rarely(tmp_path: Path, feed_server: FeedServer) -> None:
    """410 Gone is the partner saying the feed is removed for good: said so, shown as `gone`,
    polled again only after `fetch.max_backoff`, its published stories kept; a 200 later
    clears it."""
    url = feed_server.add("/feed.xml", PARTNER_FEED.read_bytes())
    config = write_config(
        tmp_path, sources=[{"id": "p", "url": url}], translation=OFFLINE_TRANSLATION
    )
    run_cli("once", "--config", str(config))
    feed_server.add("/feed.xml", b"", status=410)
    result = run_cli("once", "--config", str(config))
    assert result.code == 1
    said = " ".join(result.output.split())
    assert "gone (HTTP 410): the partner removed this feed" in said, said
    assert "remove the source from the YAML or point it elsewhere" in said
    shown = _status_of(config, "p")
    assert (shown["health"], shown["gone"], shown["articles"]) == ("gone", True, 3)
    table = run_cli("status", "--config", str(config)).output
    assert "gone" in table and "failing" not in table
    store = Store.open(load(config).store_url)
    state = store.source_state("p")
    assert state is not None and state.last_attempt is not None and state.next_due is not None
    # Not the minute's backoff of a passing failure: the longest, `fetch.max_backoff` (6 h).
    assert state.next_due - state.last_attempt == timedelta(hours=6)
    soon = state.last_attempt + timedelta(hours=5)
    assert due_sources(load(config), store, now=soon) == []
    feed_server.add("/feed.xml", PARTNER_FEED.read_bytes())
    assert "gone" not in run_cli("once", "--config", str(config)).output
    shown = _status_of(config, "p")
    assert (shown["health"], shown["gone"], shown["articles"]) == ("ok", False, 3)
