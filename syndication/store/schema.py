"""The store's schema: the one definition of each table, and the steps that upgrade old stores.

Owns: the tables (SQLAlchemy Core) with their defaults and indexes, SCHEMA_VERSION, creating a
fresh store at it, and the numbered migrations that take a store made by an earlier release
forward with its data (frozen DDL, as each release shipped it).
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    func,
    inspect,
    select,
    text,
)

from syndication.errors import StoreError

metadata = MetaData()
MIGRATE_LOCK_KEY = 0x7379_6E6D  # the advisory lock PostgreSQL migrations take turns on ("synm")


def _key(name: str) -> Column[str]:
    # The released DDL said `TEXT PRIMARY KEY`, which SQLite leaves nullable: a fresh store
    # says the same, so it is identical to one upgraded from an earlier release.
    return Column(name, Text, primary_key=True, nullable=True)


def _text(name: str, default: str = "") -> Column[str]:
    return Column(name, Text, nullable=False, server_default=default)


def _int(name: str) -> Column[int]:
    return Column(name, Integer, nullable=False, server_default=text("0"))


# Nullable, as every release has created it.
schema_version = Table("schema_version", metadata, Column("version", Integer))

sources = Table(
    "sources",
    metadata,
    _key("id"),
    Column("kind", Text, nullable=False),
    Column("location", Text, nullable=False),
    _text("etag"),
    _text("last_modified"),
    Column("last_attempt", Text),
    Column("last_success", Text),
    _text("result", "never"),
    _text("error"),
    _int("new_count"),
    _int("updated_count"),
    _int("unchanged_count"),
    _int("failures"),
    Column("next_due", Text),
    _text("redirect"),
    _text("notes", "[]"),
    Column("wait_until", Text),  # a partner's Retry-After: not polled before, even by `once`
)

articles = Table(
    "articles",
    metadata,
    _key("id"),
    Column("source_id", Text, nullable=False),
    Column("guid", Text, nullable=False),
    _text("link"),
    _text("canonical"),  # the key the same story from another source is recognised by
    _text("title"),
    _text("summary"),
    _text("content"),
    _text("author"),
    _text("categories", "[]"),
    _text("image"),
    _text("enclosures", "[]"),
    Column("language", Text, nullable=False),
    Column("published", Text),
    Column("updated", Text),
    _text("source_title"),
    _text("source_url"),
    Column("first_seen", Text, nullable=False),
    Column("sort_date", Text, nullable=False),
    Column("content_hash", Text, nullable=False),
    Column("text_hash", Text, nullable=False),
    _int("withdrawn"),
    _text("also_from", "[]"),  # the other sources the same story came from
    Column("changed_at", Text, nullable=False),
    _text("credits", "[]"),
    _text("source_feed_id"),
    Column("source_feed_updated", Text),
    # Schema 4: the story's life. Every write that changes how a story looks in any edition
    # takes a number from `counters` ("change_seq"), so a publisher that remembers the last
    # number it published reads only what changed since.
    _int("change_seq"),
    # Who withdrew a live story: "source" (its file says so, or is gone), "partner" (an RFC
    # 6721 tombstone), "operator" (`syndication withdraw`); "restored" on a story brought back
    # by `syndication restore`, which the source's old withdrawal no longer undoes.
    _text("withdrawn_by"),
    Column("withdrawn_at", Text),
    _text("withdrawn_reason"),
    Column("embargo", Text),  # held back from every edition until then
    Column("revised_at", Text),  # when its text last changed after it was first stored
    _text("correction"),  # the newsroom's correction note (also at the top of `content`)
    Index("articles_sort", "withdrawn", "sort_date"),
    Index("articles_source", "source_id", "sort_date"),
    Index("articles_canonical", "canonical"),
    Index("articles_change", "change_seq"),
    Index("articles_embargo", "embargo"),
)

translations = Table(
    "translations",
    metadata,
    Column("article_id", Text, primary_key=True),
    Column("language", Text, primary_key=True),
    Column("status", Text, nullable=False),
    _text("title"),
    _text("summary"),
    _text("content"),
    _text("provider"),
    _text("error"),
    _int("attempts"),
    _text("text_hash"),  # of the article text this translation was made from
    Column("updated_at", Text),
    Column("next_attempt", Text),
    Column("claimed_by", Text),  # the worker translating it now (workers.id), NULL: nobody
    Index("translations_status", "status", "language"),
    Index("translations_claimed", "claimed_by"),
)

memory = Table(
    "translation_memory",
    metadata,
    _key("key"),
    Column("source_lang", Text, nullable=False),
    Column("target_lang", Text, nullable=False),
    Column("provider", Text, nullable=False),
    Column("source_text", Text, nullable=False),
    Column("target_text", Text, nullable=False),
    Column("created_at", Text, nullable=False),
)

published_files = Table(
    "published_files",
    metadata,
    _key("path"),
    Column("sha256", Text, nullable=False),
    Column("size", Integer, nullable=False),
    Column("written_at", Text, nullable=False),
)

meta = Table(
    "meta",
    metadata,
    _key("key"),
    Column("value", Text, nullable=False),
)

# Numbers handed out in the transaction that uses them (one row per counter: "change_seq").
# On PostgreSQL the row's lock makes the order of numbers the order of commits.
counters = Table(
    "counters",
    metadata,
    _key("name"),
    Column("value", Integer, nullable=False, server_default=text("0")),
)

# Each version of a story in an edition, as the publisher first published it (append-only):
# `seq` orders them all (a story enters a feed with its first version); `status` is usable,
# canceled (withdrawn) or withheld (put under embargo after it was published); `digest` is of
# what a reader of that edition sees (of a withheld version: when its embargo ends).
story_versions = Table(
    "story_versions",
    metadata,
    Column("seq", Integer, primary_key=True),
    Column("article_id", Text, nullable=False),
    Column("edition", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("status", Text, nullable=False),
    Column("digest", Text, nullable=False),
    Column("at", Text, nullable=False),
    Index("story_versions_story", "article_id", "edition", "seq"),
    Index("story_versions_edition", "edition", "seq"),
)

# The stories of each published feed ("kk/", "kk/sources/x/", "kk/feeds/t/") by the order
# they entered it: rank 0 is the first. Archive pages are ranges of ranks (syndication.paging);
# a withdrawn story keeps its rank, so no later page shifts.
feed_entries = Table(
    "feed_entries",
    metadata,
    Column("feed", Text, primary_key=True),
    Column("rank", Integer, primary_key=True, autoincrement=False),
    Column("article_id", Text, nullable=False),
    Column("at", Text, nullable=False),
    Index("feed_entries_article", "article_id"),
    Index("feed_entries_at", "at"),
    Index("feed_entries_kept", "feed", "at", "rank"),
)

worker_lock = Table(
    "worker_lock",
    metadata,
    _key("name"),
    Column("holder", Text, nullable=False),
    Column("host", Text, nullable=False),
    Column("pid", Integer, nullable=False),
    Column("heartbeat_at", Text, nullable=False),
)

# What the object store of an `s3://` output holds as this service put it there, per output
# (`target`: its URL and endpoint) and key: the digest of the bytes uploaded, compared before
# each upload instead of listing the bucket; and the last upload that failed since (retried at
# the next publish, shown by `status`).
uploads = Table(
    "uploads",
    metadata,
    Column("target", Text, primary_key=True),
    Column("path", Text, primary_key=True),
    _text("sha256"),  # "" while nothing was uploaded there
    _int("size"),
    Column("uploaded_at", Text),
    _text("error"),  # "" unless the last upload of newer bytes failed
    Column("failed_at", Text),
)

# Who pulls what (issue 13): requests and 304s per partner by the hour (the last 24 hours are
# summed for `status`), and per partner the last request, the last API cursor served and the
# last refusal with the client's address (never a token).
partner_traffic = Table(
    "partner_traffic",
    metadata,
    Column("partner_id", Text, primary_key=True),
    Column("hour", Text, primary_key=True),  # 2025-05-05T10 (UTC)
    _int("requests"),
    _int("not_modified"),
)

partner_state = Table(
    "partner_state",
    metadata,
    _key("partner_id"),
    Column("last_request", Text),
    _text("last_cursor"),
    _text("last_cursor_edition"),
    Column("last_refused", Text),
    _text("last_refused_from"),
)

# Every `run` and `once` on the store, live or lately gone: a worker's claims hold while
# `expires_at` (its last heartbeat plus its lease) is in the future.
workers = Table(
    "workers",
    metadata,
    _key("id"),
    Column("holder", Text, nullable=False),
    Column("host", Text, nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", Text, nullable=False),
    Column("heartbeat_at", Text, nullable=False),
    Column("expires_at", Text, nullable=False),
    _text("address"),  # where it serves /metrics ("" when it serves nothing)
)

# What a worker holds now (`source:ID` while it polls it; `publish` while it publishes), and
# when it was last taken (for a source: when its last poll began, by whichever worker).
claims = Table(
    "claims",
    metadata,
    _key("name"),
    Column("worker", Text),  # workers.id; NULL: nobody holds it now
    Column("taken_at", Text),  # ISO 8601 to the microsecond
)

# The step that takes a store to each version from the one before, as that release shipped
# it. Every store made by a release began at version 1; a fresh one is created from the
# tables above at SCHEMA_VERSION instead, so a step only ever runs on an older store. Never
# edit a released step; change a table above AND append a step doing the same to old stores
# (tests/test_store.py checks the two agree).
# A statement is SQL both databases take, or SQL per dialect where they differ.
MIGRATIONS: dict[int, list[str | dict[str, str]]] = {
    2: ["CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"],
    # Photo credits of a story, and the partner feed's id and `updated` it was taken under.
    3: [
        "ALTER TABLE articles ADD COLUMN credits TEXT NOT NULL DEFAULT '[]'",
        "ALTER TABLE articles ADD COLUMN source_feed_id TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE articles ADD COLUMN source_feed_updated TEXT",
    ],
    # A story's life and change tracking: the change counter, withdrawals, embargoes,
    # corrections, the versions published and each feed's stories in the order they entered.
    4: [
        "ALTER TABLE articles ADD COLUMN change_seq INTEGER DEFAULT 0 NOT NULL",
        "ALTER TABLE articles ADD COLUMN withdrawn_by TEXT DEFAULT '' NOT NULL",
        "ALTER TABLE articles ADD COLUMN withdrawn_at TEXT",
        "ALTER TABLE articles ADD COLUMN withdrawn_reason TEXT DEFAULT '' NOT NULL",
        "ALTER TABLE articles ADD COLUMN embargo TEXT",
        "ALTER TABLE articles ADD COLUMN revised_at TEXT",
        "ALTER TABLE articles ADD COLUMN correction TEXT DEFAULT '' NOT NULL",
        "CREATE INDEX articles_change ON articles (change_seq)",
        "CREATE INDEX articles_embargo ON articles (embargo)",
        "CREATE TABLE counters (name TEXT, value INTEGER DEFAULT 0 NOT NULL, PRIMARY KEY (name))",
        "INSERT INTO counters (name, value) VALUES ('change_seq', 0)",
        # The seq a version is given as it is inserted: SQLite's INTEGER PRIMARY KEY is the
        # rowid; PostgreSQL's is a SERIAL, as a fresh store's (the same default, by name).
        {
            "sqlite": "CREATE TABLE story_versions (seq INTEGER NOT NULL, "
            "article_id TEXT NOT NULL, edition TEXT NOT NULL, version INTEGER NOT NULL, "
            "status TEXT NOT NULL, digest TEXT NOT NULL, at TEXT NOT NULL, PRIMARY KEY (seq))",
            "postgresql": "CREATE TABLE story_versions (seq SERIAL NOT NULL, "
            "article_id TEXT NOT NULL, edition TEXT NOT NULL, version INTEGER NOT NULL, "
            "status TEXT NOT NULL, digest TEXT NOT NULL, at TEXT NOT NULL, PRIMARY KEY (seq))",
        },
        "CREATE INDEX story_versions_story ON story_versions (article_id, edition, seq)",
        "CREATE INDEX story_versions_edition ON story_versions (edition, seq)",
        "CREATE TABLE feed_entries (feed TEXT NOT NULL, rank INTEGER NOT NULL, "
        "article_id TEXT NOT NULL, at TEXT NOT NULL, PRIMARY KEY (feed, rank))",
        "CREATE INDEX feed_entries_article ON feed_entries (article_id)",
        "CREATE INDEX feed_entries_at ON feed_entries (at)",
        "CREATE INDEX feed_entries_kept ON feed_entries (feed, at, rank)",
    ],
    # Who pulls what: partners' traffic by the hour and their last request, cursor, refusal.
    5: [
        "CREATE TABLE partner_traffic (partner_id TEXT NOT NULL, hour TEXT NOT NULL, "
        "requests INTEGER DEFAULT 0 NOT NULL, not_modified INTEGER DEFAULT 0 NOT NULL, "
        "PRIMARY KEY (partner_id, hour))",
        "CREATE TABLE partner_state (partner_id TEXT, last_request TEXT, "
        "last_cursor TEXT DEFAULT '' NOT NULL, last_cursor_edition TEXT DEFAULT '' NOT NULL, "
        "last_refused TEXT, last_refused_from TEXT DEFAULT '' NOT NULL, "
        "PRIMARY KEY (partner_id))",
    ],
    # Several workers on one store: the registry of workers, their claims, and who is
    # translating each translation now.
    6: [
        "CREATE TABLE workers (id TEXT PRIMARY KEY, holder TEXT NOT NULL, host TEXT NOT NULL, "
        "pid INTEGER NOT NULL, started_at TEXT NOT NULL, heartbeat_at TEXT NOT NULL, "
        "expires_at TEXT NOT NULL, address TEXT NOT NULL DEFAULT '')",
        "CREATE TABLE claims (name TEXT PRIMARY KEY, worker TEXT, taken_at TEXT)",
        "ALTER TABLE translations ADD COLUMN claimed_by TEXT",
        "CREATE INDEX translations_claimed ON translations (claimed_by)",
    ],
    # Publishing to an object store (s3:// output): what each key holds, failed uploads.
    7: [
        "CREATE TABLE uploads (target TEXT NOT NULL, path TEXT NOT NULL, "
        "sha256 TEXT NOT NULL DEFAULT '', size INTEGER NOT NULL DEFAULT 0, uploaded_at TEXT, "
        "error TEXT NOT NULL DEFAULT '', failed_at TEXT, PRIMARY KEY (target, path))",
    ],
    # Until when a partner asked (Retry-After) not to be polled: `once` keeps to it too.
    8: ["ALTER TABLE sources ADD COLUMN wait_until TEXT"],
}
SCHEMA_VERSION = max(MIGRATIONS)


def version_of(conn: Connection) -> int:
    """The schema version the database is at (0: an empty database)."""
    if not inspect(conn).has_table(schema_version.name):
        return 0
    return int(conn.execute(select(func.max(schema_version.c.version))).scalar() or 0)


def migrate(engine: Engine) -> int:
    """Bring the schema to SCHEMA_VERSION: create it afresh, or upgrade one step per
    transaction; refuse a store from a newer program. Several processes opening one store at
    once take turns: the first migrates, the others find it done."""
    with _one_at_a_time(engine):
        return _migrate(engine)


@contextmanager
def _one_at_a_time(engine: Engine) -> Iterator[None]:
    if engine.dialect.name != "postgresql":
        database = engine.url.database
        if not database or database == ":memory:":
            yield
            return
        # SQLite has one worker, but `serve`'s processes (and a command beside it) may open a
        # new store at once: between one's "no table yet" and its CREATE TABLE the other's
        # create fails. An flock makes them take turns; the second finds it done. On the
        # store's folder, never its file: closing any descriptor of the database file drops
        # every fcntl lock this process holds on it, SQLite's own (its connections then fail
        # with "disk I/O error" once another process writes).
        fd = os.open(os.path.dirname(os.path.abspath(database)), os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(select(func.pg_advisory_lock(MIGRATE_LOCK_KEY)))
        try:
            yield
        finally:
            conn.execute(select(func.pg_advisory_unlock(MIGRATE_LOCK_KEY)))


def _migrate(engine: Engine) -> int:
    with engine.begin() as conn:
        current = version_of(conn)
        if current > SCHEMA_VERSION:
            raise StoreError(
                f"the store has schema version {current}, newer than this program's "
                f"{SCHEMA_VERSION}: upgrade syndication"
            )
        if current == 0:
            metadata.create_all(conn)
            conn.execute(counters.insert().values(name="change_seq", value=0))
            _record(conn, SCHEMA_VERSION)
            return SCHEMA_VERSION
    for version in range(current + 1, SCHEMA_VERSION + 1):
        with engine.begin() as conn:
            # .get: a branch may hold a later step before the ones numbered below it.
            for statement in MIGRATIONS.get(version, ()):
                if isinstance(statement, dict):
                    statement = statement[conn.dialect.name]
                conn.execute(text(statement))
            _record(conn, version)
    return SCHEMA_VERSION


def _record(conn: Connection, version: int) -> None:
    conn.execute(schema_version.delete())
    conn.execute(schema_version.insert().values(version=version))
