"""Control of the workers sharing a store.

Owns: the worker lock of a SQLite store (taken, refreshed, taken over from a dead holder,
released); the registry of workers on any store (registered, heartbeat, unregistered, who is
alive and what each holds); the claims by which workers on a PostgreSQL store share the work
(a source's poll, never sooner after the last one than its schedule allows, whichever
worker made it; the publish lock); requests the command line
leaves a running worker; and the settings the store remembers (`meta`).

A claim is a lease: it holds while its worker's registration has not expired (`expires_at`,
pushed forward by every heartbeat), so a worker killed outright loses its claims one lease
after its last heartbeat, and the others take its work over. A worker that was only late (a
stalled process, a slow store) is back in the registry at its next heartbeat, under the same
id, holding the claims nobody took meanwhile; the ones another worker took are that worker's
now. So a worker asks, right before a poll goes out, whether the source's claim is still its
own (`holds_source`): answered from memory while its registration has been live without a
break since the claim, else from the claim's row. Rows are claimed with
`SELECT … FOR UPDATE SKIP LOCKED` (two workers never get the same row, and neither waits for
the other); publishing takes a PostgreSQL advisory lock, which the server drops the moment
the holder's connection goes. Clocks: times compared across hosts are each host's UTC clock,
so keep them in step (NTP) to well within a lease.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, and_, func, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from syndication.errors import StoreError, StoreLocked
from syndication.model import utcnow
from syndication.store.base import StoreBase, insert_new, iso, parse_iso, store_error, upsert
from syndication.store.counters import current_change
from syndication.store.schema import (
    claims,
    meta,
    sources,
    translations,
    worker_lock,
    workers,
)

log = logging.getLogger(__name__)

LOCK_STALE_AFTER = timedelta(minutes=2)
_REQUEST = "request:"  # meta keys holding what the command line asked a running worker
_SOURCE = "source:"  # claims of a source's poll
_CLAIM_BATCH = 500  # source claims per statement (well under any bound-parameter limit)
PUBLISH = "publish"  # the claim row saying who publishes now (the advisory lock decides)
# The advisory lock key of publishing: any constant of our own ("synd" in ASCII).
PUBLISH_LOCK_KEY = 0x73796E64
FORGET_AFTER = timedelta(days=1)  # a worker gone this long leaves the registry


@dataclass(frozen=True)
class WorkerRecord:
    """A worker in the registry, as `status` shows it."""

    id: str
    holder: str
    host: str
    pid: int
    started: datetime | None
    heartbeat: datetime | None
    expires: datetime | None
    address: str
    alive: bool
    sources: tuple[str, ...] = ()  # being polled by it now
    translations: int = 0  # claimed by it now
    publishing: bool = False


def read_setting(conn: Connection, key: str) -> str | None:
    value = conn.execute(select(meta.c.value).where(meta.c.key == key)).scalar()
    return None if value is None else str(value)


class ControlMixin(StoreBase):
    _registration: dict[str, Any]  # this worker's row in `workers`, as last committed
    _lease: timedelta
    # (breaks so far, when the registration expires): a break is a heartbeat that went through
    # only after the last one's lease ran out. One tuple, swapped whole: threads read it
    # without a lock (the heartbeat's thread writes it, polls read it).
    _unbroken: tuple[int, datetime]
    _claimed: dict[str, int]  # source id → the breaks there were when this worker claimed it

    # -- settings the store remembers ---------------------------------------------------

    def remembered(self, key: str, default: str) -> str:
        """The value first recorded under `key`; records `default` if there is none.

        For facts that must never change once published (the authority in item ids), even
        when the configuration that produced them later does.
        """
        with self.begin() as conn:
            # Two workers starting at once: the first one's value is the one kept.
            insert_new(conn, meta, [{"key": key, "value": default}])
            value = read_setting(conn, key)
        return value if value is not None else default

    def setting(self, key: str) -> str | None:
        with self.begin() as conn:
            return read_setting(conn, key)

    def change_and_settings(self, keys: Sequence[str]) -> tuple[int, dict[str, str | None]]:
        """The last change number handed out and the settings under `keys`, read together:
        a worker's look at whether changes wait for a publish (the mark is a setting)."""
        with self.begin() as conn:
            query = select(meta.c.key, meta.c.value).where(meta.c.key.in_(keys))
            rows = dict(conn.execute(query).tuples().all())
            return current_change(conn), {key: rows.get(key) for key in keys}

    def set_setting(self, key: str, value: str) -> None:
        with self.begin() as conn:
            upsert(conn, meta, {"key": key, "value": value}, ["key"])

    # -- worker lock --------------------------------------------------------------------

    def acquire_lock(self, holder: str, name: str = "worker") -> None:
        """Take the worker lock or raise StoreLocked naming who holds it.

        A lock whose process is gone (same host, pid not alive) or whose heartbeat is stale
        (another host) is taken over, so a killed worker never blocks the next one.
        """
        host, pid, now = socket.gethostname(), os.getpid(), utcnow()
        with self.begin() as conn:
            row = conn.execute(select(worker_lock).where(worker_lock.c.name == name)).first()
            if row is not None and not (row.host == host and row.pid == pid):
                alive = _pid_alive(row.pid) if row.host == host else True
                fresh = (parse_iso(row.heartbeat_at) or now) > now - LOCK_STALE_AFTER
                if alive and fresh:
                    raise StoreLocked(
                        f"another worker ({row.holder}, pid {row.pid} on {row.host}) holds "
                        f"this store; stop it first or point --config at another store"
                    )
            conn.execute(worker_lock.delete().where(worker_lock.c.name == name))
            try:
                conn.execute(
                    worker_lock.insert().values(
                        name=name, holder=holder, host=host, pid=pid, heartbeat_at=iso(now)
                    )
                )
            except IntegrityError as exc:  # raced with another starter
                raise StoreLocked("another worker took the store lock at the same time") from exc

    def heartbeat(self, name: str = "worker") -> None:
        """Refresh the worker lock (SQLite) and this worker's registration (its claims' lease).

        A beat that comes after the lease ran out puts the worker back in the registry (its
        claims nobody took are its own again) and says so: meanwhile another worker may have
        taken any of them over, and `holds_source` asks the store about each claim older
        than that."""
        now = utcnow()
        registered = self.worker_id is not None
        renewed: dict[str, Any] = {}
        with self.begin() as conn:
            conn.execute(
                worker_lock.update()
                .where(and_(worker_lock.c.name == name, worker_lock.c.pid == os.getpid()))
                .values(heartbeat_at=iso(now))
            )
            if registered:
                renewed = {
                    **self._registration,
                    "heartbeat_at": iso(now),
                    "expires_at": iso(now + self._lease),
                }
                # Back in the registry if it was forgotten meanwhile (a long outage).
                upsert(conn, workers, renewed, ["id"])
        if registered:
            # Only once committed: what this process remembers of its lease is never later
            # than what the other workers read in the store.
            self._renewed(renewed)

    def _renewed(self, row: dict[str, Any]) -> None:
        breaks, expired = self._unbroken
        done = datetime.now(UTC)  # after the commit: the other workers saw the row since then
        if done >= expired:
            breaks += 1
            log.warning(
                "this worker's lease ran out at %s UTC, %.1fs before its heartbeat went "
                "through (a stalled process or a slow store?): other workers may have taken "
                "over its claims meanwhile; a poll it had waiting goes out only where its "
                "claim is still its own",
                f"{expired:%H:%M:%S}",
                (done - expired).total_seconds(),
            )
        self._registration = row
        self._unbroken = (breaks, parse_iso(row["expires_at"]) or done)

    def lock_holder(self, name: str = "worker") -> dict[str, Any] | None:
        """Who holds the worker lock (holder, host, pid, heartbeat, alive), or None."""
        with self.begin() as conn:
            row = conn.execute(select(worker_lock).where(worker_lock.c.name == name)).first()
        if row is None:
            return None
        heartbeat = parse_iso(row.heartbeat_at)
        here = row.host == socket.gethostname()
        alive = (
            _pid_alive(row.pid)
            if here
            else bool(heartbeat and heartbeat > utcnow() - LOCK_STALE_AFTER)
        )
        return {
            "holder": row.holder,
            "host": row.host,
            "pid": row.pid,
            "heartbeat": heartbeat,
            "this_host": here,
            "alive": alive,
        }

    def release_lock(self, name: str = "worker") -> None:
        with self.begin() as conn:
            conn.execute(
                worker_lock.delete().where(
                    and_(
                        worker_lock.c.name == name,
                        worker_lock.c.pid == os.getpid(),
                        worker_lock.c.host == socket.gethostname(),
                    )
                )
            )

    # -- the registry of workers ----------------------------------------------------------

    def register(self, holder: str, lease: timedelta, address: str = "") -> str:
        """Enter this process in the registry of workers; its claims last `lease` past each
        heartbeat. Returns its worker id (host, pid and a random part: pids repeat)."""
        now = utcnow()
        worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        row = {
            "id": worker_id,
            "holder": holder,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started_at": iso(now),
            "heartbeat_at": iso(now),
            "expires_at": iso(now + lease),
            "address": address,
        }
        with self.begin() as conn:
            conn.execute(workers.delete().where(workers.c.expires_at < iso(now - FORGET_AFTER)))
            conn.execute(workers.insert().values(**row))
        self._registration, self._lease = row, lease
        self._unbroken = (0, parse_iso(row["expires_at"]) or now)
        self._claimed = {}
        self.worker_id = worker_id
        return worker_id

    def set_address(self, address: str) -> None:
        """Where this worker serves /metrics and /healthz, for `status`."""
        if self.worker_id is None:
            return
        self._registration["address"] = address
        with self.begin() as conn:
            conn.execute(
                workers.update().where(workers.c.id == self.worker_id).values(address=address)
            )

    def unregister(self) -> None:
        """Leave the registry, giving up every claim at once (a clean stop)."""
        me = self.worker_id
        if me is None:
            return
        with self.begin() as conn:
            conn.execute(claims.update().where(claims.c.worker == me).values(worker=None))
            conn.execute(
                translations.update().where(translations.c.claimed_by == me).values(claimed_by=None)
            )
            conn.execute(workers.delete().where(workers.c.id == me))
        self.worker_id = None
        self._claimed = {}

    def workers(self) -> list[WorkerRecord]:
        """The registered workers still alive (their lease not run out), each with what it
        holds, oldest first."""
        now = utcnow()
        with self.begin() as conn:
            rows = conn.execute(
                select(workers)
                .where(workers.c.expires_at > iso(now))
                .order_by(workers.c.started_at, workers.c.id)
            ).all()
            ids = [row.id for row in rows]
            held = conn.execute(
                select(claims.c.worker, claims.c.name).where(claims.c.worker.in_(ids))
            ).all()
            counts = dict(
                conn.execute(
                    select(translations.c.claimed_by, func.count())
                    .where(translations.c.claimed_by.in_(ids))
                    .group_by(translations.c.claimed_by)
                ).all()
            )
        here = socket.gethostname()
        found = []
        for row in rows:
            mine = sorted(name for worker, name in held if worker == row.id)
            found.append(
                WorkerRecord(
                    id=row.id,
                    holder=row.holder,
                    host=row.host,
                    pid=row.pid,
                    started=parse_iso(row.started_at),
                    heartbeat=parse_iso(row.heartbeat_at),
                    expires=parse_iso(row.expires_at),
                    address=row.address,
                    # On this host a killed worker is known dead before its lease runs out.
                    alive=_pid_alive(row.pid) if row.host == here else True,
                    sources=tuple(n.removeprefix(_SOURCE) for n in mine if n.startswith(_SOURCE)),
                    translations=int(counts.get(row.id, 0)),
                    publishing=PUBLISH in mine,
                )
            )
        return [w for w in found if w.alive]

    # -- claims: a source's poll, the publish lock -----------------------------------------

    def claim_source(
        self,
        source_id: str,
        allowed: Callable[[datetime, datetime], bool],
        *,
        location: str | None = None,
        force: bool = False,
    ) -> str | None:
        """Claim the source for a poll now; None when it is ours, else why not: a live
        worker is polling it, or `allowed(last, now)` says a poll now may not follow the last
        one begun (by whichever worker; its schedule in force now decides, see
        run/schedule.py). That rule is waived when `force`d (`retry`, `once`) and for a
        `location` the source was never polled at (a new source, an edited URL: polled at
        once)."""
        me = self._me()
        name = f"{_SOURCE}{source_id}"
        now = datetime.now(UTC)  # not utcnow(), whole seconds: the rule may turn on a fraction
        breaks = self._unbroken[0]  # read before the claim: a break found after it counts
        with self.begin() as conn:
            if location is not None:
                polled_at = conn.execute(
                    select(sources.c.location).where(sources.c.id == source_id)
                ).scalar()
                force = force or polled_at != location
            insert_new(conn, claims, [{"name": name}])
            row = conn.execute(
                select(claims).where(claims.c.name == name).with_for_update(skip_locked=True)
            ).first()
            why = self._refusal(conn, row, me, now, allowed, force)
            if why is None:
                conn.execute(
                    claims.update()
                    .where(claims.c.name == name)
                    .values(worker=me, taken_at=now.isoformat())
                )
        if why is None:
            self._claimed[source_id] = breaks
        return why

    def claim_sources(
        self, wanted: Mapping[str, Callable[[datetime, datetime], bool]], *, force: bool = False
    ) -> dict[str, str | None]:
        """`claim_source` for many sources at once (a cycle polling them all): each source id
        answered as `claim_source` would (None: ours now), in one transaction and a few
        statements per batch of sources, not a transaction of three statements per source
        (on 500 sources that was ~0.25 s of a 2 s warm `once`)."""
        me = self._me()
        now = datetime.now(UTC)
        breaks = self._unbroken[0]
        answers: dict[str, str | None] = {}
        # Sorted: two workers inserting overlapping batches take the keys in the same order.
        ids = sorted(wanted)
        with self.begin() as conn:
            for start in range(0, len(ids), _CLAIM_BATCH):
                names = {f"{_SOURCE}{i}": i for i in ids[start : start + _CLAIM_BATCH]}
                insert_new(conn, claims, [{"name": name} for name in names])
                rows = {
                    row.name: row
                    for row in conn.execute(
                        select(claims)
                        .where(claims.c.name.in_(list(names)))
                        .with_for_update(skip_locked=True)
                    )
                }
                granted = []
                for name, source_id in names.items():
                    why = self._refusal(conn, rows.get(name), me, now, wanted[source_id], force)
                    answers[source_id] = why
                    if why is None:
                        granted.append(name)
                if granted:
                    conn.execute(
                        claims.update()
                        .where(claims.c.name.in_(granted))
                        .values(worker=me, taken_at=now.isoformat())
                    )
        self._claimed.update((i, breaks) for i, why in answers.items() if why is None)
        return answers

    def _refusal(
        self,
        conn: Connection,
        row: Any,
        me: str,
        now: datetime,
        allowed: Callable[[datetime, datetime], bool],
        force: bool,
    ) -> str | None:
        """Why this worker may not take the claim `row` (locked for it) now; None: it may."""
        if row is None:
            return "another worker is claiming it this moment"
        # A SQLite store's one worker holds its lock: any other claim is a dead worker's.
        if row.worker is not None and row.worker != me and self.shared:
            holder = self._live(conn, row.worker, now)
            if holder is not None:
                return f"being polled by pid {holder.pid} on {holder.host}"
        last = parse_iso(row.taken_at)
        if not force and last is not None and not allowed(last, now):
            return f"polled {(now - last).total_seconds():.1f}s ago, not due again yet"
        return None

    def holds_source(self, source_id: str) -> bool:
        """Whether the claim this worker took on the source's poll is still its own (always,
        for a process that is no registered worker): asked right before the poll goes out.

        From memory when this worker's registration has been live without a break since the
        claim and still is (no other worker takes a live worker's claim); else from the store:
        the claim's row names this worker and, on PostgreSQL, its registration has not
        expired (else another worker may take the claim any moment). A SQLite store's other
        workers are refused by its lock, so there the row alone decides."""
        me = self.worker_id
        if me is None or self.claim_unbroken(source_id):
            return True
        now = datetime.now(UTC)
        with self.begin() as conn:
            holder = conn.execute(
                select(claims.c.worker).where(claims.c.name == f"{_SOURCE}{source_id}")
            ).scalar()
            if holder != me:
                return False
            return not self.shared or self._live(conn, me, now) is not None

    def claim_unbroken(self, source_id: str) -> bool:
        """True when this worker claimed the source and its registration has been live ever
        since, with no break (or it is no registered worker): the claim is surely its own,
        known without I/O. False says nothing yet: ask `holds_source`."""
        if self.worker_id is None:
            return True
        breaks, expires = self._unbroken
        return self._claimed.get(source_id) == breaks and datetime.now(UTC) < expires

    def release_source(self, source_id: str) -> None:
        """The poll is over (recorded or failed): the claim goes, when it began stays."""
        if self.worker_id is not None:
            self._claimed.pop(source_id, None)
        self._release(f"{_SOURCE}{source_id}")

    def release_sources(self, source_ids: Sequence[str]) -> None:
        """`release_source` for many sources: one statement per batch of them."""
        if self.worker_id is None:
            return
        for source_id in source_ids:
            self._claimed.pop(source_id, None)
        names = [f"{_SOURCE}{i}" for i in source_ids]
        with self.begin() as conn:
            for start in range(0, len(names), _CLAIM_BATCH):
                conn.execute(
                    claims.update()
                    .where(
                        and_(
                            claims.c.name.in_(names[start : start + _CLAIM_BATCH]),
                            claims.c.worker == self.worker_id,
                        )
                    )
                    .values(worker=None)
                )

    def release_translations(self) -> None:
        """Give up the translations this worker claimed and did not save (a run ended)."""
        if self.worker_id is None:
            return
        with self.begin() as conn:
            conn.execute(
                translations.update()
                .where(translations.c.claimed_by == self.worker_id)
                .values(claimed_by=None)
            )

    @contextlib.contextmanager
    def publishing(self, wait: float | None = 0.0) -> Iterator[bool]:
        """Hold the right to publish for the block; yields False when another process holds
        it (after waiting up to `wait` seconds; None: until it is free).

        On PostgreSQL a session advisory lock on a connection of its own: the server drops
        it the moment that connection goes, so a killed publisher never blocks the fleet. A
        SQLite store has a single worker (its lock says so): always True."""
        if not self.shared:
            yield True
            return
        try:
            conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        except SQLAlchemyError as exc:
            raise store_error(exc, self.engine.url) from exc
        got = False
        try:
            deadline = None if wait is None else time.monotonic() + wait
            while True:
                lock = func.pg_try_advisory_lock(PUBLISH_LOCK_KEY)
                got = bool(conn.execute(select(lock)).scalar())
                if got or (deadline is not None and time.monotonic() >= deadline):
                    break
                time.sleep(0.2)
            if got and self.worker_id is not None:
                self._claim_publishing()
        except SQLAlchemyError as exc:
            conn.close()
            raise store_error(exc, self.engine.url) from exc
        try:
            yield got
        finally:
            if got:
                with contextlib.suppress(StoreError):
                    self._release(PUBLISH)
                with contextlib.suppress(SQLAlchemyError):  # gone with the connection anyway
                    conn.execute(select(func.pg_advisory_unlock(PUBLISH_LOCK_KEY)))
            with contextlib.suppress(SQLAlchemyError):
                conn.close()

    def _claim_publishing(self) -> None:
        with self.begin() as conn:
            upsert(
                conn,
                claims,
                {"name": PUBLISH, "worker": self.worker_id, "taken_at": iso(utcnow())},
                ["name"],
            )

    def _release(self, name: str) -> None:
        if self.worker_id is None:
            return
        with self.begin() as conn:
            conn.execute(
                claims.update()
                .where(and_(claims.c.name == name, claims.c.worker == self.worker_id))
                .values(worker=None)
            )

    def _me(self) -> str:
        if self.worker_id is None:
            raise RuntimeError("register() this process as a worker before it claims work")
        return self.worker_id

    @staticmethod
    def _live(conn: Connection, worker_id: str, now: datetime) -> Any:
        return conn.execute(
            select(workers).where(and_(workers.c.id == worker_id, workers.c.expires_at > iso(now)))
        ).first()

    # -- requests from the command line to a running worker -----------------------------

    def request(self, kind: str, subject: str = "") -> None:
        """Leave the workers a request (`fetch` a source now, `translate` now: the first
        worker to look takes it; `reload` with a worker id as subject: that worker);
        idempotent."""
        self.set_setting(f"{_REQUEST}{kind}:{subject}", iso(utcnow()) or "")

    def take_requests(self) -> list[tuple[str, str]]:
        """The requests waiting for this worker as (kind, subject), removed in the same
        transaction: every `fetch` and `translate`, and a `reload` addressed to it (or to
        nobody in particular)."""
        with self.begin() as conn:
            # Rows another worker is taking this moment are skipped: each request is taken once.
            keys = list(
                conn.execute(
                    select(meta.c.key)
                    .where(meta.c.key.like(f"{_REQUEST}%"))
                    .with_for_update(skip_locked=True)
                ).scalars()
            )
            taken: list[tuple[str, str]] = []
            mine: list[str] = []
            for key in keys:
                kind, _, subject = key.removeprefix(_REQUEST).partition(":")
                if kind == "reload" and subject not in ("", self.worker_id):
                    continue  # another worker's
                taken.append((kind, subject))
                mine.append(key)
            if mine:
                conn.execute(meta.delete().where(meta.c.key.in_(mine)))
        return taken


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A killed process its parent has not reaped yet (a shell's background job) still
    # answers signal 0; Linux says it is a zombie in /proc.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[:1] != ["Z"]
