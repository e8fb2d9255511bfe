"""Prometheus metrics as a scraper sees them: the exposition text read from a real store, the
``/metrics`` route of the server, and ``syndication run`` answering a scrape whose counters
moved with a real cycle (loopback partner feed, fake Google)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine

from syndication import metrics
from syndication.ingest.save import save_articles
from syndication.model import Article, SourceState, Translation
from syndication.run.health import exposition
from syndication.serve import make_server
from syndication.store import Store
from tests.conftest import REPO, run_cli, write_config
from tests.fakeprovider import FakeGoogle
from tests.feedserver import FeedServer

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(text: str) -> Samples:
    """Every sample of an exposition, keyed by sample name and label set."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float | None:
    return found.get((name, frozenset(labels.items())))


def registry_value(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


# --- the exposition, from a real store ---------------------------------------------------


def _article(n: int) -> Article:
    return Article(
        id=f"wire:{n}",
        source_id="wire",
        guid=str(n),
        title=f"Story {n}",
        summary="A summary.",
        content="<p>Body text.</p>",
        language="en",
        published=datetime(2025, 5, n, tzinfo=UTC),
    )


def test_exposition_reads_backlog_and_source_health_from_the_store(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'x.db'}")
    stories = [_article(1), _article(2)]
    save_articles(store, "wire", stories, ["kk", "zh", "en"])
    store.save_translation(
        Translation(stories[0].id, "kk", "translated", title="Т", content="<p>М</p>"),
        stories[0].text_hash,
    )
    succeeded = datetime(2025, 5, 5, 10, 30, tzinfo=UTC)
    store.save_source_state(
        SourceState("wire", "url", "https://wire.example/rss", last_success=succeeded)
    )
    store.save_source_state(SourceState("flaky", "url", "https://flaky.example/", failures=3))
    before = registry_value("syndication_fetches_total", source="wire", result="ok")
    metrics.source_polled("wire", "ok", new=2, updated=1)

    body, content_type = exposition(store)

    assert content_type.startswith("text/plain; version=0.0.4")
    found = samples(body.decode("utf-8"))
    assert value(found, "syndication_store_up") == 1
    backlog = "syndication_translation_backlog"
    assert value(found, backlog, language="kk", status="translated") == 1
    assert value(found, backlog, language="kk", status="pending") == 1
    assert value(found, backlog, language="zh", status="pending") == 2
    # Every status is reported, 0 included, so an alert on failed > 0 has a series to watch.
    assert value(found, backlog, language="zh", status="failed") == 0
    assert value(found, backlog, language="en", status="pending") is None  # English stories
    last = "syndication_source_last_success_timestamp_seconds"
    assert value(found, last, source="wire") == succeeded.timestamp()
    assert value(found, last, source="flaky") is None  # never succeeded: no made-up time
    failures = "syndication_source_consecutive_failures"
    assert value(found, failures, source="flaky") == 3
    assert value(found, failures, source="wire") == 0
    # This process's counters are in the same answer.
    fetched = value(found, "syndication_fetches_total", source="wire", result="ok")
    assert fetched == before + 1
    ingested = "syndication_articles_ingested_total"
    assert value(found, ingested, source="wire", change="new") is not None
    assert value(found, ingested, source="wire", change="updated") is not None
    # Only our own registry: nothing from prometheus-client's global default (process_*).
    assert all(name.startswith("syndication_") for name, _ in found)


def test_a_store_outage_still_answers_the_scrape(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    # A database that cannot be opened at scrape time, as when the disk or server goes away.
    store = Store(create_engine(f"sqlite:///{blocker / 'sub' / 'x.db'}"))
    metrics.translation_request("google", "ru", "kk")

    body, _ = exposition(store)

    found = samples(body.decode("utf-8"))
    assert value(found, "syndication_store_up") == 0
    assert value(found, "syndication_translation_requests_total", provider="google", pair="ru-kk")
    assert not any(name.startswith("syndication_translation_backlog") for name, _ in found)


# --- the /metrics route -------------------------------------------------------------------


@pytest.fixture
def serving(tmp_path: Path) -> Iterator[Callable[..., httpx.Client]]:
    """Start the real server (port 0, in a thread) with a given `metrics` callable."""
    root = tmp_path / "public"
    root.mkdir()
    (root / "index.html").write_text("<title>home</title>\n", encoding="utf-8")
    # A published file of that name must not shadow the endpoint nor be served in its place.
    (root / "metrics").write_text("a file\n", encoding="utf-8")
    stops: list[Callable[[], None]] = []

    def start(scrape: Callable[[], tuple[bytes, str]] | None) -> httpx.Client:
        server = make_server(root, "127.0.0.1", 0, metrics=scrape)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
            time.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5)

        def stop() -> None:
            client.close()
            server.should_exit = True
            thread.join(timeout=10)

        stops.append(stop)
        return client

    yield start
    for stop in stops:
        stop()


def test_metrics_route_answers_what_the_callable_gives(
    serving: Callable[..., httpx.Client],
) -> None:
    threads: list[str] = []

    def scrape() -> tuple[bytes, str]:
        threads.append(threading.current_thread().name)
        return b"syndication_store_up 1\n", metrics.CONTENT_TYPE

    client = serving(scrape)
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.text == "syndication_store_up 1\n"
    assert response.headers["content-type"] == metrics.CONTENT_TYPE
    assert response.headers["cache-control"] == "no-store"
    head = client.head("/metrics")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(response.content))
    # Called off the event loop (it reads the store), once per request.
    assert len(threads) == 2 and threading.main_thread().name not in threads
    # The rest of the server is untouched.
    assert client.get("/").status_code == 200
    assert client.get("/healthz").json() == {"ok": True}


def test_metrics_route_is_not_found_without_a_callable(
    serving: Callable[..., httpx.Client],
) -> None:
    client = serving(None)  # `syndication serve`: files only
    response = client.get("/metrics")
    assert response.status_code == 404 and "a file" not in response.text
    assert client.get("/index.html").status_code == 200


def test_a_failing_exposition_is_a_plain_500(serving: Callable[..., httpx.Client]) -> None:
    def scrape() -> tuple[bytes, str]:
        raise RuntimeError("boom")

    client = serving(scrape)
    response = client.get("/metrics")
    assert response.status_code == 500 and "boom" not in response.text
    assert client.get("/healthz").status_code == 200


# --- `syndication run`, scraped over HTTP ---------------------------------------------------
#
# METRICS-WIRING: needs worker.py to pass `metrics=lambda: exposition(store)` to make_server;
# until then /metrics answers 404 and this test fails on purpose.

RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Wire</title><link>https://wire.example/</link>
<description>Partner wire</description><language>ru</language>
<item><title>{title}</title><link>https://wire.example/festival</link><guid>w-1</guid>
<pubDate>Thu, 01 May 2025 12:00:00 +0500</pubDate>
<description><![CDATA[<p>В Алматы начался трёхдневный фестиваль уличной музыки. На площадках
в центре города выступят более сорока коллективов.</p>]]></description></item>
<item><title>Новый маршрут соединит Шымкент и Туркестан</title>
<link>https://wire.example/route</link><guid>w-2</guid>
<pubDate>Wed, 30 Apr 2025 08:15:00 +0500</pubDate>
<description><![CDATA[<p>С июня между Шымкентом и Туркестаном будет курсировать скоростной
электропоезд.</p>]]></description></item>
</channel></rss>
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _scrape_until(
    url: str, process: subprocess.Popen[str], ready: Callable[[Samples], bool], limit: float
) -> tuple[Samples, str]:
    deadline = time.monotonic() + limit
    found: Samples = {}
    text = ""
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[0]
        try:
            response = httpx.get(url, timeout=2)
            # The server is up but has no such route: not wired (see METRICS-WIRING above).
            assert response.status_code != 404, "GET /metrics: 404 (worker.py passes no metrics)"
            if response.status_code == 200:
                text = response.text
                found = samples(text)
                if ready(found):
                    return found, text
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{url} never showed the expected counters; last scrape:\n{text}")


def test_run_serves_metrics_that_move_with_a_cycle(
    tmp_path: Path, feed_server: FeedServer, fake_google: FakeGoogle
) -> None:
    """METRICS-WIRING: `syndication run` answers GET /metrics (see the note above)."""
    secret = {"WIRE_TOKEN": "tok-VERYSECRET"}
    path = "/wire.xml?token=tok-VERYSECRET"
    feed_server.add(path, RSS.format(title="В Алматы открылся фестиваль").encode(), etag='"v1"')
    port = _free_port()
    config = write_config(
        tmp_path,
        sources=[
            {
                "id": "wire",
                "url": feed_server.url("/wire.xml?token=${WIRE_TOKEN}"),
                "language": "ru",
                "every": "1s",  # due again by the time `run` starts
            }
        ],
        translation={"chain": ["google"], "providers": {"google": {"base_url": fake_google.url}}},
        serve={"host": "127.0.0.1", "port": port},
    )
    # A first cycle fills the translation memory; then the partner retitles one story, so the
    # `run` below translates the new title and takes the unchanged paragraphs from memory.
    first = run_cli("once", "--config", str(config), env=secret)
    assert first.code == 0, first.output
    feed_server.add(
        path, RSS.format(title="В Алматы открылся джаз-фестиваль").encode(), etag='"v2"'
    )
    started = time.time()
    process = subprocess.Popen(
        [sys.executable, "-m", "syndication", "run", "--config", str(config)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "200", **secret},
    )
    ru_kk = {"provider": "google", "pair": "ru-kk"}

    def cycle_done(found: Samples) -> bool:
        # The retitled story translated again everywhere: nothing stale, nothing pending.
        backlog = [
            value(found, "syndication_translation_backlog", language=language, status=status)
            for language in ("kk", "zh", "en")
            for status in ("stale", "pending")
        ]
        hits = value(found, "syndication_translation_cache_hits_total", **ru_kk)
        return bool(hits) and backlog == [0] * len(backlog)

    try:
        found, text = _scrape_until(f"http://127.0.0.1:{port}/metrics", process, cycle_done, 40)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert (value(found, "syndication_fetches_total", source="wire", result="ok") or 0) >= 1
    assert value(found, "syndication_articles_ingested_total", source="wire", change="updated")
    assert value(found, "syndication_translation_requests_total", **ru_kk)
    assert value(found, "syndication_translation_requests_total", provider="google", pair="ru-zh")
    assert value(found, "syndication_translation_cache_hits_total", **ru_kk)
    assert not value(found, "syndication_translation_failures_total", **ru_kk)
    for language in ("kk", "zh", "en"):
        translated = value(
            found, "syndication_translation_backlog", language=language, status="translated"
        )
        assert translated == 2, (language, text)
    assert (value(found, "syndication_publish_duration_seconds_count") or 0) >= 1
    assert (value(found, "syndication_last_publish_timestamp_seconds") or 0) >= started - 1
    last_success = value(found, "syndication_source_last_success_timestamp_seconds", source="wire")
    assert last_success is not None and last_success >= started - 1
    assert value(found, "syndication_source_consecutive_failures", source="wire") == 0
    assert value(found, "syndication_store_up") == 1
    assert "VERYSECRET" not in text and "token" not in text
