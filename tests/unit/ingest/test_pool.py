"""Parsing in worker processes: the same articles and the same clear errors as parsing in a
thread, errors that survive pickling, a worker that dies costing only its own bodies, and a
small cycle that never starts a process."""

from __future__ import annotations

import asyncio
import logging
import os
import pickle
import sqlite3
from pathlib import Path
from typing import Any, ClassVar

import pytest

from syndication.config import Config, load
from syndication.errors import ArticleFileError, SourceError, TranslationError
from syndication.ingest import poll
from syndication.ingest.parse import ParsedFeed, SourceInfo, parse_feed
from syndication.ingest.poll import ParsePool, SourceOutcome
from syndication.run.cycle import ingest
from syndication.store import Store
from tests.conftest import write_config
from tests.feedserver import FeedServer

# Small real feeds in several encodings and formats, so the test stays fast.
FEEDS = (
    "ibash-org-ru_rss2_windows-1251.xml",
    "example-ru_rss2_koi8-r.xml",
    "diygod-me_atom_zh.xml",
    "rss091_missing-guid-and-dates.xml",
    "braingle_rss2_duplicate-guids.xml",
    "numi-st_atom_xml-base-relative-img.xml",
)
HOSTILE = {
    "html-page": b"<!DOCTYPE html><html><head><title>Account Suspended</title></head>"
    b"<body>x</body></html>",
    "empty": b"",
    "binary": bytes(range(256)) * 4,
}


class _Recording(ParsePool):
    """A ParsePool that remembers itself, so a test can see what the cycle's pool did."""

    made: ClassVar[list[ParsePool]] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _Recording.made.append(self)


class _Eager(_Recording):
    """Sends every body to the workers, so a test knows which way each went."""

    def __init__(self, workers: int, **kwargs: Any) -> None:
        super().__init__(workers, **{**kwargs, "min_bodies": 1})


@pytest.fixture
def recording(monkeypatch: pytest.MonkeyPatch) -> list[ParsePool]:
    _Recording.made = []
    monkeypatch.setattr(poll, "ParsePool", _Recording)
    return _Recording.made


def _serve(server: FeedServer, shared: Path, hostile: bool = False) -> list[dict[str, str]]:
    folder = shared / "corpus" / "feeds"
    sources = []
    for name in FEEDS:
        url = server.add(f"/{name}", (folder / name).read_bytes())
        sources.append({"id": name.split("_")[0], "url": url})
    if hostile:
        for key, body in HOSTILE.items():
            url = server.add(f"/{key}", body, headers={"Content-Type": "text/html"})
            sources.append({"id": key, "url": url})
    return sources


def _ingest(folder: Path, sources: list[dict[str, str]], workers: int) -> list[SourceOutcome]:
    folder.mkdir()
    config: Config = load(write_config(folder, sources=sources, fetch={"parse_workers": workers}))
    store = Store.open(config.store_url)
    return ingest(config, store, chosen=list(config.settings.sources))


def _stored(folder: Path) -> list[tuple[str, ...]]:
    with sqlite3.connect(folder / "data" / "test.db") as conn:
        return list(
            conn.execute(
                "SELECT id, content_hash, text_hash, language, title FROM articles ORDER BY id"
            )
        )


def test_a_pool_stores_the_same_articles_as_a_thread(
    tmp_path: Path, feed_server: FeedServer, shared: Path, recording: list[ParsePool]
) -> None:
    sources = _serve(feed_server, shared)
    in_thread = _ingest(tmp_path / "thread", sources, workers=0)
    in_pool = _ingest(tmp_path / "pool", sources, workers=2)

    assert [o.result for o in in_pool] == ["ok"] * len(FEEDS)
    assert [(o.new, o.notes) for o in in_pool] == [(o.new, o.notes) for o in in_thread]
    stored = _stored(tmp_path / "pool")
    assert len(stored) >= 50
    assert stored == _stored(tmp_path / "thread")
    thread_pool, process_pool = recording
    assert thread_pool.sent == 0 and thread_pool.started == 0
    # The first bodies of the cycle parse in the thread; from the min_bodies-th on, workers.
    assert process_pool.started == 1
    assert process_pool.sent == len(FEEDS) - process_pool.min_bodies + 1


def test_bodies_that_are_no_feed_fail_the_same_through_the_pool(
    tmp_path: Path,
    feed_server: FeedServer,
    shared: Path,
    recording: list[ParsePool],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sources = _serve(feed_server, shared, hostile=True)
    in_thread = {o.source_id: o for o in _ingest(tmp_path / "thread", sources, workers=0)}
    monkeypatch.setattr(poll, "ParsePool", _Eager)
    in_pool = {o.source_id: o for o in _ingest(tmp_path / "pool", sources, workers=2)}

    assert recording[1].sent == len(sources)
    for key in HOSTILE:
        assert in_pool[key].result == "error"
        assert in_pool[key].error == in_thread[key].error
    assert "Account Suspended" in in_pool["html-page"].error
    assert "empty response" in in_pool["empty"].error
    assert all(o.result == "ok" for k, o in in_pool.items() if k not in HOSTILE)


def test_a_small_cycle_starts_no_process(
    tmp_path: Path, feed_server: FeedServer, shared: Path, recording: list[ParsePool]
) -> None:
    sources = _serve(feed_server, shared)[:2]
    outcomes = _ingest(tmp_path / "pool", sources, workers=2)
    assert [o.result for o in outcomes] == ["ok", "ok"]
    assert recording[0].started == 0


def test_errors_pickle_with_their_fields() -> None:
    error = SourceError("partner", "not a feed: HTML page", retry_after=30.0)
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is SourceError
    assert (back.source_id, back.message, back.retry_after) == ("partner", error.message, 30.0)
    assert str(back) == str(error)
    file_error = pickle.loads(pickle.dumps(ArticleFileError("a.md", "bad date", 3)))
    assert (file_error.path, file_error.message, file_error.line) == ("a.md", "bad date", 3)
    assert str(file_error) == "a.md:3: bad date"
    failed = TranslationError("quota", provider="google", transient=False, retry_after=5.0)
    back_t = pickle.loads(pickle.dumps(failed))
    assert (str(back_t), back_t.provider, back_t.transient, back_t.retry_after) == (
        "quota",
        "google",
        False,
        5.0,
    )


def _crash_or_parse(
    body: bytes, headers: dict[str, str], info: SourceInfo, max_bytes: int
) -> ParsedFeed:
    """Runs in a worker: dies as a segfaulting C extension would for the source "crash"."""
    if info.id == "crash":
        os._exit(70)
    logging.getLogger("syndication.ingest.xmlfeed").warning(
        "parsing %s in %d", info.id, os.getpid()
    )
    return parse_feed(body, headers, info, max_bytes)


def test_a_dying_worker_is_a_source_error_and_the_pool_comes_back(
    caplog: pytest.LogCaptureFixture, shared: Path
) -> None:
    body = (shared / "corpus" / "feeds" / FEEDS[0]).read_bytes()
    pool = ParsePool(2, min_bodies=1, target=_crash_or_parse)

    async def run() -> ParsedFeed:
        with pytest.raises(SourceError) as caught:
            await pool.parse(body, {}, SourceInfo(id="crash", url=""), 10_000_000)
        assert caught.value.source_id == "crash"
        assert "parser process died" in caught.value.message
        return await pool.parse(body, {}, SourceInfo(id="fine", url=""), 10_000_000)

    try:
        parsed = asyncio.run(run())
    finally:
        pool.close()
    assert parsed.articles
    assert pool.started == 2 and pool.sent == 2
    # The worker's log record reached this process's handlers.
    worker_logs = [r for r in caplog.records if r.getMessage().startswith("parsing fine in ")]
    assert len(worker_logs) == 1 and worker_logs[0].process != os.getpid()


def test_a_dying_worker_does_not_stop_the_cycle(
    tmp_path: Path, feed_server: FeedServer, shared: Path
) -> None:
    sources = _serve(feed_server, shared)[:1]
    sources.append({"id": "crash", "url": sources[0]["url"]})
    config = load(write_config(tmp_path, sources=sources))
    store = Store.open(config.store_url)
    pool = ParsePool(2, min_bodies=1, target=_crash_or_parse)
    try:
        chosen = list(config.settings.sources)
        first = asyncio.run(poll.poll_sources(config, store, chosen, parse_pool=pool))
        # The healthy source may have shared the dead pool; on the next poll it is fine.
        second = asyncio.run(poll.poll_sources(config, store, chosen[:1], parse_pool=pool))
    finally:
        pool.close()
    crashed = {o.source_id: o for o in first}["crash"]
    assert crashed.result == "error" and "parser process died" in crashed.error
    assert [o.result for o in second] == ["ok"]
    state = store.source_state("crash")
    assert state is not None and state.failures == 1 and "parser process died" in state.error
