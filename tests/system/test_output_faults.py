"""An output that fails under the command line: a full disk, an object store that never
answers, files removed by hand.

A disk that is full (of bytes or of inodes) fails `once` with exit 3 and a message naming the
first file that could not be written as it is published, never the temporary file beside it; a
bucket endpoint that accepts connections and never answers fails the command within
`output_options.timeout`, saying so, and a publish stops asking once one upload timed out; an
archive page or a story's page removed by hand from an output folder is written again by the
next `publish`, though nothing changed in the store.

The full disk is a real one: a small tmpfs mounted over the output folder in a mount namespace
of the command's own (util-linux's `unshare`), so nothing on the machine fills up. The silent
endpoint is a loopback HTTP server that answers only the probe a command makes before it works.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import ClassVar

import pytest

from tests.conftest import (
    OFFLINE_TRANSLATION,
    REPO,
    Result,
    run_cli,
    snapshot,
    unavailable,
    write_config,
)
from tests.loopback import LoopbackServer
from tests.s3server import credentials

pytestmark = [pytest.mark.system, pytest.mark.timeout(300)]


def _said(result: Result) -> str:
    """What the command said, its lines as one (the console wraps long ones)."""
    return " ".join(result.output.split())


# -- a full disk -----------------------------------------------------------------------------


def _unshare() -> list[str]:
    """The command that runs another in a mount namespace of its own where it may mount."""
    if shutil.which("unshare") is None:
        unavailable("util-linux's unshare is not installed")
    for command in (["unshare", "--user", "--map-root-user", "--mount"], ["unshare", "--mount"]):
        probe = subprocess.run([*command, "true"], capture_output=True)
        if probe.returncode == 0:
            return command
    unavailable("unshare cannot make a mount namespace here (no user namespaces, not root)")


def _on_small_disk(output: Path, mount_options: str, *args: str) -> Result:
    """`syndication ARGS` with a fresh tmpfs of these options mounted on `output`."""
    script = 'mount -t tmpfs -o "$1" syndication-test "$2" && shift 2 && exec "$@"'
    done = subprocess.run(
        [
            *_unshare(),
            "sh",
            "-c",
            script,
            "sh",
            mount_options,
            str(output),
            sys.executable,
            "-m",
            "syndication",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1"},
        cwd=REPO,
    )
    return Result(done.returncode, done.stdout, done.stderr)


@pytest.mark.parametrize("full_of", ["bytes", "inodes"], ids=["no-space", "no-inodes"])
def test_a_full_disk_names_the_first_file_not_written(tmp_path: Path, full_of: str) -> None:
    """README (Operations, health): the first file that could not be written is named. Out
    of space, write() fails with no file name of its own (the message named none); out of
    inodes, creating the temporary file fails naming that (a hidden `.x.*.tmp`): either way
    the message gives the published path."""
    config = write_config(tmp_path, translation=OFFLINE_TRANSLATION)
    output = tmp_path / "public"
    output.mkdir()
    # Room for the probe and a few files, never for the whole site.
    options = "size=16k" if full_of == "bytes" else "size=4m,nr_inodes=12"
    once = _on_small_disk(output, options, "once", "--config", str(config))
    said = _said(once)
    assert once.code == 3, said
    found = re.search(
        rf"cannot write the output: (\d+) file\(s\) not written, the first: "
        rf"{re.escape(str(output))}/(\S+): No space left on device",
        said,
    )
    assert found, said
    named = found.group(2)
    assert not Path(named).name.startswith(".") and ".tmp" not in said, said
    # A file the site has: the same YAML published to a folder with room writes it.
    assert run_cli("publish", "--all", "--config", str(config)).code == 0
    assert (output / named).is_file(), named


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


# -- files removed by hand ----------------------------------------------------------------------


def test_pages_removed_by_hand_are_written_again_by_publish(tmp_path: Path) -> None:
    """An archive page and a story's page removed from the output folder: `publish` (nothing
    changed in the store) writes them again, and only them, so no feed links a missing file."""
    articles = tmp_path / "articles"
    articles.mkdir()
    for day in range(1, 6):
        (articles / f"story-{day}.md").write_text(
            f"---\ntitle: Жаңалық {day}\ndate: 2025-05-0{day}T09:00:00+05:00\nlanguage: kk\n"
            f"---\nМәтін {day}.\n",
            encoding="utf-8",
        )
    config = write_config(tmp_path, translation=OFFLINE_TRANSLATION, feeds={"items": 2})
    assert run_cli("once", "--config", str(config)).code in (0, 1)
    output = tmp_path / "public"
    before = snapshot(output)
    archive = output / "kk" / "archive" / "1"
    page = sorted((output / "kk" / "articles").iterdir())[0]
    assert archive.is_dir() and page.is_file()
    shutil.rmtree(archive)
    page.unlink()
    again = run_cli("publish", "--config", str(config))
    assert again.code == 0, again.output
    assert "has no" in _said(again), again.output
    after = snapshot(output)
    assert {p: data for p, (data, _) in after.items()} == {p: d for p, (d, _) in before.items()}
    rewritten = {p for p in after if after[p][1] != before[p][1]}
    assert rewritten == {
        page.relative_to(output).as_posix(),
        *(f"kk/archive/1/{name}" for name in ("rss.xml", "atom.xml", "feed.json", "index.html")),
    }
    idle = run_cli("publish", "--config", str(config))
    assert idle.code == 0 and "0 file(s) written" in _said(idle), idle.output
