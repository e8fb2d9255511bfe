"""How fast `syndication run` reacts: a story dropped in the articles folder and one published
by a loopback partner, timed until they are in every edition (kk, zh, en: translated by the
fake Google over real HTTP); a SIGHUP adding a source, timed until its story is published;
and SIGTERM, timed until the process has exited.

Every source polls `--every` seconds (default 10), `publish.debounce` is 1 s, the fake
translator answers at once. The expected latency of a story is about half a poll interval
(it lands at a random moment of the interval) plus translation and the debounce.

Run: .venv/bin/python bench/bench_worker.py [--every 10] [--rounds 5]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import yaml

from tests.conftest import write_config
from tests.fakeprovider import FakeGoogle
from tests.feedserver import FeedItem, FeedServer, GrowingFeed
from tests.system.test_operations import ARTICLE, Running, in_every_edition
from tests.system.test_worker import _free_port, _wait_for_index


def timed(check: Callable[[], bool], limit: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < limit:
        if check():
            return time.monotonic() - started
        time.sleep(0.05)
    raise SystemExit(f"not seen within {limit} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=float, default=10.0, help="poll interval, seconds")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    chance = random.Random(20251128)
    google, feeds = FakeGoogle(), FeedServer().start()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        wire = GrowingFeed(feeds, "/wire.xml", title="Wire")
        extra = GrowingFeed(feeds, "/extra.xml", title="Extra")
        port = _free_port()
        config = write_config(
            root,
            serve={"host": "127.0.0.1", "port": port},
            translation={"chain": ["google"], "providers": {"google": {"base_url": google.url}}},
            publish={"debounce": "1s", "every": "5m"},
            sources=[
                {"id": "newsroom", "articles": "articles", "language": "kk", "every": args.every},
                {"id": "wire", "url": wire.url, "language": "en", "every": args.every},
            ],
        )
        worker = Running(config, root / "run.log")
        try:
            _wait_for_index(f"http://127.0.0.1:{port}/", worker.process, limit=30)
            public = root / "public"
            timed(lambda: in_every_edition(public, "rail-freight"), 60)
            local, partner = [], []
            for n in range(1, args.rounds + 1):
                # At a random moment of the poll interval, as stories arrive in real life.
                time.sleep(chance.uniform(0, args.every))
                name = f"2025-06-0{n % 10}-bench-{n}"
                (root / "articles" / f"{name}.md").write_text(
                    ARTICLE.format(n=n % 10), encoding="utf-8"
                )
                local.append(timed(lambda name=name: in_every_edition(public, name), 120))
                time.sleep(chance.uniform(0, args.every))
                link = f"https://wire.example.com/bench/{n}"
                wire.publish(
                    FeedItem(f"bench-{n}", f"Bench story {n}", link, "Text.", datetime.now(UTC))
                )
                partner.append(timed(lambda link=link: in_every_edition(public, link), 120))
            now = datetime.now(UTC)
            extra.publish(FeedItem("x-1", "Added by reload", "https://x.example/1", "Text.", now))
            data = yaml.safe_load(config.read_text(encoding="utf-8"))
            data["sources"].append({"id": "extra", "url": extra.url, "language": "en"})
            config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
            worker.process.send_signal(1)  # SIGHUP
            reload = timed(lambda: in_every_edition(public, "x.example/1"), 60)
            code, stop = worker.stop()
        finally:
            worker.kill()
            google.stop()
            feeds.stop()
    print(f"poll interval {args.every:g} s, {args.rounds} rounds")
    for label, values in (("local article", local), ("partner item", partner)):
        print(
            f"  {label:14} → every edition: median {statistics.median(values):.1f} s, "
            f"max {max(values):.1f} s"
        )
    print(f"  SIGHUP adding a source → its story in every edition: {reload:.1f} s")
    print(f"  SIGTERM → exited with {code}: {stop:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
