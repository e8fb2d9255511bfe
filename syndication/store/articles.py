"""Articles as the store keeps them.

Owns: reading and writing article rows: a batch transaction (what is held of a batch, live
stories by canonical key, then the inserts and updates ingest decided, with the translation
rows it asked for), withdrawals, counts, and the newest stories for an edition. Whether a story
is new, changed or another source's duplicate, and what its translations need, the ingest
stage decides (syndication/ingest/decide.py).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select, true

from syndication.model import Article, StoredArticle, Translation, utcnow
from syndication.store.base import StoreBase, chunks, iso, parse_iso
from syndication.store.rows import article_values, stored_article, translation_of
from syndication.store.schema import articles, translations
from syndication.store.translations import add_pending, ensure_pending, mark_stale

INGEST_LOCK_KEY = 0x73796E69  # the advisory lock serialising batch saves ("syni")


@dataclass(frozen=True)
class HeldArticle:
    """What the store holds of an article that arrives again."""

    id: str
    content_hash: str
    text_hash: str
    withdrawn: bool
    first_seen: datetime


@dataclass(frozen=True)
class LiveStory:
    """A live article found under a canonical key, with every source it came from."""

    id: str
    sources: tuple[str, ...]


@dataclass(frozen=True)
class ArticleWrite:
    """An article to store (live), with the translation rows that go with it.

    `translate_into`: languages that must have a translation row (added as pending where
    there is none); `stale`: the article's existing translations are to be redone (each stays
    published until then).
    """

    article: Article
    canonical: str
    first_seen: datetime
    translate_into: tuple[str, ...] = ()
    stale: bool = False


class ArticleBatch:
    """One transaction over a batch of articles: reads for deciding, then the writes decided."""

    def __init__(self, conn: Connection, now: datetime):
        self.conn = conn
        self.now = now

    def held(self, ids: Sequence[str]) -> dict[str, HeldArticle]:
        """What is held of each of `ids` (absent: never stored)."""
        found: dict[str, HeldArticle] = {}
        columns = (
            articles.c.id,
            articles.c.content_hash,
            articles.c.text_hash,
            articles.c.withdrawn,
            articles.c.first_seen,
        )
        for chunk in chunks(list(ids)):
            for row in self.conn.execute(select(*columns).where(articles.c.id.in_(chunk))):
                found[row.id] = HeldArticle(
                    id=row.id,
                    content_hash=row.content_hash,
                    text_hash=row.text_hash,
                    withdrawn=bool(row.withdrawn),
                    first_seen=parse_iso(row.first_seen) or self.now,
                )
        return found

    def live_by_canonical(
        self, keys: Sequence[str], *, other_than: str, sources: Collection[str] | None = None
    ) -> dict[str, LiveStory]:
        """A live story held under each of `keys` from a source other than `other_than`
        (and, when `sources` is given, one of them)."""
        found: dict[str, LiveStory] = {}
        of_sources = articles.c.source_id.in_(list(sources)) if sources is not None else true()
        for chunk in chunks(list(keys)):
            query = select(
                articles.c.id, articles.c.canonical, articles.c.source_id, articles.c.also_from
            ).where(
                and_(
                    articles.c.canonical.in_(chunk),
                    articles.c.source_id != other_than,
                    articles.c.withdrawn == 0,
                    of_sources,
                )
            )
            for row in self.conn.execute(query):
                found.setdefault(
                    row.canonical,
                    LiveStory(row.id, (row.source_id, *json.loads(row.also_from))),
                )
        return found

    def add_source(self, article_id: str, source_id: str) -> None:
        """Record that the article came from `source_id` too."""
        held = self.conn.execute(
            select(articles.c.also_from).where(articles.c.id == article_id)
        ).scalar()
        also = json.loads(held or "[]")
        if source_id not in also:
            self.conn.execute(
                articles.update()
                .where(articles.c.id == article_id)
                .values(also_from=json.dumps([*also, source_id]))
            )

    def insert(self, writes: Sequence[ArticleWrite]) -> None:
        rows = [self._values(w) for w in writes]
        for chunk in chunks(rows):
            self.conn.execute(articles.insert(), list(chunk))
        wanted = [(w.article.id, lang) for w in writes for lang in w.translate_into]
        add_pending(self.conn, wanted, self.now)

    def update(self, writes: Sequence[ArticleWrite]) -> None:
        for write in writes:
            values = self._values(write)
            del values["id"]
            self.conn.execute(
                articles.update().where(articles.c.id == write.article.id).values(values)
            )
            if write.stale:
                mark_stale(self.conn, write.article.id)
            if write.translate_into:
                ensure_pending(self.conn, write.article.id, write.translate_into, self.now)

    def _values(self, write: ArticleWrite) -> dict[str, Any]:
        return article_values(
            write.article, canonical=write.canonical, first_seen=write.first_seen, now=self.now
        )


class ArticlesMixin(StoreBase):
    @contextmanager
    def article_batch(self, now: datetime | None = None) -> Iterator[ArticleBatch]:
        """A batch transaction at `now`: all of it is written, or none (a killed process).

        On a shared store one batch at a time, fleet-wide: what a batch decides from its
        reads (is this link already a live story of another source?) must still hold when
        it writes, or two workers saving the same story from two sources at once would both
        insert it. Batches are short (parsing happens before); this costs little."""
        with self.begin() as conn:
            if self.shared:
                conn.execute(select(func.pg_advisory_xact_lock(INGEST_LOCK_KEY)))
            yield ArticleBatch(conn, now or utcnow())

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
            for chunk in chunks(gone):
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
        return stored_article(row) if row is not None else None

    def last_change(self) -> datetime | None:
        with self.begin() as conn:
            value = conn.execute(select(func.max(articles.c.changed_at))).scalar()
        return parse_iso(value)

    def articles_for_edition(
        self,
        language: str,
        *,
        limit: int,
        include_untranslated: bool = False,
        source_ids: Sequence[str] | None = None,
        since: datetime | None = None,
        tags: Sequence[str] = (),
        keywords: Sequence[str] = (),
    ) -> list[tuple[StoredArticle, Translation | None]]:
        """The newest live articles for an edition of `language`, each with its translation.

        A story is in its own language, or translated (a stale translation still counts), or
        neither when `include_untranslated` (publishing's `untranslated: original`). `tags`
        keeps stories with any of those categories; `keywords` those whose title or summary,
        original or translated, contains any of the words.
        """
        t = translations.alias("t")
        join = articles.outerjoin(
            t, and_(t.c.article_id == articles.c.id, t.c.language == language)
        )
        query = select(articles, *[c.label(f"t_{c.name}") for c in t.c]).select_from(join)
        conditions = [articles.c.withdrawn == 0]
        if not include_untranslated:
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
            # ilike: SQLite's LIKE ignores ASCII case, PostgreSQL's does not.
            articles.c.categories.ilike(
                f"%{_like(json.dumps(tag, ensure_ascii=False))}%", escape="\\"
            )
            for tag in tags
        ]
        fields = (articles.c.title, articles.c.summary, t.c.title, t.c.summary)
        matches += [
            field.ilike(f"%{_like(form)}%", escape="\\")
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
        return [
            (stored_article(row), translation_of(row, "t_") if row.t_status is not None else None)
            for row in rows
        ]


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
