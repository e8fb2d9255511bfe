"""Chaos run, the long version of tests/system/test_chaos.py: `syndication run` killed with
SIGKILL at random moments many times over a few minutes while loopback partners publish and the fake
translator fails a share of its requests; then the worker left running with a healthy
translator must show every story in every edition exactly once, with no feed file ever read
invalid, no process outliving its worker and a sound SQLite store.

Prints a summary (kills, stories, translator failures, feed reads and invalid ones,
convergence time, store checks) and exits 1 when anything broke. Same seed, same schedule.

Run: .venv/bin/python bench/chaos.py [--seed N] [--kills 40] [--run-min 1] [--run-max 8]
     [--partners 4] [--fail-share 0.3] [--keep]
"""

from __future__ import annotations

import argparse
import platform
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.system.test_chaos import DEFAULT_SEED, PARTNERS, ChaosPlan, run_chaos


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--kills", type=int, default=40)
    parser.add_argument("--run-min", type=float, default=1.0, help="seconds, shortest life")
    parser.add_argument("--run-max", type=float, default=8.0, help="seconds, longest life")
    parser.add_argument("--partners", type=int, default=len(PARTNERS), choices=range(1, 5))
    parser.add_argument("--publish-every", type=float, default=1.0, help="seconds per partner")
    parser.add_argument("--article-every", type=float, default=2.0, help="seconds")
    parser.add_argument("--fail-share", type=float, default=0.3)
    parser.add_argument("--main-only-share", type=float, default=0.25)
    parser.add_argument("--converge-within", type=float, default=120.0, help="seconds")
    parser.add_argument("--keep", action="store_true", help="keep the working folder")
    args = parser.parse_args()
    plan = ChaosPlan(
        seed=args.seed,
        kills=args.kills,
        run_min=args.run_min,
        run_max=args.run_max,
        partners=args.partners,
        publish_every=args.publish_every,
        article_every=args.article_every,
        fail_share=args.fail_share,
        main_only_share=args.main_only_share,
        converge_within=args.converge_within,
    )
    folder = Path(tempfile.mkdtemp(prefix="syndication-chaos-"))
    print(f"{platform.python_version()} on {platform.machine()}, working in {folder}")
    try:
        report = run_chaos(folder, plan)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    print()
    print(report.summary())
    return 1 if report.problems() else 0


if __name__ == "__main__":
    raise SystemExit(main())
