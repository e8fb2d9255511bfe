"""Control of the workers sharing a store.

Owns: the worker lock (taken, refreshed, taken over from a dead holder, released), requests the
command line leaves a running worker, and the settings the store remembers (`meta`).
"""

from __future__ import annotations

import os
import socket
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, and_, select
from sqlalchemy.exc import IntegrityError

from syndication.errors import StoreLocked
from syndication.model import utcnow
from syndication.store.base import StoreBase, iso, parse_iso
from syndication.store.schema import meta, worker_lock

LOCK_STALE_AFTER = timedelta(minutes=2)
_REQUEST = "request:"  # meta keys holding what the command line asked a running worker


def read_setting(conn: Connection, key: str) -> str | None:
    value = conn.execute(select(meta.c.value).where(meta.c.key == key)).scalar()
    return None if value is None else str(value)


class ControlMixin(StoreBase):
    # -- settings the store remembers ---------------------------------------------------

    def remembered(self, key: str, default: str) -> str:
        """The value first recorded under `key`; records `default` if there is none.

        For facts that must never change once published (the authority in item ids), even
        when the configuration that produced them later does.
        """
        with self.begin() as conn:
            value = read_setting(conn, key)
            if value is None:
                conn.execute(meta.insert().values(key=key, value=default))
                value = default
        return value

    def setting(self, key: str) -> str | None:
        with self.begin() as conn:
            return read_setting(conn, key)

    def set_setting(self, key: str, value: str) -> None:
        with self.begin() as conn:
            done = conn.execute(meta.update().where(meta.c.key == key).values(value=value))
            if done.rowcount == 0:
                conn.execute(meta.insert().values(key=key, value=value))

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
        with self.begin() as conn:
            conn.execute(
                worker_lock.update()
                .where(and_(worker_lock.c.name == name, worker_lock.c.pid == os.getpid()))
                .values(heartbeat_at=iso(utcnow()))
            )

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

    # -- requests from the command line to a running worker -----------------------------

    def request(self, kind: str, subject: str = "") -> None:
        """Leave the worker a request (`fetch` a source now, `translate` now); idempotent."""
        self.set_setting(f"{_REQUEST}{kind}:{subject}", iso(utcnow()) or "")

    def take_requests(self) -> list[tuple[str, str]]:
        """The waiting requests as (kind, subject), removed in the same transaction."""
        with self.begin() as conn:
            keys = list(
                conn.execute(select(meta.c.key).where(meta.c.key.like(f"{_REQUEST}%"))).scalars()
            )
            if keys:
                conn.execute(meta.delete().where(meta.c.key.in_(keys)))
        taken = []
        for key in keys:
            kind, _, subject = key.removeprefix(_REQUEST).partition(":")
            taken.append((kind, subject))
        return taken


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
