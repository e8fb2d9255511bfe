"""JSON Feed 1.0 and 1.1 into Articles.

Owns: reading a JSON Feed document (refusing JSON that is not one, with the reason), skipping
items with nothing to publish, and mapping each item onto an Article: link, HTML or text
content, title and summary (plain text, as written), guid, language, authors (their names,
never an address; an item without its own takes the feed's), tags, image and attachments
(relative URLs made absolute against the URL the feed came from; its content's against the
item's page). Hand-written because feedparser (6.0) reads no JSON Feed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from syndication.errors import SourceError
from syndication.html import (
    absolute_url,
    literal_text,
    plain_text,
    sanitise_html,
    sanitised_text,
    shorten,
)
from syndication.ingest.dates import dates_notes, read_date
from syndication.ingest.entries import (
    SUMMARY_CHARS,
    ParsedFeed,
    SourceInfo,
    byline,
    byte_count,
    fallback_title,
    item_guid,
    merge_repeated_guids,
    paragraphs_html,
    untitled_title,
    visible,
)
from syndication.ingest.normalise import choose_language
from syndication.lang import normalise_language
from syndication.model import Article, Enclosure, article_id


@dataclass(frozen=True)
class _Feed:
    """What every item of a JSON Feed inherits from the feed itself."""

    link: str
    title: str
    language: str | None
    author: str
    id: str


def parse_json_feed(body: bytes, source: SourceInfo) -> ParsedFeed:
    """A JSON Feed body as Articles; raise SourceError when it is not a JSON Feed."""
    try:
        data = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SourceError(source.id, f"not a feed: invalid JSON ({exc})") from None
    version = data.get("version", "") if isinstance(data, dict) else ""
    if not isinstance(data, dict) or "jsonfeed.org/version/" not in str(version):
        raise SourceError(source.id, "not a feed: JSON without a jsonfeed.org version")
    items = data.get("items")
    if not isinstance(items, list):
        raise SourceError(source.id, "not a feed: JSON Feed without an items list")
    feed = _Feed(
        link=absolute_url(str(data.get("home_page_url") or ""), source.url) or source.public_url,
        title=literal_text(_text(data, "title")) or source.title,
        language=normalise_language(source.language) or normalise_language(data.get("language")),
        author=_author(data),
        id=absolute_url(str(data.get("feed_url") or ""), source.url) or source.public_url,
    )
    notes: list[str] = []
    articles: list[Article] = []
    empty = 0
    dates: list[tuple[str, datetime | None]] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            notes.append(f"item {index} is not an object; skipped")
            continue
        if _is_empty(item):
            empty += 1
            continue
        articles.append(_item_to_article(item, source, feed))
        written = item.get("date_published") or item.get("date_modified")
        if written:
            dates.append((str(written), articles[-1].published))
    if empty:
        notes.append(f"{empty} empty item(s) skipped")  # as RSS and Atom say it
    notes.extend(dates_notes(dates))
    articles, shared = merge_repeated_guids(articles, notes)
    return ParsedFeed(
        articles=articles,
        shared=shared,
        title=feed.title,
        link=feed.link,
        notes=notes,
        entries_found=len(items),
    )


def _author(obj: dict[str, Any]) -> str:
    """The names of an item's (or the feed's) `authors` (1.1), else of its `author` (1.0): an
    author given only by a `url` (a `mailto:` one too) has none."""
    authors = obj.get("authors") or ([obj["author"]] if isinstance(obj.get("author"), dict) else [])
    listed = authors if isinstance(authors, list) else []
    return byline(
        literal_text(a["name"]) for a in listed if isinstance(a, dict) and _text(a, "name")
    )


def _text(obj: dict[str, Any], key: str) -> str:
    """A string field as given; a number as its digits (ids often are); anything else (a list,
    an object, true) is not text at all: empty, never its Python spelling (`['a']`)."""
    value = obj.get(key)
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""


def _is_empty(item: dict[str, Any]) -> bool:
    """An item with no title, link, text or media is not a story (its id alone is none)."""
    if visible(literal_text(_text(item, "title"))):
        return False
    keys = ("content_html", "content_text", "summary", "url", "external_url", "image")
    return not any(_text(item, key).strip() for key in (*keys, "banner_image")) and not (
        _attachments(item, "")
    )


def _tags(item: dict[str, Any]) -> tuple[str, ...]:
    """The item's tags; a single tag given as a string (not a list) is that tag."""
    tags = item.get("tags")
    listed = [tags] if isinstance(tags, str) else tags if isinstance(tags, list) else []
    return tuple(
        dict.fromkeys(
            tag
            for t in listed
            if isinstance(t, str | int) and not isinstance(t, bool)
            if (tag := plain_text(str(t), 80))
        )
    )


def _item_to_article(item: dict[str, Any], source: SourceInfo, feed: _Feed) -> Article:
    # The item's URLs are the document's own: a relative one is read against where the document
    # came from, after redirects (RFC 3986 5.1; JSON Feed says nothing of its own), as RSS and
    # Atom links are, not against `home_page_url`. A feed file has no such URL: its home page
    # stands in. The HTML of its content is relative to the item's page, as feed readers read it.
    where = source.url or feed.link
    link = absolute_url(_text(item, "url") or _text(item, "external_url"), where)
    base = link or feed.link
    if _text(item, "content_html"):
        content = sanitise_html(_text(item, "content_html"), base)
    else:
        content = paragraphs_html(_text(item, "content_text"))
    body_text = sanitised_text(content)
    # JSON Feed's title and summary are plain text: `<script>` in one is what it says.
    given_summary = literal_text(_text(item, "summary"))
    attachments = _attachments(item, where)
    published = read_date(item.get("date_published"), source.zone) or read_date(
        item.get("date_modified"), source.zone
    )
    title = (
        visible(literal_text(_text(item, "title"), 300))
        or fallback_title(body_text, given_summary)
        or untitled_title(
            _attachment_title(item),
            [a.url for a in attachments],
            feed.title or source.id,
            published,
        )
    )
    summary = shorten(given_summary or body_text, SUMMARY_CHARS)
    guid = item_guid(
        _text(item, "id"),
        link,
        _text(item, "title"),
        _text(item, "date_published"),
        content,
    )
    # The operator's `language:` for the source first: the YAML says what the feed is in
    # when the feed's own declaration is wrong (README, "A story's language").
    declared = (
        normalise_language(source.language)
        or normalise_language(item.get("language"))
        or feed.language
    )
    language = choose_language(
        declared,
        f"{title}. {body_text}",
        source.languages,
        where=f"{source.id}: {guid}",
        translatable=source.translatable,
    )
    return Article(
        id=article_id(source.id, guid),
        source_id=source.id,
        guid=guid,
        title=title,
        link=link,
        summary=summary,
        content=content,
        author=_author(item) or feed.author,
        categories=_tags(item),
        image=absolute_url(_text(item, "image") or _text(item, "banner_image"), where),
        enclosures=attachments,
        language=language,
        published=published,
        updated=read_date(item.get("date_modified"), source.zone),
        source_title=feed.title,
        source_url=feed.link,
        source_feed_id=feed.id,
    )


def _listed(obj: dict[str, Any], key: str) -> list[Any]:
    """A list field; anything else (a number, an object) holds no entries."""
    value = obj.get(key)
    return value if isinstance(value, list) else []


def _attachment_title(item: dict[str, Any]) -> str:
    """The `title` of the item's first attachment that has one ("" when none has)."""
    titles = (_text(a, "title") for a in _listed(item, "attachments") if isinstance(a, dict))
    return next((title for title in titles if title), "")


def _attachments(item: dict[str, Any], base: str) -> tuple[Enclosure, ...]:
    return tuple(
        Enclosure(
            url=absolute_url(str(a.get("url")), base),
            type=str(a.get("mime_type") or ""),
            length=byte_count(a.get("size_in_bytes")),
        )
        for a in _listed(item, "attachments")
        if isinstance(a, dict) and a.get("url")
    )
