"""Opening the store, and what every part of it shares.

Owns: the engine and what differs by database (SQLite: pragmas, one file; PostgreSQL: the
connection pool, READ COMMITTED, connections checked before use so a restarted server is
survived), a missing driver named, passwords kept out of messages, transactions (`begin`:
every database error a StoreError), the schema version on open, the store's identity and health
(file, integrity, row counts), timestamps as stored (`iso`/`parse_iso`), batched `IN (...)`
lookups, and the inserts both databases spell alike (`insert_new`, `upsert`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

from sqlalchemy import Connection, Engine, Table, create_engine, event, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
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
                kwargs["connect_args"] = {"timeout": 30}
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
                event.listen(engine, "connect", _sqlite_pragmas)
            store = cls(engine)
            if migrate:
                store.migrate()
            return store
        except ImportError as exc:
            raise StoreError(_missing_driver(url, exc)) from None
        except (SQLAlchemyError, OSError, ValueError) as exc:
            raise StoreError(f"store {_safe_url(url)} is unusable: {exc}") from exc

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        try:
            with self.engine.begin() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise store_error(exc) from exc

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


def store_error(exc: SQLAlchemyError) -> StoreError:
    """The database's error as ours: the driver's own words ("database or disk is full"), not
    the statement and its parameters (article text) SQLAlchemy appends; StoreUnreachable when
    a PostgreSQL server does not answer (the driver's connection errors carry no SQLSTATE,
    the server's own errors do)."""
    cause = getattr(exc, "orig", None) or str(exc).splitlines()[0]
    message = f"store error: {cause}"
    if isinstance(exc, DBAPIError) and (
        exc.connection_invalidated
        or (
            isinstance(exc, OperationalError | InterfaceError)
            and type(exc.orig).__module__.startswith("psycopg")
            and getattr(exc.orig, "sqlstate", None) is None
        )
    ):
        return StoreUnreachable(message)
    return StoreError(message)


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
    """Why the store URL cannot be used on this machine (its driver is missing), or None."""
    try:
        create_engine(url).dispose()
    except ImportError as exc:
        return _missing_driver(url, exc)
    except (SQLAlchemyError, ValueError) as exc:
        return f"store {_safe_url(url)}: {exc}"
    return None


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
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
