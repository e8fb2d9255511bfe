"""`syndication serve` with several processes on one port (`serve.workers`), end to end:
every process answers, and a SIGTERM stops them all."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import REPO, write_config


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def test_serve_workers_answer_on_one_port_and_stop_together(tmp_path: Path) -> None:
    port = _free_port()
    config = write_config(tmp_path, serve={"host": "127.0.0.1", "port": port, "workers": 3})
    public = tmp_path / "public"
    (public / "kk").mkdir(parents=True)
    (public / "kk" / "rss.xml").write_text("<rss/>\n" * 400, encoding="utf-8")
    server = subprocess.Popen(
        [sys.executable, "-m", "syndication", "serve", "--config", str(config)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, server.communicate()
            try:
                first = httpx.get(f"http://127.0.0.1:{port}/kk/rss.xml", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "syndication serve did not start"
                time.sleep(0.1)
        assert first.status_code == 200 and first.text == "<rss/>\n" * 400
        workers = _children(server.pid)
        assert len(workers) == 2, workers  # and the process itself: three
        # Many connections, each answered whole, with the ETag every process computes alike.
        etags = set()
        for _ in range(30):
            with httpx.Client(timeout=5) as client:
                r = client.get(f"http://127.0.0.1:{port}/kk/rss.xml")
                assert r.status_code == 200 and len(r.content) == len(first.content)
                etags.add(r.headers["etag"])
                again = client.get(
                    f"http://127.0.0.1:{port}/kk/rss.xml",
                    headers={"If-None-Match": r.headers["etag"]},
                )
                assert again.status_code == 304
        assert etags == {first.headers["etag"]}
    finally:
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=30)
    assert server.returncode == 0, err
    assert "3 processes" in out
    for pid in workers:
        assert not Path(f"/proc/{pid}").exists() or _zombie(pid), f"worker {pid} outlived serve"
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))  # the port is free again


def _zombie(pid: int) -> bool:
    try:
        return (Path(f"/proc/{pid}") / "stat").read_text().rpartition(")")[2].split()[0] == "Z"
    except OSError:
        return True


def test_a_killed_serve_leaves_no_worker_behind(tmp_path: Path) -> None:
    port = _free_port()
    config = write_config(tmp_path, serve={"host": "127.0.0.1", "port": port, "workers": 2})
    (tmp_path / "public").mkdir()
    server = subprocess.Popen(
        [sys.executable, "-m", "syndication", "serve", "--config", str(config)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while not _children(server.pid):
        assert server.poll() is None and time.monotonic() < deadline
        time.sleep(0.1)
    (worker,) = _children(server.pid)
    server.kill()
    server.wait()
    # The worker notices its parent is gone and leaves within a few seconds.
    deadline = time.monotonic() + 15
    while Path(f"/proc/{worker}").exists() and not _zombie(worker):
        assert time.monotonic() < deadline, "the worker outlived its killed parent"
        time.sleep(0.2)
