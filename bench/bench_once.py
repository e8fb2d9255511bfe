"""Benchmark: the whole `syndication once`, cold and warm, over many partner feeds, with the
translation provider unreachable, next to `feedparser.parse` over the same bytes.

Owns: the issue-12 figures for a cycle as an operator runs it (`syndication once` in its own
process, start-up included): a cold `once` (empty store: every story new, the provider
unreachable, everything published) against feedparser's own parse of the same bodies, by wall
time (target <= 1.5x) and by CPU time of every process (the `once` process, its forkserver and
its parse workers; target <= 1.3x); the peak memory of each of our processes, the sum of
those peaks and the most they held at one moment (target < 300 MB); then a warm `once` (every
source answers 304, the whole backlog pending and the provider still down; target < 2 s of
wall time for the whole process), with the number of translation requests each run sent to
the provider, the rows of the store each run changed and the feeds each publish rendered.

The feeds are generated deterministically: RSS 2.0, ~1.5 KB of HTML per entry, Kazakh, Chinese
and English feeds by thirds (one feed in ten declares no language, one entry in ten is in
another language than its feed), served as pre-rendered bytes with an ETag by the loopback
server of `bench_ingest.py` in another process, over 25 loopback addresses. The edition is
`en` with `untranslated: original`, so the Kazakh and Chinese stories (about two in three) wait
for a translation while being published in the original. The provider is deep-translator's
Google pointed at a closed loopback port: unreachable, as in an outage.

Run: .venv/bin/python bench/bench_once.py [--feeds 500] [--entries 20] [--warm-runs 3]
     [--keep DIR]   (the store, the output and the `once` outputs stay in DIR)
     [--stages]     (then each stage of a cold and a warm cycle timed in-process)
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import random
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from pathlib import Path

import feedparser
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ingest import _WORDS, HOSTS, Descendants, serve

TARGET_WALL = 1.5
TARGET_CPU = 1.3
TARGET_WARM = 2.0
TARGET_RSS_MB = 300
LANGUAGES = ("kk", "zh", "en")

_KK = (
    "үкімет астық экспортын құрғақ порт арқылы қолдаудың жаңа шараларын жариялады "
    "темір жол жүк тасымалының көлемі осы тоқсанда айтарлықтай өсті ал шенеуніктер "
    "логистика мен цифрлық кеденге жаңа инвестиция салуға уәде берді министрлік "
    "фермерлер құрғақ көктемге қарамастан мол өнім күтетінін хабарлады сарапшылар "
    "өңірлік нарықтардағы бағалар тұрақты болып отырғанын атап өтті саудагерлер "
    "ұлттық банктің пайыздық мөлшерлеме туралы шешімін күтуде"
)
WORDS = {"kk": _KK.split(), "zh": _WORDS["zh"], "en": _WORDS["en"]}


# -- the feeds ----------------------------------------------------------------------------


def _sentence(rng: random.Random, lang: str, words: int) -> str:
    picked = [rng.choice(WORDS[lang]) for _ in range(words)]
    if lang == "zh":
        return "".join(picked) + "。"
    return " ".join(picked).capitalize() + "."


def _entry_html(rng: random.Random, lang: str, feed: int, n: int) -> str:
    """About 1.5 KB of partner HTML: paragraphs, a link, an image, a pixel, now and then a
    script (as bench_ingest's)."""
    parts: list[str] = []
    size = 0
    target = 1500 if lang != "zh" else 1400
    while size < target:
        para = " ".join(_sentence(rng, lang, rng.randint(8, 16)) for _ in range(2))
        if not parts:
            para = f"<strong>{para}</strong>"
        elif len(parts) == 1:
            link = _sentence(rng, lang, 3)
            para += f' <a href="/news/{feed}/{n - 1}" onclick="track()">{link}</a>'
        parts.append(f"<p>{para}</p>")
        size += len(parts[-1].encode())
    parts.insert(
        1,
        f'<figure><img src="/img/{feed}/{n}.jpg" alt="" width="640" height="360">'
        f"<figcaption>{_sentence(rng, lang, 5)}</figcaption></figure>",
    )
    parts.append('<img src="https://pixel.example.net/t.gif" width="1" height="1">')
    if n % 10 == 0:
        parts.append("<script>window.ads = 1;</script>")
    return "".join(parts)


def feed_language(feed: int) -> str | None:
    return None if feed % 10 == 9 else LANGUAGES[feed % 3]


def render_feed(feed: int, entries: int) -> bytes:
    rng = random.Random(feed)
    declared = feed_language(feed)
    main = declared or LANGUAGES[feed % 3]
    host = f"https://partner{feed}.example.com"
    start = datetime(2025, 5, 1, tzinfo=UTC)
    items: list[str] = []
    for n in range(entries):
        lang = LANGUAGES[(feed + n) % 3] if n % 10 == 3 else main
        title = _sentence(rng, lang, 7).rstrip(".。")
        published = format_datetime(start + timedelta(minutes=feed * 97 + n * 13), usegmt=True)
        items.append(
            "<item>"
            f"<title>{escape(title)}</title>"
            f"<link>{host}/news/{feed}/{n}</link>"
            f'<guid isPermaLink="false">partner{feed}-{n}</guid>'
            f"<pubDate>{published}</pubDate>"
            f"<author>desk{feed}@partner{feed}.example.com (Desk {feed})</author>"
            f"<category>{'economy' if n % 2 else 'transport'}</category>"
            f"<description>{escape(_entry_html(rng, lang, feed, n))}</description>"
            "</item>"
        )
    language = f"<language>{declared}</language>" if declared else ""
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"<title>Partner {feed}</title><link>{host}/</link>"
        f"<description>Partner newsroom {feed}</description>{language}"
        + "".join(items)
        + "</channel></rss>\n"
    ).encode()


def write_feeds(folder: Path, feeds: int, entries: int) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    total = 0
    for feed in range(feeds):
        body = render_feed(feed, entries)
        (folder / f"{feed}.xml").write_bytes(body)
        total += len(body)
    return total


# -- the reference ------------------------------------------------------------------------


def feedparser_reference(folder: Path, feeds: int) -> tuple[float, float, int]:
    """(wall s, CPU s, entries) of `feedparser.parse(body)`, defaults, over every body in
    turn in this process (bodies read from disk outside the timing)."""
    wall = cpu = 0.0
    entries = 0
    for feed in range(feeds):
        body = (folder / f"{feed}.xml").read_bytes()
        t0, c0 = time.perf_counter(), time.process_time()
        parsed = feedparser.parse(body)
        wall += time.perf_counter() - t0
        cpu += time.process_time() - c0
        entries += len(parsed.entries)
    return wall, cpu, entries


# -- our side -----------------------------------------------------------------------------


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(folder: Path, feeds: int, hosts: list[str], port: int) -> Path:
    data = {
        "site": {"base_url": "https://feeds.example.kz/"},
        "editions": ["en"],
        "store": "sqlite:///data/bench.db",
        "output": "public",
        "sources": [
            {
                "id": f"partner{feed}",
                "url": f"http://{hosts[feed % len(hosts)]}:{port}/feeds/{feed}.xml",
            }
            for feed in range(feeds)
        ],
        "translation": {
            "chain": ["google"],
            "providers": {"google": {"base_url": f"http://127.0.0.1:{_closed_port()}/m"}},
            "untranslated": "original",
        },
    }
    path = folder / "syndication.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


class Run:
    """One `syndication once` in a child process: wall, CPU of every process, memory."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.wall = 0.0
        self.cpu_main = 0.0
        self.cpu_others = 0.0
        self.rss_main = 0.0
        self.rss_others: dict[int, float] = {}
        self.rss_together = 0.0  # every process at the same moment (sampled), MB
        self.pss_together = 0.0  # the same as proportional set sizes (shared pages once), MB
        self.code = 0
        self.output = ""

    @property
    def cpu(self) -> float:
        return self.cpu_main + self.cpu_others


def run_once(config: Path, name: str, skip: int) -> Run:
    run = Run(name)
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    with Descendants(skip=skip, interval=0.05) as kids:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "syndication", "once", "--config", str(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
        )
        assert proc.stdout is not None
        out = proc.stdout.read()
        # wait4: this child's own CPU and peak RSS, exactly.
        _, status, usage = os.wait4(proc.pid, 0)
        run.wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    run.code = proc.returncode
    run.output = out.decode("utf-8", "replace")
    # The `once` process itself, exactly, with the copies of itself it forked to render a
    # big publish and waited for (wait4 counts them in). Its forkserver and the parse workers
    # are not its waited-for children: /proc was sampled for them (a slight underestimate:
    # the last < 50 ms of each is missed).
    run.cpu_main = usage.ru_utime + usage.ru_stime
    run.rss_main = usage.ru_maxrss / 1024
    own = kids.cmdline.get(proc.pid)
    copies = {
        pid
        for pid, parent in kids.parent.items()
        if parent == proc.pid and kids.cmdline.get(pid) == own
    }
    others = {pid for pid in kids.cpu if pid != proc.pid and pid not in copies}
    run.cpu_others = sum(kids.cpu[pid] for pid in others)
    run.rss_others = {pid: mb for pid, mb in kids.hwm.items() if pid != proc.pid and mb > 0}
    run.rss_together = kids.together
    run.pss_together = kids.together_pss
    return run


def stages_in_process(config_path: Path, runs: int) -> list[dict[str, tuple[float, float]]]:
    """The cycle's stages timed one by one in this process (wall, CPU of this process), on
    a store and output of its own: a cold cycle, then `runs` warm ones. Only where the time
    goes; the figures above are the real `once`."""
    from syndication.config import load
    from syndication.publish import publish
    from syndication.run.cycle import ingest, translate
    from syndication.store import Store

    config = load(config_path)
    store = Store.open(config.store_url)
    out = []
    for _ in range(1 + runs):
        timings = {}
        for name, stage in (
            ("ingest", lambda: ingest(config, store, list(config.settings.sources))),
            ("translate", lambda: translate(config, store)),
            ("publish", lambda: publish(config, store)),
        ):
            t0, c0 = time.perf_counter(), time.process_time()
            stage()
            timings[name] = (time.perf_counter() - t0, time.process_time() - c0)
        out.append(timings)
    return out


def _db_counts(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        return {
            "articles": conn.execute("SELECT count(*) FROM articles").fetchone()[0],
            "pending": conn.execute(
                "SELECT count(*) FROM translations WHERE status IN ('pending', 'stale')"
            ).fetchone()[0],
            "changes": conn.execute("SELECT total_changes()").fetchone()[0],
        }


def _translation_rows(db: Path) -> dict[tuple[str, str], tuple[object, ...]]:
    with sqlite3.connect(db) as conn:
        return {
            (r[0], r[1]): r[2:]
            for r in conn.execute(
                "SELECT article_id, language, status, error, attempts, next_attempt, "
                "updated_at FROM translations"
            )
        }


def _requests(output: str) -> str:
    match = re.search(r"\((\d+) request\(s\)", output)
    return match.group(1) if match else "?"


def _published(output: str) -> str:
    """What the cycle's publish did, from `once`'s summary line."""
    if "published: nothing changed" in output:
        return "0 feeds rendered, 0 files written"
    match = re.search(
        r"published [^:]*: (\d+) feed document\(s\) rendered( \(by \d+ processes\))?, "
        r"(\d+) file\(s\) written, (\d+) unchanged",
        output,
    )
    if not match:
        return "?"
    return f"{match.group(1)} feeds rendered{match.group(2) or ''}, {match.group(3)} files written"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=500)
    parser.add_argument("--entries", type=int, default=20)
    parser.add_argument("--warm-runs", type=int, default=3, help="warm runs (best and worst)")
    parser.add_argument("--keep", type=Path, help="work here and keep it (default: a temp dir)")
    parser.add_argument(
        "--stages",
        action="store_true",
        help="also time each stage in-process (a cold and a warm cycle on a store of its own)",
    )
    args = parser.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-once-"))
    work.mkdir(parents=True, exist_ok=True)
    hosts = [f"127.0.0.{n}" for n in range(1, HOSTS + 1)]
    ctx = mp.get_context("spawn")
    server: mp.process.BaseProcess | None = None
    try:
        size = write_feeds(work / "feeds", args.feeds, args.entries)
        ports: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
        server = ctx.Process(target=serve, args=(str(work / "feeds"), hosts, ports), daemon=True)
        server.start()
        port = ports.get(timeout=120)
        config = write_config(work, args.feeds, hosts, port)
        db = work / "data" / "bench.db"

        cold = run_once(config, "cold", server.pid or 0)
        (work / "cold.out").write_text(cold.output, encoding="utf-8")
        after_cold = _db_counts(db)
        rows_cold = _translation_rows(db)
        warms: list[Run] = []
        changed: list[int] = []
        for index in range(args.warm_runs):
            before = _translation_rows(db)
            warm = run_once(config, f"warm {index + 1}", server.pid or 0)
            (work / f"warm{index + 1}.out").write_text(warm.output, encoding="utf-8")
            after = _translation_rows(db)
            changed.append(sum(before.get(k) != v for k, v in after.items()))
            warms.append(warm)
        fp_wall, fp_cpu, fp_entries = feedparser_reference(work / "feeds", args.feeds)
        stages: list[dict[str, tuple[float, float]]] = []
        if args.stages:
            apart = work / "stages"
            apart.mkdir()
            (apart / "syndication.yaml").write_text(config.read_text())
            stages = stages_in_process(apart / "syndication.yaml", 1)
    finally:
        if server is not None:
            server.kill()
            server.join()
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)

    del rows_cold
    rss_sum = cold.rss_main + sum(cold.rss_others.values())
    warm_best = min(w.wall for w in warms)
    warm_worst = max(w.wall for w in warms)
    print(
        f"\nPython {platform.python_version()}, {platform.machine()}, "
        f"{len(os.sched_getaffinity(0))} cores; {args.feeds} feeds x {args.entries} entries "
        f"({size / 1e6:.1f} MB of XML), edition en, untranslated: original, provider "
        "unreachable"
    )
    print(f"| {'measure':<44} | {'ours':>10} | {'reference':>10} | note")
    print(f"|{'-' * 46}|{'-' * 11}:|{'-' * 11}:|------")
    rows = [
        (
            "cold once, wall (whole process)",
            f"{cold.wall:.2f} s",
            f"{fp_wall:.2f} s",
            f"feedparser.parse over the same {fp_entries:,} entries; ratio "
            f"{cold.wall / fp_wall:.2f}x, "
            + _verdict(cold.wall / fp_wall <= TARGET_WALL, "<= 1.5x"),
        ),
        (
            "cold once, CPU of every process",
            f"{cold.cpu:.2f} s",
            f"{fp_cpu:.2f} s",
            f"once {cold.cpu_main:.1f} s + {cold.cpu_others:.1f} s in "
            f"{len(cold.rss_others)} other process(es); ratio {cold.cpu / fp_cpu:.2f}x, "
            + _verdict(cold.cpu / fp_cpu <= TARGET_CPU, "<= 1.3x"),
        ),
        (
            "cold once, peak RSS",
            f"{cold.rss_main:.0f} MB",
            "",
            "the once process; others: "
            + ", ".join(f"{mb:.0f}" for mb in sorted(cold.rss_others.values(), reverse=True))
            + f" MB; sum of the peaks {rss_sum:.0f} MB, "
            + _verdict(rss_sum < TARGET_RSS_MB, "< 300 MB (sum of every process)"),
        ),
        (
            "cold once, RSS of every process at once",
            f"{cold.rss_together:.0f} MB",
            "",
            "the highest sum of every process's RSS at one moment (sampled every 50 ms), "
            + _verdict(cold.rss_together < TARGET_RSS_MB, "< 300 MB"),
        ),
        (
            "cold once, PSS of every process at once",
            f"{cold.pss_together:.0f} MB",
            "",
            "the same as proportional set sizes: a page the processes share (the publish's "
            "forked renderers and the once process) counted once, "
            + _verdict(cold.pss_together < TARGET_RSS_MB, "< 300 MB"),
        ),
        (
            "cold once: stories, pending, requests",
            f"{after_cold['articles']:,}",
            "",
            f"{after_cold['pending']:,} translations pending; {_requests(cold.output)} "
            f"provider request(s); published {_published(cold.output)}; exit {cold.code}",
        ),
        (
            f"warm once, wall (best / worst of {len(warms)})",
            f"{warm_best:.2f} s",
            f"{TARGET_WARM:.2f} s",
            f"worst {warm_worst:.2f} s; " + _verdict(warm_worst < TARGET_WARM, "< 2 s"),
        ),
        (
            "warm once, CPU of every process (best)",
            f"{min(w.cpu for w in warms):.2f} s",
            "",
            f"peak RSS {max(w.rss_main for w in warms):.0f} MB",
        ),
        (
            "warm once: requests, rows rewritten, files",
            ", ".join(_requests(w.output) for w in warms),
            "",
            f"translation rows changed per run: {', '.join(map(str, changed))}; published "
            + "; ".join(_published(w.output) for w in warms),
        ),
    ]
    for name, ours, ref, note in rows:
        print(f"| {name:<44} | {ours:>10} | {ref:>10} | {note}")
    if stages:
        print("\nWhere the time goes (stages in-process, wall s / CPU s of the main process):")
        print("| cycle | ingest | translate | publish |")
        print("|---|---:|---:|---:|")
        for label, timings in zip(("cold", "warm"), stages, strict=False):
            cells = " | ".join(f"{w:.2f} / {c:.2f}" for w, c in timings.values())
            print(f"| {label} | {cells} |")
    if cold.code not in (0, 1) or any(w.code not in (0, 1) for w in warms):
        print("\na once failed:\n" + cold.output[-3000:])
        raise SystemExit(1)


def _verdict(ok: bool, target: str) -> str:
    return f"target {target}: {'met' if ok else 'MISSED'}"


if __name__ == "__main__":
    main()
