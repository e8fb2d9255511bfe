"""This process among the workers of its store: its heartbeat, and riding out a store outage.

Owns: the heartbeat thread of a registered worker (`run` or `once`), which keeps its claims'
lease alive (three beats per lease, on a thread of its own so that busy jobs never delay
it), the outage gate: when the database stops answering (StoreUnreachable: PostgreSQL's
server gone; a SQLite file is always there) the worker says so once, its jobs stand back, and
the next one tries again after a backoff (doubling to a minute) until the database answers;
`/healthz` says 503 meanwhile (see health.py), and the publish watch: changes in the store
left waiting for a publish longer than any live worker would leave them (the worker that made
them died before publishing them) are noticed by whichever worker looks. What is claimed and
how is the store's (store/control.py); when a poll may be claimed, schedule.py's.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from syndication.errors import StoreError
from syndication.model import utcnow
from syndication.store import Store

log = logging.getLogger(__name__)

BEATS_PER_LEASE = 3
MAX_BACKOFF = 60.0  # seconds between two tries of a store that does not answer


class Heartbeat:
    """Beats the worker's heartbeat every lease / 3 until stopped; `on_beat` hears each
    outcome (None: it went through; else the store's error)."""

    def __init__(
        self,
        store: Store,
        lease: float,
        on_beat: Callable[[StoreError | None], None] = lambda error: None,
    ) -> None:
        self.store = store
        self.every = lease / BEATS_PER_LEASE
        self.on_beat = on_beat
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._run, name="syndication-heartbeat", daemon=True)

    def start(self) -> Heartbeat:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._halt.set()

    def _run(self) -> None:
        while not self._halt.wait(self.every):
            try:
                self.store.heartbeat()
            except StoreError as exc:
                self.on_beat(exc)
            else:
                self.on_beat(None)


class Outage:
    """The store not answering: said once when it starts and once when it ends; meanwhile
    `waiting()` is True except once per backoff, when a job may try again."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.since: float | None = None
        self.error = ""
        self._delay = 1.0
        self._next = 0.0

    def waiting(self) -> bool:
        with self._lock:
            if self.since is None:
                return False
            now = time.monotonic()
            if now < self._next:
                return True
            self._next = now + self._delay  # this caller tries; the others keep waiting
            return False

    def failed(self, error: StoreError) -> None:
        with self._lock:
            now = time.monotonic()
            if self.since is None:
                self.since, self._delay = now, 1.0
                log.error(
                    "store unreachable: %s; the worker waits, trying again with backoff "
                    "(nothing is lost: polls, translations and publishing resume from the "
                    "store)",
                    error,
                )
            else:
                self._delay = min(self._delay * 2, MAX_BACKOFF)
            self.error = str(error)
            self._next = now + self._delay

    def succeeded(self) -> None:
        with self._lock:
            if self.since is None:
                return
            log.warning("store reachable again after %.0fs", time.monotonic() - self.since)
            self.since, self.error = None, ""


class PublishWatch:
    """Whether changes have waited for a publish longer than they should.

    A worker that stores a change publishes it within its debounce (after the publish running
    then, if another worker's); a worker killed before that publish ends takes the duty with
    it, and no other worker was told of the change. So every worker looks (`look`, every few
    seconds) at the store's last change number and the publish mark: changes after a mark that
    has not moved for `allowance` seconds are owed by nobody alive, and the one that sees it
    publishes them. Time is this process's monotonic clock from when it first saw the mark
    with changes after it, never a time another host wrote: clocks across hosts may differ.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()  # housekeeping runs on the scheduler and on SIGUSR1
        self._mark: int | None = None  # the publish mark last seen with changes after it
        self._seen = 0.0  # monotonic time it was first seen so
        self.waiting_since: datetime | None = None  # set while the wait is overdue

    def look(self, change: int, mark: int, allowance: float) -> bool:
        """True when changes after `mark` (up to `change`) have waited past `allowance`."""
        with self._lock:
            return self._look(change, mark, allowance)

    def _look(self, change: int, mark: int, allowance: float) -> bool:
        now = time.monotonic()
        if change <= mark:
            self._mark, self.waiting_since = None, None
            return False
        if mark != self._mark:  # a publish since the last look, or the first changes after one
            self._mark, self._seen, self.waiting_since = mark, now, None
            return False
        waited = now - self._seen
        if waited < allowance:
            return False
        if self.waiting_since is None:
            self.waiting_since = utcnow() - timedelta(seconds=waited)
        return True
