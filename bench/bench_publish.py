"""Benchmark: publishing 3 editions x 3 formats, 100 items each, from a small and a big store.

Owns: the issue-5 target "publish from a store holding 100,000 articles in under 1 s, and
within 1.5x of the time with 1,000 articles". The store is filled with `ingest.save.save_articles`
in batches (as ingestion does); each size is timed for a cold publish (`publish --all` into an
empty folder: every file written) and a warm one (nothing changed: nothing rendered), best of a
few runs. Since every feed has RFC 5005 archives and every story a page, a cold publish writes
them all and grows with the store; `bench_publish_change.py` measures what a publish costs
when one story arrives in a big store.

Run: .venv/bin/python bench/bench_publish.py [--sizes 1000,20000] [--repeat 1]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from syndication.config import load
from syndication.ingest.save import save_articles
from syndication.model import Article
from syndication.publish import publish
from syndication.store import Store

LANGUAGES = ["kk", "zh", "en"]
BATCH = 5_000


def _config(folder: Path) -> Path:
    data = {
        "site": {"base_url": "https://feeds.example.kz/"},
        "editions": LANGUAGES,
        "store": "sqlite:///data/bench.db",
        "output": "public",
        "feeds": {"items": 100},
        # One source: the bench measures 3 editions x 3 formats, not per-source feeds.
        "sources": [{"id": "wire", "url": "https://wire.example.org/rss"}],
        # Every story enters every edition, so each feed really holds 100 items.
        "translation": {"chain": ["google"], "untranslated": "original"},
    }
    path = folder / "syndication.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _fill(store: Store, count: int) -> None:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    for offset in range(0, count, BATCH):
        batch = [
            Article(
                id=f"wire:{n}",
                source_id="wire",
                guid=str(n),
                title=f"Story {n}: grain trains reach Khorgos",
                link=f"https://wire.example.org/news/{n}",
                summary="Trains carrying grain reached the dry port on Monday. " * 3,
                content="<p>Trains carrying grain reached the dry port on Monday.</p>" * 6,
                author="Wire desk",
                categories=("economy", "transport"),
                image=f"https://wire.example.org/img/{n}.jpg",
                language=LANGUAGES[n % 3],
                published=start + timedelta(minutes=n),
            )
            for n in range(offset, min(offset + BATCH, count))
        ]
        save_articles(store, "wire", batch, LANGUAGES, now=start)


def bench(size: int, repeat: int) -> tuple[float, float]:
    folder = Path(tempfile.mkdtemp(prefix=f"bench-publish-{size}-"))
    try:
        config = load(_config(folder))
        store = Store.open(config.store_url)
        _fill(store, size)
        cold, warm = [], []
        for _ in range(repeat):
            shutil.rmtree(config.output, ignore_errors=True)
            t0 = time.perf_counter()
            report = publish(config, store, full=True)
            cold.append(time.perf_counter() - t0)
            assert report.items == {"kk": 100, "zh": 100, "en": 100}, report.items
            t0 = time.perf_counter()
            report = publish(config, store)
            warm.append(time.perf_counter() - t0)
            assert not report.written and not report.rendered
        store.engine.dispose()
        return min(cold), min(warm)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,20000")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    results = {}
    print("| articles in store | cold publish (--all: every file) | warm publish (no change) |")
    print("|---:|---:|---:|")
    for size in (int(s) for s in args.sizes.split(",")):
        cold, warm = bench(size, args.repeat)
        results[size] = (cold, warm)
        print(f"| {size:,} | {cold * 1000:.0f} ms | {warm * 1000:.0f} ms |", flush=True)
    sizes = sorted(results)
    if len(sizes) > 1:
        small, big = results[sizes[0]], results[sizes[-1]]
        print(f"\nratio {sizes[-1]:,}/{sizes[0]:,}: cold {big[0] / small[0]:.2f}x, "
              f"warm {big[1] / small[1]:.2f}x (target < 1.5x, and < 1 s)")  # fmt: skip


if __name__ == "__main__":
    main()
