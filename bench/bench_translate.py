"""Translation benchmark: our engine versus a naive loop, against the same fake Google.

200 articles (50 each in kk, zh, en, ru) into the kk, zh and en editions, with the fake
provider (tests/fakeprovider.py, reached through deep-translator's real code over loopback)
sleeping 150 ms per request. Measures wall time and requests for:
  - engine: `translate_pending` (packing, memory, fallbacks, sanity checks, real SQLite store);
  - engine, second run: the same store again (expected: zero requests);
  - naive: deep-translator's GoogleTranslator once per field (title, summary, content) per
    article per target language, skipping same-language pairs, run sequentially like the
    engine. By default on a subset of articles and extrapolated linearly (said in the output).

  - an outage: backlogs of stories with the provider unreachable, cycle after cycle (a new
    process each time as `once` from cron, then providers kept as by `run`): the seconds,
    requests, translation rows written and fields segmented per cycle (issue 12: one probe
    request and nothing rewritten per cycle, whatever the backlog).

Run: .venv/bin/python bench/bench_translate.py [--naive-articles N] [--latency 0.15]
     [--outage 300,3000] [--outage-only] [--cycles 3]
"""

from __future__ import annotations

import argparse
import cProfile
import platform
import pstats
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from syndication.config import load
from syndication.html import sanitise_html
from syndication.ingest.save import save_articles
from syndication.lang import PROVIDER_CODES
from syndication.model import Article
from syndication.store import Store
from syndication.translate.engine import translate_pending
from tests.conftest import write_config
from tests.fakeprovider import FakeGoogle

EDITIONS = ["kk", "zh", "en"]
DOWN = "http://127.0.0.1:9/m"  # the discard port: nothing listens, the provider is unreachable
WORDS = {
    "kk": [
        "елорда",
        "көрме",
        "баспа",
        "кітап",
        "мемлекет",
        "үкімет",
        "жоба",
        "құрылыс",
        "жол",
        "теміржол",
        "ауа",
        "райы",
        "жиын",
        "бағдарлама",
        "мектеп",
        "оқушы",
        "ғалым",
        "зерттеу",
        "өнім",
        "нарық",
        "қала",
        "ауыл",
        "су",
        "жер",
    ],
    "ru": [
        "столица",
        "выставка",
        "издательство",
        "книга",
        "государство",
        "правительство",
        "проект",
        "дорога",
        "погода",
        "совещание",
        "программа",
        "школа",
        "ученик",
        "учёный",
        "рынок",
        "город",
        "село",
        "вода",
        "земля",
    ],
    "en": [
        "capital",
        "exhibition",
        "publisher",
        "book",
        "government",
        "project",
        "railway",
        "weather",
        "meeting",
        "programme",
        "school",
        "student",
        "scientist",
        "research",
        "market",
        "city",
        "village",
        "water",
        "land",
    ],
    "zh": list("国家发展改革委员会经济运行总体平稳重点项目建设有序推进城市乡村学校市场研究"),
}


def _sentence(rng: random.Random, lang: str) -> str:
    if lang == "zh":
        return "".join(rng.choice(WORDS["zh"]) for _ in range(rng.randint(15, 30))) + "。"
    words = [rng.choice(WORDS[lang]) for _ in range(rng.randint(8, 16))]
    return " ".join(words).capitalize() + "."


def make_articles(count: int = 200) -> list[Article]:
    """`count` articles, a quarter in each language, ~1,000-1,500 characters of HTML each."""
    rng = random.Random(200)
    articles = []
    for index in range(count):
        lang = ("kk", "zh", "en", "ru")[index % 4]
        paragraphs = []
        for p in range(rng.randint(4, 6)):
            text = " ".join(_sentence(rng, lang) for _ in range(rng.randint(2, 3)))
            if p == 1:
                text = f'<a href="https://example.kz/{index}">{text[:12]}</a>{text[12:]}'
            paragraphs.append(f"<p>{text}</p>")
        articles.append(
            Article(
                id=f"bench:{index}",
                source_id="bench",
                guid=str(index),
                title=_sentence(rng, lang).rstrip(".。"),
                summary=_sentence(rng, lang),
                content=sanitise_html("".join(paragraphs)),
                language=lang,
                link=f"https://example.kz/news/{index}",
            )
        )
    return articles


def run_engine(fake: FakeGoogle, articles: list[Article], folder: Path) -> list[tuple[float, int]]:
    path = write_config(
        folder,
        sources=[{"id": "bench", "articles": "articles"}],
        translation={
            "chain": ["google"],
            "providers": {"google": {"base_url": fake.url}},
            "timeout": "10s",
            "budget": "3600s",
        },
    )
    config = load(path)
    store = Store.open(config.store_url)
    save_articles(store, "bench", articles, EDITIONS)
    runs = []
    for _ in range(2):
        before = len(fake.calls)
        started = time.monotonic()
        report = translate_pending(config, store)
        runs.append((time.monotonic() - started, len(fake.calls) - before))
        if report.failed or report.pending:
            raise SystemExit(f"engine left work undone: {report}")
    return runs


def run_naive(fake: FakeGoogle, articles: list[Article]) -> tuple[float, int]:
    import deep_translator

    codes = PROVIDER_CODES["google"]
    before = len(fake.calls)
    started = time.monotonic()
    for article in articles:
        for target in EDITIONS:
            if target == article.language:
                continue
            for text in (article.title, article.summary, article.content):
                translator = deep_translator.GoogleTranslator(
                    source=codes[article.language], target=codes[target]
                )
                translator._base_url = fake.url  # the same fake, the same latency
                translator.translate(text)
    return time.monotonic() - started, len(fake.calls) - before


# -- an outage --------------------------------------------------------------------------


def _count_row_writes(store: Store) -> None:
    """A trigger counting every write to a translation row (same values or not)."""
    with store.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE bench_row_writes (n INTEGER NOT NULL)")
        conn.exec_driver_sql("INSERT INTO bench_row_writes VALUES (0)")
        for event in ("INSERT", "UPDATE"):
            conn.exec_driver_sql(
                f"CREATE TRIGGER bench_count_{event.lower()} AFTER {event} ON translations "
                "BEGIN UPDATE bench_row_writes SET n = n + 1; END"
            )


def _row_writes(store: Store) -> int:
    with store.begin() as conn:
        return int(conn.exec_driver_sql("SELECT n FROM bench_row_writes").scalar() or 0)


def _segmented(profile: cProfile.Profile) -> int:
    """How many fields the cycle segmented (calls of split_html and split_text)."""
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    return sum(
        calls
        for (filename, _, name), (calls, *_rest) in stats.items()
        if filename.endswith("segment.py") and name in ("split_html", "split_text")
    )


def run_outage(
    backlog: int, folder: Path, cycles: int
) -> list[tuple[str, float, int, int, int, int]]:
    """Cycles over a backlog of `backlog` stories with the provider unreachable (a closed
    port): the first finds the outage (with the guard's retries and backoff, really slept),
    the next ones start fresh as a `once` from cron does, the last two keep their providers
    as `run` does. Per cycle: (kind, seconds, pending, requests, rows written, fields
    segmented)."""
    from syndication.translate import engine
    from syndication.translate.engine import build_providers

    path = write_config(
        folder,
        sources=[{"id": "bench", "articles": "articles"}],
        translation={"chain": ["google"], "providers": {"google": {"base_url": DOWN}}},
    )
    config = load(path)
    store = Store.open(config.store_url)
    save_articles(store, "bench", make_articles(backlog), EDITIONS)
    _count_row_writes(store)
    kept = build_providers(config)
    plan = [("first (new process)", None)] + [("next (new process)", None)] * (cycles - 1)
    plan += [("kept providers (run)", kept), ("kept providers (run)", kept)]
    out = []
    for kind, providers in plan:
        if providers is None:
            engine._SEGMENTED.clear()  # a new process starts with no segments kept
        writes = _row_writes(store)
        profile = cProfile.Profile()
        started = time.monotonic()
        profile.enable()
        report = translate_pending(config, store, providers=providers)
        profile.disable()
        elapsed = time.monotonic() - started
        out.append(
            (
                kind,
                elapsed,
                report.pending,
                report.requests,
                _row_writes(store) - writes,
                _segmented(profile),
            )
        )
    return out


def outage_table(backlogs: list[int], cycles: int) -> None:
    print("\nAn outage (provider unreachable): what each cycle costs, by backlog")
    print("target: one probe request and no row rewritten per cycle, whatever the backlog\n")
    results = {}
    for backlog in backlogs:
        with tempfile.TemporaryDirectory() as tmp:
            results[backlog] = run_outage(backlog, Path(tmp), cycles)
    head = " | ".join(
        f"{n:,} stories: s, pending, requests, rows written, fields segmented" for n in backlogs
    )
    print(f"| cycle | {head} |")
    print("|---|" + "---:|" * len(backlogs))
    for index, row in enumerate(results[backlogs[0]]):
        cells = []
        for backlog in backlogs:
            _, seconds, pending, requests, writes, segmented = results[backlog][index]
            cells.append(f"{seconds:.2f}, {pending:,}, {requests}, {writes:,}, {segmented:,}")
        print(f"| {row[0]} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=200)
    parser.add_argument("--naive-articles", type=int, default=40,
                        help="naive loop on this many articles, extrapolated to all")  # fmt: skip
    parser.add_argument("--latency", type=float, default=0.15)
    parser.add_argument(
        "--outage",
        default="300,3000",
        help="backlogs (stories, comma-separated) for the outage table; '' to skip it",
    )
    parser.add_argument("--outage-only", action="store_true", help="only the outage table")
    parser.add_argument("--cycles", type=int, default=3, help="new-process cycles per backlog")
    args = parser.parse_args()
    if args.outage_only:
        outage_table([int(n) for n in args.outage.split(",")], args.cycles)
        return
    articles = make_articles(args.articles)
    fake = FakeGoogle()
    fake.latency = args.latency
    try:
        with tempfile.TemporaryDirectory() as tmp:
            (first_time, first_req), (second_time, second_req) = run_engine(
                fake, articles, Path(tmp)
            )
        subset = articles[: args.naive_articles]
        naive_time, naive_req = run_naive(fake, subset)
    finally:
        fake.stop()
    scale = len(articles) / len(subset)
    naive_time_all, naive_req_all = naive_time * scale, naive_req * scale
    pairs = sum(1 for a in articles for e in EDITIONS if e != a.language)
    print(f"{platform.node()} · {platform.processor() or platform.machine()} · "
          f"python {platform.python_version()} · latency {args.latency * 1000:.0f} ms")  # fmt: skip
    print(f"{len(articles)} articles, {pairs} (article, language) translations\n")
    print("| run | wall time | requests |")
    print("|---|---:|---:|")
    print(f"| engine, first run | {first_time:.1f} s | {first_req} |")
    print(f"| engine, second run | {second_time:.2f} s | {second_req} |")
    note = "" if scale == 1 else f" (measured on {len(subset)} articles: {naive_time:.1f} s, " \
        f"{naive_req} requests; ×{scale:g})"  # fmt: skip
    print(f"| naive loop{note} | {naive_time_all:.1f} s | {naive_req_all:.0f} |")
    print(f"\nengine vs naive: {naive_req_all / first_req:.1f}× fewer requests, "
          f"{naive_time_all / first_time:.1f}× less wall time")  # fmt: skip
    if args.outage:
        outage_table([int(n) for n in args.outage.split(",")], args.cycles)


if __name__ == "__main__":
    main()
