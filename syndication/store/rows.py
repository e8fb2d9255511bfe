"""How the records lie in rows, both ways.

Owns: an article's row (JSON lists, ISO dates, the date it sorts under) and the records read
back from article and translation rows, for every query that returns them.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from syndication.model import (
    Article,
    Enclosure,
    StoredArticle,
    Translation,
    effective_date,
    utcnow,
)
from syndication.store.base import iso, parse_iso, storable

# json.dumps(value, ensure_ascii=False) without building an encoder at each call (as dumps does
# for any non-default option): three lists an article, most of them empty.
_encode = json.JSONEncoder(ensure_ascii=False).encode


def _json(items: list[Any]) -> str:
    return _encode(items) if items else "[]"


def article_values(
    article: Article, *, canonical: str, first_seen: datetime, now: datetime
) -> dict[str, Any]:
    """The row of a live article (`withdrawn` cleared), changed at `now`, in the columns every
    release has had (see `lifecycle_values` for schema 4's)."""
    return storable(
        {
            "id": article.id,
            "source_id": article.source_id,
            "guid": article.guid,
            "link": article.link,
            "canonical": canonical,
            "title": article.title,
            "summary": article.summary,
            "content": article.content,
            "author": article.author,
            "categories": _json(list(article.categories)),
            "image": article.image,
            "enclosures": _json([[e.url, e.type, e.length] for e in article.enclosures]),
            "language": article.language,
            "published": iso(article.published),
            "updated": iso(article.updated),
            "source_title": article.source_title,
            "source_url": article.source_url,
            "first_seen": iso(first_seen),
            "sort_date": iso(effective_date(article.published, first_seen)),
            "content_hash": article.content_hash,
            "text_hash": article.text_hash,
            "withdrawn": 0,
            "changed_at": iso(now),
            "credits": _json(list(article.credits)),
            "source_feed_id": article.source_feed_id,
            "source_feed_updated": iso(article.source_feed_updated),
        }
    )


def lifecycle_values(article: Article, change_seq: int) -> dict[str, Any]:
    """Schema 4's columns of a live article written as change `change_seq`."""
    return storable(
        {
            "change_seq": change_seq,
            "withdrawn_by": "",
            "withdrawn_at": None,
            "withdrawn_reason": "",
            "embargo": iso(article.embargo),
            "correction": article.correction,
        }
    )


def stored_article(row: Any) -> StoredArticle:
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
        embargo=parse_iso(row.embargo),
        correction=row.correction,
    )
    return StoredArticle(
        article=article,
        first_seen=parse_iso(row.first_seen) or utcnow(),
        sources=(row.source_id, *json.loads(row.also_from)),
        withdrawn=bool(row.withdrawn),
        withdrawn_by=row.withdrawn_by,
        withdrawn_at=parse_iso(row.withdrawn_at),
        withdrawn_reason=row.withdrawn_reason,
        revised_at=parse_iso(row.revised_at),
        change_seq=row.change_seq,
    )


def translation_of(row: Any, prefix: str = "") -> Translation:
    """The translation in `row`, whose columns carry `prefix` when joined to an article's."""

    def get(name: str) -> Any:
        return getattr(row, prefix + name)

    return Translation(
        article_id=get("article_id"),
        language=get("language"),
        status=get("status"),
        title=get("title"),
        summary=get("summary"),
        content=get("content"),
        provider=get("provider"),
        error=get("error"),
        attempts=get("attempts"),
        updated_at=parse_iso(get("updated_at")),
    )
