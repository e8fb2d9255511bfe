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


def test_public_files_answer_browser_scripts_of_any_origin(tmp_path: Path) -> None:
    """exploreE c2: a web page's script could not read the JSON Feed from `syndication serve`
    (no Access-Control-Allow-Origin; OPTIONS 405). Every public file answers `*`, its 304 too,
    with ETag readable, and a CORS preflight gets 204; /healthz stays the operator's."""
    port = _free_port()
    config = write_config(tmp_path, serve={"host": "127.0.0.1", "port": port})
    public = tmp_path / "public"
    files = {
        "kk/feed.json": '{"version": "https://jsonfeed.org/version/1.1", "items": []}\n',
        "kk/rss.xml": "<rss/>\n",
        "kk/atom.xml": "<feed/>\n",
        "kk/index.html": "<title>kk</title>\n",
        "kk/archive/1/atom.xml": "<feed/>\n",
        "feeds.opml": "<opml/>\n",
        "index.html": "<title>home</title>\n",
    }
    for name, text in files.items():
        (public / name).parent.mkdir(parents=True, exist_ok=True)
        (public / name).write_text(text, encoding="utf-8")
    server = subprocess.Popen(
        [sys.executable, "-m", "syndication", "serve", "--config", str(config)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    # What a browser's fetch() from another site sends.
    script = {"Origin": "https://reader.example", "Sec-Fetch-Mode": "cors",
              "Sec-Fetch-Dest": "empty", "Accept": "*/*"}  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, server.communicate()
            try:
                httpx.get(f"{base}/", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "syndication serve did not start"
                time.sleep(0.1)
        for name, text in files.items():
            got = httpx.get(f"{base}/{name}", headers=script, timeout=5)
            assert got.status_code == 200 and got.text == text, name
            assert got.headers["access-control-allow-origin"] == "*", name
            exposed = {h.strip().lower() for h in got.headers["access-control-expose-headers"]
                       .split(",")}  # fmt: skip
            assert {"etag", "last-modified"} <= exposed, name
            again = httpx.get(f"{base}/{name}", timeout=5,
                              headers={**script, "If-None-Match": got.headers["etag"]})  # fmt: skip
            assert again.status_code == 304, name
            assert again.headers["access-control-allow-origin"] == "*", name
            preflight = httpx.options(f"{base}/{name}", timeout=5, headers={
                "Origin": "https://reader.example", "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "if-none-match, if-modified-since"})  # fmt: skip
            assert preflight.status_code == 204, (name, preflight.status_code)
            assert preflight.headers["access-control-allow-origin"] == "*"
            methods = {m.strip() for m in
                       preflight.headers["access-control-allow-methods"].split(",")}  # fmt: skip
            assert methods == {"GET", "HEAD", "OPTIONS"}
            allowed = {h.strip().lower() for h in
                       preflight.headers["access-control-allow-headers"].split(",")}  # fmt: skip
            assert {"if-none-match", "if-modified-since"} <= allowed
            assert "access-control-allow-credentials" not in preflight.headers
        missing = httpx.get(f"{base}/kk/nothing.xml", headers=script, timeout=5)
        assert missing.status_code == 404
        assert missing.headers["access-control-allow-origin"] == "*"
        health = httpx.get(f"{base}/healthz", headers=script, timeout=5)
        assert "access-control-allow-origin" not in health.headers
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=30)
