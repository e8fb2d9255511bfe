"""A story version as a ninjs 3.1 item (IPTC News in JSON, camelCase names).

Owns: the mapping from an item of an edition (built by `syndication.items`, at the partner's
rights) and its version row to ninjs: `uri` (the item's stable tag: id), `version`,
`versionCreated`, `firstCreated`, `pubStatus`, `language`, headlines, descriptions and
bodies with their roles and media types, `by`, categories as `subjects`, the source as
`infoSources` and `copyrightHolder`/`copyrightNotice`, the rights as `usageTerms`, the
story's ids as `altIds`, its page as a rendition, its picture and, for a translation (or a
derived script), its original story and language as `associations`. A canceled version is
`pubStatus: canceled` with no text, a withheld one (put under embargo after it was published)
`pubStatus: withheld` with `embargoedUntil` and no text; a usable version of a story withdrawn
or put under embargo since keeps `pubStatus: usable` but has no text either (`edNote` says why;
`embargoedUntil` when the embargo ends). Pure: no store, no HTTP.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from syndication.html import plain_text
from syndication.items import RIGHTS_TEXT, item_id
from syndication.lang import DERIVED, base_language
from syndication.model import StoredArticle
from syndication.render import Item
from syndication.words import language_name

NINJS_SCHEMA = "http://www.iptc.org/std/ninjs/ninjs-schema_3.1.json#"
STANDARD = {"name": "ninjs", "version": "3.1", "schema": NINJS_SCHEMA}
USAGE_TERMS = {
    "full": "Headline, summary and full text may be republished.",
    **{level: text for level, text in RIGHTS_TEXT.items() if text},
}


def rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def canceled(
    authority: str, stored: StoredArticle, edition: str, version: int, at: datetime
) -> dict[str, Any]:
    """A withdrawn story's item: its identity and status, none of its text."""
    article = stored.article
    return {
        "uri": item_id(authority, article.id, edition),
        "standard": STANDARD,
        "type": "text",
        "version": str(version),
        "versionCreated": rfc3339(at),
        "pubStatus": "canceled",
        "language": edition,
        "altIds": _alt_ids(stored),
    }


def retracted(
    authority: str, stored: StoredArticle, edition: str, version: int, at: datetime
) -> dict[str, Any]:
    """A version published usable, of a story withdrawn since: its identity and its own status,
    none of its text (a withdrawal takes the text out of everything); `edNote` says why."""
    return {
        **canceled(authority, stored, edition, version, at),
        "pubStatus": "usable",
        "edNote": "The story has since been withdrawn; its text is no longer served.",
    }


def withheld(
    authority: str,
    stored: StoredArticle,
    edition: str,
    version: int,
    at: datetime,
    until: datetime,
) -> dict[str, Any]:
    """A story put under embargo after it was published: its identity, its status and when
    the embargo ends, none of its text."""
    return {
        **canceled(authority, stored, edition, version, at),
        "pubStatus": "withheld",
        "embargoedUntil": rfc3339(until),
    }


def held_back(
    authority: str,
    stored: StoredArticle,
    edition: str,
    version: int,
    at: datetime,
    until: datetime,
) -> dict[str, Any]:
    """A version published usable, of a story put under embargo since: its identity, its own
    status and when the embargo ends, none of its text until then; `edNote` says why."""
    return {
        **withheld(authority, stored, edition, version, at, until),
        "pubStatus": "usable",
        "edNote": "The story has since been put under embargo; its text is served again when "
        "the embargo ends.",
    }


def usable(
    item: Item,
    stored: StoredArticle,
    edition: str,
    *,
    authority: str,
    rights: str,
    version: int,
    at: datetime,
    public: bool,
) -> dict[str, Any]:
    """The item of `edition` (built at `rights`) as ninjs, as version `version` of `at`."""
    entry: dict[str, Any] = {
        "uri": item.id,
        "standard": STANDARD,
        "type": "text",
        "representationType": "full" if rights == "full" else "partial",
        "version": str(version),
        "versionCreated": rfc3339(at),
        "firstCreated": rfc3339(item.date),
        "pubStatus": "usable",
        "language": item.language,
        **_text(item),
    }
    if item.author:
        entry["by"] = item.author
    if item.categories:
        entry["subjects"] = [{"name": term, "literal": term} for term in item.categories]
    entry |= _provenance(item, rights)
    entry["altIds"] = _alt_ids(stored)
    renditions = _renditions(item, public)
    if renditions:
        entry["renditions"] = renditions
    associations = _associations(item, stored, edition, authority)
    if associations:
        entry["associations"] = associations
    return entry


def _text(item: Item) -> dict[str, Any]:
    """Headline, summary and body, as far as the item (cut to its rights) has them."""
    text: dict[str, Any] = {
        "headlines": [{"role": "main", "contentType": "text/plain", "value": item.title}]
    }
    if item.summary:
        text["descriptions"] = [
            {"role": "summary", "contentType": "text/plain", "value": item.summary}
        ]
    if item.content:
        text["bodies"] = [
            {
                "role": "main",
                "contentType": "text/html",
                "value": item.content_html,
                "charCount": len(plain_text(item.content)),
            }
        ]
    return text


def _provenance(item: Item, rights: str) -> dict[str, Any]:
    """Where the story comes from, what may be done with it, and whether it is translated."""
    found: dict[str, Any] = {}
    if item.source_title:
        found["copyrightHolder"] = item.source_title
        found["copyrightNotice"] = f"© {item.date.year} {item.source_title}"
        source: dict[str, Any] = {"name": item.source_title, "role": "source"}
        if item.source_url:
            source["uri"] = item.source_url
        found["infoSources"] = [source]
    found["usageTerms"] = USAGE_TERMS[rights]
    if item.machine_translated_from:
        found["edNote"] = (
            f"Machine translation from {language_name('en', item.machine_translated_from)}"
            + (f"; original: {item.original_link}" if item.original_link else "")
        )
    return found


def _renditions(item: Item, public: bool) -> list[dict[str, str]]:
    """The story's page in this edition (when pages are published), and, for an original,
    where it was first published."""
    found = []
    if public:
        found.append({"name": "web", "href": item.link, "contentType": "text/html"})
    if item.original_link and not item.machine_translated_from:
        found.append({"name": "original", "href": item.original_link, "contentType": "text/html"})
    return found


def _alt_ids(stored: StoredArticle) -> list[dict[str, str]]:
    article = stored.article
    return [{"role": "story", "value": article.id}, {"role": "guid", "value": article.guid}]


def _associations(
    item: Item, stored: StoredArticle, edition: str, authority: str
) -> list[dict[str, Any]]:
    """The original of a translation or of a derived script (its story, in its language),
    and the story's picture."""
    article = stored.article
    found: list[dict[str, Any]] = []
    translated = bool(item.machine_translated_from)
    derived = edition in DERIVED and item.language == edition
    if translated or derived:
        language = article.language if translated else base_language(edition)
        original: dict[str, Any] = {
            "name": "original",
            "rel": "translationOf" if translated else "transliterationOf",
            "uri": item_id(authority, article.id, language),
            "type": "text",
            "language": language,
        }
        if translated:
            original["headlines"] = [{"role": "main", "value": article.title}]
        if item.original_link:
            original["renditions"] = [
                {"name": "web", "href": item.original_link, "contentType": "text/html"}
            ]
        found.append(original)
    if item.image:
        found.append(
            {
                "name": "picture",
                "rel": "image",
                "uri": item.image,
                "type": "picture",
                "renditions": [{"name": "original", "href": item.image}],
            }
        )
    return found
