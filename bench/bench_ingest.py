"""Benchmark: ingesting 500 feeds of 50 entries each, served on loopback from another process.

Owns: the issue-3 targets — a cold ingest (every entry new) in entries per second and as a
ratio of our total time to feedparser's own parse time of the same bytes (target: at most
1.5x); a warm cycle where every source answers 304 (target: under 2 s); and peak memory
(target: under 300 MB). Parsing runs in `fetch.parse_workers` processes, so the wall ratio is
our cold ingest on every core over feedparser in one process; the CPU ratios (this process
alone, and with the workers' CPU added) and the workers' own peak RSS are reported beside it.
The feeds are generated deterministically: RSS 2.0, ~1.5 KB of
HTML per entry, English, Russian and Chinese text, a few entries whose text disagrees with the
feed's declared language and a few feeds that declare none. A small asyncio HTTP/1.1 server in
a separate process serves them as pre-rendered bytes with an ETag (answering 304 to a matching
If-None-Match), spread over several loopback addresses (127.0.0.N) as real partners sit on
different hosts, so the fetcher's per-host limit applies as it would in production.

Run: .venv/bin/python bench/bench_ingest.py [--feeds 500] [--entries 50]
     [--profile FILE --phase cold|warm]   (cProfile sees the event-loop thread only)
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import multiprocessing as mp
import os
import platform
import pstats
import random
import resource
import shutil
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from pathlib import Path

import feedparser
import yaml

LANGUAGES = ("en", "ru", "zh")
HOSTS = 25  # loopback addresses 127.0.0.1 .. 127.0.0.25, 20 feeds each by default
TARGET_RATIO = 1.5
TARGET_WARM = 2.0
TARGET_RSS_MB = 300

_EN = (
    "the government announced new measures to support grain exports through the dry "
    "port railway freight volumes grew sharply this quarter while officials promised "
    "more investment in logistics and digital customs the ministry said farmers "
    "expect a strong harvest despite the dry spring and analysts noted that prices on "
    "regional markets remained stable as traders waited for the central bank decision "
    "on interest rates"
)
_RU = (
    "правительство объявило о новых мерах поддержки экспорта зерна через сухой порт "
    "объемы железнодорожных грузоперевозок заметно выросли в этом квартале а "
    "чиновники пообещали новые инвестиции в логистику и цифровую таможню министерство "
    "сообщило что фермеры ожидают хорошего урожая несмотря на засушливую весну "
    "аналитики отметили что цены на региональных рынках остаются стабильными пока "
    "трейдеры ждут решения центрального банка"
)
_ZH = (
    "政府 宣布 新的 措施 支持 粮食 出口 经由 陆港 铁路 货运量 本季度 "
    "大幅 增长 官员 承诺 加大 物流 和 数字 海关 投资 农业部 表示 "
    "农民 预计 今年 收成 良好 尽管 春季 干旱 分析人士 指出 地区 市场 "
    "价格 保持 稳定 交易商 等待 中央银行 利率 决定"
)
# Word pools; split at run time (ruff would turn a literal .split() into a long list).
_WORDS = {lang: text.split() for lang, text in (("en", _EN), ("ru", _RU), ("zh", _ZH))}


# -- generating the feeds ----------------------------------------------------------------


def _sentence(rng: random.Random, lang: str, words: int) -> str:
    picked = [rng.choice(_WORDS[lang]) for _ in range(words)]
    if lang == "zh":
        return "".join(picked) + "。"
    return " ".join(picked).capitalize() + "."


def _entry_html(rng: random.Random, lang: str, feed: int, n: int) -> str:
    """About 1.5 KB of realistic partner HTML: paragraphs, a link, an image, some junk."""
    parts: list[str] = []
    size = 0
    target = 1500 if lang != "zh" else 1400  # UTF-8 bytes, roughly
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
    """The language a feed declares; every tenth feed declares none."""
    return None if feed % 10 == 9 else LANGUAGES[feed % 3]


def render_feed(feed: int, entries: int) -> bytes:
    """One deterministic RSS 2.0 feed: `entries` items in its language, a few in another."""
    rng = random.Random(feed)
    declared = feed_language(feed)
    main = declared or LANGUAGES[feed % 3]
    host = f"https://partner{feed}.example.com"
    start = datetime(2025, 5, 1, tzinfo=UTC)
    items: list[str] = []
    for n in range(entries):
        # One item in ten is in another language than the feed declares (a wire story).
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
    """Render every feed into `folder` (one file each, so no process holds them all)."""
    folder.mkdir(parents=True, exist_ok=True)
    total = 0
    for feed in range(feeds):
        body = render_feed(feed, entries)
        (folder / f"{feed}.xml").write_bytes(body)
        total += len(body)
    return total


# -- the loopback server (its own process) ------------------------------------------------


class _FeedProtocol(asyncio.Protocol):
    """HTTP/1.1 keep-alive GET only: pre-rendered bytes, ETag, 304 on If-None-Match."""

    def __init__(self, routes: dict[bytes, tuple[bytes, bytes, bytes]]) -> None:
        self.routes = routes
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
            lines = head.split(b"\r\n")
            path = lines[0].split(b" ")[1] if len(lines[0].split(b" ")) > 1 else b"/"
            inm = b""
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"if-none-match":
                    inm = value.strip()
            assert self.transport is not None
            route = self.routes.get(path)
            if route is None:
                self.transport.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                continue
            etag, headers, body = route
            if inm == etag:
                self.transport.write(b"HTTP/1.1 304 Not Modified\r\n" + headers + b"\r\n")
            else:
                self.transport.write(
                    b"HTTP/1.1 200 OK\r\n"
                    + headers
                    + b"Content-Length: %d\r\n\r\n" % len(body)
                    + body
                )


def serve(folder: str, hosts: list[str], port_queue: mp.Queue) -> None:  # type: ignore[type-arg]
    """Run the feed server until killed; report the port on `port_queue`."""
    routes: dict[bytes, tuple[bytes, bytes, bytes]] = {}
    for path in Path(folder).glob("*.xml"):
        etag = b'"%s-v1"' % path.stem.encode()
        headers = (
            b"Content-Type: application/rss+xml; charset=utf-8\r\nETag: "
            + etag
            + b"\r\nLast-Modified: Thu, 01 May 2025 00:00:00 GMT\r\n"
        )
        routes[b"/feeds/" + path.name.encode()] = (etag, headers, path.read_bytes())

    async def main() -> None:
        loop = asyncio.get_running_loop()
        first = await loop.create_server(lambda: _FeedProtocol(routes), hosts[0], 0)
        port = first.sockets[0].getsockname()[1]
        for host in hosts[1:]:
            await loop.create_server(lambda: _FeedProtocol(routes), host, port)
        port_queue.put(port)
        await asyncio.Event().wait()

    asyncio.run(main())


# -- the measurements ---------------------------------------------------------------------


def _config(folder: Path, feeds: int, hosts: list[str], port: int) -> Path:
    data = {
        "site": {"base_url": "https://feeds.example.kz/"},
        "editions": ["kk", "zh", "en"],
        "store": "sqlite:///data/bench.db",
        "output": "public",
        "sources": [
            {
                "id": f"partner{feed}",
                "url": f"http://{hosts[feed % len(hosts)]}:{port}/feeds/{feed}.xml",
            }
            for feed in range(feeds)
        ],
    }
    path = folder / "syndication.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


class Descendants:
    """Samples, every `interval` s, the CPU time and peak RSS of this process's descendants.

    The parse workers are children of multiprocessing's forkserver, not of this process, so
    `getrusage(RUSAGE_CHILDREN)` never sees them; /proc does. A worker's last < `interval` s
    before it exits is missed, so the CPU figure is a slight underestimate. `skip` (the feed
    server) is left out. `own_cpu` is what the sampling itself has cost (its thread), for a
    caller that times this process's CPU meanwhile to leave out. `parent` and `cmdline` of
    each (to tell a forked copy of a process, which it waits for, from its forkserver), and
    `together_pss`: the highest sum of their proportional set sizes at one sample (a page
    several of them share counted once in all), beside `together`'s sum of resident sizes
    (a shared page counted in each).
    """

    def __init__(self, skip: int, interval: float = 0.1) -> None:
        self.skip = skip
        self.interval = interval
        self.cpu: dict[int, float] = {}  # pid -> utime + stime seen last, s
        self.hwm: dict[int, float] = {}  # pid -> highest VmHWM seen, MB
        self.together = 0.0  # the highest VmRSS of all of them at one sample, MB
        self.together_pss = 0.0  # the highest Pss of all of them at one sample, MB
        self.parent: dict[int, int] = {}
        self.cmdline: dict[int, bytes] = {}
        self.own_cpu = 0.0  # this sampler's own CPU time (its thread), s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._tick = os.sysconf("SC_CLK_TCK")

    def __enter__(self) -> Descendants:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        me = os.getpid()
        while not self._stop.wait(self.interval):
            parents: dict[int, int] = {}
            now = pss = 0.0
            for entry in Path("/proc").iterdir():
                if entry.name.isdigit():
                    try:
                        stat = (entry / "stat").read_text()
                    except OSError:
                        continue
                    fields = stat.rpartition(")")[2].split()
                    pid = int(entry.name)
                    parents[pid] = int(fields[1])
                    # utime, stime are fields 14 and 15 of stat (1-based): here 11 and 12.
                    cpu = (int(fields[11]) + int(fields[12])) / self._tick
                    if self._descends(pid, me, parents):
                        self.cpu[pid] = cpu
                        # The peak seen: an exiting process (a zombie) has no VmHWM left.
                        self.hwm[pid] = max(self.hwm.get(pid, 0.0), self._hwm(entry))
                        now += self._hwm(entry, "VmRSS:")
                        pss += self._pss(entry)
                        self.parent[pid] = parents[pid]
                        if pid not in self.cmdline:
                            try:
                                self.cmdline[pid] = (entry / "cmdline").read_bytes()
                            except OSError:
                                self.cmdline[pid] = b""
            self.together = max(self.together, now)
            self.together_pss = max(self.together_pss, pss)
            self.own_cpu = time.thread_time()

    def _descends(self, pid: int, root: int, parents: dict[int, int]) -> bool:
        seen = 0
        while pid in parents and seen < 10:
            if pid == self.skip:
                return False
            pid = parents[pid]
            if pid == root:
                return True
            seen += 1
        return False

    @staticmethod
    def _pss(entry: Path) -> float:
        try:
            for line in (entry / "smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return 0.0

    @staticmethod
    def _hwm(entry: Path, field: str = "VmHWM:") -> float:
        try:
            for line in (entry / "status").read_text().splitlines():
                if line.startswith(field):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return 0.0


def feedparser_time(folder: Path, feeds: int, **options: bool) -> tuple[float, int]:
    """Seconds feedparser alone spends parsing every body (read one at a time), and entries."""
    spent = 0.0
    entries = 0
    for feed in range(feeds):
        body = (folder / f"{feed}.xml").read_bytes()
        t0 = time.perf_counter()
        parsed = feedparser.parse(body, **options)
        spent += time.perf_counter() - t0
        entries += len(parsed.entries)
    return spent, entries


def main() -> None:
    # Imported here, not at the top: every parse worker runs this script again as
    # `__mp_main__` (multiprocessing prepares a child from its parent's main script), and the
    # service's modules imported there cost each worker ~0.4 s of CPU and ~40 MB that
    # `syndication once` (whose `__main__` imports lazily) does not pay.
    from syndication.config import load
    from syndication.run.cycle import ingest
    from syndication.store import Store

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=500)
    parser.add_argument("--entries", type=int, default=50)
    parser.add_argument("--profile", type=Path, help="write a cProfile of one phase here")
    parser.add_argument("--phase", choices=("cold", "warm"), default="cold", help="to profile")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    hosts = [f"127.0.0.{n}" for n in range(1, HOSTS + 1)]
    ctx = mp.get_context("spawn")
    server: mp.process.BaseProcess | None = None
    try:
        size = write_feeds(work / "feeds", args.feeds, args.entries)
        ports: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
        server = ctx.Process(target=serve, args=(str(work / "feeds"), hosts, ports), daemon=True)
        server.start()
        port = ports.get(timeout=60)
        config = load(_config(work, args.feeds, hosts, port))
        store = Store.open(config.store_url)
        sources = list(config.settings.sources)
        rss_before = _rss_mb()

        profiler = cProfile.Profile() if args.profile else None
        with Descendants(skip=server.pid or 0) as kids:
            t0, c0 = time.perf_counter(), time.process_time()
            if profiler and args.phase == "cold":
                profiler.enable()
            cold = ingest(config, store, sources)
            cold_s, cold_cpu = time.perf_counter() - t0, time.process_time() - c0
            # Walking /proc every 0.1 s costs this process CPU too: the sampler's is not ours.
            sampler_cpu = kids.own_cpu
            cold_cpu -= sampler_cpu
        kids_cpu = sum(kids.cpu.values())
        workers = [pid for pid, mb in kids.hwm.items() if mb > 0]
        worker_peak = max(kids.hwm.values(), default=0.0)
        if profiler and args.phase == "warm":
            profiler.enable()
        t0 = time.perf_counter()
        warm = ingest(config, store, sources)
        warm_s = time.perf_counter() - t0
        if profiler:
            profiler.disable()
        peak = _rss_mb()

        failed = [o for o in cold + warm if o.result == "error"]
        new = sum(o.new for o in cold)
        not_modified = sum(o.result == "not-modified" for o in warm)
        c0 = time.process_time()
        fp_default, fp_entries = feedparser_time(work / "feeds", args.feeds)
        fp_cpu = time.process_time() - c0
        fp_lean, _ = feedparser_time(
            work / "feeds", args.feeds, sanitize_html=False, resolve_relative_uris=False
        )
        if profiler:
            profiler.dump_stats(args.profile)
            pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    finally:
        if server is not None:
            server.kill()
            server.join()
        shutil.rmtree(work, ignore_errors=True)

    ratio = cold_s / fp_default
    total_cpu = cold_cpu + kids_cpu
    rows = [
        ("feeds x entries", f"{args.feeds} x {args.entries}", f"{size / 1e6:.1f} MB of XML"),
        ("cold ingest", f"{cold_s:.2f} s", f"{new:,} new articles"),
        ("cold entries/s", f"{new / cold_s:,.0f}", ""),
        ("feedparser.parse(body), all bodies", f"{fp_default:.2f} s", f"{fp_entries:,} entries"),
        ("  same, sanitize_html/resolve off", f"{fp_lean:.2f} s", "what we actually call"),
        (
            "ratio ours / feedparser, wall",
            f"{ratio:.2f}x",
            "our cold ingest (parsing on every core) / feedparser.parse over the same bodies "
            "in one process; " + _verdict(ratio <= TARGET_RATIO, "<= 1.5x"),
        ),
        ("  ours / lean feedparser", f"{cold_s / fp_lean:.2f}x", "stricter, for information"),
        (
            "  main process CPU / feedparser CPU",
            f"{cold_cpu / fp_cpu:.2f}x",
            f"{cold_cpu:.1f} s / {fp_cpu:.1f} s; the parse workers' CPU not included, nor the "
            f"{sampler_cpu:.1f} s of this benchmark's /proc sampler",
        ),
        (
            "  all CPU (main + workers) / feedparser",
            f"{total_cpu / fp_cpu:.2f}x",
            f"{cold_cpu:.1f} s + {kids_cpu:.1f} s in {len(workers)} child process(es) "
            f"/ {fp_cpu:.1f} s: the work we do, wherever it runs",
        ),
        (
            "warm cycle (all 304)",
            f"{warm_s:.2f} s",
            f"{not_modified}/{len(warm)} not modified; " + _verdict(warm_s < TARGET_WARM, "< 2 s"),
        ),
        (
            "peak RSS (ru_maxrss)",
            f"{peak:.0f} MB",
            f"{rss_before:.0f} MB before ingest; " + _verdict(peak < TARGET_RSS_MB, "< 300 MB"),
        ),
        (
            "  peak RSS of a parse worker (VmHWM)",
            f"{worker_peak:.0f} MB",
            f"largest of {len(workers)} child process(es); "
            + _verdict(worker_peak < TARGET_RSS_MB, "< 300 MB"),
        ),
    ]
    print(f"\nPython {platform.python_version()}, {platform.machine()}, {_cores()} cores")
    print(f"| {'measure':<40} | {'value':>12} | note")
    print(f"|{'-' * 42}|{'-' * 14}:|------")
    for name, value, note in rows:
        print(f"| {name:<40} | {value:>12} | {note}")
    if failed:
        print(f"\n{len(failed)} source(s) failed, e.g. {failed[0].source_id}: {failed[0].error}")
        raise SystemExit(1)


def _verdict(ok: bool, target: str) -> str:
    return f"target {target}: {'met' if ok else 'MISSED'}"


def _cores() -> int:
    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    main()
