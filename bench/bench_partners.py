"""Benchmark: partners' private feed and ninjs API next to the public feed, requests per second.

Owns: the issue-13 measurement "the private feed and the API answer at >= 0.5x the public
feed's requests/s". One `syndication serve` process (the real command line, access log on)
serves a store of 100 stories in three editions: the public `kk/rss.xml` it published, the
same stories as a partner's private `kk/rss.xml` (token in the query, as a feed reader sends
it), and the API: a desk polling at the head of the log (`after=` the last cursor: nothing
new), and the first page of 50 items. Each case with a full body (200) and, for the feeds,
with If-None-Match (304). The load is bench_serve.py's raw-socket client (processes x
threads, keep-alive). The version log is the one `once` wrote as it published.

Run: .venv/bin/python bench/bench_partners.py [--seconds 5] [--rounds 3] [--procs 2] [--threads 4]
[--log-format human|json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_serve import _free_port, _read_response, _request, _wait_port, load

REPO = Path(__file__).resolve().parents[1]
TOKEN = "bench-partner-token-0123456789abcdef"
STORIES = 100


def _setup(work: Path, port: int) -> Path:
    """A configuration, a store of STORIES stories, published (with their version log)."""
    articles = work / "articles"
    articles.mkdir(parents=True)
    for n in range(STORIES):
        (articles / f"story-{n:03d}.md").write_text(
            f"---\ntitle: Астанада кітап көрмесі ашылды {n}\ndate: 2025-05-{1 + n % 28:02d}"
            f"T09:{n % 60:02d}:00+05:00\nlanguage: kk\ntags: [мәдениет]\n---\n"
            + "Елордада халықаралық кітап көрмесі жұмысын бастады. " * 12
            + "\n\nКөрмеге отыз елден баспалар қатысады.\n",
            encoding="utf-8",
        )
    config = work / "syndication.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "site": {"base_url": "https://feeds.example.kz/"},
                "editions": ["kk", "zh", "en"],
                "store": "sqlite:///data/bench.db",
                "output": "public",
                "feeds": {"items": STORIES},
                "sources": [{"id": "newsroom", "articles": "articles", "language": "kk"}],
                "translation": {
                    "chain": ["google"],
                    "providers": {"google": {"base_url": "http://127.0.0.1:9/m"}},
                },
                "serve": {"host": "127.0.0.1", "port": port},
                "partners": [{"id": "bench", "token": "${BENCH_TOKEN}", "editions": ["kk"]}],
            },
            allow_unicode=True,
        ),
        encoding="utf-8",
    )
    env = {**os.environ, "BENCH_TOKEN": TOKEN}
    subprocess.run([sys.executable, "-m", "syndication", "once", "--config", str(config)],
                   cwd=REPO, env=env, capture_output=True, timeout=600)  # fmt: skip
    with sqlite3.connect(work / "data" / "bench.db") as conn:
        # `once` published them: the version log has each story's first version in kk.
        logged = conn.execute("SELECT COUNT(*) FROM story_versions WHERE edition = 'kk'")
        assert logged.fetchone()[0] == STORIES, "the publish stage logged no versions"
    return config


def _head(port: int, path: str) -> tuple[int, dict[str, str]]:
    """Status and headers of one GET, through the load's own client."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(_request(path, ""))
        return _read_response(sock, bytearray())


def _body(port: int, path: str) -> bytes:
    import httpx

    return httpx.get(f"http://127.0.0.1:{port}{path}", timeout=30).content


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--procs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--log-format", default="human", choices=("human", "json"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-partners-"))
    port = _free_port()
    config = _setup(work, port)
    server = subprocess.Popen(
        [sys.executable, "-m", "syndication", "--log-format", args.log_format, "serve",
         "--config", str(config)],
        cwd=REPO, env={**os.environ, "BENCH_TOKEN": TOKEN},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    rows: list[tuple[str, int, float, float | None]] = []
    try:
        _wait_port(port)
        time.sleep(0.5)
        q = f"token={TOKEN}"
        first = json.loads(_body(port, f"/partners/bench/api/v1/items?edition=kk&limit=50&{q}"))
        head = json.loads(_body(port, f"/partners/bench/api/v1/items?edition=kk&limit=200&{q}"))
        assert len(first["items"]) == 50 and len(head["items"]) == STORIES, "no versions"
        cases = [
            ("public feed kk/rss.xml (file)", "/kk/rss.xml", True),
            ("private feed /partners/bench/kk/rss.xml", f"/partners/bench/kk/rss.xml?{q}", True),
            ("API, caught up (after= the head)",
             f"/partners/bench/api/v1/items?edition=kk&after={head['next']}&{q}", True),
            ("API, first page (50 ninjs items)",
             f"/partners/bench/api/v1/items?edition=kk&limit=50&{q}", False),
        ]  # fmt: skip
        runs: dict[str, list[tuple[float, float | None]]] = {name: [] for name, _, _ in cases}
        sizes: dict[str, int] = {}
        # Round after round, every case once: a machine whose load changes meanwhile (other
        # work on two shared cores) weighs on every case alike; the medians are shown.
        for _ in range(args.rounds):
            for name, path, with_304 in cases:
                status, headers = _head(port, path)
                assert status == 200, (name, status)
                sizes[name] = int(headers["content-length"])
                full = load(port, path, "", args.seconds, args.procs, args.threads)
                cached = (
                    load(port, path, headers["etag"], args.seconds, args.procs, args.threads)
                    if with_304
                    else None
                )
                runs[name].append((full, cached))
        for name, measured in runs.items():
            full = statistics.median(m[0] for m in measured)
            cached_runs = [m[1] for m in measured if m[1] is not None]
            rows.append(
                (name, sizes[name], full, statistics.median(cached_runs) if cached_runs else None)
            )
    finally:
        server.terminate()
        server.wait(timeout=15)
        shutil.rmtree(work, ignore_errors=True)
    print(f"{STORIES} stories; load: {args.procs} processes x {args.threads} keep-alive "
          f"connections, {args.seconds:g} s per case, median of {args.rounds} rounds; "
          f"{os.cpu_count()} cores; "
          f"`syndication --log-format {args.log_format} serve`, access log on\n")  # fmt: skip
    print("| case | body bytes | 200 req/s | 304 req/s | 200 vs public |")
    print("|---|---:|---:|---:|---:|")
    public = rows[0][2]
    for name, size, full, cached in rows:
        shown = f"{cached:,.0f}" if cached is not None else "–"
        print(f"| {name} | {size:,} | {full:,.0f} | {shown} | {full / public:.2f}x |")


if __name__ == "__main__":
    main()
