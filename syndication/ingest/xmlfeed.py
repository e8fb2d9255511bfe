"""RSS and Atom feeds (RSS 0.9x/1.0/2.0, Atom) into Articles, through feedparser.

Owns: calling feedparser on bytes already decided to be UTF-8 (see `encoding`), telling a feed
from an HTML page or binary junk, the notes a sloppy feed earns, and mapping each feedparser
entry onto an Article: its link (FeedBurner's original one), richest content and xml:base
(content that is not text or HTML skipped), title and summary (Atom's type="text" as written,
the others read as HTML), guid, declared language, enclosures, image, categories, credits and
the partner feed it came from (atom:source); and the entries the feed says are deleted (RFC 6721
`at:deleted-entry`), which feedparser does not keep (kurtmckee/feedparser#149), read from the
XML with lxml, entities and the network off.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from html import unescape
from typing import Any
from xml.sax import SAXParseException

import feedparser
from lxml import etree

from syndication.errors import SourceError
from syndication.html import (
    absolute_url,
    first_sentence,
    literal_text,
    plain_text,
    sanitise_html,
    sanitised_text,
    shorten,
)
from syndication.ingest.dates import read_date, unread_dates_note
from syndication.ingest.encoding import to_utf8
from syndication.ingest.entries import (
    SUMMARY_CHARS,
    ParsedFeed,
    SourceInfo,
    byte_count,
    item_guid,
    merge_repeated_guids,
    paragraphs_html,
    visible,
)
from syndication.ingest.normalise import choose_language, to_utc
from syndication.lang import normalise_language
from syndication.model import Article, Enclosure, Withdrawal, article_id

# dict.get on feedparser's dicts: FeedParserDict.get maps aliases and derives a few keys
# ("enclosures" from links, "url" as "href", "updated"/"updated_parsed", "category", "license")
# in Python at every lookup; for any other key it answers as dict.get does, 3x slower.
_get = dict.get
# An entry's content of another type (a PDF in base64, an XML document, `src=` pointing
# elsewhere) is not a story's body.
_BODY_TYPES = frozenset({"text/html", "application/xhtml+xml", "text/plain"})
_HTML_START = re.compile(rb"^\s*(<!--.*?-->\s*)*(<!doctype\s+html|<html|<head|<body)", re.I | re.S)
_FIRST_IMG = re.compile(r'<img[^>]+src="([^"]+)"', re.I)
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.I | re.S)
# An `&` that starts no entity or character reference; CDATA sections are matched whole, to
# be left alone (an `&` is literal there).
_BARE_AMPERSAND = re.compile(
    rb"<!\[CDATA\[.*?\]\]>|&(?![A-Za-z_][\w.-]*;|#[0-9]+;|#[xX][0-9A-Fa-f]+;)", re.S
)
TOMBSTONES_NS = "http://purl.org/atompub/tombstones/1.0"
# Entities are never expanded and nothing is fetched; a sloppy document is read as far as it
# goes (feedparser has read its entries already).
_SAFE_XML = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, recover=True
)


@dataclass(frozen=True)
class _Origin:
    """The partner feed an entry comes from, as its articles record it (atom:source)."""

    link: str  # the partner's home page (else the feed's URL)
    title: str
    language: str | None
    id: str  # the feed's own id: Atom <id>, else its self link or the URL it came from
    updated: datetime | None


def parse_xml_feed(body: bytes, headers: dict[str, str], source: SourceInfo) -> ParsedFeed:
    """An RSS or Atom body as Articles; raise SourceError when feedparser finds no feed."""
    content_type = headers.get("content-type", "")
    withdrawn = _tombstones(body, source)
    body, _encoding, encoding_note = to_utf8(body, content_type)
    mime = content_type.split(";")[0].strip() or "application/xml"
    # We already decoded; tell feedparser so. A missing Content-Type (a file source) is not a
    # problem worth a note, so we name the generic XML type rather than let it complain.
    response_headers = {
        "content-location": source.url,
        "content-type": f"{mime}; charset=utf-8",
    }
    parsed = _feedparse(body, response_headers)
    mended = _escape_bare_ampersands(body) if _ill_formed(parsed) else None
    if mended is not None:
        # A bare `&` (a query string pasted into a <link>: WeChat's end in `&lang=zh_CN`)
        # makes the document ill-formed, and feedparser's loose reading takes `&lang` for
        # the entity 〈 and `&para=` for ¶=: the links break. Read as its author meant it.
        parsed = _feedparse(mended, response_headers)
    entries = parsed.get("entries", [])
    version = parsed.get("version", "")
    if not version and not entries:
        raise SourceError(source.id, _not_a_feed_reason(body, parsed))
    notes: list[str] = [encoding_note] if encoding_note else []
    notes.extend(_parser_notes(parsed, mime, headers))
    if mended is not None:
        notes.append("feed is not well-formed XML: an `&` that starts no entity read as an `&`")
    # Atom says which text is plain (type="text", its default); RSS does not, and its titles
    # often carry escaped markup.
    atom = version.startswith("atom")
    origin = _origin(parsed.get("feed", {}), source, atom)
    stories = [entry for entry in entries if not _is_empty(entry)]
    if len(stories) < len(entries):
        # e.g. a stray `<item />` nested inside another item: nothing to publish.
        notes.append(f"{len(entries) - len(stories)} empty item(s) skipped")
    read = [_entry_to_article(entry, source, origin, atom) for entry in stories]
    notes.extend(
        unread_dates_note(
            [
                _get(entry, "published") or _get(entry, "updated")
                for entry, article in zip(stories, read, strict=True)
                if article.published is None
                and (_get(entry, "published") or _get(entry, "updated"))
            ]
        )
    )
    articles, shared = merge_repeated_guids(read, notes)
    if withdrawn:
        # An entry the feed both lists and tombstones is deleted: the tombstone wins.
        gone = {w.article_id for w in withdrawn}
        articles = [a for a in articles if a.id not in gone]
    return ParsedFeed(
        articles=articles,
        title=origin.title,
        link=origin.link,
        notes=notes,
        entries_found=len(entries),
        withdrawn=withdrawn,
        shared=shared,
    )


def _tombstones(body: bytes, source: SourceInfo) -> list[Withdrawal]:
    """RFC 6721 `<at:deleted-entry ref="ID" when="DATE"><at:comment>…` of the document, as
    the stories they withdraw (ref is the entry's id, the guid we stored it under)."""
    if TOMBSTONES_NS.encode() not in body:
        return []  # the common case costs one byte search, not a second parse
    try:
        root = etree.fromstring(body, _SAFE_XML)
    except etree.XMLSyntaxError:
        return []
    if root is None:
        return []
    found: dict[str, Withdrawal] = {}
    for element in root.iter(f"{{{TOMBSTONES_NS}}}deleted-entry"):
        ref = (element.get("ref") or "").strip()
        if not ref:
            continue
        comment = element.find(f"{{{TOMBSTONES_NS}}}comment")
        # itertext: the text around an entity reference, which stays unexpanded.
        reason = plain_text("".join(comment.itertext()), 300) if comment is not None else ""
        found[ref] = Withdrawal(
            article_id(source.id, ref), reason, to_utc(element.get("when") or None)
        )
    return list(found.values())


def _feedparse(body: bytes, response_headers: dict[str, str]) -> Any:
    # We sanitise with nh3 and resolve links ourselves: feedparser's own pass costs half its time.
    return feedparser.parse(
        body, response_headers=response_headers, sanitize_html=False, resolve_relative_uris=False
    )


def _escape_bare_ampersands(body: bytes) -> bytes | None:
    """`body` with each bare `&` outside CDATA escaped (entities such as `&nbsp;` or `&#38;`
    kept); None when it has none."""
    found = False

    def escaped(match: re.Match[bytes]) -> bytes:
        nonlocal found
        if match.group().startswith(b"<"):
            return match.group()
        found = True
        return b"&amp;"

    mended = _BARE_AMPERSAND.sub(escaped, body)
    return mended if found else None


def _ill_formed(parsed: Any) -> bool:
    """Whether feedparser fell back to its loose parser: the XML is not well-formed."""
    return isinstance(parsed.get("bozo_exception"), SAXParseException)


def _problem(exc: BaseException | None) -> str:
    """feedparser's complaint in one line; an XML error says its line and column (expat names
    the document `<unknown>`)."""
    if exc is None:
        return "unknown problem"
    if isinstance(exc, SAXParseException):
        return f"line {exc.getLineNumber()}, column {exc.getColumnNumber()}: {exc.getMessage()}"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _parser_notes(parsed: Any, mime: str, headers: dict[str, str]) -> list[str]:
    """What feedparser found wrong with a document it could still read."""
    if not parsed.get("bozo"):
        return []
    exc = parsed.get("bozo_exception")
    reason = _problem(exc)
    # Encoding is decided (and noted) by to_utf8; feedparser's view of it is stale.
    if not isinstance(exc, feedparser.CharacterEncodingOverride | feedparser.NonXMLContentType):
        return [f"feed parsed with problems ({type(exc).__name__}): {reason}"]
    if isinstance(exc, feedparser.NonXMLContentType) and "content-type" in headers:
        return [f"feed served as {mime}, not an XML type"]
    return []


def _origin(feed: Any, source: SourceInfo, atom: bool) -> _Origin:
    return _Origin(
        link=absolute_url(feed.get("link", ""), source.url) or source.public_url,
        title=_text(feed, "title", atom) or source.title,
        language=normalise_language(feed.get("language")) or normalise_language(source.language),
        id=_feed_id(feed, source),
        updated=_date(feed, "updated") or _date(feed, "published"),
    )


def _feed_id(feed: Any, source: SourceInfo) -> str:
    given = plain_text(str(feed.get("id") or ""), 500)
    if given:
        return given
    for link in feed.get("links", []) or []:
        if link.get("rel") == "self" and link.get("href"):
            return absolute_url(link["href"], source.url)
    return source.public_url


def _text(entry: Any, key: str, atom: bool, limit: int | None = None) -> str:
    """An entry's (or feed's) title or summary as text. Atom's plain text is kept as written
    (`Use the <script> tag` has those words); HTML, and RSS's text that may hold escaped
    markup, are read as HTML."""
    detail = _summary_detail(entry) if key == "summary" else _get(entry, f"{key}_detail") or {}
    if detail is None:
        return ""
    value = _get(entry, key) or ""
    if atom and _get(detail, "type") == "text/plain":
        return literal_text(value, limit)
    return plain_text(value, limit)


def _summary_detail(entry: Any) -> Any:
    """The type and base of an entry's summary ({} when it has none), or None when it is not
    to be published: feedparser gives an entry without a summary its first content as one,
    also content that is kept elsewhere (`src=`)."""
    detail = _get(entry, "summary_detail")
    if detail is None and _get(entry, "summary") and _get(entry, "content"):
        copied = entry["content"][0]
        return copied if _is_body(copied) else None
    return detail or {}


def _is_empty(entry: Any) -> bool:
    """An entry with no title, link, id, text or media is not a story."""
    keys = ("title", "link", "id", "summary", "content", "enclosures", "media_content")
    return not any(entry.get(key) for key in keys)


def _not_a_feed_reason(body: bytes, parsed: Any) -> str:
    head = body[:4096]
    if _HTML_START.search(head) or b"<html" in head.lower():
        match = _TITLE.search(body[:65536])
        title = plain_text(match.group(1).decode("utf-8", "replace"), 80) if match else ""
        return "not a feed: the server sent an HTML page" + (f" ({title!r})" if title else "")
    if sum(b < 9 or 13 < b < 32 for b in head) > len(head) // 10:
        return "not a feed: the body is binary data"
    exc = parsed.get("bozo_exception")
    detail = f" ({_problem(exc)})" if exc else ""
    return f"not a feed: no RSS or Atom document found{detail}"


def _pick_content(entry: Any) -> tuple[str, str]:
    """The richest body of an entry and the base URL it declared (xml:base)."""
    contents = [c for c in _get(entry, "content") or [] if _is_body(c)]
    best = None
    for item in contents:
        if best is None or (
            _get(item, "type") == "text/html" and _get(best, "type") != "text/html"
        ):
            best = item
    if best is not None and _get(best, "value"):
        return _as_html(best), _get(best, "base", "")
    detail = _summary_detail(entry)
    if detail is None:
        return "", ""
    summary = _get(entry, "summary", "")
    return _as_html({"value": summary, "type": _get(detail, "type", "text/html")}), _get(
        detail, "base", ""
    )


def _is_body(content: Any) -> bool:
    """Whether an entry's content is text or HTML given in the feed (Atom also allows any
    other media type, and content kept elsewhere: `src=`)."""
    return not _get(content, "src") and (_get(content, "type") or "text/plain") in _BODY_TYPES


def _as_html(detail: Any) -> str:
    value = _get(detail, "value", "") or ""
    if _get(detail, "type") == "text/plain":
        return paragraphs_html(value)
    return value


def _entry_to_article(entry: Any, source: SourceInfo, origin: _Origin, atom: bool) -> Article:
    feed_link = origin.link
    # FeedBurner rewrites links to a tracking redirect and keeps the real one in origLink.
    link = absolute_url(_get(entry, "feedburner_origlink") or _get(entry, "link", ""), feed_link)
    raw_content, content_base = _pick_content(entry)
    # feedparser reports the feed URL as the base when the document sets no xml:base; relative
    # URLs in an item's HTML then mean the item's own page (as feed readers resolve them).
    if content_base and content_base != source.url:
        base = absolute_url(content_base, feed_link)
    else:
        base = link or feed_link
    content = sanitise_html(raw_content, base)
    enclosures = entry.get("enclosures", [])  # built from the links at each lookup: once
    body_text = sanitised_text(content)
    title = visible(_text(entry, "title", atom, 300)) or first_sentence(body_text)
    summary = _text(entry, "summary", atom)
    if not summary or summary == body_text:
        summary = body_text
    guid = item_guid(
        _get(entry, "id") or "",
        link,
        _get(entry, "title", ""),
        _get(entry, "published", ""),
        content,
    )
    language = choose_language(
        _declared_language(entry, source, origin),
        f"{title}. {body_text}",
        source.languages,
        where=f"{source.id}: {guid}",
        translatable=source.translatable,
    )
    return Article(
        id=article_id(source.id, guid),
        source_id=source.id,
        guid=guid,
        title=title or "(untitled)",
        link=link,
        summary=shorten(summary, SUMMARY_CHARS),
        content=content,
        author=plain_text(_get(entry, "author", ""), 200),
        categories=_categories(entry),
        image=_image(entry, enclosures, content, base),
        enclosures=_enclosures(enclosures, base),
        language=language,
        published=_date(entry, "published") or _date(entry, "updated"),
        updated=_date(entry, "updated") or _date(entry, "published"),
        source_title=origin.title,
        source_url=feed_link,
        credits=_credits(entry),
        source_feed_id=origin.id,
        source_feed_updated=origin.updated,
    )


def _declared_language(entry: Any, source: SourceInfo, origin: _Origin) -> str | None:
    """The source's `language:` (the operator's word, for a feed that declares the wrong
    one), else the entry's own xml:lang (its content's, else its title's), else the feed's."""
    declared = normalise_language(source.language)
    for detail in (_get(entry, "content") or [{}])[0], _get(entry, "title_detail") or {}:
        declared = declared or normalise_language(_get(detail, "language"))
    return declared or origin.language


def _enclosures(enclosures: list[Any], base: str) -> tuple[Enclosure, ...]:
    return tuple(
        Enclosure(
            url=absolute_url(_get(e, "href", ""), base),
            type=_get(e, "type", "") or "",
            length=byte_count(_get(e, "length")),
        )
        for e in enclosures
        if _get(e, "href")
    )


def _categories(entry: Any) -> tuple[str, ...]:
    return tuple(
        dict.fromkeys(
            plain_text(_get(t, "term") or _get(t, "label") or "", 80)
            for t in _get(entry, "tags", [])
            if (_get(t, "term") or _get(t, "label"))
        )
    )


def _credits(entry: Any) -> tuple[str, ...]:
    return tuple(
        dict.fromkeys(
            name
            for credit in _get(entry, "media_credit", []) or []
            if (name := plain_text(str(_get(credit, "content") or ""), 200))
        )
    )


def _image(entry: Any, enclosures: list[Any], content: str, base: str) -> str:
    for key in ("media_thumbnail", "media_content"):
        for media in _get(entry, key, []) or []:
            url = media.get("url", "")
            kind = _get(media, "type", "") or _get(media, "medium", "")
            if url and (key == "media_thumbnail" or "image" in kind or not kind):
                return absolute_url(url, base)
    for enc in enclosures:
        if (_get(enc, "type") or "").startswith("image/") and _get(enc, "href"):
            return absolute_url(enc["href"], base)
    image = _get(entry, "image")
    if isinstance(image, dict) and _get(image, "href"):
        return absolute_url(image["href"], base)
    match = _FIRST_IMG.search(content)
    # The sanitised HTML escapes `&` in attributes; the field holds the URL itself.
    return unescape(match.group(1)) if match else ""


def _date(entry: Any, key: str) -> datetime | None:
    """The date `key` (published, updated) of an entry or feed, read from what it says: not
    feedparser's `*_parsed`, which misreads the forms `dates` knows."""
    # dict.get: FeedParserDict's own lookup silently swaps published/updated (with a warning).
    value = dict.get(entry, key)
    return read_date(value) if value else None
