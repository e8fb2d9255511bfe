"""Benchmark: the floor under a cold `once`, what the required libraries alone cost for its work.

The cold `once` target (issue 12) is the whole process within 1.3× of `feedparser.parse`'s CPU
over the same bytes. This bench measures, in one process and one run, what any implementation
that uses feedparser and feedgen (both required by name) must spend on that same input before
any code of ours runs:

- the reference: `feedparser.parse(body)` with its defaults over every feed (bench_once's
  500 feeds × 20 entries, generated the same way);
- feedparser's lean parse (`sanitize_html=False, resolve_relative_uris=False`: the least any
  ingest can ask of it);
- feedgen rendering the documents a first publish writes for one edition: every entry once in
  its edition's feed (pages of `feeds.items`, 100) and once in its source's feed, as RSS and
  as Atom (`rss_str`, `atom_str`), with the entry's title, link, id, date, author, category
  and HTML; JSON Feed (the third format) with the standard library's `json.dumps`.

None of it sanitises, detects a language, stores, translates, or writes a file: it is a floor,
not a design. Printed: each part's CPU, their sum, and the sum over the reference.

    .venv/bin/python bench/bench_floor.py      # --feeds 500 --entries 20
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import feedparser
from feedgen.feed import FeedGenerator

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_once import write_feeds

PAGE = 100  # feeds.items, the default


def _cpu(work: Callable[[], Any]) -> tuple[float, Any]:
    started = time.process_time()
    result = work()
    return time.process_time() - started, result


def parse_all(folder: Path, feeds: int, **options: bool) -> list[list[dict[str, Any]]]:
    """Every feed's entries, parsed with `options`."""
    return [
        feedparser.parse((folder / f"{feed}.xml").read_bytes(), **options).entries
        for feed in range(feeds)
    ]


def _fields(entry: dict[str, Any]) -> dict[str, Any]:
    html = entry.get("summary", "")
    return {
        "id": entry.get("id", ""),
        "title": entry.get("title", ""),
        "link": entry.get("link", ""),
        "author": entry.get("author", ""),
        "category": entry["tags"][0]["term"] if entry.get("tags") else "",
        "date": datetime(*entry["published_parsed"][:6], tzinfo=UTC),
        "html": html,
    }


def _document(title: str, url: str, entries: list[dict[str, Any]]) -> FeedGenerator:
    fg = FeedGenerator()
    fg.id(url)
    fg.title(title)
    fg.link(href=url, rel="alternate")
    fg.link(href=url + "atom.xml", rel="self")
    fg.description(title)
    fg.language("en")
    for e in entries:
        fe = fg.add_entry(order="append")
        fe.id(e["id"])
        fe.guid(e["id"], permalink=False)
        fe.title(e["title"])
        fe.link(href=e["link"])
        fe.author(name=e["author"] or "Desk", email="desk@example.com")
        fe.category(term=e["category"] or "news")
        fe.published(e["date"])
        fe.updated(e["date"])
        fe.description(e["html"])
        fe.content(e["html"], type="html")
    return fg


def _json_feed(title: str, url: str, entries: list[dict[str, Any]]) -> bytes:
    items = [
        {
            "id": e["id"],
            "url": e["link"],
            "title": e["title"],
            "content_html": e["html"],
            "date_published": e["date"].isoformat(),
            "authors": [{"name": e["author"]}],
            "tags": [e["category"]],
        }
        for e in entries
    ]
    doc = {"version": "https://jsonfeed.org/version/1.1", "title": title, "home_page_url": url}
    return json.dumps({**doc, "items": items}, ensure_ascii=False).encode()


def documents(parsed: list[list[dict[str, Any]]]) -> Iterator[tuple[str, str, list[Any]]]:
    """(title, url, entries) of every document of one edition's first publish."""
    every = [_fields(e) for entries in parsed for e in entries]
    every.sort(key=lambda e: e["date"])
    for start in range(0, len(every), PAGE):
        url = f"https://feeds.example.kz/en/archive/{start}/"
        yield "Edition", url, every[start : start + PAGE]
    for n, entries in enumerate(parsed):
        yield (
            f"Source {n}",
            f"https://feeds.example.kz/en/sources/{n}/",
            [_fields(e) for e in entries],
        )


def render_all(parsed: list[list[dict[str, Any]]]) -> tuple[int, int, int]:
    """feedgen's RSS and Atom of every document; (documents, entries, bytes)."""
    count = entries = size = 0
    for title, url, items in documents(parsed):
        fg = _document(title, url, items)
        size += len(fg.rss_str()) + len(fg.atom_str())
        count += 1
        entries += len(items)
    return count, entries, size


def json_all(parsed: list[list[dict[str, Any]]]) -> int:
    return sum(len(_json_feed(t, u, items)) for t, u, items in documents(parsed))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--feeds", type=int, default=500)
    ap.add_argument("--entries", type=int, default=20)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        size = write_feeds(folder, args.feeds, args.entries)
        reference, _ = _cpu(lambda: parse_all(folder, args.feeds))
        lean, parsed = _cpu(
            lambda: parse_all(folder, args.feeds, sanitize_html=False, resolve_relative_uris=False)
        )
        feedgen_cpu, (docs, entries, out) = _cpu(lambda: render_all(parsed))
        json_cpu, json_size = _cpu(lambda: json_all(parsed))
    floor = lean + feedgen_cpu + json_cpu
    print(
        f"Python {platform.python_version()}, {platform.machine()}; {args.feeds} feeds x "
        f"{args.entries} entries ({size / 1e6:.1f} MB of XML)"
    )
    print("| part | CPU | note |")
    print("|---|---:|---|")
    print(f"| reference: feedparser.parse, defaults | {reference:.2f} s | the issue's yardstick |")
    print(f"| feedparser, lean parse | {lean:.2f} s | the least an ingest asks of it |")
    print(
        f"| feedgen, RSS + Atom | {feedgen_cpu:.2f} s | {docs} documents, {entries:,} entries, "
        f"{out / 1e6:.0f} MB |"
    )
    print(f"| json.dumps, JSON Feed | {json_cpu:.2f} s | {json_size / 1e6:.0f} MB |")
    print(
        f"| **floor: the three together** | **{floor:.2f} s** | "
        f"**{floor / reference:.2f}× the reference** (target for the whole once: ≤ 1.3×) |"
    )


if __name__ == "__main__":
    main()
