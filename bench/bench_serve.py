"""Benchmark: requests per second for a 200 KB feed, our server next to nginx on loopback.

Owns: the issue-5 measurement "built-in server requests per second for a 200 KB feed with and
without 304, next to nginx serving the same file where nginx is installed (record the ratio)",
and issue 12's targets (our 304s at least 0.25x nginx's, our 200s at least 0.5x). Our server
is `syndication serve` as an operator runs it (one process, and `serve.workers` at one process
per core, as nginx's `worker_processes auto`); nginx runs beside it; the load
comes from a small bounded client: a few processes x threads, each on one keep-alive
connection, sending GET (200, full body) or GET with If-None-Match (304) for a fixed time.
The client is hand-written over raw sockets (not httpx) so that it is not the bottleneck it
would otherwise be on a 2-core machine. nginx is skipped cleanly when it is not installed.

Run: .venv/bin/python bench/bench_serve.py [--seconds 5] [--procs 2] [--threads 4]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

FEED_BYTES = 200 * 1024
OURS_1 = "syndication serve (uvicorn + httptools, 1 process)"
OURS_N = "syndication serve (serve.workers: one per core)"
NGINX = "nginx (worker_processes auto)"


def _feed(root: Path) -> None:
    """A ~200 KB RSS file of the shape the publisher writes."""
    item = ("<item><title>Астанада кітап көрмесі ашылды 新闻</title><link>https://feeds."
            "example.kz/kk/articles/x.html</link><description>Елордада халықаралық кітап "
            "көрмесі жұмысын бастады.</description><guid isPermaLink=\"false\">tag:feeds."
            "example.kz,2025:newsroom:{n}/kk</guid></item>\n")  # fmt: skip
    body, n = [], 0
    head = '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>\n'
    size = len(head.encode())
    while size < FEED_BYTES - 40:
        chunk = item.format(n=n)
        body.append(chunk)
        size += len(chunk.encode())
        n += 1
    (root / "kk").mkdir(parents=True, exist_ok=True)
    (root / "kk" / "rss.xml").write_text(head + "".join(body) + "</channel></rss>\n", "utf-8")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port}")


def _request(path: str, etag: str) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", "Accept: */*"]
    if etag:
        lines.append(f"If-None-Match: {etag}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _read_response(sock: socket.socket, buffer: bytearray) -> tuple[int, dict[str, str]]:
    """Read one HTTP/1.1 response with a Content-Length body; return status and headers."""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(262144)
        if not chunk:
            raise ConnectionError("closed")
        buffer += chunk
    head = bytes(buffer).partition(b"\r\n\r\n")[0]
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    pairs = (line.partition(":") for line in lines[1:])
    headers = {name.strip().lower(): value.strip() for name, _, value in pairs}
    length = int(headers.get("content-length", "0"))
    del buffer[: len(head) + 4]
    while len(buffer) < length:
        chunk = sock.recv(262144)
        if not chunk:
            raise ConnectionError("closed")
        buffer += chunk
    del buffer[:length]
    return status, headers


def _client(port: int, path: str, etag: str, seconds: float, threads: int, out: object) -> None:
    counts = [0] * threads
    errors = [0] * threads
    expected = 304 if etag else 200

    def worker(index: int) -> None:
        deadline = time.monotonic() + seconds
        request = _request(path, etag)
        sock = socket.create_connection(("127.0.0.1", port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buffer = bytearray()
        while time.monotonic() < deadline:
            sock.sendall(request)
            status, _ = _read_response(sock, buffer)
            if status == expected:
                counts[index] += 1
            else:
                errors[index] += 1
        sock.close()

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    out.put((sum(counts), sum(errors)))  # type: ignore[attr-defined]


def load(port: int, path: str, etag: str, seconds: float, procs: int, threads: int) -> float:
    queue: multiprocessing.Queue[tuple[int, int]] = multiprocessing.Queue()
    workers = [multiprocessing.Process(target=_client,
                                       args=(port, path, etag, seconds, threads, queue))
               for _ in range(procs)]  # fmt: skip
    started = time.monotonic()
    for worker in workers:
        worker.start()
    results = [queue.get(timeout=seconds + 60) for _ in workers]
    for worker in workers:
        worker.join()
    elapsed = time.monotonic() - started
    done, errors = sum(r[0] for r in results), sum(r[1] for r in results)
    if errors:
        raise RuntimeError(f"{errors} unexpected responses")
    return done / elapsed


def _etag(port: int, path: str) -> str:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(_request(path, ""))
        status, headers = _read_response(sock, bytearray())
    assert status == 200, status
    return headers["etag"]


def _ours(root: Path, port: int, workers: int, work: Path) -> subprocess.Popen[bytes]:
    """`syndication serve` as an operator runs it, on a YAML whose output is `root`."""
    config = work / f"serve-{workers}.yaml"
    config.write_text(
        textwrap.dedent(f"""
        editions: [kk]
        output: {root}
        store: sqlite:///{work}/unused.db
        sources: [{{id: wire, url: "https://wire.example.org/rss"}}]
        serve: {{host: 127.0.0.1, port: {port}, workers: {workers}}}
    """)
    )
    return subprocess.Popen(
        [sys.executable, "-m", "syndication", "serve", "--config", str(config)],
        stdout=subprocess.DEVNULL,
    )


def _nginx(root: Path, port: int, work: Path) -> subprocess.Popen[bytes] | None:
    binary = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.path.exists(p)), None
    )
    if binary is None:
        return None
    conf = work / "nginx.conf"
    # One worker per core, sendfile, keep-alive: the stock static-file setup. ETags are on
    # by default in nginx, so If-None-Match gets its 304 there too.
    conf.write_text(
        textwrap.dedent(f"""
        worker_processes auto;
        daemon off;
        pid {work}/nginx.pid;
        error_log {work}/error.log warn;
        events {{ worker_connections 1024; }}
        http {{
          access_log off;
          sendfile on; tcp_nopush on;
          keepalive_requests 1000000;
          client_body_temp_path {work}/body; proxy_temp_path {work}/proxy;
          fastcgi_temp_path {work}/fcgi; uwsgi_temp_path {work}/uwsgi; scgi_temp_path {work}/scgi;
          types {{ application/rss+xml xml; }}
          server {{ listen 127.0.0.1:{port}; root {root}; }}
        }}
    """)
    )
    return subprocess.Popen([binary, "-c", str(conf), "-p", str(work)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--procs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    work.chmod(0o755)  # nginx workers run as an unprivileged user and must read the feed
    root = work / "public"
    _feed(root)
    size = (root / "kk" / "rss.xml").stat().st_size
    path = "/kk/rss.xml"
    rows: dict[str, tuple[float, float]] = {}
    try:
        for name, start in ((OURS_1, lambda r, p: _ours(r, p, 1, work)),
                            (OURS_N, lambda r, p: _ours(r, p, _cores(), work)),
                            (NGINX, lambda r, p: _nginx(r, p, work))):  # fmt: skip
            port = _free_port()
            server = start(root, port)
            if server is None:
                print(f"{name}: not installed, skipped", file=sys.stderr)
                continue
            try:
                _wait_port(port)
                etag = _etag(port, path)
                full = load(port, path, "", args.seconds, args.procs, args.threads)
                cached = load(port, path, etag, args.seconds, args.procs, args.threads)
                rows[name] = (full, cached)
            finally:
                server.terminate()
                server.wait(timeout=15)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"feed: {size:,} bytes; load: {args.procs} processes x {args.threads} keep-alive "
          f"connections, {args.seconds:g} s per case; {os.cpu_count()} cores\n")  # fmt: skip
    print("| server | 200 (full body) req/s | 304 (If-None-Match) req/s |")
    print("|---|---:|---:|")
    for name, (full, cached) in rows.items():
        print(f"| {name} | {full:,.0f} | {cached:,.0f} |")
    theirs = rows.get(NGINX)
    for name in (OURS_1, OURS_N):
        ours = rows.get(name)
        if ours and theirs:
            full, cached = ours[0] / theirs[0], ours[1] / theirs[1]
            print(
                f"\n{name} / nginx: 200 {full:.2f}x ({_verdict(full >= 0.5, '>= 0.5x')}), "
                f"304 {cached:.2f}x ({_verdict(cached >= 0.25, '>= 0.25x')})"
            )


def _verdict(ok: bool, target: str) -> str:
    return f"target {target}: {'met' if ok else 'MISSED'}"


def _cores() -> int:
    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    main()
