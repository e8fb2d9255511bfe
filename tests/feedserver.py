"""A real HTTP server on loopback for ingestion tests: no function-level mocks.

Owns: serving given bytes per path with chosen status and headers, answering conditional GETs
(ETag / Last-Modified) with 304, redirects, deliberately slow responses, and a log of every
request (path and headers) that tests assert on. The `feed_server` fixture yields one
(tests/conftest.py shares it with the suite). `GrowingFeed` is a partner feed that gains items
over time on such a server (the chaos test's partners).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest


@dataclass
class Route:
    """What the server answers on one path."""

    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    etag: str = ""  # when set, sent and honoured for If-None-Match
    last_modified: str = ""  # when set, sent and honoured for If-Modified-Since (verbatim)
    delay: float = 0.0  # seconds to wait before answering (timeout tests)
    chunk_delay: float = 0.0  # seconds between 1 KiB chunks of the body (slow-drip tests)
    content_length: bool = True  # False: no length, the body ends when the connection closes


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]  # lower-cased names
    at: float = 0.0  # time.monotonic() when it arrived

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        # Clients that hang up on purpose (size cap, timeouts) are part of the tests.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class FeedServer:
    """A threaded HTTP server on 127.0.0.1 with an ephemeral port."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.log: list[Request] = []
        self._lock = threading.Lock()
        self._server = _QuietServer(("127.0.0.1", 0), self._handler_class())
        # A short poll interval: shutdown() waits for one, and every test stops a server.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def base(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base + path

    def add(self, path: str, body: bytes = b"", **kwargs: object) -> str:
        """Serve `body` at `path` (keyword arguments as in Route); returns its full URL."""
        self.routes[path] = Route(body=body, **kwargs)  # type: ignore[arg-type]
        return self.url(path)

    def requests_for(self, path: str) -> list[Request]:
        with self._lock:
            return [r for r in self.log if r.path == path]

    def start(self) -> FeedServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                with server._lock:
                    server.log.append(
                        Request(
                            self.path,
                            {k.lower(): v for k, v in self.headers.items()},
                            time.monotonic(),
                        )
                    )
                route = server.routes.get(self.path)
                if route is None:
                    self._answer(404, {}, b"not found")
                    return
                if route.delay:
                    time.sleep(route.delay)
                headers = dict(route.headers)
                if route.etag:
                    headers["ETag"] = route.etag
                if route.last_modified:
                    headers["Last-Modified"] = route.last_modified
                if route.status == 200 and self._not_modified(route):
                    self._answer(304, headers, b"")
                    return
                if not route.content_length:
                    headers["Connection"] = "close"  # read-until-close framing
                    headers["content-length"] = ""  # marker: do not add one below
                self._answer(route.status, headers, route.body, route.chunk_delay)

            def _not_modified(self, route: Route) -> bool:
                # RFC 9110: If-None-Match wins over If-Modified-Since when both are sent.
                inm = self.headers.get("If-None-Match")
                if inm is not None and route.etag:
                    return route.etag in [t.strip() for t in inm.split(",")] or inm == "*"
                ims = self.headers.get("If-Modified-Since")
                return bool(ims and route.last_modified and ims == route.last_modified)

            def _answer(
                self, status: int, headers: dict[str, str], body: bytes, drip: float = 0.0
            ) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    if value != "":
                        self.send_header(name, value)
                if status != 304 and "content-length" not in {k.lower() for k in headers}:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if status == 304:
                    return
                try:
                    if drip:
                        for start in range(0, len(body), 1024):
                            self.wfile.write(body[start : start + 1024])
                            self.wfile.flush()
                            time.sleep(drip)
                    else:
                        self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up on purpose (size cap, timeout)

            def log_message(self, format: str, *args: object) -> None:
                pass  # keep test output quiet; the request log is in server.log

        return Handler


def running() -> Iterator[FeedServer]:
    """A server for the duration of a `with`-less fixture; stopped when the generator ends."""
    server = FeedServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    """A running FeedServer for one test (tests/conftest.py shares it with the whole suite)."""
    yield from running()


@dataclass(frozen=True)
class FeedItem:
    """One story a partner publishes."""

    guid: str
    title: str
    link: str
    summary: str
    published: datetime


class GrowingFeed:
    """A partner feed that gains items over time, served at one path of a FeedServer.

    Every `publish` re-renders the whole feed (RSS 2.0, Atom 1.0 or JSON Feed 1.1) with a new
    ETag and Last-Modified, as a partner's CMS regenerates its feed file. Nothing ever leaves
    the feed, so a poller that was down for a while has missed nothing: whatever a chaos test
    finds missing downstream was lost by the service, not by the partner.
    """

    TYPES: ClassVar[dict[str, str]] = {
        "rss": "application/rss+xml; charset=utf-8",
        "atom": "application/atom+xml; charset=utf-8",
        "json": "application/feed+json; charset=utf-8",
    }

    def __init__(
        self,
        server: FeedServer,
        path: str,
        *,
        kind: str = "rss",
        title: str = "Wire",
        padding: int = 0,
    ) -> None:
        """`padding`: bytes of filler (an XML comment, or an ignored JSON member) in every
        version, for a body as large as a partner's full-text feed without its parsing cost."""
        if kind not in self.TYPES:
            raise ValueError(f"kind must be one of {', '.join(self.TYPES)}")
        self.server = server
        self.path = path
        self.kind = kind
        self.title = title
        self.padding = padding
        self._items: list[FeedItem] = []
        self._lock = threading.Lock()
        self._render()

    @property
    def url(self) -> str:
        return self.server.url(self.path)

    @property
    def items(self) -> list[FeedItem]:
        with self._lock:
            return list(self._items)

    def publish(self, item: FeedItem) -> None:
        """Add `item` at the top of the feed and serve the new version at once."""
        with self._lock:
            self._items.append(item)
            self._render()

    def _render(self) -> None:
        newest_first = sorted(self._items, key=lambda i: i.published, reverse=True)
        body = {"rss": _rss, "atom": _atom, "json": _json_feed}[self.kind](
            self.title, self.url, newest_first, "x" * self.padding
        )
        version = len(self._items)
        self.server.add(
            self.path,
            body,
            headers={"Content-Type": self.TYPES[self.kind]},
            etag=f'"v{version}"',
            last_modified=format_datetime(datetime.now(UTC), usegmt=True),
        )


def _rss(title: str, url: str, items: list[FeedItem], filler: str) -> bytes:
    entries = "".join(
        f"<item><title>{escape(i.title)}</title><link>{escape(i.link)}</link>"
        f'<guid isPermaLink="false">{escape(i.guid)}</guid>'
        f"<pubDate>{format_datetime(i.published, usegmt=True)}</pubDate>"
        f"<description>{escape(i.summary)}</description></item>"
        for i in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>{escape(url)}</link>"
        f"<description>{escape(title)}</description>{entries}</channel>"
        f"{f'<!-- {filler} -->' if filler else ''}</rss>"
    ).encode()


def _atom(title: str, url: str, items: list[FeedItem], filler: str) -> bytes:
    updated = max((i.published for i in items), default=datetime(2025, 1, 1, tzinfo=UTC))
    entries = "".join(
        f"<entry><title>{escape(i.title)}</title><id>{escape(i.guid)}</id>"
        f'<link href="{escape(i.link)}"/><updated>{i.published.isoformat()}</updated>'
        f"<summary>{escape(i.summary)}</summary></entry>"
        for i in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>{escape(title)}</title><id>{escape(url)}</id>"
        f'<link rel="self" href="{escape(url)}"/><updated>{updated.isoformat()}</updated>'
        f"{entries}{f'<!-- {filler} -->' if filler else ''}</feed>"
    ).encode()


def _json_feed(title: str, url: str, items: list[FeedItem], filler: str) -> bytes:
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": title,
        "feed_url": url,
        "items": [
            {
                "id": i.guid,
                "url": i.link,
                "title": i.title,
                "summary": i.summary,
                "content_text": i.summary,
                "date_published": i.published.isoformat(),
            }
            for i in items
        ],
    }
    if filler:
        feed["_padding"] = filler  # JSON Feed: members starting with _ are for extensions
    return json.dumps(feed, ensure_ascii=False).encode()
