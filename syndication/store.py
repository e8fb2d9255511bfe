"""The store: the only place that speaks SQL (SQLAlchemy Core; SQLite by default).

Owns: the versioned schema and its ordered migrations, the worker lock, and every read and
write the stages make (sources' fetch state, articles, translations, translation memory,
published files). Writes are batched in one transaction per call, so a killed process leaves
either all or nothing of a call behind.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    Table,
    Text,
    and_,
    create_engine,
    event,
    func,
    or_,
    select,
    text,
    true,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from syndication.errors import StoreError, StoreLocked
from syndication.model import (
    Article,
    Enclosure,
    SourceState,
    StoredArticle,
    Translation,
    effective_date,
    utcnow,
)

BATCH = 500  # rows per IN(...) lookup: well under every database's parameter limit

metadata = MetaData()

schema_version = Table("schema_version", metadata, Column("version", Integer, nullable=False))

sources = Table(
    "sources",
    metadata,
    Column("id", Text, primary_key=True),
    Column("kind", Text, nullable=False),
    Column("location", Text, nullable=False),
    Column("etag", Text, nullable=False, default=""),
    Column("last_modified", Text, nullable=False, default=""),
    Column("last_attempt", Text),
    Column("last_success", Text),
    Column("result", Text, nullable=False, default="never"),
    Column("error", Text, nullable=False, default=""),
    Column("new_count", Integer, nullable=False, default=0),
    Column("updated_count", Integer, nullable=False, default=0),
    Column("unchanged_count", Integer, nullable=False, default=0),
    Column("failures", Integer, nullable=False, default=0),
    Column("next_due", Text),
    Column("redirect", Text, nullable=False, default=""),
    Column("notes", Text, nullable=False, default="[]"),
)

articles = Table(
    "articles",
    metadata,
    Column("id", Text, primary_key=True),
    Column("source_id", Text, nullable=False),
    Column("guid", Text, nullable=False),
    Column("link", Text, nullable=False, default=""),
    Column("canonical", Text, nullable=False, default=""),
    Column("title", Text, nullable=False, default=""),
    Column("summary", Text, nullable=False, default=""),
    Column("content", Text, nullable=False, default=""),
    Column("author", Text, nullable=False, default=""),
    Column("categories", Text, nullable=False, default="[]"),
    Column("image", Text, nullable=False, default=""),
    Column("enclosures", Text, nullable=False, default="[]"),
    Column("language", Text, nullable=False),
    Column("published", Text),
    Column("updated", Text),
    Column("source_title", Text, nullable=False, default=""),
    Column("source_url", Text, nullable=False, default=""),
    Column("first_seen", Text, nullable=False),
    Column("sort_date", Text, nullable=False),
    Column("content_hash", Text, nullable=False),
    Column("text_hash", Text, nullable=False),
    Column("withdrawn", Integer, nullable=False, default=0),
    Column("also_from", Text, nullable=False, default="[]"),
    Column("changed_at", Text, nullable=False),
    Column("credits", Text, nullable=False, default="[]"),
    Column("source_feed_id", Text, nullable=False, default=""),
    Column("source_feed_updated", Text),
)

translations = Table(
    "translations",
    metadata,
    Column("article_id", Text, primary_key=True),
    Column("language", Text, primary_key=True),
    Column("status", Text, nullable=False),
    Column("title", Text, nullable=False, default=""),
    Column("summary", Text, nullable=False, default=""),
    Column("content", Text, nullable=False, default=""),
    Column("provider", Text, nullable=False, default=""),
    Column("error", Text, nullable=False, default=""),
    Column("attempts", Integer, nullable=False, default=0),
    Column("text_hash", Text, nullable=False, default=""),
    Column("updated_at", Text),
    Column("next_attempt", Text),
)

memory = Table(
    "translation_memory",
    metadata,
    Column("key", Text, primary_key=True),
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
    Column("path", Text, primary_key=True),
    Column("sha256", Text, nullable=False),
    Column("size", Integer, nullable=False),
    Column("written_at", Text, nullable=False),
)

meta = Table(
    "meta",
    metadata,
    Column("key", Text, primary_key=True),
    Column("value", Text, nullable=False),
)

worker_lock = Table(
    "worker_lock",
    metadata,
    Column("name", Text, primary_key=True),
    Column("holder", Text, nullable=False),
    Column("host", Text, nullable=False),
    Column("pid", Integer, nullable=False),
    Column("heartbeat_at", Text, nullable=False),
)

# Ordered migrations: each entry takes the schema from version i to i+1. Never edit a
# released entry; append a new one (ALTER TABLE ...) so upgrades keep existing data.
_V1 = [
    """CREATE TABLE sources (
        id TEXT PRIMARY KEY, kind TEXT NOT NULL, location TEXT NOT NULL,
        etag TEXT NOT NULL DEFAULT '', last_modified TEXT NOT NULL DEFAULT '',
        last_attempt TEXT, last_success TEXT, result TEXT NOT NULL DEFAULT 'never',
        error TEXT NOT NULL DEFAULT '', new_count INTEGER NOT NULL DEFAULT 0,
        updated_count INTEGER NOT NULL DEFAULT 0, unchanged_count INTEGER NOT NULL DEFAULT 0,
        failures INTEGER NOT NULL DEFAULT 0, next_due TEXT, redirect TEXT NOT NULL DEFAULT '',
        notes TEXT NOT NULL DEFAULT '[]')""",
    """CREATE TABLE articles (
        id TEXT PRIMARY KEY, source_id TEXT NOT NULL, guid TEXT NOT NULL,
        link TEXT NOT NULL DEFAULT '', canonical TEXT NOT NULL DEFAULT '',
        title TEXT NOT NULL DEFAULT '', summary TEXT NOT NULL DEFAULT '',
        content TEXT NOT NULL DEFAULT '', author TEXT NOT NULL DEFAULT '',
        categories TEXT NOT NULL DEFAULT '[]', image TEXT NOT NULL DEFAULT '',
        enclosures TEXT NOT NULL DEFAULT '[]', language TEXT NOT NULL,
        published TEXT, updated TEXT, source_title TEXT NOT NULL DEFAULT '',
        source_url TEXT NOT NULL DEFAULT '', first_seen TEXT NOT NULL, sort_date TEXT NOT NULL,
        content_hash TEXT NOT NULL, text_hash TEXT NOT NULL,
        withdrawn INTEGER NOT NULL DEFAULT 0, also_from TEXT NOT NULL DEFAULT '[]',
        changed_at TEXT NOT NULL)""",
    "CREATE INDEX articles_sort ON articles (withdrawn, sort_date)",
    "CREATE INDEX articles_source ON articles (source_id, sort_date)",
    "CREATE INDEX articles_canonical ON articles (canonical)",
    """CREATE TABLE translations (
        article_id TEXT NOT NULL, language TEXT NOT NULL, status TEXT NOT NULL,
        title TEXT NOT NULL DEFAULT '', summary TEXT NOT NULL DEFAULT '',
        content TEXT NOT NULL DEFAULT '', provider TEXT NOT NULL DEFAULT '',
        error TEXT NOT NULL DEFAULT '', attempts INTEGER NOT NULL DEFAULT 0,
        text_hash TEXT NOT NULL DEFAULT '', updated_at TEXT, next_attempt TEXT,
        PRIMARY KEY (article_id, language))""",
    "CREATE INDEX translations_status ON translations (status, language)",
    """CREATE TABLE translation_memory (
        key TEXT PRIMARY KEY, source_lang TEXT NOT NULL, target_lang TEXT NOT NULL,
        provider TEXT NOT NULL, source_text TEXT NOT NULL, target_text TEXT NOT NULL,
        created_at TEXT NOT NULL)""",
    """CREATE TABLE published_files (
        path TEXT PRIMARY KEY, sha256 TEXT NOT NULL, size INTEGER NOT NULL,
        written_at TEXT NOT NULL)""",
    """CREATE TABLE worker_lock (
        name TEXT PRIMARY KEY, holder TEXT NOT NULL, host TEXT NOT NULL,
        pid INTEGER NOT NULL, heartbeat_at TEXT NOT NULL)""",
]

_V2 = [
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
]

# Photo credits of a story, and the partner feed's id and `updated` it was taken under.
_V3 = [
    "ALTER TABLE articles ADD COLUMN credits TEXT NOT NULL DEFAULT '[]'",
    "ALTER TABLE articles ADD COLUMN source_feed_id TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE articles ADD COLUMN source_feed_updated TEXT",
]

MIGRATIONS: list[list[str]] = [_V1, _V2, _V3]
SCHEMA_VERSION = len(MIGRATIONS)

LOCK_STALE_AFTER = timedelta(minutes=2)
_REQUEST = "request:"  # meta keys holding what the command line asked a running worker


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(value: str | None) -> datetime | None:
    if not value:
        return None
    # fromisoformat is many times faster than strptime, and status reads thousands of these.
    return datetime.fromisoformat(value)


def _chunks(items: Sequence[Any], size: int = BATCH) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def canonical_link(link: str) -> str:
    """The key under which the same story from two sources is recognised."""
    if not link:
        return ""
    link = link.strip().split("#", 1)[0]
    for prefix in ("https://", "http://"):
        if link.startswith(prefix):
            link = link[len(prefix) :]
    link = link.removeprefix("www.")
    return link.rstrip("/").lower()


class Store:
    """A handle on the database; create one per process with `Store.open(url)`."""

    def __init__(self, engine: Engine):
        self.engine = engine

    @classmethod
    def open(cls, url: str, *, migrate: bool = True) -> Store:
        """Connect, and (unless `migrate` is False) bring the schema up to date."""
        try:
            parsed = make_url(url)
            kwargs: dict[str, Any] = {}
            if parsed.get_backend_name() == "sqlite":
                if parsed.database and parsed.database != ":memory:":
                    Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
                kwargs["connect_args"] = {"timeout": 30}
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
            # The driver's own words ("database or disk is full"), not the statement and its
            # parameters (article text) SQLAlchemy appends.
            cause = getattr(exc, "orig", None) or str(exc).splitlines()[0]
            raise StoreError(f"store error: {cause}") from exc

    # -- schema -------------------------------------------------------------------------

    def migrate(self) -> int:
        """Bring the schema to SCHEMA_VERSION, one migration per transaction."""
        with self.engine.begin() as conn:
            conn.execute(text("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER)"))
            current = conn.execute(select(func.max(schema_version.c.version))).scalar() or 0
        if current > SCHEMA_VERSION:
            raise StoreError(
                f"the store has schema version {current}, newer than this program's "
                f"{SCHEMA_VERSION}: upgrade syndication"
            )
        for version in range(current, SCHEMA_VERSION):
            with self.engine.begin() as conn:
                for statement in MIGRATIONS[version]:
                    conn.execute(text(statement))
                conn.execute(schema_version.delete())
                conn.execute(schema_version.insert().values(version=version + 1))
        return SCHEMA_VERSION

    def version(self) -> int:
        """The schema version the database is at (0: an empty database)."""
        with self.begin() as conn:
            conn.execute(text("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER)"))
            return int(conn.execute(select(func.max(schema_version.c.version))).scalar() or 0)

    def integrity_problems(self) -> list[str]:
        """What SQLite's integrity and foreign-key checks report (empty: healthy)."""
        if self.engine.dialect.name != "sqlite":
            return []
        with self.begin() as conn:
            found = [str(row[0]) for row in conn.execute(text("PRAGMA integrity_check"))]
            keys = [str(tuple(row)) for row in conn.execute(text("PRAGMA foreign_key_check"))]
        return [line for line in found if line != "ok"] + keys

    # -- settings the store remembers ---------------------------------------------------

    def remembered(self, key: str, default: str) -> str:
        """The value first recorded under `key`; records `default` if there is none.

        For facts that must never change once published (the authority in item ids), even
        when the configuration that produced them later does.
        """
        with self.begin() as conn:
            value = conn.execute(select(meta.c.value).where(meta.c.key == key)).scalar()
            if value is None:
                conn.execute(meta.insert().values(key=key, value=default))
                value = default
        return str(value)

    def setting(self, key: str) -> str | None:
        with self.begin() as conn:
            value = conn.execute(select(meta.c.value).where(meta.c.key == key)).scalar()
        return None if value is None else str(value)

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

    # -- sources ------------------------------------------------------------------------

    def set_next_due(self, source_id: str, when: datetime) -> None:
        """When the source is polled next, as its schedule says (status shows it)."""
        with self.begin() as conn:
            conn.execute(
                sources.update().where(sources.c.id == source_id).values(next_due=iso(when))
            )

    def source_state(self, source_id: str) -> SourceState | None:
        with self.begin() as conn:
            row = conn.execute(select(sources).where(sources.c.id == source_id)).first()
        return _source_state(row) if row is not None else None

    def source_states(self) -> list[SourceState]:
        with self.begin() as conn:
            rows = conn.execute(select(sources).order_by(sources.c.id)).all()
        return [_source_state(row) for row in rows]

    def save_source_state(self, state: SourceState) -> None:
        values = {
            "kind": state.kind,
            "location": state.location,
            "etag": state.etag,
            "last_modified": state.last_modified,
            "last_attempt": iso(state.last_attempt),
            "last_success": iso(state.last_success),
            "result": state.result,
            "error": state.error,
            "new_count": state.new,
            "updated_count": state.updated,
            "unchanged_count": state.unchanged,
            "failures": state.failures,
            "next_due": iso(state.next_due),
            "redirect": state.redirect,
            "notes": json.dumps(list(state.notes), ensure_ascii=False),
        }
        with self.begin() as conn:
            done = conn.execute(
                sources.update().where(sources.c.id == state.source_id).values(**values)
            )
            if done.rowcount == 0:
                conn.execute(sources.insert().values(id=state.source_id, **values))

    # -- articles -----------------------------------------------------------------------

    def save_articles(
        self,
        source_id: str,
        batch: Sequence[Article],
        languages: Sequence[str],
        now: datetime | None = None,
        *,
        live_sources: Collection[str] | None = None,
    ) -> tuple[int, int, int]:
        """Insert new articles, update changed ones; return (new, updated, unchanged).

        New articles get a `pending` translation per language other than their own; changed
        text marks existing translations `stale` (kept published until re-translated). The same
        story already held from another source (same canonical link) is kept once, with this
        source recorded beside it; only a live story of one of `live_sources` (the configured
        ones, when given) counts, so a source removed or renamed in the YAML never keeps
        another's stories out of every feed. One transaction for the whole batch.
        """
        now = now or utcnow()
        stamp = iso(now)
        new = updated = unchanged = 0
        # Callers dedupe, but one id twice in a batch must never abort the whole batch.
        batch = list({a.id: a for a in reversed(batch)}.values())[::-1]
        with self.begin() as conn:
            existing: dict[str, Any] = {}
            ids = [a.id for a in batch]
            for chunk in _chunks(ids):
                for row in conn.execute(
                    select(
                        articles.c.id,
                        articles.c.content_hash,
                        articles.c.text_hash,
                        articles.c.withdrawn,
                        articles.c.first_seen,
                        articles.c.language,
                    ).where(articles.c.id.in_(chunk))
                ):
                    existing[row.id] = row
            links = sorted({canonical_link(a.link) for a in batch if a.id not in existing} - {""})
            elsewhere: dict[str, Any] = {}
            for chunk in _chunks(links):
                for row in conn.execute(
                    select(articles.c.id, articles.c.canonical, articles.c.also_from).where(
                        and_(
                            articles.c.canonical.in_(chunk),
                            articles.c.source_id != source_id,
                            articles.c.withdrawn == 0,
                            articles.c.source_id.in_(list(live_sources))
                            if live_sources is not None
                            else true(),
                        )
                    )
                ):
                    elsewhere.setdefault(row.canonical, row)
            inserts: list[dict[str, Any]] = []
            pending: list[dict[str, Any]] = []
            for article in batch:
                row = existing.get(article.id)
                if row is None:
                    canon = canonical_link(article.link)
                    other = elsewhere.get(canon) if canon else None
                    if other is not None:
                        also = json.loads(other.also_from)
                        if source_id not in also:
                            also.append(source_id)
                            conn.execute(
                                articles.update()
                                .where(articles.c.id == other.id)
                                .values(also_from=json.dumps(also))
                            )
                        unchanged += 1
                        continue
                    inserts.append(_article_row(article, first_seen=stamp, now=stamp))
                    pending.extend(
                        {
                            "article_id": article.id,
                            "language": lang,
                            "status": "pending",
                            "text_hash": "",
                            "updated_at": stamp,
                        }
                        for lang in languages
                        if lang != article.language
                    )
                    new += 1
                elif row.content_hash == article.content_hash and not row.withdrawn:
                    unchanged += 1
                else:
                    values = _article_row(article, first_seen=row.first_seen, now=stamp)
                    del values["id"]
                    conn.execute(
                        articles.update().where(articles.c.id == article.id).values(values)
                    )
                    if row.text_hash != article.text_hash:
                        # The translations must be redone; the old ones stay published
                        # (marked stale) until then, so a story never drops out of an edition.
                        conn.execute(
                            translations.update()
                            .where(
                                and_(
                                    translations.c.article_id == article.id,
                                    translations.c.status != "pending",
                                )
                            )
                            .values(status="stale", attempts=0, next_attempt=None, error="")
                        )
                        self._ensure_translation_rows(conn, article, languages, stamp)
                    updated += 1
            for chunk in _chunks(inserts):
                conn.execute(articles.insert(), list(chunk))
            for chunk in _chunks(pending):
                conn.execute(translations.insert(), list(chunk))
        return new, updated, unchanged

    def _ensure_translation_rows(
        self, conn: Connection, article: Article, languages: Sequence[str], stamp: str | None
    ) -> None:
        have = set(
            conn.execute(
                select(translations.c.language).where(translations.c.article_id == article.id)
            ).scalars()
        )
        for lang in languages:
            if lang != article.language and lang not in have:
                conn.execute(
                    translations.insert().values(
                        article_id=article.id, language=lang, status="pending", updated_at=stamp
                    )
                )

    def withdraw_missing(self, source_id: str, present: Iterable[str]) -> int:
        """Withdraw the source's articles not in `present` (their files were deleted)."""
        keep = set(present)
        with self.begin() as conn:
            ids = conn.execute(
                select(articles.c.id).where(
                    and_(articles.c.source_id == source_id, articles.c.withdrawn == 0)
                )
            ).scalars()
            gone = [i for i in ids if i not in keep]
            for chunk in _chunks(gone):
                conn.execute(
                    articles.update()
                    .where(articles.c.id.in_(chunk))
                    .values(withdrawn=1, changed_at=iso(utcnow()))
                )
        return len(gone)

    def article_count(
        self, source_id: str | None = None, *, include_withdrawn: bool = False
    ) -> int:
        query = select(func.count()).select_from(articles)
        if source_id is not None:
            query = query.where(articles.c.source_id == source_id)
        if not include_withdrawn:
            query = query.where(articles.c.withdrawn == 0)
        with self.begin() as conn:
            return int(conn.execute(query).scalar() or 0)

    def get_article(self, article_id: str) -> StoredArticle | None:
        with self.begin() as conn:
            row = conn.execute(select(articles).where(articles.c.id == article_id)).first()
        return _stored_article(row) if row is not None else None

    def articles_for_edition(
        self,
        language: str,
        *,
        limit: int,
        policy: str = "hold",
        source_ids: Sequence[str] | None = None,
        since: datetime | None = None,
        tags: Sequence[str] = (),
        keywords: Sequence[str] = (),
    ) -> list[tuple[StoredArticle, Translation | None]]:
        """The newest articles that belong in an edition of `language`, with its translation.

        With policy `hold` a story enters only in its own language or once translated (a stale
        translation still counts); with `original` every story enters, translated or not.
        `tags` keeps stories with any of those categories; `keywords` those whose title or
        summary, original or translated, contains any of the words.
        """
        t = translations.alias("t")
        join = articles.outerjoin(
            t, and_(t.c.article_id == articles.c.id, t.c.language == language)
        )
        query = select(articles, *[c.label(f"t_{c.name}") for c in t.c]).select_from(join)
        conditions = [articles.c.withdrawn == 0]
        if policy == "hold":
            conditions.append(
                or_(
                    articles.c.language == language,
                    and_(t.c.status.in_(("translated", "stale")), t.c.title != ""),
                )
            )
        if source_ids is not None:
            conditions.append(articles.c.source_id.in_(list(source_ids)))
        if since is not None:
            conditions.append(articles.c.sort_date >= iso(since))
        # A topic takes a story with any of its tags OR any of its keywords.
        matches = [
            # Categories are stored as a JSON list: match a whole quoted element.
            articles.c.categories.like(
                f"%{_like(json.dumps(tag, ensure_ascii=False))}%", escape="\\"
            )
            for tag in tags
        ]
        fields = (articles.c.title, articles.c.summary, t.c.title, t.c.summary)
        matches += [
            field.like(f"%{_like(form)}%", escape="\\")
            for word in keywords
            # The database's own case folding is ASCII-only: match the usual spellings of
            # a Cyrillic or Latin word ourselves (Фестиваль, фестиваль, ФЕСТИВАЛЬ).
            for form in dict.fromkeys((word, word.lower(), word.capitalize(), word.upper()))
            for field in fields
        ]
        if matches:
            conditions.append(or_(*matches))
        query = (
            query.where(and_(*conditions))
            .order_by(articles.c.sort_date.desc(), articles.c.id)
            .limit(limit)
        )
        with self.begin() as conn:
            rows = conn.execute(query).all()
        result: list[tuple[StoredArticle, Translation | None]] = []
        for row in rows:
            translation = None
            if row.t_status is not None:
                translation = Translation(
                    article_id=row.t_article_id,
                    language=row.t_language,
                    status=row.t_status,
                    title=row.t_title,
                    summary=row.t_summary,
                    content=row.t_content,
                    provider=row.t_provider,
                    error=row.t_error,
                    attempts=row.t_attempts,
                    updated_at=parse_iso(row.t_updated_at),
                )
            result.append((_stored_article(row), translation))
        return result

    # -- translations -------------------------------------------------------------------

    def translation_work(
        self, languages: Sequence[str], now: datetime | None = None, limit: int = 10_000
    ) -> list[tuple[StoredArticle, Translation]]:
        """Translations to do now: pending, stale, or failed and due for a retry."""
        stamp = iso(now or utcnow())
        query = (
            select(articles, *[c.label(f"t_{c.name}") for c in translations.c])
            .select_from(articles.join(translations, translations.c.article_id == articles.c.id))
            .where(
                and_(
                    articles.c.withdrawn == 0,
                    translations.c.language.in_(list(languages)),
                    or_(
                        translations.c.status.in_(("pending", "stale")),
                        and_(
                            translations.c.status == "failed",
                            or_(
                                translations.c.next_attempt.is_(None),
                                translations.c.next_attempt <= stamp,
                            ),
                        ),
                    ),
                )
            )
            .order_by(articles.c.sort_date.desc(), articles.c.id, translations.c.language)
            .limit(limit)
        )
        with self.begin() as conn:
            rows = conn.execute(query).all()
        return [
            (
                _stored_article(row),
                Translation(
                    article_id=row.t_article_id,
                    language=row.t_language,
                    status=row.t_status,
                    title=row.t_title,
                    summary=row.t_summary,
                    content=row.t_content,
                    provider=row.t_provider,
                    error=row.t_error,
                    attempts=row.t_attempts,
                ),
            )
            for row in rows
        ]

    def save_translation(
        self,
        translation: Translation,
        text_hash: str,
        next_attempt: datetime | None = None,
    ) -> bool:
        """Record a translation attempt; ignored (False) if the article changed meanwhile."""
        with self.begin() as conn:
            current = conn.execute(
                select(articles.c.text_hash).where(articles.c.id == translation.article_id)
            ).scalar()
            if current != text_hash:
                return False
            values: dict[str, Any] = {
                "status": translation.status,
                "provider": translation.provider,
                "error": translation.error,
                "attempts": translation.attempts,
                "next_attempt": iso(next_attempt),
            }
            if translation.status == "translated":
                # updated_at is when the published text last changed; a failed retry of a
                # stale translation must not move it (it would rewrite every feed).
                values.update(
                    updated_at=iso(utcnow()),
                    title=translation.title,
                    summary=translation.summary,
                    content=translation.content,
                    text_hash=text_hash,
                )
            conn.execute(
                translations.update()
                .where(
                    and_(
                        translations.c.article_id == translation.article_id,
                        translations.c.language == translation.language,
                    )
                )
                .values(**values)
            )
            if translation.status == "translated":
                conn.execute(
                    articles.update()
                    .where(articles.c.id == translation.article_id)
                    .values(changed_at=iso(utcnow()))
                )
        return True

    def backlog(self) -> dict[str, dict[str, int]]:
        """Translation counts per language and status, for live articles."""
        query = (
            select(translations.c.language, translations.c.status, func.count())
            .select_from(translations.join(articles, articles.c.id == translations.c.article_id))
            .where(articles.c.withdrawn == 0)
            .group_by(translations.c.language, translations.c.status)
        )
        result: dict[str, dict[str, int]] = {}
        with self.begin() as conn:
            for language, status, count in conn.execute(query):
                result.setdefault(language, {})[status] = int(count)
        return result

    def pending_by_source(self) -> dict[str, int]:
        query = (
            select(articles.c.source_id, func.count())
            .select_from(translations.join(articles, articles.c.id == translations.c.article_id))
            .where(and_(articles.c.withdrawn == 0, translations.c.status != "translated"))
            .group_by(articles.c.source_id)
        )
        with self.begin() as conn:
            return {source: int(count) for source, count in conn.execute(query)}

    def waiting_reasons(self, limit: int = 5) -> list[tuple[str, int]]:
        """Why pending stories wait (an outage: the last error of each), most common first.

        Failed ones (a bad answer, retried on their own schedule) are `failed_translations`."""
        query = (
            select(translations.c.error, func.count())
            .select_from(translations.join(articles, articles.c.id == translations.c.article_id))
            .where(
                and_(
                    articles.c.withdrawn == 0,
                    translations.c.status.in_(("pending", "stale")),
                    translations.c.error != "",
                )
            )
            .group_by(translations.c.error)
            .order_by(func.count().desc())
            .limit(limit)
        )
        with self.begin() as conn:
            return [(error, int(count)) for error, count in conn.execute(query)]

    def retry_failed(self) -> int:
        """Make every failed translation of a live article due now; how many there were."""
        live = select(articles.c.id).where(articles.c.withdrawn == 0)
        with self.begin() as conn:
            done = conn.execute(
                translations.update()
                .where(and_(translations.c.status == "failed", translations.c.article_id.in_(live)))
                .values(next_attempt=None)
            )
        return int(done.rowcount or 0)

    def failed_translations(self) -> list[Translation]:
        query = (
            select(translations)
            .select_from(translations.join(articles, articles.c.id == translations.c.article_id))
            .where(and_(articles.c.withdrawn == 0, translations.c.status == "failed"))
            .order_by(translations.c.article_id, translations.c.language)
        )
        with self.begin() as conn:
            return [
                Translation(
                    article_id=row.article_id,
                    language=row.language,
                    status=row.status,
                    provider=row.provider,
                    error=row.error,
                    attempts=row.attempts,
                )
                for row in conn.execute(query)
            ]

    # -- translation memory -------------------------------------------------------------

    def recall(self, keys: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        with self.begin() as conn:
            for chunk in _chunks(list(dict.fromkeys(keys))):
                for key, target in conn.execute(
                    select(memory.c.key, memory.c.target_text).where(memory.c.key.in_(chunk))
                ):
                    found[key] = target
        return found

    def remember(self, rows: Sequence[dict[str, str]]) -> None:
        """Store segment translations; a key already held is left as it is."""
        if not rows:
            return
        stamp = iso(utcnow())
        with self.begin() as conn:
            keys = [r["key"] for r in rows]
            held: set[str] = set()
            for chunk in _chunks(keys):
                held.update(
                    conn.execute(select(memory.c.key).where(memory.c.key.in_(chunk))).scalars()
                )
            fresh = {r["key"]: {**r, "created_at": stamp} for r in rows if r["key"] not in held}
            for chunk in _chunks(list(fresh.values())):
                conn.execute(memory.insert(), list(chunk))

    def memory_size(self) -> int:
        with self.begin() as conn:
            return int(conn.execute(select(func.count()).select_from(memory)).scalar() or 0)

    # -- published files ----------------------------------------------------------------

    def record_published(self, files: Sequence[tuple[str, str, int]]) -> None:
        """Remember (path, sha256, size) of files the publisher just wrote."""
        stamp = iso(utcnow())
        rows = [{"path": p, "sha256": d, "size": n, "written_at": stamp} for p, d, n in files]
        # Delete-then-insert in batches: portable across databases, and a cold publish of
        # thousands of files costs two statements per batch instead of two per file.
        with self.begin() as conn:
            for chunk in _chunks(rows):
                conn.execute(
                    published_files.delete().where(
                        published_files.c.path.in_([r["path"] for r in chunk])
                    )
                )
                conn.execute(published_files.insert(), list(chunk))

    def published(self) -> dict[str, tuple[str, int, datetime | None]]:
        with self.begin() as conn:
            return {
                row.path: (row.sha256, row.size, parse_iso(row.written_at))
                for row in conn.execute(select(published_files))
            }

    def last_publish(self) -> datetime | None:
        """When publishing last ran to the end (whether or not a file changed)."""
        return parse_iso(self.setting("last_publish"))

    def last_file_change(self) -> datetime | None:
        """When a published file last changed."""
        with self.begin() as conn:
            value = conn.execute(select(func.max(published_files.c.written_at))).scalar()
        return parse_iso(value)

    def last_change(self) -> datetime | None:
        with self.begin() as conn:
            value = conn.execute(select(func.max(articles.c.changed_at))).scalar()
        return parse_iso(value)

    def count_rows(self) -> dict[str, int]:
        """Row counts per table: what an idempotence check compares."""
        result: dict[str, int] = {}
        with self.begin() as conn:
            for table in (sources, articles, translations, memory, published_files):
                result[table.name] = int(
                    conn.execute(select(func.count()).select_from(table)).scalar() or 0
                )
        return result


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def check_driver(url: str) -> str | None:
    """Why the store URL cannot be used on this machine (its driver is missing), or None."""
    try:
        create_engine(url).dispose()
    except ImportError as exc:
        return _missing_driver(url, exc)
    except (SQLAlchemyError, ValueError) as exc:
        return f"store {_safe_url(url)}: {exc}"
    return None


def _missing_driver(url: str, exc: ImportError) -> str:
    module = getattr(exc, "name", None) or str(exc)
    return (
        f"store {_safe_url(url)} needs the database driver {module!r}, which is not "
        f"installed: pip install {module}"
    )


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _safe_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(unparsable URL)"


def _article_row(article: Article, *, first_seen: str | None, now: str | None) -> dict[str, Any]:
    published = iso(article.published)
    return {
        "id": article.id,
        "source_id": article.source_id,
        "guid": article.guid,
        "link": article.link,
        "canonical": canonical_link(article.link),
        "title": article.title,
        "summary": article.summary,
        "content": article.content,
        "author": article.author,
        "categories": json.dumps(list(article.categories), ensure_ascii=False),
        "image": article.image,
        "enclosures": json.dumps(
            [[e.url, e.type, e.length] for e in article.enclosures], ensure_ascii=False
        ),
        "language": article.language,
        "published": published,
        "updated": iso(article.updated),
        "source_title": article.source_title,
        "source_url": article.source_url,
        "first_seen": first_seen,
        "sort_date": _sort_date(article, first_seen),
        "content_hash": article.content_hash,
        "text_hash": article.text_hash,
        "withdrawn": 0,
        "changed_at": now,
        "credits": json.dumps(list(article.credits), ensure_ascii=False),
        "source_feed_id": article.source_feed_id,
        "source_feed_updated": iso(article.source_feed_updated),
    }


def _sort_date(article: Article, first_seen: str | None) -> str | None:
    seen = parse_iso(first_seen)
    if seen is None:
        return iso(article.published) or first_seen
    return iso(effective_date(article.published, seen))


def _stored_article(row: Any) -> StoredArticle:
    article = Article(
        id=row.id,
        source_id=row.source_id,
        guid=row.guid,
        title=row.title,
        link=row.link,
        summary=row.summary,
        content=row.content,
        author=row.author,
        categories=tuple(json.loads(row.categories)),
        image=row.image,
        enclosures=tuple(Enclosure(u, t, n) for u, t, n in json.loads(row.enclosures)),
        language=row.language,
        published=parse_iso(row.published),
        updated=parse_iso(row.updated),
        source_title=row.source_title,
        source_url=row.source_url,
        credits=tuple(json.loads(row.credits)),
        source_feed_id=row.source_feed_id,
        source_feed_updated=parse_iso(row.source_feed_updated),
    )
    return StoredArticle(
        article=article,
        first_seen=parse_iso(row.first_seen) or utcnow(),
        sources=(row.source_id, *json.loads(row.also_from)),
    )


def _source_state(row: Any) -> SourceState:
    return SourceState(
        source_id=row.id,
        kind=row.kind,
        location=row.location,
        last_attempt=parse_iso(row.last_attempt),
        last_success=parse_iso(row.last_success),
        result=row.result,
        error=row.error,
        new=row.new_count,
        updated=row.updated_count,
        unchanged=row.unchanged_count,
        failures=row.failures,
        next_due=parse_iso(row.next_due),
        etag=row.etag,
        last_modified=row.last_modified,
        redirect=row.redirect,
        notes=tuple(json.loads(row.notes)),
    )
