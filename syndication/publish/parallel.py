"""Parallel: a publish's rendering shared among the machine's cores.

Owns: `Round`, the rendering jobs one phase of a publish collects (each job a feed's documents
or a batch of story pages, rendered and written in order) and how they run: in this process
when the round is small, the output is not a local folder or the machine has one core; else
shared by weight between this process and forked children. A child sees the items the publish
already built (fork copies nothing until written; nothing is pickled but what it wrote); it
touches neither the store nor any lock another thread of this process may hold: it renders,
writes through a `Writer` of its own (every file flushed and renamed before it reports), and
sends back what it wrote. A child that fails or dies has its share done again here. A job that
raises is reported by its label (its feed keeps its last good files); a job that must not fail
(`fatal`) raises here as it would have without children.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import pickle
import signal
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from syndication.publish.write import Folder, Writer

Render = Callable[[], dict[str, bytes]]

# Below this weight (about the items a round renders) a round runs here: forking costs a few
# milliseconds a child and a child's results a pickle; a publish following one story never pays
# it. bench/bench_once.py's first publish weighs about 60,000.
PARALLEL_FROM = 1_000
MOST_CHILDREN = 7  # beside this process: 8 cores rendering at most


@dataclass
class Job:
    label: str  # what failed, when it fails: a feed's folder
    steps: list[Render]  # each renders files, written in this order
    weight: int  # about the items it renders
    fatal: bool = False  # a failure fails the publish (story pages), not just this job
    on_done: Callable[[], None] | None = None  # run here once every step of it was written


@dataclass
class Outcome:
    """What a child's share wrote (as a `Writer` records it) and which jobs failed."""

    written: list[str] = field(default_factory=list)
    changed: list[tuple[str, str, int]] = field(default_factory=list)
    unchanged: int = 0
    failed: list[tuple[str, int, str]] = field(default_factory=list)  # (path, errno, why)
    produced: list[str] = field(default_factory=list)
    errors: dict[str, tuple[str, str]] = field(default_factory=dict)  # label -> (why, trace)


class Round:
    """The jobs of one phase of a publish, run together by `run`."""

    def __init__(self, writer: Writer, processes: int | None = None) -> None:
        self.writer = writer
        self.processes = min(processes or _cores(), MOST_CHILDREN + 1)
        self.jobs: list[Job] = []
        self.weight = 0
        self.most = 1  # the most processes a round of this publish rendered on

    def add(self, job: Job) -> None:
        self.jobs.append(job)
        self.weight += job.weight

    def run(self) -> dict[str, tuple[str, str]]:
        """Render and write every job added since the last run; the jobs that failed, by
        label: (why, traceback). Every file written is published (flushed and renamed) when it
        returns, so a later round's files may link to them."""
        jobs, self.jobs, weight, self.weight = self.jobs, [], self.weight, 0
        parallel = self.processes > 1 and len(jobs) > 1 and isinstance(self.writer.output, Folder)
        if weight < PARALLEL_FROM or not parallel:
            errors = _work(jobs, self.writer)
        else:
            errors = self._shared(jobs)
        for job in jobs:
            if job.label not in errors and job.on_done is not None:
                job.on_done()
        return errors

    def _shared(self, jobs: list[Job]) -> dict[str, tuple[str, str]]:
        shares = [share for share in _balance(jobs, self.processes) if share]
        self.most = max(self.most, len(shares))
        assert isinstance(self.writer.output, Folder)
        root = self.writer.output.root
        # Files staged before the round are renamed first: a child's feed must not be
        # published before the pages it links to.
        self.writer.flush()
        # What the process holds is left out of the collector's walks until every child is
        # forked: a child's collection would otherwise write to every object's header and
        # copy each page of this process's memory it lies on (the gc module's advice).
        gc.freeze()
        try:
            children = [_fork(share, root) for share in shares[1:]]
        finally:
            gc.unfreeze()
        errors: dict[str, tuple[str, str]] = {}
        try:
            errors.update(_work(shares[0], self.writer))
        finally:
            for (pid, pipe), share in zip(children, shares[1:], strict=False):
                outcome = _collect(pid, pipe)
                if outcome is None:  # the child failed or died: its share is done here
                    errors.update(_work(share, self.writer))
                else:
                    errors.update(outcome.errors)
                    self._merge(outcome)
        self.writer.flush()
        return errors

    def _merge(self, outcome: Outcome) -> None:
        w = self.writer
        w.written += outcome.written
        w.changed += outcome.changed
        w.unchanged += outcome.unchanged
        w.produced.update(outcome.produced)
        w.failed += [(path, OSError(errno, why)) for path, errno, why in outcome.failed]


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _balance(jobs: list[Job], shares: int) -> list[list[Job]]:
    """The jobs in `shares` lists of about equal weight (heaviest first, each to the lightest
    share), each list in the order the jobs were added."""
    order = {id(job): n for n, job in enumerate(jobs)}
    lists: list[list[Job]] = [[] for _ in range(shares)]
    loads = [0] * shares
    for job in sorted(jobs, key=lambda job: -job.weight):
        lightest = loads.index(min(loads))
        lists[lightest].append(job)
        loads[lightest] += job.weight
    for share in lists:
        share.sort(key=lambda job: order[id(job)])
    return lists


def _work(jobs: list[Job], writer: Writer) -> dict[str, tuple[str, str]]:
    """Render and write `jobs` in order through `writer` (here); a job that raises is skipped
    from that step on and reported, unless it is fatal (then it raises)."""
    errors: dict[str, tuple[str, str]] = {}
    for job in jobs:
        try:
            for step in job.steps:
                writer.put(step())
        except Exception as exc:
            if job.fatal:
                raise
            errors[job.label] = (f"{type(exc).__name__}: {exc}", traceback.format_exc())
    return errors


def _fork(jobs: list[Job], root: Path) -> tuple[int, int]:
    """A child rendering `jobs` into the folder `root`: its pid and the pipe of its outcome."""
    read, write = os.pipe()
    parent = os.getpid()
    pid = os.fork()
    if pid:
        os.close(write)
        return pid, read
    code = 70
    try:  # the child: never returns
        gc.disable()  # it lives for seconds: its garbage goes with it
        _die_with(parent)
        os.close(read)
        # The service's handlers (a graceful stop, a reload) belong to the parent: a child
        # stops at once, leaving at most a temporary file the next publish removes.
        for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(number, signal.SIG_DFL)
        writer = Writer(Folder(root))
        errors = _work(jobs, writer)
        writer.flush()
        outcome = Outcome(
            written=writer.written,
            changed=writer.changed,
            unchanged=writer.unchanged,
            failed=[(path, e.errno or 0, e.strerror or str(e)) for path, e in writer.failed],
            produced=sorted(writer.produced),
            errors=errors,
        )
        with os.fdopen(write, "wb") as pipe:
            pickle.dump(outcome, pipe, protocol=pickle.HIGHEST_PROTOCOL)
        code = 0
    except BaseException:
        traceback.print_exc(file=sys.stderr)
    finally:
        os._exit(code)


def _die_with(parent: int) -> None:
    """End this child when the process that forked it ends (Linux): a publish killed stops
    whole, leaving temporary files the next one removes, and no copy of it lingers holding
    what it inherited (the worker's listening socket, which a restarted worker could not
    bind again meanwhile)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it ended before the line above took effect
        os._exit(1)


_PR_SET_PDEATHSIG = 1


def _collect(pid: int, pipe: int) -> Outcome | None:
    """The outcome a child sent, once it has ended; None when it failed or died."""
    with os.fdopen(pipe, "rb") as stream:
        data = stream.read()
    _, status = os.waitpid(pid, 0)
    if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0 or not data:
        return None
    outcome = pickle.loads(data)
    return outcome if isinstance(outcome, Outcome) else None
