"""Opening the store, and what every part of it shares.

Owns: the engine and what differs by database (SQLite: pragmas, one file; PostgreSQL: the
connection pool, READ COMMITTED, connections checked before use so a restarted server is
survived), a missing driver named, transactions (`begin`: every database error a StoreError
naming the store, its password masked, and saying what to do: a SQLite file locked by another
process, damaged, or not SQLite), the schema version on open, the store's identity and health
(file, integrity, row counts), timestamps as stored (`iso`/`parse_iso`), batched `IN (...)`
lookups, and the inserts both databases spell alike (`insert_new`, `upsert`).
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

from sqlalchemy import Connection, Engine, Table, create_engine, event, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError

from syndication.errors import StoreError, StoreUnreachable
from syndication.store.schema import (
    articles,
    feed_entries,
    memory,
    published_files,
    sources,
    story_versions,
    translations,
    version_of,
)
from syndication.store.schema import migrate as migrate_schema

BATCH = 500  # rows per IN(...) lookup: well under every database's parameter limit
# A worker's connections to PostgreSQL: its jobs' threads (polls, parse results stored,
# translation, publishing and the lock it holds meanwhile, heartbeat, /healthz and /metrics)
# seldom need more than five at once; bursts may open ten more, closed again when idle.
PG_POOL_SIZE = 5
PG_MAX_OVERFLOW = 10
PG_CONNECT_TIMEOUT = 10  # seconds: a database that does not answer is an outage, said soon
# Seconds a SQLite statement waits for another process's lock on the file before it fails:
# the store URL's `?timeout=` (SQLAlchemy's own parameter for SQLite) sets it.
SQLITE_TIMEOUT = 30.0
BACKUPS = "restore it from a backup (README: Backups)"


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    # isoformat, not strftime: 4x faster (five of these in every article's row), and its year
    # always has four digits (glibc's %Y writes the year 999 as "999", which nothing reads).
    return value.replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def parse_iso(value: str | None) -> datetime | None:
    if not value:
        return None
    # fromisoformat is many times faster than strptime, and status reads thousands of these.
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        # A year written with fewer than four digits, as this store wrote years before 1000
        # until 2026-12: read as it was meant, not refused at every read of its row.
        padded = _SHORT_YEAR.sub(lambda m: m.group(1).zfill(4), value)
        if padded == value:
            raise
        return datetime.fromisoformat(padded)


_SHORT_YEAR = re.compile(r"^(\d{1,3})(?=-)")


def chunks(items: Sequence[Any], size: int = BATCH) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class StoreBase:
    """A handle on the database; the resource mixins of `Store` build on it."""

    def __init__(self, engine: Engine):
        self.engine = engine
        # Several processes may work on a PostgreSQL store at once (claiming their work);
        # a SQLite store has one worker, which holds its lock.
        self.shared = engine.dialect.name == "postgresql"
        self.worker_id: str | None = None  # set once this process registers as a worker

    @classmethod
    def open(cls, url: str, *, migrate: bool = True) -> Self:
        """Connect, and (unless `migrate` is False) bring the schema up to date."""
        try:
            parsed = make_url(url)
            kwargs: dict[str, Any] = {}
            if parsed.get_backend_name() == "sqlite":
                if parsed.database and parsed.database != ":memory:":
                    Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
                kwargs["connect_args"] = {"timeout": sqlite_timeout(parsed)}
            elif parsed.get_backend_name() == "postgresql":
                kwargs.update(
                    pool_size=PG_POOL_SIZE,
                    max_overflow=PG_MAX_OVERFLOW,
                    # A connection the server dropped (a restart, a failover) is replaced at
                    # checkout instead of failing the transaction that drew it.
                    pool_pre_ping=True,
                    # Each statement sees what was committed before it: the change counter
                    # row, updated in place under its row lock, numbers commits in order.
                    isolation_level="READ COMMITTED",
                    connect_args={
                        "connect_timeout": PG_CONNECT_TIMEOUT,
                        "application_name": "syndication",
                    },
                )
            engine = create_engine(url, **kwargs)
            if parsed.get_backend_name() == "sqlite":
                pragmas = functools.partial(_sqlite_pragmas, timeout=sqlite_timeout(parsed))
                event.listen(engine, "connect", pragmas)
            store = cls(engine)
            if migrate:
                store.migrate()
            return store
        except ImportError as exc:
            raise StoreError(_missing_driver(url, exc)) from None
        except SQLAlchemyError as exc:
            raise store_error(exc, url) from exc
        except StoreError as exc:  # the schema's own refusal ("newer than this program's")
            if exc.store:
                raise
            where = store_name(url)
            raise StoreError(f"store {where}: {exc}", store=where) from exc
        except (OSError, ValueError) as exc:
            where = store_name(url)
            raise StoreError(f"store {where} is unusable: {exc}", store=where) from exc

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        try:
            with self.engine.begin() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise store_error(exc, self.engine.url) from exc

    def migrate(self) -> int:
        """Bring the schema to SCHEMA_VERSION, one migration per transaction."""
        return migrate_schema(self.engine)

    def version(self) -> int:
        """The schema version the database is at (0: an empty database)."""
        with self.begin() as conn:
            return version_of(conn)

    def integrity_problems(self) -> list[str]:
        """What SQLite's integrity and foreign-key checks report (empty: healthy)."""
        if self.engine.dialect.name != "sqlite":
            return []
        with self.begin() as conn:
            found = [str(row[0]) for row in conn.execute(text("PRAGMA integrity_check"))]
            keys = [str(tuple(row)) for row in conn.execute(text("PRAGMA foreign_key_check"))]
        return [line for line in found if line != "ok"] + keys

    def file_identity(self) -> tuple[int, int] | None:
        """The SQLite file's (device, inode), None if gone; other databases: always None."""
        url = self.engine.url
        if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
            return None
        try:
            info = os.stat(url.database)
        except OSError:
            return None
        return info.st_dev, info.st_ino

    def describe(self) -> str:
        return _safe_url(self.engine.url.render_as_string(hide_password=False))

    def count_rows(self) -> dict[str, int]:
        """Row counts per table: what an idempotence check compares."""
        tables = (
            sources,
            articles,
            translations,
            memory,
            published_files,
            story_versions,
            feed_entries,
        )
        result: dict[str, int] = {}
        with self.begin() as conn:
            for table in tables:
                result[table.name] = int(
                    conn.execute(select(func.count()).select_from(table)).scalar() or 0
                )
        return result


def storable(values: dict[str, Any]) -> dict[str, Any]:
    """`values` without NUL characters in their text: PostgreSQL's text cannot hold one (SQLite
    would), and no feed or page may carry one anyway."""
    return {k: v.replace("\x00", "") if isinstance(v, str) else v for k, v in values.items()}


def store_error(exc: SQLAlchemyError, url: URL | str) -> StoreError:
    """The database's error as ours, naming the store at `url`: the driver's own words
    ("database or disk is full"), not the statement and its parameters (article text) nor the
    "Background on this error" link SQLAlchemy appends; for a SQLite file locked by another
    process, who holds it and how long we waited, for one damaged or not SQLite, to restore a
    backup. StoreUnreachable when a PostgreSQL server does not answer (the driver's connection
    errors carry no SQLSTATE, the server's own errors do)."""
    orig = getattr(exc, "orig", None)
    cause = _one_line(str(orig) if orig is not None else str(exc).splitlines()[0])
    where = store_name(url)
    name = str(getattr(orig, "sqlite_errorname", ""))
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        message = _locked(where, url, name, cause)
    elif name.startswith("SQLITE_CORRUPT"):
        message = f"store {where} is damaged ({cause}): {BACKUPS}"
    elif name == "SQLITE_NOTADB":
        message = (
            f"store {where} is damaged or not a SQLite database ({cause}): {BACKUPS}, or "
            "point store: at the right file"
        )
    else:
        message = f"store {where}: {cause}"
    if isinstance(exc, DBAPIError) and (
        exc.connection_invalidated
        or (
            isinstance(exc, OperationalError | InterfaceError)
            and type(orig).__module__.startswith("psycopg")
            and getattr(orig, "sqlstate", None) is None
        )
    ):
        return StoreUnreachable(message, store=where)
    return StoreError(message, store=where)


def store_name(url: URL | str) -> str:
    """How messages name a store: a SQLite store by its file, any other by its URL with the
    password masked."""
    try:
        parsed = make_url(url)
    except Exception:
        return "(unparsable URL)"
    if parsed.get_backend_name() == "sqlite":
        return parsed.database or ":memory:"
    return parsed.render_as_string(hide_password=True)


def sqlite_timeout(url: URL) -> float:
    """Seconds a SQLite statement waits for a lock: the URL's `?timeout=`, else 30."""
    value = url.query.get("timeout")
    if value is None:
        return SQLITE_TIMEOUT
    try:
        seconds = float(value if isinstance(value, str) else value[-1])
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 86400:  # also refuses nan
        raise ValueError(f"timeout={value!r} in the store URL is not a number of seconds")
    return seconds


def _locked(where: str, url: URL | str, name: str, cause: str) -> str:
    holders = _lock_holders(where)
    who = f" ({', '.join(holders)})" if holders else ""
    if name == "SQLITE_BUSY_SNAPSHOT":  # no wait: another process wrote since this one read
        return f"store {where} was written by another process{who} meanwhile ({cause}): try again"
    return (
        f"store {where} is locked by another process{who}: waited "
        f"{sqlite_timeout(make_url(url)):g} s for it ({cause}); "
        "try again once it is done, or give the store URL ?timeout=SECONDS to wait longer"
    )


def _lock_holders(path: str) -> list[str]:
    """The other processes holding a write lock on the SQLite file or its -wal or -shm file,
    as "pid N (name)", from Linux's /proc/locks (elsewhere, or when none is seen: none)."""
    files: set[tuple[int, int, int]] = set()
    for name in (path, f"{path}-wal", f"{path}-shm"):
        try:
            info = os.stat(name)
        except OSError:
            continue
        files.add((os.major(info.st_dev), os.minor(info.st_dev), info.st_ino))
    try:
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return []
    pids: set[int] = set()
    for line in lines:
        # "1: POSIX  ADVISORY  WRITE 14005 fe:00:2155049 120 120"; "1: -> …" a waiter's line
        fields = line.split()
        if len(fields) < 6 or fields[1] == "->" or fields[3] != "WRITE":
            continue
        try:
            pid = int(fields[4])
            major, minor, inode = fields[5].split(":")
            key = (int(major, 16), int(minor, 16), int(inode))
        except ValueError:
            continue
        if key in files and pid > 0 and pid != os.getpid():
            pids.add(pid)
    return [f"pid {pid} ({_process_name(pid)})" for pid in sorted(pids)]


def _process_name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() or "?"
    except OSError:
        return "?"


def _one_line(text: str) -> str:
    """A driver's message on one line: libpq's hint on a line of its own joined as a sentence,
    runs of spaces ("FATAL:  database …") closed up."""
    parts = [" ".join(line.split()) for line in text.splitlines()]
    joined = ""
    for part in filter(None, parts):
        if joined:
            joined += " " if joined[-1] in ".;:?!" else ". "
        joined += part
    return joined


def insert_new(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert `rows`, leaving any whose key is already held as it is (another worker may
    have inserted it a moment ago: both databases' ON CONFLICT DO NOTHING)."""
    if rows:
        conn.execute(_dialect_insert(conn, table).on_conflict_do_nothing(), list(rows))


def upsert(conn: Connection, table: Table, values: dict[str, Any], key: Sequence[str]) -> None:
    """Insert the row, or update the one holding its `key` columns: one statement, so two
    workers writing the same row at once never fail on a duplicate key."""
    changed = {k: v for k, v in values.items() if k not in key}
    statement = _dialect_insert(conn, table).values(**values)
    if changed:
        statement = statement.on_conflict_do_update(index_elements=list(key), set_=changed)
    else:
        statement = statement.on_conflict_do_nothing()
    conn.execute(statement)


def upsert_many(
    conn: Connection, table: Table, rows: Sequence[dict[str, Any]], key: Sequence[str]
) -> None:
    """`upsert` of many rows with the same columns: one compiled statement, executed for all
    (each row's non-key columns taken from the row itself where its key is held)."""
    if not rows:
        return
    statement = _dialect_insert(conn, table)
    changed = {k: statement.excluded[k] for k in rows[0] if k not in key}
    statement = statement.on_conflict_do_update(index_elements=list(key), set_=changed)
    conn.execute(statement, list(rows))


def _dialect_insert(conn: Connection, table: Table) -> Any:
    # ON CONFLICT is spelled the same by SQLite (3.24+) and PostgreSQL, but SQLAlchemy builds
    # it from each dialect's own insert().
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def check_driver(url: str) -> str | None:
    """Why the store URL cannot be used on this machine (its driver is missing, its
    `?timeout=` no number), or None."""
    try:
        engine = create_engine(url)
        if engine.dialect.name == "sqlite":
            sqlite_timeout(engine.url)
        engine.dispose()
    except ImportError as exc:
        return _missing_driver(url, exc)
    except SQLAlchemyError as exc:
        return str(store_error(exc, url))
    except ValueError as exc:
        return f"store {_safe_url(url)}: {exc}"
    return None


def _sqlite_pragmas(dbapi_conn: Any, _record: Any, *, timeout: float = SQLITE_TIMEOUT) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _missing_driver(url: str, exc: ImportError) -> str:
    module = getattr(exc, "name", None) or str(exc)
    return (
        f"store {_safe_url(url)} needs the database driver {module!r}, which is not "
        f"installed: pip install {module}"
    )


def _safe_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(unparsable URL)"
