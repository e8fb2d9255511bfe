"""Benchmark: publishing to an object store (a real S3 server, SeaweedFS `weed mini`).

Owns: the figures of issue 16's S3 output: a cold publish (every key uploaded), a warm one
(nothing changed: no request at all) and one after a new story (only the changed keys), beside
references from the same run: the same publishes to a local folder, the same bytes put in a
bare loop with the same boto3 client (what uploading costs without our bookkeeping), and
listing the prefix (what a publish that compared against the bucket, as a sync tool does, would
pay before uploading anything). 3 editions, 100 items a feed, from a store of `--articles`
stories.

Run: .venv/bin/python bench/bench_s3.py [--articles 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.s3server: the server

from bench_publish import LANGUAGES, _fill

from syndication.config import load
from syndication.ingest.save import save_articles
from syndication.model import Article
from syndication.publish import publish
from syndication.publish.s3 import _client
from syndication.store import Store
from tests.s3server import ACCESS_KEY, SECRET_KEY, Weed


def _config(folder: Path, name: str, output: str, endpoint: str | None = None) -> Path:
    data: dict[str, Any] = {
        "site": {"base_url": "https://feeds.example.kz/"},
        "editions": LANGUAGES,
        "store": "sqlite:///data/bench.db",
        "output": output,
        "feeds": {"items": 100},
        "sources": [{"id": "wire", "url": "https://wire.example.org/rss"}],
        "translation": {"chain": ["google"], "untranslated": "original"},
    }
    if endpoint:
        data["output_options"] = {"endpoint_url": endpoint, "region": "us-east-1"}
    path = folder / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _timed(action: Any, *args: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = action(*args)
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    import os

    os.environ.update(
        AWS_ACCESS_KEY_ID=ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY=SECRET_KEY,
        AWS_EC2_METADATA_DISABLED="true",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )
    folder = Path(tempfile.mkdtemp(prefix="bench-s3-"))
    weed = Weed(folder / "weed")
    rows: dict[str, list[float]] = {}
    files = 0
    try:
        client = weed.client()
        for run in range(args.repeat):
            work = folder / f"run{run}"
            work.mkdir()
            bucket = weed.bucket(f"bench-{run}")
            s3 = load(_config(work, "s3.yaml", f"s3://{bucket}/site/", weed.url))
            local = load(_config(work, "local.yaml", "public"))
            store = Store.open(s3.store_url)
            _fill(store, args.articles)

            took, report = _timed(publish, local, store)
            rows.setdefault("folder: cold", []).append(took)
            took, report = _timed(publish, local, store)
            rows.setdefault("folder: warm (nothing changed)", []).append(took)

            took, report = _timed(publish, s3, store)
            files = len(report.written)
            rows.setdefault("bucket: cold (every key uploaded)", []).append(took)
            took, report = _timed(publish, s3, store)
            assert not report.written
            rows.setdefault("bucket: warm (nothing changed, no request)", []).append(took)

            n = args.articles
            story = Article(
                id=f"wire:{n}",
                source_id="wire",
                guid=str(n),
                title=f"Story {n}: a new bridge",
                link=f"https://wire.example.org/news/{n}",
                summary="A new bridge opened on Monday.",
                content="<p>A new bridge opened on Monday.</p>",
                language="en",
                published=datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=n),
            )
            save_articles(store, "wire", [story], LANGUAGES, now=datetime(2025, 1, 2, tzinfo=UTC))
            took, report = _timed(publish, s3, store)
            rows.setdefault(
                f"bucket: one new story ({len(report.written)} keys uploaded)", []
            ).append(took)

            # References: the same bytes put with a bare loop, and listing the prefix.
            public = Path(local.output)  # type: ignore[arg-type]
            payload = [
                (p.relative_to(public).as_posix(), p.read_bytes())
                for p in public.rglob("*")
                if p.is_file()
            ]
            raw = f"raw-{run}"
            weed.bucket(raw)

            # The publisher's own client (same timeouts, retries and checksum settings).
            ours = _client(s3.settings.output_options)

            def put_all(client: Any, bucket: str, payload: list[tuple[str, bytes]]) -> None:
                for key, data in payload:
                    client.put_object(Bucket=bucket, Key=key, Body=data)

            took, _ = _timed(put_all, ours, raw, payload)
            rows.setdefault("reference: bare boto3 put of the same files", []).append(took)

            def list_all(bucket: str = bucket) -> int:
                pages = client.get_paginator("list_objects_v2").paginate(
                    Bucket=bucket, Prefix="site/"
                )
                return sum(len(page.get("Contents", [])) for page in pages)

            took, listed = _timed(list_all)
            assert listed >= files
            rows.setdefault("reference: listing the prefix once", []).append(took)
            store.engine.dispose()
    finally:
        weed.stop()
        shutil.rmtree(folder, ignore_errors=True)
    print(f"{args.articles:,} stories in the store, {files} files published; best of {args.repeat}")
    print("\n| publish | time |\n|---|---:|")
    for name, times in rows.items():
        print(f"| {name} | {min(times) * 1000:.0f} ms |")


if __name__ == "__main__":
    main()
