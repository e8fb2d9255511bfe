"""`syndication run` as an operator runs it: serves the editions within seconds, stops cleanly
on SIGINT and SIGTERM, and holds the store so a concurrent `once` is refused."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import OFFLINE_TRANSLATION, REPO, run_cli, write_config


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _offline_config(folder: Path) -> tuple[Path, int]:
    """A config serving on a free port, its translator unreachable."""
    port = _free_port()
    serve = {"host": "127.0.0.1", "port": port}
    return write_config(folder, serve=serve, translation=OFFLINE_TRANSLATION), port


def _start(config: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "syndication", "run", "--config", str(config)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )


def _wait_for_index(url: str, process: subprocess.Popen[str], limit: float = 15.0) -> str:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[0]
        try:
            response = httpx.get(url, timeout=1.0)
            if response.status_code == 200 and "rss.xml" in response.text:
                return response.text
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} not served within {limit}s")


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_run_serves_editions_and_stops_cleanly(tmp_path: Path, stop: signal.Signals) -> None:
    # Translation points at a closed port: the worker must still serve everything else.
    config, port = _offline_config(tmp_path)
    process = _start(config)
    try:
        index = _wait_for_index(f"http://127.0.0.1:{port}/", process)
        for edition in ("kk", "zh", "en"):
            assert f"{edition}/rss.xml" in index and f"{edition}/atom.xml" in index
        kk = httpx.get(f"http://127.0.0.1:{port}/kk/rss.xml", timeout=5)
        assert kk.status_code == 200 and "application/rss+xml" in kk.headers["content-type"]
        # A concurrent `once` on the same store is refused with exit code 3.
        refused = run_cli("once", "--config", str(config))
        assert refused.code == 3, refused.output
        assert "holds this store" in refused.output
        started = time.monotonic()
        process.send_signal(stop)
        code = process.wait(timeout=10)
        assert time.monotonic() - started < 5
        assert code == 0, process.communicate()[0]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    output = process.stdout.read() if process.stdout else ""
    assert f"http://127.0.0.1:{port}/" in output
    # After a clean stop the lock is released: `once` works again.
    again = run_cli("once", "--config", str(config))
    assert again.code == 1, again.output  # translations still unreachable, nothing fatal


def test_health_endpoint_reports_backlog(tmp_path: Path) -> None:
    config, port = _offline_config(tmp_path)
    process = _start(config)
    try:
        _wait_for_index(f"http://127.0.0.1:{port}/", process)
        deadline = time.monotonic() + 15
        health: dict[str, object] = {}
        while time.monotonic() < deadline:
            health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).json()
            if health.get("last_cycle"):
                break
            time.sleep(0.3)
        assert health["ok"] is True and health["store"] == "reachable"
        assert health["last_cycle"]
        # kk, zh and two English samples: kk needs 3 (zh, en, en), zh 3 (kk, en, en), en 2.
        assert health["backlog"] == {"zh": 3, "en": 2, "kk": 3}, health
        # Restarted, it says when the store was last polled at once, not null until its
        # sources are next due (minutes here, an hour for hourly ones).
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
        process = _start(config)
        _wait_for_index(f"http://127.0.0.1:{port}/", process)
        again = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).json()
        assert again["last_cycle"] is not None and again["last_cycle"] >= health["last_cycle"]
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
