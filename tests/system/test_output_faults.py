"""An output that fails under the command line: an object store that never answers.

A bucket endpoint that accepts connections and never answers fails the command within
`output_options.timeout`, saying so, and a publish stops asking once one upload timed out. The
silent endpoint is a loopback HTTP server that answers only the probe a command makes before it
works.
"""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import ClassVar

import pytest

from tests.conftest import (
    OFFLINE_TRANSLATION,
    Result,
    run_cli,
    write_config,
)
from tests.loopback import LoopbackServer
from tests.s3server import credentials

pytestmark = [pytest.mark.system, pytest.mark.timeout(300)]


def _said(result: Result) -> str:
    """What the command said, its lines as one (the console wraps long ones)."""
    return " ".join(result.output.split())


# -- an object store that never answers -------------------------------------------------------


class Hanging(BaseHTTPRequestHandler):
    """An S3 endpoint that answers the probe (`.write-test`) and holds every other request
    unanswered until the test ends."""

    protocol_version = "HTTP/1.1"
    held: ClassVar[list[str]] = []  # the paths of the requests held, in order
    release: ClassVar[threading.Event] = threading.Event()

    def _answer(self, status: int) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if not self.path.split("?")[0].endswith("/.write-test"):
            self.held.append(self.path)
            self.release.wait(120)
            return
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_PUT(self) -> None:
        self._answer(200)

    def do_DELETE(self) -> None:
        self._answer(204)

    def do_POST(self) -> None:
        self._answer(200)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def hanging() -> Iterator[LoopbackServer]:
    Hanging.held = []
    Hanging.release.clear()
    server = LoopbackServer(Hanging)
    yield server
    Hanging.release.set()
    server.stop()


class Silent:
    """An endpoint that accepts connections and never says a word."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                self.held.append(self.server.accept()[0])
            except OSError:
                return

    def close(self) -> None:
        self.server.close()
        for conn in self.held:
            conn.close()


def _s3_config(tmp_path: Path, endpoint: str) -> Path:
    return write_config(
        tmp_path,
        output="s3://feeds/pub/",
        output_options={"endpoint_url": endpoint, "addressing_style": "path", "timeout": "1s"},
        translation=OFFLINE_TRANSLATION,
    )


def test_an_endpoint_that_never_answers_fails_the_command_within_the_timeout(
    tmp_path: Path,
) -> None:
    """It took two minutes (four tries of 30 s each) and said only ReadTimeoutError; now
    `output_options.timeout` bounds the whole request, its tries included, and the message
    says what ran out."""
    silent = Silent()
    try:
        endpoint = f"http://127.0.0.1:{silent.port}"
        config = _s3_config(tmp_path, endpoint)
        once = run_cli("once", "--config", str(config), env=credentials(), timeout=60)
    finally:
        silent.close()
    said = _said(once)
    assert once.code == 3, said
    assert "output s3://feeds/pub/ is not writable: s3://feeds/pub/.write-test:" in said, said
    assert f"no answer from {endpoint} within 1s (output_options.timeout)" in said, said


def test_a_publish_stops_asking_an_endpoint_that_stopped_answering(
    tmp_path: Path, hanging: LoopbackServer
) -> None:
    """The endpoint answered the probe, then hangs: the first upload times out and the publish
    asks for no other key (each would have waited as long), failing with that key named."""
    endpoint = hanging.url("").rstrip("/")
    config = _s3_config(tmp_path, endpoint)
    once = run_cli("once", "--config", str(config), env=credentials(), timeout=60)
    said = _said(once)
    assert once.code == 3, said
    assert re.search(
        r"cannot write the output: \d+ file\(s\) not written, the first: "
        rf"s3://feeds/pub/\S+: no answer from {re.escape(endpoint)} within 1s",
        said,
    ), said
    assert len(set(Hanging.held)) == 1, Hanging.held
