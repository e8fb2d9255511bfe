"""Fetching over real loopback HTTP: what a partner's server sees and what we make of it.

Owns: tests of syndication.ingest.fetch: conditional GET (a future Last-Modified, a 304
unasked), compression, User-Agent, the size cap, redirects, Retry-After, 410 Gone, timeouts and
connect failures, and read_feed_file's not-modified.
"""

from __future__ import annotations

import asyncio
import gzip
import os
import socket
import time
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import brotli
import pytest

from syndication.config import FetchSettings
from syndication.errors import SourceError
from syndication.http import parse_retry_after
from syndication.ingest.fetch import Fetcher, FetchResult, SourceGone, is_gone, read_feed_file
from tests.feedserver import FeedServer, running


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    yield from running()


FEED = (
    b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
    + (b"<item><title>\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82</title></item>" * 50)
    + b"</channel></rss>"
)
T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


async def fetch(url: str, settings: FetchSettings | None = None, **kwargs: str) -> FetchResult:
    async with Fetcher(settings or FetchSettings()) as fetcher:
        return await fetcher.fetch("partner", url, **kwargs)


def test_second_poll_is_conditional_and_gets_304(feed_server: FeedServer) -> None:
    etag = '"v1-abc"'
    modified = "Wed, 21 Oct 2015 07:28:00 GMT"
    url = feed_server.add("/feed", FEED, etag=etag, last_modified=modified)
    first = run(fetch(url))
    assert (first.status, first.body, first.etag, first.last_modified) == (
        "ok", FEED, etag, modified,
    )  # fmt: skip
    second = run(fetch(url, etag=first.etag, last_modified=first.last_modified))
    assert second.status == "not-modified"
    assert second.body == b""
    assert (second.etag, second.last_modified) == (etag, modified)
    sent = feed_server.requests_for("/feed")
    assert sent[0].header("If-None-Match") is None
    assert sent[0].header("If-Modified-Since") is None
    # Sent back verbatim: the server compares strings, not dates.
    assert sent[1].header("If-None-Match") == etag
    assert sent[1].header("If-Modified-Since") == modified


def test_last_modified_alone_gives_304(feed_server: FeedServer) -> None:
    modified = "Wed, 21 Oct 2015 07:28:00 GMT"
    url = feed_server.add("/feed", FEED, last_modified=modified)
    assert run(fetch(url, last_modified=modified)).status == "not-modified"
    assert run(fetch(url, last_modified="Thu, 22 Oct 2015 07:28:00 GMT")).status == "ok"


def test_user_agent_and_accept_headers_sent(feed_server: FeedServer) -> None:
    url = feed_server.add("/feed", FEED)
    settings = FetchSettings(user_agent="syndication-test/1.0 (+mailto:ops@example.kz)")
    run(fetch(url, settings))
    (request,) = feed_server.requests_for("/feed")
    assert request.header("User-Agent") == "syndication-test/1.0 (+mailto:ops@example.kz)"
    assert "gzip" in (request.header("Accept-Encoding") or "")
    assert "br" in (request.header("Accept-Encoding") or "")
    assert "application/rss+xml" in (request.header("Accept") or "")


@pytest.mark.parametrize(
    ("encoding", "compress"), [("gzip", gzip.compress), ("br", brotli.compress)]
)
def test_compressed_bodies_are_decoded(
    feed_server: FeedServer, encoding: str, compress: Any
) -> None:
    url = feed_server.add("/feed", compress(FEED), headers={"Content-Encoding": encoding})
    assert run(fetch(url)).body == FEED


def test_body_under_the_cap_without_length_is_read_whole(feed_server: FeedServer) -> None:
    url = feed_server.add("/feed", FEED, content_length=False)
    assert run(fetch(url)).body == FEED


def test_cap_applies_to_the_decompressed_size(feed_server: FeedServer) -> None:
    # 5 MB of zeros gzip to a few KB: the cap must count what we would have to hold.
    bomb = gzip.compress(b"\0" * 5_000_000)
    url = feed_server.add("/bomb", bomb, headers={"Content-Encoding": "gzip"})
    with pytest.raises(SourceError, match="limit"):
        run(fetch(url, FetchSettings(max_bytes=100_000)))


def test_cap_without_content_length_while_streaming(feed_server: FeedServer) -> None:
    # No Content-Length to refuse up front: the cap must stop the download as it streams.
    url = feed_server.add("/stream", b"y" * 300_000, content_length=False)
    with pytest.raises(SourceError, match="over the 100,000-byte limit; download aborted"):
        run(fetch(url, FetchSettings(max_bytes=100_000)))


def test_declared_length_over_the_cap_is_refused_up_front(feed_server: FeedServer) -> None:
    url = feed_server.add("/big", b"y" * 300_000)
    with pytest.raises(SourceError, match="300,000 bytes, over the 100,000-byte limit"):
        run(fetch(url, FetchSettings(max_bytes=100_000)))


@pytest.mark.parametrize("code", [301, 308])
def test_permanent_redirect_followed_and_recorded(feed_server: FeedServer, code: int) -> None:
    new = feed_server.add("/new", FEED)
    old = feed_server.add("/old", b"", status=code, headers={"Location": "/new"})
    result = run(fetch(old))
    assert result.body == FEED
    assert result.url == new
    assert result.permanent_redirect == new


@pytest.mark.parametrize("code", [302, 307])
def test_temporary_redirect_is_not_a_move(feed_server: FeedServer, code: int) -> None:
    new = feed_server.add("/new", FEED)
    old = feed_server.add("/old", b"", status=code, headers={"Location": new})
    result = run(fetch(old))
    assert (result.body, result.url, result.permanent_redirect) == (FEED, new, "")


def test_redirect_loop_stops_with_a_clear_error(feed_server: FeedServer) -> None:
    a = feed_server.add("/a", b"", status=302, headers={"Location": "/b"})
    feed_server.add("/b", b"", status=302, headers={"Location": "/a"})
    with pytest.raises(SourceError, match="more than 3 redirects"):
        run(fetch(a, FetchSettings(max_redirects=3)))
    assert len(feed_server.log) == 4


@pytest.mark.parametrize("code", [429, 503])
def test_retry_after_seconds(feed_server: FeedServer, code: int) -> None:
    url = feed_server.add("/busy", b"slow down", status=code, headers={"Retry-After": "120"})
    with pytest.raises(SourceError) as caught:
        run(fetch(url))
    assert caught.value.retry_after == 120.0
    assert f"HTTP {code}" in caught.value.message


def test_retry_after_http_date(feed_server: FeedServer) -> None:
    when = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 600))
    url = feed_server.add("/busy", b"", status=503, headers={"Retry-After": when})
    with pytest.raises(SourceError) as caught:
        run(fetch(url))
    assert caught.value.retry_after is not None
    assert 500 < caught.value.retry_after <= 600


def test_parse_retry_after_rejects_garbage() -> None:
    assert parse_retry_after("soon") is None
    assert parse_retry_after("") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=0.0) == 1445412480.0


def test_http_error_names_the_status(feed_server: FeedServer) -> None:
    url = feed_server.add("/missing", b"", status=404)
    with pytest.raises(SourceError, match="HTTP 404 Not Found"):
        run(fetch(url))


def test_410_says_the_feed_is_gone_for_good(feed_server: FeedServer) -> None:
    url = feed_server.add("/gone", b"", status=410)
    with pytest.raises(SourceGone, match=r"^p.*gone \(HTTP 410\): the partner removed") as caught:
        run(fetch(url))
    assert is_gone(caught.value.message)


def test_a_future_last_modified_is_dropped_and_the_etag_still_works(
    feed_server: FeedServer,
) -> None:
    future = "Thu, 01 Jan 2099 00:00:00 GMT"
    url = feed_server.add("/feed", FEED, etag='"v1"', last_modified=future)
    first = run(fetch(url))
    assert (first.etag, first.last_modified) == ('"v1"', "")
    assert len(first.notes) == 1 and future in first.notes[0]
    # Even one kept by an earlier release is not sent; the ETag alone still gets a 304.
    second = run(fetch(url, etag=first.etag, last_modified=future))
    assert second.status == "not-modified" and second.last_modified == ""
    sent = feed_server.requests_for("/feed")[-1]
    assert sent.header("If-None-Match") == '"v1"'
    assert sent.header("If-Modified-Since") is None


def test_a_304_without_validators_is_an_error(feed_server: FeedServer) -> None:
    url = feed_server.add("/feed", status=304)
    with pytest.raises(SourceError, match="304 Not Modified to a request without validators"):
        run(fetch(url))


def test_connect_failure_is_a_clear_error() -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(SourceError) as caught:
        run(fetch(f"http://127.0.0.1:{port}/feed", FetchSettings(connect_timeout=2)))
    assert "cannot connect" in caught.value.message
    assert f"127.0.0.1:{port}" in caught.value.message
    assert time.monotonic() - started < 3


def test_slow_server_times_out(feed_server: FeedServer) -> None:
    url = feed_server.add("/slow", FEED, delay=3.0)
    started = time.monotonic()
    with pytest.raises(SourceError, match="timed out"):
        run(fetch(url, FetchSettings(timeout=0.5)))
    assert time.monotonic() - started < 2.5


def test_slow_drip_is_cut_by_the_total_timeout(feed_server: FeedServer) -> None:
    # Each 1 KiB arrives well inside the read timeout, but the whole body would take ~20 s.
    url = feed_server.add("/drip", b"z" * 100 * 1024, chunk_delay=0.2)
    started = time.monotonic()
    with pytest.raises(SourceError, match="timed out"):
        run(fetch(url, FetchSettings(timeout=1.0)))
    assert time.monotonic() - started < 3


def test_read_feed_file_not_modified_until_it_changes(tmp_path: Path) -> None:
    path = tmp_path / "partner.xml"
    path.write_bytes(FEED)
    first = read_feed_file("export", path, 1_000_000)
    assert first.status == "ok"
    assert first.body == FEED
    assert first.url.startswith("file://")
    again = read_feed_file("export", path, 1_000_000, known_etag=first.etag)
    assert again.status == "not-modified"
    assert again.body == b""
    path.write_bytes(FEED + b"\n")
    os.utime(path, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    changed = read_feed_file("export", path, 1_000_000, known_etag=first.etag)
    assert changed.status == "ok"
    assert changed.etag != first.etag


def test_read_feed_file_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SourceError, match="cannot read"):
        read_feed_file("export", tmp_path / "missing.xml", 1_000_000)
    big = tmp_path / "big.xml"
    big.write_bytes(b"x" * 5000)
    with pytest.raises(SourceError, match="over the"):
        read_feed_file("export", big, 1024)
    # A relative path (a caller that did not resolve the YAML's folder) still works.
    monkeypatch.chdir(tmp_path)
    assert read_feed_file("export", Path("big.xml"), 10_000).status == "ok"
