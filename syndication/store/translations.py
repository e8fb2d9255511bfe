"""Translations and the translation memory as the store keeps them.

Owns: each story's translation per language (pending, translated, failed, stale) with its
attempts and next retry, the work due now (claimed by the worker asking, when it is a
registered worker: see store/control.py), the backlog and why it waits, and the memory of
segment translations. Which translations an article needs, and when they go stale, the
ingest stage decides; `add_pending`/`ensure_pending`/`mark_stale` carry it out.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, false, func, or_, select, true, tuple_

from syndication.model import StoredArticle, Translation, utcnow
from syndication.store.base import StoreBase, chunks, insert_new, iso, storable
from syndication.store.counters import next_change
from syndication.store.rows import stored_article, translation_of
from syndication.store.schema import articles, memory, translations, workers

# Translations one worker claims at a time on a shared store: enough for a run to pack its
# requests well, few enough that a big backlog is shared among the workers.
CLAIM_BATCH = 500


def add_pending(conn: Connection, wanted: Sequence[tuple[str, str]], now: datetime) -> None:
    """Add a pending translation for each (article id, language) of new articles."""
    stamp = iso(now)
    rows = [
        {
            "article_id": article_id,
            "language": language,
            "status": "pending",
            "text_hash": "",
            "updated_at": stamp,
        }
        for article_id, language in wanted
    ]
    for chunk in chunks(rows):
        conn.execute(translations.insert(), list(chunk))


def ensure_pending(
    conn: Connection, article_id: str, languages: Sequence[str], now: datetime
) -> None:
    """Add a pending translation into each of `languages` the article has none in yet."""
    have = set(
        conn.execute(
            select(translations.c.language).where(translations.c.article_id == article_id)
        ).scalars()
    )
    for lang in languages:
        if lang not in have:
            conn.execute(
                translations.insert().values(
                    article_id=article_id, language=lang, status="pending", updated_at=iso(now)
                )
            )


def mark_stale(conn: Connection, article_id: str) -> None:
    """The article's translations must be redone; each stays published (as `stale`) until then."""
    conn.execute(
        translations.update()
        .where(and_(translations.c.article_id == article_id, translations.c.status != "pending"))
        .values(status="stale", attempts=0, next_attempt=None, error="")
    )


_WITH_ARTICLE = translations.join(articles, articles.c.id == translations.c.article_id)


Pair = tuple[str, str]  # (the article's language, the translation's)


def _waiting(languages: Sequence[str], stamp: str | None) -> ColumnElement[bool]:
    """Translations into `languages` with work at `stamp`: pending, stale, or failed and due
    for a retry (whatever their story)."""
    return and_(
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


def _due(languages: Sequence[str], stamp: str | None) -> ColumnElement[bool]:
    """Translations to do at `stamp`, their story joined: `_waiting`, of a live story."""
    return and_(articles.c.withdrawn == 0, _waiting(languages, stamp))


def _live() -> ColumnElement[bool]:
    """The translation's story is not withdrawn (withdrawn ones are few: read once, through
    the `articles_sort (withdrawn, …)` index)."""
    withdrawn = select(articles.c.id).where(articles.c.withdrawn == 1)
    return translations.c.article_id.not_in(withdrawn)


def _live_due(languages: Sequence[str], stamp: str | None) -> ColumnElement[bool]:
    """`_due` on the translations table alone."""
    return and_(_live(), _waiting(languages, stamp))


def _other_than(keys: Collection[tuple[str, str]]) -> ColumnElement[bool]:
    return and_(
        true(),
        *(
            or_(translations.c.article_id != article_id, translations.c.language != language)
            for article_id, language in keys
        ),
    )


def _of_pairs(pairs: Collection[Pair]) -> ColumnElement[bool]:
    return or_(
        false(),
        *(
            and_(articles.c.language == source, translations.c.language == target)
            for source, target in pairs
        ),
    )


class TranslationsMixin(StoreBase):
    def translation_work(
        self,
        languages: Sequence[str],
        now: datetime | None = None,
        limit: int = 10_000,
        *,
        pairs: Collection[Pair] | None = None,
        newest_first: bool = True,
    ) -> list[tuple[StoredArticle, Translation]]:
        """Translations to do now: pending, stale, or failed and due for a retry (only those
        of the language `pairs`, when given), newest story first unless `newest_first` is
        False (any order: the first found, with no sort over the whole backlog).

        Asked by a registered worker, they are claimed for it (up to CLAIM_BATCH on a shared
        store), giving up what it claimed before: no other worker gets them until it saves
        each, releases them, or its lease runs out."""
        stamp = iso(now or utcnow())
        query = (
            select(articles, *[c.label(f"t_{c.name}") for c in translations.c])
            .select_from(articles.join(translations, translations.c.article_id == articles.c.id))
            .where(_due(languages, stamp))
            .order_by(articles.c.sort_date.desc(), articles.c.id, translations.c.language)
            .limit(limit)
        )
        if pairs is not None:
            query = query.where(_of_pairs(pairs))
        if not newest_first:
            query = query.order_by(None)
        me = self.worker_id
        if me is None:
            with self.begin() as conn:
                rows = conn.execute(query).all()
            return [(stored_article(row), translation_of(row, "t_")) for row in rows]
        live = select(workers.c.id).where(workers.c.expires_at > iso(utcnow()))
        free = or_(translations.c.claimed_by.is_(None), translations.c.claimed_by.not_in(live))
        query = (
            # A SQLite store's one worker holds its lock: any other claim is a dead worker's.
            query.where(free if self.shared else true())
            .limit(min(limit, CLAIM_BATCH) if self.shared else limit)
            # Rows another worker is claiming this moment are passed over, not waited for.
            .with_for_update(of=translations, skip_locked=True)
        )
        with self.begin() as conn:
            conn.execute(
                translations.update().where(translations.c.claimed_by == me).values(claimed_by=None)
            )
            rows = conn.execute(query).all()
            keys = [(row.id, row.t_language) for row in rows]
            for chunk in chunks(keys):
                conn.execute(
                    translations.update()
                    .where(tuple_(translations.c.article_id, translations.c.language).in_(chunk))
                    .values(claimed_by=me)
                )
        return [(stored_article(row), translation_of(row, "t_")) for row in rows]

    def translation_due(
        self,
        languages: Sequence[str],
        now: datetime | None = None,
        *,
        exclude: Collection[tuple[str, str]] = (),
    ) -> dict[Pair, int]:
        """How many translations `translation_work` has to do now, by language pair, leaving
        out the (article id, language) in `exclude`: counted in the database, no story read."""
        query = (
            select(articles.c.language, translations.c.language, func.count())
            .select_from(articles.join(translations, translations.c.article_id == articles.c.id))
            .where(and_(_due(languages, iso(now or utcnow())), _other_than(exclude)))
            .group_by(articles.c.language, translations.c.language)
        )
        with self.begin() as conn:
            return {(source, target): int(n) for source, target, n in conn.execute(query)}

    def translation_due_by_language(
        self,
        languages: Sequence[str],
        now: datetime | None = None,
        *,
        exclude: Collection[tuple[str, str]] = (),
    ) -> dict[str, int]:
        """`translation_due` by target language only: the same rows, counted from the
        translations' status index without looking each story up (a few milliseconds where
        the count by pair takes a second for a backlog of tens of thousands)."""
        stamp = iso(now or utcnow())
        query = (
            select(translations.c.language, func.count())
            .where(
                and_(
                    _live_due(languages, stamp),
                    _other_than(exclude),
                )
            )
            .group_by(translations.c.language)
        )
        with self.begin() as conn:
            return {target: int(n) for target, n in conn.execute(query)}

    def note_waiting(
        self, pair: Pair | None, reason: str, languages: Sequence[str] | None = None
    ) -> int:
        """Record `reason` as why the pair's pending and stale translations wait (every
        pair's, into `languages`, when `pair` is None), in one statement that rewrites only
        the rows saying something else (each counting the attempt that found the new reason,
        as a translation tried and failed does); how many it changed."""
        waiting = [
            translations.c.status.in_(("pending", "stale")),
            translations.c.error != reason,
        ]
        if pair is None:
            waiting += [translations.c.language.in_(list(languages or ())), _live()]
        else:
            source, target = pair
            # Correlated on the primary key: only rows the status index finds saying
            # something else look their article up (none, while an outage goes on).
            waiting += [
                translations.c.language == target,
                select(articles.c.id)
                .where(
                    and_(
                        articles.c.id == translations.c.article_id,
                        articles.c.language == source,
                        articles.c.withdrawn == 0,
                    )
                )
                .exists(),
            ]
        with self.begin() as conn:
            done = conn.execute(
                translations.update()
                .where(and_(*waiting))
                .values(error=reason, attempts=translations.c.attempts + 1)
            )
        return int(done.rowcount or 0)

    def save_translation(
        self,
        translation: Translation,
        text_hash: str,
        next_attempt: datetime | None = None,
    ) -> bool:
        """Record a translation attempt (giving up its claim); ignored (False) if the article
        changed meanwhile."""
        with self.begin() as conn:
            # The article row first, as ingest does: two writers taking the article's and its
            # translations' rows in the same order never deadlock.
            current = conn.execute(
                select(articles.c.text_hash)
                .where(articles.c.id == translation.article_id)
                .with_for_update()
            ).scalar()
            if current != text_hash:
                return False
            values: dict[str, Any] = {
                "status": translation.status,
                "provider": translation.provider,
                "error": translation.error,
                "attempts": translation.attempts,
                "next_attempt": iso(next_attempt),
                "claimed_by": None,
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
                .values(**storable(values))
            )
            if translation.status == "translated":
                # A new text in an edition: the publisher finds it by its change number.
                conn.execute(
                    articles.update()
                    .where(articles.c.id == translation.article_id)
                    .values(changed_at=iso(utcnow()), change_seq=next_change(conn))
                )
        return True

    def backlog(self) -> dict[str, dict[str, int]]:
        """Translation counts per language and status, for live articles."""
        query = (
            select(translations.c.language, translations.c.status, func.count())
            .select_from(_WITH_ARTICLE)
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
            .select_from(_WITH_ARTICLE)
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
            .select_from(_WITH_ARTICLE)
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
            .select_from(_WITH_ARTICLE)
            .where(and_(articles.c.withdrawn == 0, translations.c.status == "failed"))
            .order_by(translations.c.article_id, translations.c.language)
        )
        with self.begin() as conn:
            return [translation_of(row) for row in conn.execute(query)]

    # -- translation memory -------------------------------------------------------------

    def recall(self, keys: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        with self.begin() as conn:
            for chunk in chunks(list(dict.fromkeys(keys))):
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
            for chunk in chunks(keys):
                held.update(
                    conn.execute(select(memory.c.key).where(memory.c.key.in_(chunk))).scalars()
                )
            fresh = {r["key"]: {**r, "created_at": stamp} for r in rows if r["key"] not in held}
            # Another worker may remember the same segment at the same moment.
            for chunk in chunks(list(fresh.values())):
                insert_new(conn, memory, chunk)

    def forget(self, keys: Sequence[str]) -> None:
        """Drop remembered segment translations (an answer found bad when read back)."""
        with self.begin() as conn:
            for chunk in chunks(list(dict.fromkeys(keys))):
                conn.execute(memory.delete().where(memory.c.key.in_(chunk)))

    def memory_size(self) -> int:
        with self.begin() as conn:
            return int(conn.execute(select(func.count()).select_from(memory)).scalar() or 0)
