"""A real HTTP server on loopback for ingestion tests: no function-level mocks.

Owns: serving given bytes per path with chosen status and headers, answering conditional GETs
(ETag / Last-Modified) with 304, redirects, deliberately slow responses, and a log of every
request (path and headers) that tests assert on. The `feed_server` fixture yields one
(tests/conftest.py shares it with the suite).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

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
                        Request(self.path, {k.lower(): v for k, v in self.headers.items()})
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
