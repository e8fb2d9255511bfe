"""What partners pull, and what the partner stage reads beyond the stories of an edition.

Owns: recording partners' traffic (requests and 304s by the hour, added to what other
processes recorded) and their last request, API cursor and refusal; reading them back for
`status`; the stories that entered an edition a partner's scopes take (each topic's own filter,
any of them), in the order they entered, which its feeds and their archives are paged by; the
languages each story has a usable translation in; and the story versions of an edition after a
cursor, with the stories as they are now (the ninjs API's read).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, and_, exists, func, or_, select

from syndication.model import SHOWN_STATUSES, StoredArticle, Translation
from syndication.store.articles import topic_matches
from syndication.store.base import StoreBase, chunks, iso, parse_iso
from syndication.store.rows import stored_article, translation_of
from syndication.store.schema import (
    articles,
    partner_state,
    partner_traffic,
    story_versions,
    translations,
)

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)  # a version row without its time (never written so)


@dataclass(frozen=True)
class TopicScope:
    """One of a partner's topics: its sources (None: every configured one), tags, keywords."""

    source_ids: tuple[str, ...]
    tags: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class PartnerMark:
    """The latest of one partner's requests, API cursors and refusals seen by a server."""

    last_request: datetime | None = None
    cursor: tuple[str, str] | None = None  # (edition, cursor) last served by the API
    refused: tuple[datetime, str] | None = None  # (when, client address)


@dataclass(frozen=True)
class PartnerActivity:
    """What `status` shows of one partner's pulls."""

    partner_id: str
    last_request: datetime | None
    requests: int  # in the hours summed
    not_modified: int
    last_cursor: str
    last_cursor_edition: str
    last_refused: datetime | None
    last_refused_from: str


@dataclass(frozen=True, slots=True)
class PartnerEntry:
    """A story's place in a partner's feed of an edition: when it entered the edition."""

    article_id: str
    seq: int  # its first version's seq in the edition
    at: datetime


@dataclass(frozen=True)
class StoryVersion:
    """A row of the version log with the story as it is now and its translation, if any."""

    seq: int
    edition: str
    version: int
    status: str  # usable | canceled | withheld, as the log recorded it
    digest: str  # of a withheld version: when its embargo ends (ISO 8601)
    at: datetime
    stored: StoredArticle
    translation: Translation | None
    withdrawn: bool  # now


class PartnersMixin(StoreBase):
    # -- who pulls what -----------------------------------------------------------------

    def record_partner_activity(
        self,
        traffic: Mapping[tuple[str, str], tuple[int, int]],
        marks: Mapping[str, PartnerMark],
        *,
        keep_since: str,
    ) -> None:
        """Add `traffic` ((partner, hour) -> (requests, 304s)) to what is recorded, keep the
        newer of each mark, and forget hours before `keep_since`; one transaction.

        Several servers may share the store: counts are added, never overwritten."""
        with self.begin() as conn:
            for (partner_id, hour), (requests, not_modified) in sorted(traffic.items()):
                key = and_(
                    partner_traffic.c.partner_id == partner_id, partner_traffic.c.hour == hour
                )
                done = conn.execute(
                    partner_traffic.update()
                    .where(key)
                    .values(
                        requests=partner_traffic.c.requests + requests,
                        not_modified=partner_traffic.c.not_modified + not_modified,
                    )
                )
                if done.rowcount == 0:
                    conn.execute(
                        partner_traffic.insert().values(
                            partner_id=partner_id,
                            hour=hour,
                            requests=requests,
                            not_modified=not_modified,
                        )
                    )
            for partner_id, mark in sorted(marks.items()):
                _mark(conn, partner_id, mark)
            conn.execute(partner_traffic.delete().where(partner_traffic.c.hour < keep_since))

    def partner_activity(self, since_hour: str) -> dict[str, PartnerActivity]:
        """Each partner's recorded pulls, traffic summed from `since_hour` on."""
        with self.begin() as conn:
            sums = {
                row.partner_id: (int(row.requests or 0), int(row.not_modified or 0))
                for row in conn.execute(
                    select(
                        partner_traffic.c.partner_id,
                        func.sum(partner_traffic.c.requests).label("requests"),
                        func.sum(partner_traffic.c.not_modified).label("not_modified"),
                    )
                    .where(partner_traffic.c.hour >= since_hour)
                    .group_by(partner_traffic.c.partner_id)
                )
            }
            states = {row.partner_id: row for row in conn.execute(select(partner_state))}
        found = {}
        for partner_id in sorted(set(sums) | set(states)):
            state = states.get(partner_id)
            requests, not_modified = sums.get(partner_id, (0, 0))
            found[partner_id] = PartnerActivity(
                partner_id=partner_id,
                last_request=parse_iso(state.last_request) if state else None,
                requests=requests,
                not_modified=not_modified,
                last_cursor=state.last_cursor if state else "",
                last_cursor_edition=state.last_cursor_edition if state else "",
                last_refused=parse_iso(state.last_refused) if state else None,
                last_refused_from=state.last_refused_from if state else "",
            )
        return found

    # -- what the partner stage reads ----------------------------------------------------

    def partner_entries(
        self, edition: str, language: str, scopes: Sequence[TopicScope], *, after: int = 0
    ) -> list[PartnerEntry]:
        """Every story that entered `edition` (it has a version there) and that some scope
        takes, in the order they entered (its first version's seq): a partner's feed ranks
        them so. A withdrawn story keeps its place; an embargoed one has none until released.
        Topics match the story as it is now (`language`: the edition's translations). With
        `after`, only the stories that entered after that seq (what a reader who read the
        rest when the log ended there is missing)."""
        t = translations.alias("t")
        taken = [_takes(t, scope) for scope in scopes if scope.source_ids]
        if not taken:
            return []
        v = story_versions
        entered = v.c.edition == edition
        if after:
            earlier = story_versions.alias("earlier")
            entered = and_(
                entered,
                v.c.seq > after,
                ~exists().where(
                    and_(
                        earlier.c.article_id == v.c.article_id,
                        earlier.c.edition == edition,
                        earlier.c.seq <= after,
                    )
                ),
            )
        first = (
            select(
                v.c.article_id,
                func.min(v.c.seq).label("seq"),
                func.min(v.c.at).label("at"),
            )
            .where(entered)
            .group_by(v.c.article_id)
            .subquery("first")
        )
        query = (
            select(first.c.article_id, first.c.seq, first.c.at)
            .select_from(
                first.join(articles, articles.c.id == first.c.article_id).outerjoin(
                    t, and_(t.c.article_id == first.c.article_id, t.c.language == language)
                )
            )
            .where(or_(*taken))
            .order_by(first.c.seq)
        )
        with self.begin() as conn:
            return [
                PartnerEntry(row.article_id, int(row.seq), parse_iso(row.at) or EPOCH)
                for row in conn.execute(query)
            ]

    def usable_languages(self, article_ids: Sequence[str]) -> dict[str, set[str]]:
        """The languages each story has a translation to show in (SHOWN_STATUSES, a title)."""
        found: dict[str, set[str]] = {}
        with self.begin() as conn:
            for chunk in chunks(list(article_ids)):
                query = select(translations.c.article_id, translations.c.language).where(
                    and_(
                        translations.c.article_id.in_(chunk),
                        translations.c.status.in_(SHOWN_STATUSES),
                        translations.c.title != "",
                    )
                )
                for row in conn.execute(query):
                    found.setdefault(row.article_id, set()).add(row.language)
        return found

    def partner_versions_after(
        self,
        edition: str,
        language: str,
        after: int,
        *,
        limit: int,
        scopes: Sequence[TopicScope],
    ) -> list[StoryVersion]:
        """The version log of `edition` after `after`, oldest first, at most `limit` rows,
        only of stories some scope takes; each with the story and its translation into
        `language` as they are now."""
        t = translations.alias("t")
        taken = [_takes(t, scope) for scope in scopes if scope.source_ids]
        if not taken:
            return []
        v = story_versions
        query = (
            select(
                v.c.seq,
                v.c.edition,
                v.c.version,
                v.c.status,
                v.c.digest,
                v.c.at,
                articles,
                *[c.label(f"t_{c.name}") for c in t.c],
            )
            .select_from(
                v.join(articles, articles.c.id == v.c.article_id).outerjoin(
                    t, and_(t.c.article_id == v.c.article_id, t.c.language == language)
                )
            )
            .where(and_(v.c.edition == edition, v.c.seq > after, or_(*taken)))
            .order_by(v.c.seq)
            .limit(limit)
        )
        with self.begin() as conn:
            rows = conn.execute(query).all()
        return [
            StoryVersion(
                seq=int(row.seq),
                edition=row.edition,
                version=int(row.version),
                status=row.status,
                digest=row.digest,
                at=parse_iso(row.at) or parse_iso(row.first_seen),  # type: ignore[arg-type]
                stored=stored_article(row),
                translation=translation_of(row, "t_") if row.t_status is not None else None,
                withdrawn=bool(row.withdrawn),
            )
            for row in rows
        ]

    def last_version_seq(self) -> int:
        """The newest seq of the version log (0: empty): moves whenever a version is added."""
        with self.begin() as conn:
            return int(conn.execute(select(func.max(story_versions.c.seq))).scalar() or 0)


def _takes(t: Any, scope: TopicScope) -> Any:
    """The condition under which a scope takes a story (`t`: its translation joined)."""
    matches = topic_matches(t, scope.tags, scope.keywords)
    of_sources = articles.c.source_id.in_(list(scope.source_ids))
    return and_(of_sources, or_(*matches)) if matches else of_sources


def _mark(conn: Connection, partner_id: str, mark: PartnerMark) -> None:
    """Record a partner's mark; a time another server recorded later than ours stays."""
    held = conn.execute(
        select(partner_state).where(partner_state.c.partner_id == partner_id)
    ).first()
    values: dict[str, Any] = {}
    if mark.last_request is not None and _later(mark.last_request, held, "last_request"):
        values["last_request"] = iso(mark.last_request)
    if mark.cursor is not None:
        values["last_cursor_edition"], values["last_cursor"] = mark.cursor
    if mark.refused is not None and _later(mark.refused[0], held, "last_refused"):
        values["last_refused"] = iso(mark.refused[0])
        values["last_refused_from"] = mark.refused[1]
    if not values:
        return
    if held is None:
        conn.execute(partner_state.insert().values(partner_id=partner_id, **values))
    else:
        conn.execute(
            partner_state.update().where(partner_state.c.partner_id == partner_id).values(values)
        )


def _later(when: datetime, held: Any, column: str) -> bool:
    recorded = parse_iso(getattr(held, column)) if held is not None else None
    return recorded is None or when >= recorded
