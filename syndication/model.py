"""The plain, immutable records that flow between stages through the store.

Owns: Article (a normalised story), Translation (one story in one language), SourceState
(what the last poll of a source did), and the rules that belong to the records themselves
(an article's id, the date a story is filed under, and which dates can be a story's).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Literal

TranslationStatus = Literal["pending", "translated", "failed", "stale"]
# A translation with a text to show (a title): translated; stale (its story was corrected
# since); or failed on a retry after a correction, which keeps the earlier text. A story
# never drops out of an edition while its new translation is awaited.
SHOWN_STATUSES = ("translated", "stale", "failed")


@dataclass(frozen=True)
class Enclosure:
    url: str
    type: str = ""
    length: int = 0


@dataclass(frozen=True)
class Article:
    """A story as ingested and normalised; `id` is `{source_id}:{guid}` and never changes."""

    id: str
    source_id: str
    guid: str
    title: str
    link: str = ""
    summary: str = ""
    content: str = ""  # sanitised HTML
    author: str = ""
    categories: tuple[str, ...] = ()
    image: str = ""
    enclosures: tuple[Enclosure, ...] = ()
    language: str = "en"
    published: datetime | None = None  # UTC; None means "use the time first seen"
    updated: datetime | None = None
    source_title: str = ""
    source_url: str = ""
    # Photo credits as written ("Photo credit: Reuters", "Фото: Ақорда") or, from a partner's
    # media:credit, the bare name: shown as a credit beside the story, never as its text.
    credits: tuple[str, ...] = ()
    # The partner feed's own id and `updated` when this story was last taken from it (RFC
    # 4287 atom:source keeps them); provenance, so not part of `content_hash`.
    source_feed_id: str = ""
    source_feed_updated: datetime | None = None
    # Held back from every edition until then (a local article's `embargo:`).
    embargo: datetime | None = None
    # The newsroom's correction note (`correction:`); the body already opens with it.
    correction: str = ""

    @cached_property
    def content_hash(self) -> str:
        """Changes when anything a reader or translator sees changes."""
        # The JSON that `dataclasses.asdict` gave, built without its deep copy of every
        # field (a fifth of saving a batch); the same bytes, so stored hashes still match.
        payload = {name: getattr(self, name) for name in _HASHED}
        # A partner whose feed-level `updated` moves at every poll must not make each of its
        # stories "updated": the snapshot is refreshed when the story itself changes (so
        # `source_feed_id` and `source_feed_updated` are not in _HASHED).
        # Fields added later count only when set, so hashes of stories stored before hold.
        for later in ("credits", "embargo", "correction"):
            if not payload[later]:
                del payload[later]
        payload["enclosures"] = [
            {"url": e.url, "type": e.type, "length": e.length} for e in self.enclosures
        ]
        for key in ("published", "updated", "embargo"):
            if key in payload:
                value = payload[key]
                payload[key] = value.isoformat() if value else None
        blob = _HASH_JSON(payload)
        return hashlib.sha256(blob.encode()).hexdigest()

    @cached_property
    def text_hash(self) -> str:
        """Changes only when the translatable text changes."""
        blob = "\x00".join((self.language, self.title, self.summary, self.content))
        return hashlib.sha256(blob.encode()).hexdigest()


# json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str), without building an
# encoder at each call as dumps does for any non-default option.
_HASH_JSON = json.JSONEncoder(sort_keys=True, ensure_ascii=False, default=str).encode
_HASHED = tuple(
    f.name for f in fields(Article) if f.name not in ("source_feed_id", "source_feed_updated")
)


@dataclass(frozen=True)
class StoredArticle:
    """An article as the store holds it, with the bookkeeping the publisher needs."""

    article: Article
    first_seen: datetime
    sources: tuple[str, ...] = ()
    # The story's life as the store records it (schema 4).
    withdrawn: bool = False
    withdrawn_by: str = ""  # source | partner | operator; "restored" once brought back
    withdrawn_at: datetime | None = None
    withdrawn_reason: str = ""
    revised_at: datetime | None = None  # when its text last changed after it was stored
    change_seq: int = 0

    @property
    def date(self) -> datetime:
        return effective_date(self.article.published, self.first_seen)


@dataclass(frozen=True)
class Withdrawal:
    """A story its source withdraws: a file saying `status: withdrawn`, or a partner's RFC 6721
    `at:deleted-entry` (`reason` is its comment, `at` its `when`: when the partner deleted it,
    not when our feeds drop it)."""

    article_id: str
    reason: str = ""
    at: datetime | None = None


@dataclass(frozen=True)
class Translation:
    article_id: str
    language: str
    status: TranslationStatus
    title: str = ""
    summary: str = ""
    content: str = ""
    provider: str = ""
    error: str = ""
    attempts: int = 0
    updated_at: datetime | None = None


@dataclass(frozen=True)
class SourceState:
    """The result of the latest poll of one source, as `syndication status` shows it."""

    source_id: str
    kind: str
    location: str
    last_attempt: datetime | None = None
    last_success: datetime | None = None
    result: str = ""  # ok | not-modified | error | never
    error: str = ""
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    failures: int = 0
    next_due: datetime | None = None
    etag: str = ""
    last_modified: str = ""
    redirect: str = ""  # a permanent redirect target the operator should copy to the YAML
    notes: tuple[str, ...] = field(default_factory=tuple)
    # Until when the partner asked not to be polled (its Retry-After, capped at max_backoff):
    # the worker's backoff keeps to it, and so does a `once` of every source.
    wait_until: datetime | None = None


FUTURE_TOLERANCE = timedelta(days=1)
# Before this, a story's date is a placeholder, not news: feeds send the Unix epoch
# (1970-01-01) for "no date", and `0001-01-01` or a three-digit year from a typo.
EARLIEST = datetime(1971, 1, 1, tzinfo=UTC)


def effective_date(published: datetime | None, first_seen: datetime) -> datetime:
    """The date a story is filed under: its own, unless missing, in the future or earlier
    than any news (`EARLIEST`).

    A partner's clock (or a typo: 2099, 0025) must not pin a story to the top of every feed
    and push every feed's `updated` into the future, nor bury it at the bottom of the oldest
    archive page; such a story is dated when we first saw it.
    """
    if published is None or not plausible_date(published, first_seen):
        return first_seen
    return published


def plausible_date(published: datetime, first_seen: datetime) -> bool:
    """Whether `published` can be the date of a story first seen at `first_seen`: no more than
    `FUTURE_TOLERANCE` after it, and not before `EARLIEST`."""
    return EARLIEST <= published <= first_seen + FUTURE_TOLERANCE


def article_id(source_id: str, guid: str) -> str:
    """The id of a story: its source and the guid it has there (never changes)."""
    return f"{source_id}:{guid}"


def utcnow() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)
