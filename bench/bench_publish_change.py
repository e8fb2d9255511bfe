"""Benchmark: publishing follows change (issue 12, item 1) on a big store.

Owns: the figures "one new story in one source of 500, store of 100,000 stories: the publish
that follows renders only the feeds that story is in (its source's, its edition's, its
topics') and takes under 0.3 s" and "a publish with nothing changed renders 0 feeds", each
beside the reference: the full publish of the same store (every feed, every RFC 5005 archive
page, every story's page), from one run.

The store is filled with `ingest.save.save_articles`, 200 stories for each of 500 sources (as
ingestion writes them), edition `en`, `untranslated: original` (every story in the edition),
`feeds.items: 100` and one topic feed (a keyword one story in ten has). Then: the first
publish (full: the reference), a publish with nothing changed, and `--rounds` publishes each
after one new story in one source (median and worst). `--all` on the published output is
timed too (every document rendered again, nothing written), and so is what every publish does
to notice files removed by hand from the output folder (one listing of each folder that holds
a file the store records as published), then a publish after a story's page and an archive page
were removed by hand (every document rendered, only the missing files written).

Run: .venv/bin/python bench/bench_publish_change.py [--stories 100000] [--sources 500]
     [--items 100] [--editions en] [--rounds 5]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from syndication.config import Config, load
from syndication.ingest.save import save_articles
from syndication.model import Article
from syndication.publish import PublishReport, publish
from syndication.publish.stage import lost
from syndication.publish.write import Folder
from syndication.store import Store

START = datetime(2026, 9, 1, tzinfo=UTC)


def _config(folder: Path, sources: int, items: int, editions: list[str]) -> Path:
    data = {
        "site": {"base_url": "https://feeds.example.kz/"},
        "editions": editions,
        "store": "sqlite:///data/bench.db",
        "output": "public",
        "feeds": {"items": items, "topics": [{"id": "khorgos", "keywords": ["Khorgos"]}]},
        "sources": [
            {"id": f"wire-{n}", "url": f"https://wire{n}.example.org/rss", "language": "en"}
            for n in range(sources)
        ],
        "translation": {"chain": ["google"], "untranslated": "original"},
    }
    path = folder / "syndication.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _story(source: int, n: int) -> Article:
    place = "Khorgos" if n % 10 == 0 else "Almaty"
    return Article(
        id=f"wire-{source}:{n}",
        source_id=f"wire-{source}",
        guid=str(n),
        title=f"Story {n} of wire {source}: grain trains reach {place}",
        link=f"https://wire{source}.example.org/news/{n}",
        summary=f"Trains carrying grain reached {place} on Monday. " * 3,
        content=f"<p>Trains carrying grain reached {place} on Monday.</p>" * 6,
        author="Wire desk",
        categories=("economy", "transport"),
        language="en",
        published=START + timedelta(minutes=n * 7 + source),
    )


def _fill(store: Store, stories: int, sources: int) -> None:
    each = stories // sources
    for source in range(sources):
        batch = [_story(source, n) for n in range(each)]
        save_articles(store, f"wire-{source}", batch, ["en"], now=START)


def _timed(config: Config, store: Store, *, full: bool = False) -> tuple[float, PublishReport]:
    started = time.perf_counter()
    report = publish(config, store, full=full)
    return time.perf_counter() - started, report


def _feeds(report: PublishReport) -> list[str]:
    """The feed folders among the files a publish wrote, each once."""
    names = ("rss.xml", "atom.xml", "feed.json")
    found = {p.rsplit("/", 1)[0] + "/" for p in report.written if p.endswith(names)}
    return sorted(found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stories", type=int, default=100_000)
    parser.add_argument("--sources", type=int, default=500)
    parser.add_argument("--items", type=int, default=100)
    parser.add_argument("--editions", default="en")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    editions = args.editions.split(",")
    folder = Path(tempfile.mkdtemp(prefix="bench-publish-change-"))
    try:
        config = load(_config(folder, args.sources, args.items, editions))
        store = Store.open(config.store_url)
        started = time.perf_counter()
        _fill(store, args.stories, args.sources)
        print(
            f"store: {store.article_count():,} stories over {args.sources} sources, "
            f"filled in {time.perf_counter() - started:.0f} s; editions {', '.join(editions)}, "
            f"feeds.items {args.items}",
            flush=True,
        )
        filled = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        full_time, full = _timed(config, store)
        files = len(full.written)
        print(f"reference, full publish: {full_time:.1f} s, {full.rendered:,} feed documents, "
              f"{files:,} files", flush=True)  # fmt: skip
        idle_time, idle = _timed(config, store)
        again_time, again = _timed(config, store, full=True)
        looks = []
        for _ in range(5):
            started = time.perf_counter()
            assert not lost(config, store, Folder(config.output))
            looks.append(time.perf_counter() - started)
        recorded = len(store.published_paths())
        look = statistics.median(looks)
        print(f"looking for files removed by hand: {look * 1000:.0f} ms (median of 5) over "
              f"{recorded:,} recorded files", flush=True)  # fmt: skip
        page = next((config.output / editions[0] / "articles").iterdir())
        page.unlink()
        shutil.rmtree(config.output / editions[0] / "archive" / "1")
        restore_time, restored = _timed(config, store)
        print(f"a page and an archive page removed by hand: {restore_time:.1f} s, "
              f"{restored.rendered:,} documents, {len(restored.written)} files written "
              f"({restored.why})", flush=True)  # fmt: skip
        rounds: list[tuple[float, PublishReport]] = []
        for n in range(args.rounds):
            source = 7 + n
            story = _story(source, 10_000 + n * 10)  # n*10: a Khorgos story, in the topic
            story = Article(**{**story.__dict__, "published": datetime.now(UTC)})
            save_articles(store, f"wire-{source}", [story], ["en"])
            took, report = _timed(config, store)
            rounds.append((took, report))
            feeds = ", ".join(_feeds(report))
            print(f"  one new story in wire-{source}: {took * 1000:.0f} ms, "
                  f"{report.rendered} documents, feeds {feeds}", flush=True)  # fmt: skip
        times = [took for took, _ in rounds]
        _, shown = sorted(rounds, key=lambda r: r[0])[len(rounds) // 2]  # the median round
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print()
        print("| publish | wall time | feed documents rendered | files written |")
        print("|---|---:|---:|---:|")
        print(f"| reference: full publish of the store (first publish) | {full_time:.1f} s | "
              f"{full.rendered:,} | {files:,} |")  # fmt: skip
        print(f"| `--all` again (every document rendered, compared) | {again_time:.1f} s | "
              f"{again.rendered:,} | {len(again.written):,} |")  # fmt: skip
        print(f"| nothing changed | {idle_time * 1000:.0f} ms | {idle.rendered} | "
              f"{len(idle.written)} |")  # fmt: skip
        print(f"| looking for files removed by hand ({recorded:,} files) | "
              f"{look * 1000:.0f} ms | 0 | 0 |")  # fmt: skip
        print(f"| a page and an archive page removed by hand | {restore_time:.1f} s | "
              f"{restored.rendered:,} | {len(restored.written)} |")  # fmt: skip
        print(f"| one new story in one source (median of {len(times)}; worst "
              f"{max(times) * 1000:.0f} ms) | {statistics.median(times) * 1000:.0f} ms | "
              f"{shown.rendered} | {len(shown.written)} |")  # fmt: skip
        print(f"\nfull / one story: {full_time / statistics.median(times):.0f}×; "
              f"peak RSS {filled:.0f} MB after filling the store, {peak:.0f} MB in all "
              "(targets: one story < 0.3 s, nothing changed: 0 documents)")  # fmt: skip
        store.engine.dispose()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
