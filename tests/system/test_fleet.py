"""A fleet: three `syndication run` workers on one PostgreSQL store share the work while 30
partner feeds keep publishing; one worker is SIGKILLed and restarted twice, and a `once`
runs beside them. Nothing is lost, nothing is done twice where it shows.

Everything goes through what an operator has: the command line (`run`, `once`, `status
--json`), the YAML (the same file for every worker), `/metrics` and the published files. The
partners are feeds growing on a loopback HTTP server (tests/feedserver.GrowingFeed, which logs
each request with its User-Agent: the YAML's `fetch.user_agent` names the worker through
`${FLEET_WORKER}`, set per process), the translator is the fake Google, the store a fresh
database on the test PostgreSQL (tests/postgres.py). A watcher thread reads the published
feeds over and over (tests/system/test_chaos.Watcher).

A passing run proves:
- every story a partner published is, once the partners stop, in every edition's RSS, Atom and
  JSON Feed exactly once, and in its own source's feeds, with its original link;
- no read of a published feed file ever failed to parse, no story shown twice in a feed or
  dropped from it, no item id changed;
- no source was polled twice within its `every` (less the scheduler's allowance, LATE) by the
  workers, whichever made the polls, killed ones included; the work spread (every worker
  polled); `once` beside the fleet claimed like a worker and exited 0;
- `status --json` listed the three live workers, each `/metrics` answered for its own worker;
- every worker stopped on SIGTERM with exit 0, and no process outlived its worker.

`bench/bench_fleet.py` measures the same set-up's throughput with 1, 2 and 3 workers.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.pool import NullPool

from syndication.config import load
from syndication.run.worker import Worker
from syndication.store import Store
from syndication.store.control import PUBLISH_LOCK_KEY
from tests.conftest import REPO, run_cli, write_config
from tests.fakeprovider import FakeGoogle
from tests.feedserver import FeedItem, FeedServer, GrowingFeed, Request
from tests.system.test_chaos import (
    Story,
    Watcher,
    convergence_gaps,
    session_members,
    story_text,
    wait_for_no_members,
)

LANGUAGES = ("en", "zh", "ru", "kk")
KINDS = ("rss", "atom", "json")
ONCE = "once"  # the User-Agent name of the `once` run beside the fleet


@dataclass(frozen=True)
class FleetPlan:
    """The knobs of one fleet run; the defaults are the test's (about two minutes)."""

    seed: int = 20250515
    workers: int = 3
    partners: int = 30
    every: float = 8.0  # each source's poll interval
    publish_every: float = 12.0  # mean seconds between two stories of one partner
    duration: float = 40.0  # seconds the partners publish
    kills: tuple[float, ...] = (12.0, 26.0)  # when the second worker is SIGKILLed ...
    down: float = 2.0  # ... and for how long it stays down each time
    once_at: float | None = 18.0  # when a `once` runs beside the fleet
    status_at: float | None = 6.0  # when `status` and every `/metrics` are read
    lease: float = 5.0  # fleet.lease
    converge_within: float = 120.0
    watch_every: float = 0.2
    backlog: int = 0  # stories every partner holds before the workers start (the bench)


@dataclass
class FleetReport:
    """What happened in one fleet run, and what went wrong (`problems`)."""

    plan: FleetPlan
    stories: dict[str, Story] = field(default_factory=dict)
    runs: list[str] = field(default_factory=list)
    kills: int = 0
    polls: dict[str, list[Request]] = field(default_factory=dict)  # per feed path
    close_polls: list[str] = field(default_factory=list)
    polls_by_worker: Counter[str] = field(default_factory=Counter)
    translator_requests: int = 0
    translator_repeats: int = 0  # requests for a (text, language) asked before
    sweeps: int = 0
    parses: int = 0
    invalid: list[str] = field(default_factory=list)
    vanished: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    id_changes: list[str] = field(default_factory=list)
    seen_twice: list[str] = field(default_factory=list)
    early_exits: list[str] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)
    final_missing: list[str] = field(default_factory=list)
    converge_seconds: float | None = None  # after the partners stopped
    started_to_converged: float | None = None  # after the workers started
    exits: dict[str, int | None] = field(default_factory=dict)
    once_code: int | None = None
    once_output: str = ""
    status_problems: list[str] = field(default_factory=list)
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)  # worker → figures
    final_metrics: dict[str, dict[str, float]] = field(default_factory=dict)  # once converged
    first_poll_after: float | None = None  # seconds from the workers' start
    logs: dict[str, str] = field(default_factory=dict)

    def problems(self) -> list[str]:
        found = [f"invalid feed file read: {line}" for line in self.invalid]
        found += [f"feed file vanished: {line}" for line in self.vanished]
        found += [f"story left an edition: {line}" for line in self.dropped]
        found += [f"item id changed: {line}" for line in self.id_changes]
        found += [f"story twice in a feed: {line}" for line in self.seen_twice]
        found += [f"polled twice within its every: {line}" for line in self.close_polls]
        found += [f"worker ended on its own: {line}" for line in self.early_exits]
        found += [f"process outlived its worker: {line}" for line in self.orphans]
        found += [f"status/metrics: {line}" for line in self.status_problems]
        if self.final_missing:
            found.append(
                f"not converged within {self.plan.converge_within:.0f}s: "
                + "; ".join(self.final_missing[:15])
                + (f" (+{len(self.final_missing) - 15})" if len(self.final_missing) > 15 else "")
            )
        for name, code in self.exits.items():
            if code != 0:
                found.append(f"{name}: exit {code} after SIGTERM (expected 0 within 15s)")
        if self.plan.once_at is not None and self.once_code != 0:
            found.append(f"once beside the fleet: exit {self.once_code}:\n{self.once_output}")
        workers = {w for w in self.polls_by_worker if w != ONCE}
        if self.plan.workers > 1 and len(workers) < self.plan.workers:
            found.append(f"only {sorted(workers)} polled: the work did not spread")
        return found

    def summary(self) -> str:
        plan = self.plan
        took = self.converge_seconds
        converged = f"{took:.1f}s" if took is not None else "never"
        by_worker = ", ".join(f"{w} {n}" for w, n in sorted(self.polls_by_worker.items()))
        lines = [
            f"seed {plan.seed}: {plan.workers} workers, {plan.partners} partners every "
            f"{plan.every:g}s, {self.kills} SIGKILLs, runs {', '.join(self.runs)}",
            f"stories: {len(self.stories)}; polls by worker: {by_worker}",
            f"translator: {self.translator_requests} requests, {self.translator_repeats} repeats",
            f"watcher: {self.sweeps} sweeps, {self.parses} feed files parsed, "
            f"{len(self.invalid)} invalid, {len(self.vanished)} vanished",
            f"converged {converged} after the partners stopped; exits {self.exits}; "
            f"once: {self.once_code}",
        ]
        problems = self.problems()
        lines.append(f"problems: {len(problems)}")
        lines += [f"  - {p}" for p in problems]
        if problems:
            for name, text in self.logs.items():
                lines.append(f"log of {name} (tail):")
                lines += [f"  | {line}" for line in text.splitlines()[-15:]]
        return "\n".join(lines)


@dataclass(frozen=True)
class Partner:
    id: str
    language: str
    kind: str
    number: int  # its stories' tokens start with it (two digits)


def partners(count: int) -> list[Partner]:
    return [
        Partner(f"p{i:02d}", LANGUAGES[i % len(LANGUAGES)], KINDS[i % len(KINDS)], 10 + i)
        for i in range(count)
    ]


class Desk(threading.Thread):
    """Publishes partner items at seeded random intervals until stopped."""

    def __init__(self, feeds: dict[Partner, GrowingFeed], plan: FleetPlan) -> None:
        super().__init__(name="fleet-desk", daemon=True)
        self.feeds = feeds
        self.plan = plan
        self.rng = random.Random(f"{plan.seed}/desk")
        self.stories: dict[str, Story] = {}
        self._counts: Counter[str] = Counter()
        self._halt = threading.Event()
        self._lock = threading.Lock()

    def publish(self, partner: Partner) -> None:
        self._counts[partner.id] += 1
        token = f"{partner.number}{self._counts[partner.id]:04d}"
        title, summary = story_text(partner.language, token, self.rng)
        link = f"https://{partner.id}.example.com/news/{token}"
        self.feeds[partner].publish(
            FeedItem(
                guid=f"{partner.id}-{token}",
                title=title,
                link=link,
                summary=summary,
                published=datetime.now(UTC).replace(microsecond=0),
            )
        )
        with self._lock:
            self.stories[token] = Story(token, partner.id, link)

    def run(self) -> None:
        mean = self.plan.publish_every
        due = {p: time.monotonic() + self.rng.uniform(0, mean) for p in self.feeds}
        while not self._halt.is_set():
            who = min(due, key=lambda p: due[p])
            if self._halt.wait(max(0.0, due[who] - time.monotonic())):
                return
            self.publish(who)
            due[who] += self.rng.uniform(0.5 * mean, 1.5 * mean)

    def stop(self) -> None:
        self._halt.set()
        if self.is_alive():
            self.join()

    def snapshot(self) -> dict[str, Story]:
        with self._lock:
            return dict(self.stories)


class FleetWorker:
    """`syndication run` in a session of its own, named (`$FLEET_WORKER`) in its User-Agent."""

    def __init__(self, config: Path, log: Path, name: str) -> None:
        self.name = name
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "syndication", "run", "--config", str(config)],
                cwd=REPO,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "FLEET_WORKER": name},
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def tail(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")[-4000:]

    def kill(self) -> int | None:
        """SIGKILL to its whole process group; the exit code if it had ended already."""
        ended = self.process.poll()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        self.process.wait()
        return ended

    def stop(self) -> int | None:
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()
            return None


def fleet_config(
    folder: Path,
    store_url: str,
    feeds: dict[Partner, GrowingFeed],
    translator: FakeGoogle,
    plan: FleetPlan,
    **overrides: Any,
) -> Path:
    """The fleet's YAML; `overrides`: top-level keys set otherwise for one test."""
    (folder / "articles").mkdir(parents=True, exist_ok=True)  # no sample articles
    settings: dict[str, Any] = {
        "store": store_url,
        "sources": [
            {"id": p.id, "url": f.url, "language": p.language, "every": f"{plan.every:g}s"}
            for p, f in feeds.items()
        ],
        "feeds": {"items": 10_000},  # all of them: a story pushed out by newer ones is not lost
        "fetch": {
            "timeout": "5s",
            "connect_timeout": "2s",
            "parse_workers": 0,
            # Every partner is on one loopback host here; real ones are on as many hosts.
            "per_host": plan.partners,
            "user_agent": "syndication-fleet-test (${FLEET_WORKER:-unnamed})",
        },
        "translation": {
            "chain": ["google"],
            "providers": {"google": {"base_url": translator.url}},
            "timeout": "5s",
            "retry_after": "1s",
            "budget": "20s",
        },
        "publish": {"debounce": "1s", "every": "10s"},
        "serve": {"host": "127.0.0.1", "port": 0},  # any free port: restarts never collide
        "fleet": {"lease": f"{plan.lease:g}s"},
    }
    return write_config(folder, **{**settings, **overrides})


def close_polls(
    polls: dict[str, list[Request]], every: float, window: float
) -> tuple[list[str], Counter[str]]:
    """What the partners saw of the fleet's polls (not `once`'s) that breaks the claim rule,
    and how many polls each worker made.

    The rule: a poll begins no sooner than `every` less LATE after the last one began, by
    whichever worker. The partner sees a request a moment after the poll began (later when a
    worker is busy) and this process, parsing feeds, timestamps it a moment late too; so two
    requests of one source must be at least `every` / 2 apart (two workers polling in one
    slot, the failure, are milliseconds apart), and no source more than the `window`'s worth
    of polls plus one."""
    close: list[str] = []
    by_worker: Counter[str] = Counter()
    for path, requests in sorted(polls.items()):
        made = [(r.at, worker_of(r)) for r in requests]
        for _, worker in made:
            by_worker[worker] += 1
        fleet = sorted((at, w) for at, w in made if w != ONCE)
        for (before, first), (after, second) in itertools.pairwise(fleet):
            if after - before < every / 2:
                close.append(f"{path}: {first} then {second} {after - before:.2f}s apart")
        allowed = int(window / (every - min(2.0, every / 4))) + 1
        if len(fleet) > allowed:
            close.append(f"{path}: {len(fleet)} polls in {window:.0f}s, at most {allowed}")
    return close, by_worker


def worker_of(request: Request) -> str:
    agent = request.header("user-agent") or ""
    return agent.partition("(")[2].rstrip(")") or agent


def scrape(address: str) -> dict[str, float]:
    """A worker's /metrics: the figures without labels, and labelled ones joined by name."""
    with urllib.request.urlopen(f"{address}metrics", timeout=10) as answer:
        text = answer.read().decode()
    figures: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            figures[name] = float(value)
    return figures


def check_status(config: Path, workers: int) -> tuple[list[str], dict[str, dict[str, float]]]:
    """`status --json` lists every live worker with its address (once all have started), and
    each one's /metrics is its own (its id in syndication_worker_info, the fleet's size in
    syndication_workers)."""
    deadline = time.monotonic() + 60
    while True:
        done = run_cli("status", "--json", "--config", str(config), timeout=60)
        if done.code != 0:
            return [f"status exit {done.code}: {done.output[-2000:]}"], {}
        data = json.loads(done.stdout)
        listed = [w for w in data["workers"] if w["holder"].startswith("syndication run")]
        started = len(listed) >= workers and all(w["address"] for w in listed)
        if started or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    problems = []
    if len(listed) != workers:
        problems.append(f"status lists {len(listed)} run workers, expected {workers}: {listed}")
    if not data["worker"]["running"]:
        problems.append(f"status says no worker runs: {data['worker']}")
    figures: dict[str, dict[str, float]] = {}
    for worker in listed:
        if not worker["address"]:
            problems.append(f"worker {worker['id']} has no address")
            continue
        try:
            scraped = scrape(worker["address"])
        except OSError as exc:
            problems.append(f"{worker['address']}metrics: {exc}")
            continue
        mine = f'syndication_worker_info{{worker="{worker["id"]}"}}'
        if scraped.get(mine) != 1.0:
            problems.append(f"{worker['address']}metrics does not name {worker['id']}")
        if scraped.get("syndication_workers", 0) < workers:
            problems.append(f"{worker['address']}metrics: syndication_workers below {workers}")
        figures[worker["id"]] = scraped
    return problems, figures


def index_pages_whole(output: Path) -> list[str]:
    """Every edition's front page reads as a whole HTML document (written by renaming)."""
    bad = []
    for page in sorted(output.glob("*/index.html")):
        data = page.read_bytes()
        if not data.rstrip().endswith(b"</html>"):
            bad.append(f"{page.relative_to(output)}: cut short ({len(data)} bytes)")
            continue
        with contextlib.suppress(etree.ParserError):
            etree.fromstring(data, etree.HTMLParser())
    return bad


class Pages(threading.Thread):
    """Samples the front pages while the fleet runs (the Watcher samples the feeds)."""

    def __init__(self, output: Path, every: float) -> None:
        super().__init__(name="fleet-pages", daemon=True)
        self.output = output
        self.every = every
        self.bad: list[str] = []
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(self.every):
            with contextlib.suppress(FileNotFoundError):
                self.bad += index_pages_whole(self.output)

    def stop(self) -> None:
        self._halt.set()
        self.join()


def ended_early(workers: dict[str, FleetWorker], report: FleetReport) -> None:
    """Workers that exited without being told (each said once, with its log's tail)."""
    for name, worker in list(workers.items()):
        if worker.process.poll() is not None:
            report.early_exits.append(f"{worker.name} exited {worker.process.returncode}")
            del workers[name]


def run_fleet(
    folder: Path, store_url: str, plan: FleetPlan, say: Callable[[str], None] = print
) -> FleetReport:
    """The whole scenario in `folder` on the store at `store_url`."""
    report = FleetReport(plan=plan)
    server = FeedServer().start()
    translator = FakeGoogle()
    chosen = partners(plan.partners)
    feeds = {p: GrowingFeed(server, f"/{p.id}.{p.kind}", kind=p.kind, title=p.id) for p in chosen}
    config = fleet_config(folder, store_url, feeds, translator, plan)
    logs = folder / "logs"
    logs.mkdir(exist_ok=True)
    desk = Desk(feeds, plan)
    output = folder / "public"
    watcher = Watcher(output, [p.id for p in chosen], plan.watch_every)
    pages = Pages(output, 1.0)
    workers: dict[str, FleetWorker] = {}
    everyone: list[FleetWorker] = []
    started = time.monotonic()

    def start(name: str) -> None:
        worker = FleetWorker(config, logs / f"{name}.log", name)
        workers[name.split("-")[0]] = worker
        everyone.append(worker)
        report.runs.append(name)

    try:
        checked = run_cli("check", "--config", str(config), timeout=60)
        assert checked.code == 0, checked.output
        for partner in chosen:
            for _ in range(max(1, plan.backlog)):
                desk.publish(partner)
        started = time.monotonic()
        for number in range(1, plan.workers + 1):
            start(f"w{number}")
        if plan.duration:
            desk.start()
        watcher.start()
        pages.start()
        events: list[tuple[float, str]] = []
        for when in plan.kills:
            events += [(when, "kill"), (when + plan.down, "restart")]
        if plan.once_at is not None:
            events.append((plan.once_at, "once"))
        if plan.status_at is not None:
            events.append((plan.status_at, "status"))
        for when, what in sorted(events):
            time.sleep(max(0.0, started + when - time.monotonic()))
            ended_early(workers, report)
            if what == "kill":
                victim = workers.pop("w2")
                ended = victim.kill()
                report.kills += 1
                if ended is not None:
                    report.early_exits.append(f"{victim.name} had exited {ended}")
                left = wait_for_no_members({victim.pid}, within=2.0)
                report.orphans += [f"{victim.name} (SIGKILL): {p}" for p in left]
                say(f"  {time.monotonic() - started:5.1f}s: SIGKILL {victim.name}")
            elif what == "restart":
                start(f"w2-restart{report.kills}")
                say(f"  {time.monotonic() - started:5.1f}s: {report.runs[-1]} started")
            elif what == "status":
                problems, report.metrics = check_status(config, plan.workers)
                report.status_problems += problems
                say(f"  {time.monotonic() - started:5.1f}s: status and /metrics read")
            elif what == "once":
                done = run_cli(
                    "once", "--config", str(config), timeout=300, env={"FLEET_WORKER": ONCE}
                )
                report.once_code, report.once_output = done.code, done.output[-3000:]
                say(f"  {time.monotonic() - started:5.1f}s: once exited {done.code}")
        time.sleep(max(0.0, started + plan.duration - time.monotonic()))
        desk.stop()
        report.stories = desk.snapshot()
        stopped = time.monotonic()
        say(f"  partners stopped: {len(report.stories)} stories")
        gaps = ["not looked yet"]
        while time.monotonic() - stopped < plan.converge_within:
            gaps = convergence_gaps(output, report.stories)
            if not gaps:
                report.converge_seconds = time.monotonic() - stopped
                report.started_to_converged = time.monotonic() - started
                break
            time.sleep(0.5)
        report.final_missing = gaps
        ended_early(workers, report)
        if not gaps:  # each worker's own account of what it did, before it stops
            problems, report.final_metrics = check_status(config, len(workers))
            report.status_problems += problems
        for worker in workers.values():
            report.exits[worker.name] = worker.stop()
        left = wait_for_no_members({w.pid for w in everyone}, within=5.0)
        report.orphans += [f"after the stop: {p}" for p in left]
    finally:
        desk.stop()
        for worker in everyone:
            if worker.process.poll() is None:
                worker.kill()
        for member in session_members({w.pid for w in everyone}):
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(member.split()[0]), signal.SIGKILL)
        if watcher.is_alive():
            watcher.stop()
        if pages.is_alive():
            pages.stop()
        translator.stop()
        server.stop()
        report.logs = {w.name: w.tail() for w in everyone}
    report.polls = defaultdict(list)
    if server.log:
        report.first_poll_after = min(r.at for r in server.log) - started
    for request in server.log:
        report.polls[request.path].append(request)
    window = max((r.at for r in server.log), default=0.0) - min(
        (r.at for r in server.log), default=0.0
    )
    report.close_polls, report.polls_by_worker = close_polls(report.polls, plan.every, window)
    report.sweeps, report.parses = watcher.sweeps, watcher.parses
    report.invalid = watcher.invalid + pages.bad
    report.vanished = watcher.vanished
    report.dropped = [f"{k} (was {v})" for k, v in watcher.dropped.items()]
    report.id_changes = [f"{k}: {v}" for k, v in watcher.id_changes.items()]
    report.seen_twice = [f"{k}: {v}" for k, v in watcher.seen_twice.items()]
    asked = Counter((c.text, c.target) for c in translator.calls)
    report.translator_requests = sum(asked.values())
    report.translator_repeats = sum(n - 1 for n in asked.values())
    return report


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
@pytest.mark.timeout(420)
def test_three_workers_share_the_work_and_survive_a_killed_one(
    tmp_path: Path, postgres_url: str
) -> None:
    plan = FleetPlan(seed=int(os.environ.get("FLEET_SEED", FleetPlan.seed)))
    report = run_fleet(tmp_path, postgres_url, plan)
    print(report.summary())
    assert not report.problems(), report.summary()
    assert report.kills == 2 and len(report.stories) > 2 * plan.partners, report.summary()
    # Polls were made and spread: the close-poll check looked at something.
    assert sum(len(r) for r in report.polls.values()) > plan.partners * 3, report.summary()


def _healthz(address: str) -> int:
    try:
        with urllib.request.urlopen(f"{address}healthz", timeout=10) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def _in_every_edition(output: Path, token: str) -> bool:
    try:
        return all(
            token in (output / edition / "feed.json").read_text(encoding="utf-8")
            for edition in ("kk", "zh", "en")
        )
    except OSError:
        return False


def _until(
    check: Callable[[], bool], within: float, what: str, worker: FleetWorker | None = None
) -> None:
    """Wait for `check`; fail after `within` seconds, or as soon as `worker` (a `run`
    process, if the test has one to watch) exits, with its log's tail."""
    deadline = time.monotonic() + within
    tail = worker.tail if worker is not None else str
    while not check():
        assert worker is None or worker.process.poll() is None, f"the worker exited:\n{tail()}"
        assert time.monotonic() < deadline, f"{what} not seen within {within}s:\n{tail()}"
        time.sleep(0.3)


@pytest.mark.timeout(300)
def test_a_worker_waits_out_the_database_going_away(
    tmp_path: Path, postgres_url: str, postgres_server: Any
) -> None:
    """The database stops under a running worker: /healthz says 503, the log says so once,
    the worker waits (no exit, no flood of errors), and when the database is back a story
    the partner published meanwhile is in every edition: nothing lost."""
    if not postgres_server.ours:
        pytest.skip("stops and starts PostgreSQL: needs the server the tests started")
    server = FeedServer().start()
    translator = FakeGoogle()
    plan = FleetPlan(partners=3, every=2.0)
    chosen = partners(plan.partners)
    feeds = {p: GrowingFeed(server, f"/{p.id}.{p.kind}", kind=p.kind, title=p.id) for p in chosen}
    config = fleet_config(tmp_path, postgres_url, feeds, translator, plan)
    desk = Desk(feeds, plan)
    worker = FleetWorker(config, tmp_path / "run.log", "w1")
    paused = False
    try:
        desk.publish(chosen[0])
        first = next(iter(desk.snapshot()))
        output = tmp_path / "public"
        _until(lambda: _in_every_edition(output, first), 60, "the first story", worker)
        address = ""

        def known() -> bool:
            nonlocal address
            done = run_cli("status", "--json", "--config", str(config), timeout=60)
            workers = json.loads(done.stdout)["workers"] if done.code == 0 else []
            address = workers[0]["address"] if workers and workers[0]["address"] else ""
            return bool(address)

        _until(known, 30, "the worker's address in status", worker)
        assert _healthz(address) == 200

        postgres_server.pause()
        paused = True
        desk.publish(chosen[1])  # while the database is away
        meanwhile = max(desk.snapshot())
        _until(lambda: _healthz(address) == 503, 30, "/healthz 503", worker)
        time.sleep(3 * plan.every)  # several polls' worth of waiting
        postgres_server.resume()
        paused = False
        _until(lambda: _healthz(address) == 200, 90, "/healthz 200 again", worker)
        _until(lambda: _in_every_edition(output, meanwhile), 60, "the story of meanwhile", worker)
        assert worker.stop() == 0
        log = worker.log.read_text(encoding="utf-8", errors="replace")
        assert log.count("store unreachable") == 1, log[-3000:]
        assert "store reachable again" in log, log[-3000:]
    finally:
        if paused:
            postgres_server.resume()
        if worker.process.poll() is None:
            worker.kill()
        translator.stop()
        server.stop()


@pytest.mark.timeout(240)
def test_status_reload_and_retry_reach_every_worker(tmp_path: Path, postgres_url: str) -> None:
    """Two workers on one store: `status` shows both with what they hold, `reload` reaches
    both (each applies the YAML once), and `retry SOURCE` is one poll, by one of them."""
    server = FeedServer().start()
    translator = FakeGoogle()
    plan = FleetPlan(partners=2, every=300.0)
    chosen = partners(plan.partners)
    feeds = {p: GrowingFeed(server, f"/{p.id}.{p.kind}", kind=p.kind, title=p.id) for p in chosen}
    config = fleet_config(tmp_path, postgres_url, feeds, translator, plan)
    desk = Desk(feeds, plan)
    for partner in chosen:
        desk.publish(partner)
    workers = [FleetWorker(config, tmp_path / f"w{n}.log", f"w{n}") for n in (1, 2)]
    try:
        output = tmp_path / "public"
        tokens = list(desk.snapshot())
        _until(lambda: all(_in_every_edition(output, t) for t in tokens), 60, "stories", workers[0])
        shown: list[str] = []

        def both_listed() -> bool:
            done = run_cli("status", "--config", str(config), timeout=60)
            shown[:] = [done.output]
            return done.code == 0 and all(f" {w.pid} " in done.output for w in workers)

        _until(both_listed, 30, "both workers in status", workers[0])
        assert "workers (times in UTC)" in shown[0], shown[0]
        first = chosen[0]
        polls = len(server.requests_for(f"/{first.id}.{first.kind}"))
        retried = run_cli("retry", first.id, "--config", str(config), timeout=60)
        assert retried.code == 0 and "the 2 running workers" in retried.output, retried.output
        path = f"/{first.id}.{first.kind}"
        _until(lambda: len(server.requests_for(path)) > polls, 30, "the retried poll", workers[0])
        time.sleep(3)  # a second poll, had both workers taken the request, would be here now
        assert len(server.requests_for(path)) == polls + 1
        reloaded = run_cli("reload", "--config", str(config), timeout=60)
        assert reloaded.code == 0 and "reloaded" in reloaded.output, reloaded.output

        def both_reloaded() -> bool:
            return all("configuration reloaded" in w.log.read_text() for w in workers)

        _until(both_reloaded, 30, "the reload in both workers' logs", workers[0])
        for worker in workers:
            assert worker.stop() == 0
    finally:
        for worker in workers:
            if worker.process.poll() is None:
                worker.kill()
        translator.stop()
        server.stop()


def _health(address: str) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(f"{address}healthz", timeout=10) as answer:
            return dict(json.loads(answer.read()))
    except urllib.error.HTTPError as exc:
        return dict(json.loads(exc.read()))


@pytest.mark.timeout(240)
def test_a_publish_owed_by_a_killed_worker_is_made_by_another(
    tmp_path: Path, postgres_url: str
) -> None:
    """Two workers; the one that polls a partner's new story is SIGKILLed after storing it and
    before publishing it. The other publishes it, though it made no change itself and its
    `publish.every` is ten minutes away: it notices changes waiting past a lease and two
    debounces (and says so in /healthz) and publishes them.

    So that the kill cannot come after the victim's publish, publishing is held up from the
    start by a session holding the fleet's publish lock (a publisher hung on another host);
    it lets go once the survivor's /healthz says the changes are overdue."""
    server = FeedServer().start()
    translator = FakeGoogle()
    plan = FleetPlan(partners=1, every=300.0, lease=3.0)
    chosen = partners(plan.partners)  # p00, in English: no translation stands in the way
    partner = chosen[0]
    feeds = {p: GrowingFeed(server, f"/{p.id}.{p.kind}", kind=p.kind, title=p.id) for p in chosen}
    config = fleet_config(
        tmp_path,
        postgres_url,
        feeds,
        translator,
        plan,
        editions=["en"],
        publish={"debounce": "1s", "every": "10m"},
    )
    desk = Desk(feeds, plan)
    desk.publish(partner)
    engine = create_engine(postgres_url, poolclass=NullPool)  # a closed connection is gone
    hung = None  # the connection holding the publish lock
    workers = {n: FleetWorker(config, tmp_path / f"{n}.log", n) for n in ("w1", "w2")}
    everyone = list(workers.values())
    feed = tmp_path / "public" / "en" / "feed.json"

    def published(token: str) -> bool:
        with contextlib.suppress(OSError):
            return token in feed.read_text(encoding="utf-8")
        return False

    def stored() -> int:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM articles")).scalar() or 0)

    try:
        first = next(iter(desk.snapshot()))
        _until(lambda: published(first), 60, "the first story", workers["w1"])
        addresses: dict[int, str] = {}

        def both_listed() -> bool:
            done = run_cli("status", "--json", "--config", str(config), timeout=60)
            listed = json.loads(done.stdout)["workers"] if done.code == 0 else []
            addresses.update({w["pid"]: w["address"] for w in listed if w["address"]})
            return all(w.pid in addresses for w in workers.values())

        _until(both_listed, 30, "both workers in status", workers["w1"])
        hung = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        hung.execute(select(func.pg_advisory_lock(PUBLISH_LOCK_KEY)))
        before, path = stored(), f"/{partner.id}.{partner.kind}"
        polls = len(server.requests_for(path))
        desk.publish(partner)
        token = max(desk.snapshot())
        retried = run_cli("retry", partner.id, "--config", str(config), timeout=60)
        assert retried.code == 0, retried.output
        _until(lambda: len(server.requests_for(path)) > polls, 30, "the poll", workers["w1"])
        victim = workers.pop(worker_of(server.requests_for(path)[-1]))
        ((name, survivor),) = workers.items()
        _until(lambda: stored() > before, 30, "the new story stored", victim)
        victim.kill()
        assert not published(token), "published before the kill: the test proves nothing"

        def overdue() -> bool:
            return bool(_health(addresses[survivor.pid]).get("publish_overdue_since"))

        _until(overdue, 30, f"{name}'s /healthz saying changes wait", survivor)
        hung.close()
        hung = None
        # A lease and two debounces after it first saw them waiting, and the lock free.
        _until(lambda: published(token), 30, f"the story published by {name}", survivor)
        _until(lambda: not overdue(), 10, f"{name}'s /healthz no longer overdue", survivor)
        assert survivor.stop() == 0
    finally:
        if hung is not None:
            hung.close()
        for worker in everyone:
            if worker.process.poll() is None:
                worker.kill()
        engine.dispose()
        translator.stop()
        server.stop()


@pytest.mark.timeout(120)
def test_a_poll_that_waited_past_its_workers_lease_does_not_go_out(
    tmp_path: Path, postgres_url: str, caplog: pytest.LogCaptureFixture, monkeypatch: Any
) -> None:
    """Worker A claims a partner's poll, which then waits for a fetch slot (A has one, held by
    another partner that takes the connection and never answers) while A's heartbeat stalls
    past its lease (A is a Worker driven in this process with no heartbeat: a process starved
    of CPU). Worker B, `syndication once` in a process of its own, takes the source over and
    polls it. When A's slot frees, A's poll must not go out: the partner sees B's request
    alone, and A logs the poll dropped and records nothing for it. (Before: the partner saw
    both, as the fleet test once did: `/p12.rss: w3 then w2 0.34s apart`.)"""
    server = FeedServer().start()
    translator = FakeGoogle()
    silent = socket.create_server(("127.0.0.1", 0))  # connections wait, unanswered
    plan = FleetPlan(partners=1, every=300.0, lease=3.0)
    (partner,) = partners(plan.partners)
    path = f"/{partner.id}.{partner.kind}"
    feeds = {partner: GrowingFeed(server, path, kind=partner.kind, title=partner.id)}
    Desk(feeds, plan).publish(partner)
    every = f"{plan.every:g}s"
    config_path = fleet_config(
        tmp_path,
        postgres_url,
        feeds,
        translator,
        plan,
        sources=[
            {"id": "silent", "url": f"http://127.0.0.1:{silent.getsockname()[1]}/feed"},
            {"id": partner.id, "url": feeds[partner].url, "every": every},
        ],
        fetch={
            "concurrency": 1,
            "timeout": "60s",  # the silent partner holds the slot until the test lets go
            "user_agent": "syndication-fleet-test (${FLEET_WORKER})",
        },
    )
    monkeypatch.setenv("FLEET_WORKER", "a")
    config = load(config_path)
    caplog.set_level(logging.INFO, logger="syndication")
    a = Store.open(config.store_url)
    a.register("test a", timedelta(seconds=config.settings.fleet.lease))
    worker = Worker(config, a)  # never started: no heartbeat
    answer = None
    try:
        worker.poll_source("silent")
        answer, _ = silent.accept()  # A's one fetch slot is held from now on
        worker.poll_source(partner.id)  # claimed; its request waits for the slot
        _until(lambda: "test a" not in {w.holder for w in a.workers()}, 10, "A's lease lapse")
        taken = run_cli(
            "once", "--source", partner.id, "--config", str(config_path), env={"FLEET_WORKER": "b"}
        )
        assert taken.code == 0, taken.output
        assert [worker_of(r) for r in server.requests_for(path)] == ["b"]
        recorded = a.source_state(partner.id)
        answer.close()  # the slot frees: A's poll has its turn
        answer = None
        _until(
            lambda: "poll dropped" in caplog.text or len(server.requests_for(path)) > 1,
            30,
            "A's poll (sent or dropped)",
        )
        assert [worker_of(r) for r in server.requests_for(path)] == ["b"], caplog.text
        assert a.source_state(partner.id) == recorded  # nothing recorded for a dropped poll
    finally:
        if answer is not None:
            answer.close()
        worker.stop()
        a.unregister()
        silent.close()
        translator.stop()
        server.stop()
