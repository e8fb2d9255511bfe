"""A threaded HTTP server on 127.0.0.1 for the tests' fake peers (translators, WebSub hubs).

Owns: starting a handler class on an ephemeral loopback port (or a given one, optionally over
TLS) in a daemon thread, its URL, stopping it, and answering JSON; each fake says only how it
answers.
"""

from __future__ import annotations

import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class LoopbackServer:
    def __init__(
        self,
        handler: type[BaseHTTPRequestHandler],
        port: int = 0,
        tls: ssl.SSLContext | None = None,
    ):
        self._server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self._server.daemon_threads = True
        self._scheme = "http"
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
            self._scheme = "https"
        # A short poll interval: stopping the server (every test that uses one) waits at most that.
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def url(self, path: str = "/") -> str:
        host, port = self._server.server_address[:2]
        return f"{self._scheme}://{host}:{port}{path}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def send_json(
    handler: BaseHTTPRequestHandler,
    status: int,
    payload: Any,
    headers: dict[str, str] | None = None,
) -> None:
    data = json.dumps(payload).encode()
    handler.send_response(status)
    for key, value in (headers or {}).items():
        handler.send_header(key, value)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)
