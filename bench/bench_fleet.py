"""Several workers on one PostgreSQL store: stories per second from partner to every edition
with 1, 2 and 3 `syndication run` workers, and the same with one worker on SQLite.

Each run: 30 loopback partner feeds (tests/system/test_fleet.py's) each holding `--backlog`
new stories before the workers start; the figure is the time from starting the workers until
every story is in every edition's RSS, Atom and JSON Feed and in its source's feeds, exactly
once (the fake Google translating into kk, zh and en). Also shown, per worker, from its own
`/metrics` at that moment: polls, translation requests and publishes; and fleet-wide the
translation requests asked twice (work done twice: 0 expected) and the closest two polls of
one source (never under `every` less LATE by the claim rule). PostgreSQL is a throwaway
server (tests/postgres.py; $SYNDICATION_TEST_POSTGRES for another).

Run: .venv/bin/python bench/bench_fleet.py [--backlog 10] [--workers 1 2 3] [--rounds 1]
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests import postgres
from tests.system.test_fleet import ONCE, FleetPlan, FleetReport, run_fleet


def _sum(figures: dict[str, float], prefix: str) -> float:
    return sum(v for k, v in figures.items() if k.startswith(prefix))


def _closest(report: FleetReport) -> float:
    gaps = [
        after.at - before.at
        for requests in report.polls.values()
        for before, after in itertools.pairwise(
            sorted((r for r in requests if ONCE not in (r.header("user-agent") or "")),
                   key=lambda r: r.at)
        )
    ]  # fmt: skip
    return min(gaps, default=float("nan"))


def one(backend: str, url: str, workers: int, backlog: int) -> tuple[str, FleetReport]:
    plan = FleetPlan(
        workers=workers,
        backlog=backlog,
        duration=0.0,  # the backlog only: nothing published meanwhile
        kills=(),
        once_at=None,
        status_at=None,
        converge_within=600.0,
    )
    folder = Path(tempfile.mkdtemp(prefix="syndication-fleet-"))
    try:
        report = run_fleet(folder, url.format(folder=folder), plan, say=lambda line: None)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    took = report.started_to_converged
    stories = len(report.stories)
    per = []
    for _worker_id, figures in sorted(report.final_metrics.items()):
        per.append(
            f"{_sum(figures, 'syndication_fetches_total'):.0f}/"
            f"{_sum(figures, 'syndication_translation_requests_total'):.0f}/"
            f"{figures.get('syndication_publish_duration_seconds_count', 0):.0f}"
        )
    first = report.first_poll_after or 0.0
    timing = (
        f"{took:.1f} s | {took - first:.1f} s | {stories / took:.1f} |" if took else "never | | |"
    )
    line = (
        f"| {backend} | {workers} | {stories} | {timing} {' · '.join(per)} | "
        f"{report.translator_requests} | {report.translator_repeats} | {_closest(report):.1f} s |"
    )
    return line, report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backlog", type=int, default=10, help="stories per partner")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    server = postgres.start()
    if isinstance(server, str):
        print(f"no PostgreSQL: {server}")
        return 1
    print(
        f"{platform.python_version()} on {platform.machine()}, {os.cpu_count()} cores, "
        f"PostgreSQL {server.version}"
    )
    print(
        "| store | workers | stories | to every edition | from the first poll | stories/s "
        "| per worker: polls/translation requests/publishes | translation requests "
        "| asked twice | closest polls of a source |"
    )
    print("|---|---:|---:|---:|---:|---:|---|---:|---:|---:|")
    failed = False
    try:
        for _ in range(args.rounds):
            for workers in args.workers:
                url = server.create_database()
                try:
                    line, report = one("PostgreSQL", url, workers, args.backlog)
                finally:
                    server.drop_database(url)
                print(line, flush=True)
                failed |= bool(report.problems())
                for problem in report.problems():
                    print(f"  problem: {problem}")
            line, report = one("SQLite", "sqlite:///{folder}/data/fleet.db", 1, args.backlog)
            print(line, flush=True)
            failed |= bool(report.problems())
            for problem in report.problems():
                print(f"  problem: {problem}")
    finally:
        server.stop()
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
