"""Articles as the store keeps them.

Owns: reading and writing article rows: a batch transaction (what is held of a batch, live
stories by canonical key, then the inserts and updates ingest decided, with the translation
rows it asked for), a story's life (withdrawn by its source, a partner's tombstone or the
operator, restored, held under embargo and released), the change number every such write
takes (`counters`), what changed since a number, counts, and the stories for an edition.
Whether a story is new, changed or another source's duplicate, and what its translations need,
the ingest stage decides (syndication/ingest/decide.py).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, or_, select

from syndication.errors import StoreError
from syndication.model import (
    SHOWN_STATUSES,
    Article,
    StoredArticle,
    Translation,
    Withdrawal,
    utcnow,
)
from syndication.store.base import StoreBase, chunks, iso, parse_iso
from syndication.store.counters import current_change, next_change
from syndication.store.rows import (
    article_values,
    lifecycle_values,
    stored_article,
    translation_of,
)
from syndication.store.schema import articles, translations
from syndication.store.translations import add_pending, ensure_pending, mark_stale

# Who withdrew a story (articles.withdrawn_by); RESTORED marks a live story the operator
# brought back, which the source's old withdrawal does not take away again.
BY_SOURCE, BY_PARTNER, BY_OPERATOR, RESTORED = "source", "partner", "operator", "restored"
INGEST_LOCK_KEY = 0x73796E69  # the advisory lock serialising batch saves ("syni")


@dataclass(frozen=True)
class HeldArticle:
    """What the store holds of an article that arrives again."""

    id: str
    content_hash: str
    text_hash: str
    withdrawn: bool
    first_seen: datetime
    withdrawn_by: str = ""
    # Who the story is when its feed gives its guid to other stories too (ingest/decide.py).
    title: str = ""
    link: str = ""
    # The guid its source gave it, which its id is made of (`model.article_id`).
    guid: str = ""
    # Its dates as stored: a story whose dates alone moved is not a new version of it.
    published: datetime | None = None
    updated: datetime | None = None
    # Its text as stored: a story whose whitespace alone changed is not a new version of it.
    summary: str = ""
    content: str = ""


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
    published until then); `revised`: its text changed (a correction), so its `updated`
    moves; `keep_withdrawn`: the operator withdrew it, and a new copy from its source does not
    bring it back.
    """

    article: Article
    canonical: str
    first_seen: datetime
    translate_into: tuple[str, ...] = ()
    stale: bool = False
    revised: bool = False
    keep_withdrawn: bool = False


# The reads of every batch, built once: built at each call, a statement costs more to
# construct and key for SQLAlchemy's cache than SQLite takes to answer it (~90 us each).
_HELD = select(
    articles.c.id,
    articles.c.content_hash,
    articles.c.text_hash,
    articles.c.withdrawn,
    articles.c.first_seen,
    articles.c.withdrawn_by,
    articles.c.title,
    articles.c.link,
    articles.c.guid,
    articles.c.published,
    articles.c.updated,
    articles.c.summary,
    articles.c.content,
).where(articles.c.id.in_(bindparam("ids", expanding=True)))
# A source's own stories under canonical keys (a guid its partner changed): by the canonical
# index alone, the source tested in own_by_canonical, as for _LIVE_BY_CANONICAL below.
_OWN_BY_CANONICAL = select(
    *_HELD.selected_columns, articles.c.canonical, articles.c.source_id
).where(articles.c.canonical.in_(bindparam("keys", expanding=True)))
# Only the canonical key in SQL, the rest tested in live_by_canonical: given `withdrawn = 0` or
# the source list too, SQLite's planner walks the `articles_sort (withdrawn, …)` index over every
# live story instead of the canonical index, one scan per source polled (20 ms a source at
# 10,000 stories, growing with the store).
_LIVE_BY_CANONICAL = select(
    articles.c.id,
    articles.c.canonical,
    articles.c.source_id,
    articles.c.also_from,
    articles.c.withdrawn,
    articles.c.withdrawn_by,
).where(articles.c.canonical.in_(bindparam("keys", expanding=True)))


class ArticleBatch:
    """One transaction over a batch of articles: reads for deciding, then the writes decided."""

    def __init__(self, conn: Connection, now: datetime):
        self.conn = conn
        self.now = now
        self._change = 0

    @property
    def change(self) -> int:
        """This batch's change number, taken from the counter on the first write."""
        if not self._change:
            self._change = next_change(self.conn)
        return self._change

    def held(self, ids: Sequence[str]) -> dict[str, HeldArticle]:
        """What is held of each of `ids` (absent: never stored)."""
        found: dict[str, HeldArticle] = {}
        for chunk in chunks(list(ids)):
            for row in self.conn.execute(_HELD, {"ids": list(chunk)}):
                found[row.id] = self._held(row)
        return found

    def own_by_canonical(self, keys: Sequence[str], source_id: str) -> dict[str, list[HeldArticle]]:
        """What is held of `source_id`'s own stories under each of `keys`, withdrawn or not,
        the first seen first."""
        found: dict[str, list[HeldArticle]] = {}
        for chunk in chunks(list(keys)):
            for row in self.conn.execute(_OWN_BY_CANONICAL, {"keys": list(chunk)}):
                if row.source_id == source_id:
                    found.setdefault(row.canonical, []).append(self._held(row))
        for stories in found.values():
            stories.sort(key=lambda held: (held.first_seen, held.id))
        return found

    def _held(self, row: Any) -> HeldArticle:
        return HeldArticle(
            id=row.id,
            content_hash=row.content_hash,
            text_hash=row.text_hash,
            withdrawn=bool(row.withdrawn),
            first_seen=parse_iso(row.first_seen) or self.now,
            withdrawn_by=row.withdrawn_by,
            title=row.title,
            link=row.link,
            guid=row.guid,
            published=parse_iso(row.published),
            updated=parse_iso(row.updated),
            summary=row.summary,
            content=row.content,
        )

    def live_by_canonical(
        self, keys: Sequence[str], *, other_than: str, sources: Collection[str] | None = None
    ) -> dict[str, LiveStory]:
        """A live story held under each of `keys` from a source other than `other_than`
        (and, when `sources` is given, one of them). A story the operator withdrew counts
        as held: it stays withdrawn whatever source brings it, until `restore`."""
        found: dict[str, LiveStory] = {}
        live = set(sources) if sources is not None else None
        for chunk in chunks(list(keys)):
            for row in self.conn.execute(_LIVE_BY_CANONICAL, {"keys": list(chunk)}).all():
                withdrawn = row.withdrawn and row.withdrawn_by != BY_OPERATOR
                if withdrawn or row.source_id == other_than:
                    continue
                if live is not None and row.source_id not in live:
                    continue
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
            if write.revised:
                values["revised_at"] = iso(self.now)
            if write.keep_withdrawn:
                # The operator's withdrawal stands: only the text is kept up to date.
                for key in ("withdrawn", "withdrawn_by", "withdrawn_at", "withdrawn_reason"):
                    del values[key]
            self.conn.execute(
                articles.update().where(articles.c.id == write.article.id).values(values)
            )
            if write.stale:
                mark_stale(self.conn, write.article.id)
            if write.translate_into:
                ensure_pending(self.conn, write.article.id, write.translate_into, self.now)

    def _values(self, write: ArticleWrite) -> dict[str, Any]:
        values = article_values(
            write.article, canonical=write.canonical, first_seen=write.first_seen, now=self.now
        )
        values.update(lifecycle_values(write.article, self.change))
        return values


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

    def live_count(self, source_id: str) -> int:
        """How many of the source's stories are not withdrawn."""
        with self.begin() as conn:
            found = conn.execute(
                select(func.count())
                .select_from(articles)
                .where(and_(articles.c.source_id == source_id, articles.c.withdrawn == 0))
            ).scalar()
        return int(found or 0)

    def withdraw_missing(self, source_id: str, present: Iterable[str]) -> int:
        """Withdraw the source's articles not in `present` (their files were deleted)."""
        keep = set(present)
        now = utcnow()
        with self.begin() as conn:
            ids = conn.execute(
                select(articles.c.id).where(
                    and_(
                        articles.c.source_id == source_id,
                        articles.c.withdrawn == 0,
                        articles.c.withdrawn_by != RESTORED,
                    )
                )
            ).scalars()
            gone = [i for i in ids if i not in keep]
            if gone:
                _withdraw(conn, gone, BY_SOURCE, "its file was removed", now, next_change(conn))
        return len(gone)

    def withdraw_from_source(
        self, source_id: str, withdrawals: Sequence[Withdrawal], by: str = BY_SOURCE
    ) -> int:
        """Withdraw the live stories of `source_id` its source says are withdrawn (a file's
        `status: withdrawn`, a partner's tombstone); how many were live. A story the operator
        restored stays live until its source changes it again."""
        if not withdrawals:
            return 0
        now = utcnow()
        wanted = {w.article_id: w for w in withdrawals}
        done = 0
        with self.begin() as conn:
            live: list[str] = []
            for chunk in chunks(list(wanted)):
                live += conn.execute(
                    select(articles.c.id).where(
                        and_(
                            articles.c.id.in_(chunk),
                            articles.c.source_id == source_id,
                            articles.c.withdrawn == 0,
                            articles.c.withdrawn_by != RESTORED,
                        )
                    )
                ).scalars()
            if live:
                change = next_change(conn)
                for article_id in live:
                    # Withdrawn now, here: the partner's own `when` may be long past, and our
                    # tombstones run for 30 days from when our feeds dropped the story.
                    _withdraw(conn, [article_id], by, wanted[article_id].reason, now, change)
                    done += 1
        return done

    def withdraw(self, article_id: str, reason: str) -> StoredArticle:
        """The operator withdraws a story (`syndication withdraw`): it stays withdrawn, whatever
        its source sends, until `restore`. Raises StoreError for an unknown id."""
        with self.begin() as conn:
            row = conn.execute(select(articles).where(articles.c.id == article_id)).first()
            if row is None:
                raise StoreError(f"no story {article_id!r} in the store")
            if not (row.withdrawn and row.withdrawn_by == BY_OPERATOR):
                _withdraw(conn, [article_id], BY_OPERATOR, reason, utcnow(), next_change(conn))
            row = conn.execute(select(articles).where(articles.c.id == article_id)).one()
        return stored_article(row)

    def restore(self, article_id: str) -> StoredArticle:
        """Bring a withdrawn story back (`syndication restore`); returns it as it was before.
        Raises StoreError for an unknown id."""
        with self.begin() as conn:
            row = conn.execute(select(articles).where(articles.c.id == article_id)).first()
            if row is None:
                raise StoreError(f"no story {article_id!r} in the store")
            before = stored_article(row)
            if row.withdrawn:
                conn.execute(
                    articles.update()
                    .where(articles.c.id == article_id)
                    .values(
                        withdrawn=0,
                        withdrawn_by=RESTORED,
                        withdrawn_at=None,
                        withdrawn_reason="",
                        changed_at=iso(utcnow()),
                        change_seq=next_change(conn),
                    )
                )
        return before

    def withdrawn_stories(self, limit: int = 50) -> list[StoredArticle]:
        """Withdrawn stories, the latest withdrawal first (`status` lists them)."""
        query = (
            select(articles)
            .where(articles.c.withdrawn == 1)
            .order_by(articles.c.withdrawn_at.desc(), articles.c.id)
            .limit(limit)
        )
        with self.begin() as conn:
            return [stored_article(row) for row in conn.execute(query)]

    def withdrawn_since(self, since: datetime) -> dict[str, tuple[datetime, str]]:
        """Stories withdrawn at or after `since`: when, and why (their tombstones)."""
        query = select(articles.c.id, articles.c.withdrawn_at, articles.c.withdrawn_reason).where(
            and_(articles.c.withdrawn == 1, articles.c.withdrawn_at >= iso(since))
        )
        with self.begin() as conn:
            return {
                row.id: (parse_iso(row.withdrawn_at) or since, row.withdrawn_reason)
                for row in conn.execute(query)
            }

    def withdrawn_between(self, start: datetime, end: datetime) -> list[str]:
        """Stories withdrawn in [start, end) (their tombstones age out of the feeds)."""
        query = select(articles.c.id).where(
            and_(
                articles.c.withdrawn == 1,
                articles.c.withdrawn_at >= iso(start),
                articles.c.withdrawn_at < iso(end),
            )
        )
        with self.begin() as conn:
            return list(conn.execute(query).scalars())

    def dated_between(self, start: datetime, end: datetime) -> list[str]:
        """Live stories dated in [start, end) (they age out of `feeds.max_age`)."""
        query = select(articles.c.id).where(
            and_(
                articles.c.withdrawn == 0,
                articles.c.sort_date >= iso(start),
                articles.c.sort_date < iso(end),
            )
        )
        with self.begin() as conn:
            return list(conn.execute(query).scalars())

    def withdrawn_count(self) -> int:
        query = select(func.count()).select_from(articles).where(articles.c.withdrawn == 1)
        with self.begin() as conn:
            return int(conn.execute(query).scalar() or 0)

    # -- embargoes ----------------------------------------------------------------------

    def release_embargoes(self, after: datetime | None, now: datetime) -> list[str]:
        """Stories whose embargo ended in (`after`, `now`]: each takes a change number, so the
        publisher that looks for changes sees them (None: every embargo ended by `now`)."""
        ended = and_(articles.c.embargo.is_not(None), articles.c.embargo <= iso(now))
        if after is not None:
            ended = and_(ended, articles.c.embargo > iso(after))
        with self.begin() as conn:
            ids = list(conn.execute(select(articles.c.id).where(ended)).scalars())
            if ids:
                change = next_change(conn)
                for chunk in chunks(ids):
                    conn.execute(
                        articles.update().where(articles.c.id.in_(chunk)).values(change_seq=change)
                    )
        return ids

    def next_embargo(self, after: datetime) -> datetime | None:
        """The earliest embargo still ahead of `after` on a live story (None: none)."""
        query = select(func.min(articles.c.embargo)).where(
            and_(articles.c.embargo > iso(after), articles.c.withdrawn == 0)
        )
        with self.begin() as conn:
            return parse_iso(conn.execute(query).scalar())

    def embargoed_count(self, now: datetime | None = None) -> int:
        query = (
            select(func.count())
            .select_from(articles)
            .where(and_(articles.c.embargo > iso(now or utcnow()), articles.c.withdrawn == 0))
        )
        with self.begin() as conn:
            return int(conn.execute(query).scalar() or 0)

    # -- change tracking ----------------------------------------------------------------

    def change_mark(self) -> int:
        """The last change number handed out: what a publisher starting now can account for."""
        with self.begin() as conn:
            return current_change(conn)

    def changed_since(self, mark: int, upto: int | None = None) -> list[str]:
        """Ids of the articles changed after change `mark` (up to `upto`), oldest change first."""
        condition = articles.c.change_seq > mark
        if upto is not None:
            condition = and_(condition, articles.c.change_seq <= upto)
        query = select(articles.c.id).where(condition).order_by(articles.c.change_seq)
        with self.begin() as conn:
            return list(conn.execute(query).scalars())

    def ids_by_date(self) -> list[str]:
        """Every article id, the oldest story first (a full publish reads them in this order)."""
        query = select(articles.c.id).order_by(articles.c.sort_date, articles.c.id)
        with self.begin() as conn:
            return list(conn.execute(query).scalars())

    def stories(
        self, ids: Sequence[str], language: str
    ) -> dict[str, tuple[StoredArticle, Translation | None]]:
        """The stories with these ids, each with its translation into `language` (if any),
        whatever their state (withdrawn, held): the publisher decides what each shows."""
        t = translations.alias("t")
        join = articles.outerjoin(
            t, and_(t.c.article_id == articles.c.id, t.c.language == language)
        )
        found: dict[str, tuple[StoredArticle, Translation | None]] = {}
        with self.begin() as conn:
            for chunk in chunks(list(dict.fromkeys(ids))):
                query = (
                    select(articles, *[c.label(f"t_{c.name}") for c in t.c])
                    .select_from(join)
                    .where(articles.c.id.in_(chunk))
                )
                for row in conn.execute(query):
                    translation = translation_of(row, "t_") if row.t_status is not None else None
                    found[row.id] = (stored_article(row), translation)
        return found

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
        # A story under embargo is in no edition until its time.
        conditions = [
            articles.c.withdrawn == 0,
            or_(articles.c.embargo.is_(None), articles.c.embargo <= iso(utcnow())),
        ]
        if not include_untranslated:
            conditions.append(
                or_(
                    articles.c.language == language,
                    and_(t.c.status.in_(SHOWN_STATUSES), t.c.title != ""),
                )
            )
        if source_ids is not None:
            conditions.append(articles.c.source_id.in_(list(source_ids)))
        if since is not None:
            conditions.append(articles.c.sort_date >= iso(since))
        matches = topic_matches(t, tags, keywords)
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


def _withdraw(
    conn: Connection, ids: Sequence[str], by: str, reason: str, at: datetime, change: int
) -> None:
    for chunk in chunks(list(ids)):
        conn.execute(
            articles.update()
            .where(articles.c.id.in_(chunk))
            .values(
                withdrawn=1,
                withdrawn_by=by,
                withdrawn_at=iso(at),
                withdrawn_reason=reason,
                changed_at=iso(utcnow()),
                change_seq=change,
            )
        )


def topic_matches(t: Any, tags: Sequence[str], keywords: Sequence[str]) -> list[Any]:
    """A topic's conditions, any of which takes a story: one of its tags among the story's
    categories, or one of its keywords in the title or summary, original or translated (`t`:
    the translations joined for the edition's language)."""
    matches = [
        # Categories are stored as a JSON list: match a whole quoted element.
        # ilike: SQLite's LIKE ignores ASCII case, PostgreSQL's does not.
        articles.c.categories.ilike(f"%{_like(json.dumps(tag, ensure_ascii=False))}%", escape="\\")
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
    return matches


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
