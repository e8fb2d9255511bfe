"""Parsing fetched feed bytes into normalised Articles.

Owns: feedparser (RSS 0.9x/1.0/2.0, Atom) with the response headers so the declared charset
counts, a small JSON Feed 1.0/1.1 reader, telling a feed from an HTML page, an empty body or
binary junk, and mapping entries onto Article (guids, duplicates, links, media, language).
"""

from __future__ import annotations

import codecs
import json
import re
import zlib
from dataclasses import dataclass, field, replace
from datetime import datetime
from html import escape, unescape
from typing import Any

import feedparser

from syndication.errors import SourceError
from syndication.html import (
    absolute_url,
    first_sentence,
    plain_text,
    sanitise_html,
    sanitised_text,
    shorten,
)
from syndication.ingest.normalise import choose_language, content_guid, to_utc
from syndication.lang import normalise_language
from syndication.model import Article, Enclosure, article_id

SUMMARY_CHARS = 400
_HTML_START = re.compile(rb"^\s*(<!--.*?-->\s*)*(<!doctype\s+html|<html|<head|<body)", re.I | re.S)
_FIRST_IMG = re.compile(r'<img[^>]+src="([^"]+)"', re.I)
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.I | re.S)
_XML_DECL_ENCODING = re.compile(
    rb"""^(\s*<\?xml[^>]*?\sencoding\s*=\s*)(["'])([A-Za-z0-9._:-]+)\2""", re.S
)
_CHARSET = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9._:-]+)""", re.I)
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Legacy labels servers use for what is really a superset; decoding with the superset avoids
# losing the characters the narrow table lacks (as browsers do, per the WHATWG Encoding spec).
_SUPERSETS = {
    "gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "iso-8859-1": "cp1252",
    "latin-1": "cp1252", "latin1": "cp1252", "us-ascii": "cp1252", "ascii": "cp1252",
    "iso-8859-9": "cp1254", "tis-620": "cp874", "ks_c_5601-1987": "cp949", "euc-kr": "cp949",
}  # fmt: skip


@dataclass(frozen=True)
class SourceInfo:
    """What the parser needs to know about the source a body came from."""

    id: str
    url: str  # where the body came from; base for relative links
    language: str | None = None
    title: str = ""
    languages: tuple[str, ...] = ()  # extra languages the detector may answer


@dataclass
class ParsedFeed:
    articles: list[Article]
    title: str = ""
    link: str = ""
    notes: list[str] = field(default_factory=list)
    entries_found: int = 0


def parse_feed(
    body: bytes, headers: dict[str, str], source: SourceInfo, max_bytes: int
) -> ParsedFeed:
    """Parse a feed body; raise SourceError when it is not a feed at all."""
    body = _maybe_gunzip(body, source, max_bytes)
    stripped = body.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not stripped:
        raise SourceError(source.id, "empty response: no feed in the body")
    content_type = headers.get("content-type", "").lower()
    if stripped.startswith(b"{") or "json" in content_type:
        return _parse_json_feed(stripped, source)
    return _parse_xml_feed(body, headers, source)


def _maybe_gunzip(body: bytes, source: SourceInfo, max_bytes: int) -> bytes:
    # Some servers send gzip bytes without Content-Encoding; inflate them, within the cap.
    if not body.startswith(b"\x1f\x8b"):
        return body
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, max_bytes + 1)
    except zlib.error as exc:
        raise SourceError(source.id, f"body looks gzip-compressed but is corrupt: {exc}") from None
    if len(out) > max_bytes or inflater.unconsumed_tail:
        raise SourceError(source.id, f"gzip body inflates past the {max_bytes:,}-byte limit")
    return out


def _codec(label: str | None) -> str | None:
    """A Python codec name for a declared charset label, or None if Python has no such codec."""
    if not label:
        return None
    label = label.strip().lower()
    label = _SUPERSETS.get(label, label)
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def _utf8_prefix_length(body: bytes) -> int | None:
    """Length of `body` that is valid UTF-8 when only a cut-off last character spoils it."""
    try:
        body.decode("utf-8")
        return len(body)
    except UnicodeDecodeError as exc:
        # A download or export cut in the middle of a multi-byte character: drop the stub
        # rather than let feedparser fall back to a single-byte table for the whole feed.
        if exc.reason == "unexpected end of data" and exc.start >= len(body) - 3:
            return exc.start
        return None


def to_utf8(body: bytes, content_type: str = "") -> tuple[bytes, str, str]:
    """The feed re-encoded as UTF-8, the encoding it was read as, and a note if we overruled.

    feedparser trusts the declared charset and, failing that, falls back to windows-1252 or
    ISO-8859-2, which turns undeclared KOI8-R, a cut-off UTF-8 tail, or UTF-8 labelled as
    windows-1252 into mojibake. We decide the encoding once, here: a BOM; else valid UTF-8
    (a multi-byte UTF-8 sequence almost never occurs by chance in legacy-encoded text); else
    the HTTP charset, then the XML declaration, if the bytes decode with it; else
    charset_normalizer's guess (installed with `requests`, a declared dependency).
    """
    declared_http = _CHARSET.search(content_type)
    http_label = declared_http.group(1) if declared_http else None
    decl = _XML_DECL_ENCODING.match(body[:512])
    xml_label = decl.group(3).decode("ascii") if decl else None
    declared = http_label or xml_label
    note = ""
    for bom, name in _BOMS:
        if body.startswith(bom):
            try:
                return _reencode(body.decode(name)), name, note
            except UnicodeDecodeError:
                break
    valid = _utf8_prefix_length(body)
    if valid is not None:
        if valid < len(body):
            note = "feed ends in the middle of a UTF-8 character; the stub was dropped"
        elif (
            declared
            and _codec(declared) not in ("utf-8", "utf-16", "utf-32")
            and not (body.isascii())
        ):
            note = f"feed declares {declared} but its bytes are UTF-8; read as UTF-8"
        return _reencode(body[:valid].decode("utf-8")), "utf-8", note
    for label in (http_label, xml_label):
        name = _codec(label)
        if name is None or name.startswith("utf-"):
            continue
        try:
            return _reencode(body.decode(name)), name, note
        except UnicodeDecodeError:
            continue
    guess = _guess_encoding(body)
    if guess:
        if declared:
            note = f"feed declares {declared} but does not decode with it; read as {guess}"
        else:
            note = f"feed declares no encoding; read as {guess}"
        return _reencode(body.decode(guess, "replace")), guess, note
    note = "feed encoding unknown; undecodable bytes replaced"
    return _reencode(body.decode("utf-8", "replace")), "utf-8", note


def _guess_encoding(body: bytes) -> str | None:
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # pragma: no cover - requests brings it; degrade to replacement
        return None
    best = from_bytes(body).best()
    return _codec(best.encoding) if best is not None else None


def _reencode(text: str) -> bytes:
    data = text.encode("utf-8")
    # The declaration must agree with the bytes we hand on, or feedparser re-decodes wrongly.
    return _XML_DECL_ENCODING.sub(lambda m: m.group(1) + m.group(2) + b"utf-8" + m.group(2), data)


def _parse_xml_feed(body: bytes, headers: dict[str, str], source: SourceInfo) -> ParsedFeed:
    content_type = headers.get("content-type", "")
    body, _encoding, encoding_note = to_utf8(body, content_type)
    mime = content_type.split(";")[0].strip() or "application/xml"
    # We already decoded; tell feedparser so. A missing Content-Type (a file source) is not a
    # problem worth a note, so we name the generic XML type rather than let it complain.
    response_headers = {
        "content-location": source.url,
        "content-type": f"{mime}; charset=utf-8",
    }
    # We sanitise with nh3 and resolve links ourselves: feedparser's own pass costs half its time.
    parsed = feedparser.parse(
        body,
        response_headers=response_headers,
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    entries = parsed.get("entries", [])
    version = parsed.get("version", "")
    if not version and not entries:
        raise SourceError(source.id, _not_a_feed_reason(body, parsed))
    notes: list[str] = [encoding_note] if encoding_note else []
    if parsed.get("bozo"):
        exc = parsed.get("bozo_exception")
        reason = str(exc).splitlines()[0] if exc else "unknown problem"
        # Encoding is decided (and noted) by to_utf8; feedparser's view of it is stale.
        if not isinstance(exc, feedparser.CharacterEncodingOverride | feedparser.NonXMLContentType):
            notes.append(f"feed parsed with problems ({type(exc).__name__}): {reason}")
        elif isinstance(exc, feedparser.NonXMLContentType) and "content-type" in headers:
            notes.append(f"feed served as {mime}, not an XML type")
    feed = parsed.get("feed", {})
    feed_link = absolute_url(feed.get("link", ""), source.url) or source.url
    feed_title = plain_text(feed.get("title", "")) or source.title
    feed_lang = normalise_language(feed.get("language")) or normalise_language(source.language)
    origin = _Origin(
        link=feed_link,
        title=feed_title,
        language=feed_lang,
        id=_feed_id(feed, source),
        updated=_date(feed, "updated_parsed") or _date(feed, "published_parsed"),
    )
    stories = [entry for entry in entries if not _is_empty(entry)]
    if len(stories) < len(entries):
        # e.g. a stray `<item />` nested inside another item: nothing to publish.
        notes.append(f"{len(entries) - len(stories)} empty item(s) skipped")
    articles = _dedupe([_entry_to_article(entry, source, origin) for entry in stories], notes)
    return ParsedFeed(
        articles=articles,
        title=feed_title,
        link=feed_link,
        notes=notes,
        entries_found=len(entries),
    )


@dataclass(frozen=True)
class _Origin:
    """The partner feed an entry comes from, as its articles record it (atom:source)."""

    link: str  # the partner's home page (else the feed's URL)
    title: str
    language: str | None
    id: str  # the feed's own id: Atom <id>, else its self link or the URL it came from
    updated: datetime | None


def _feed_id(feed: Any, source: SourceInfo) -> str:
    given = plain_text(str(feed.get("id") or ""), 500)
    if given:
        return given
    for link in feed.get("links", []) or []:
        if link.get("rel") == "self" and link.get("href"):
            return absolute_url(link["href"], source.url)
    return source.url


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
    detail = f" ({str(exc).splitlines()[0]})" if exc else ""
    return f"not a feed: no RSS or Atom document found{detail}"


def _pick_content(entry: Any) -> tuple[str, str]:
    """The richest body of an entry and the base URL it declared (xml:base)."""
    contents = entry.get("content") or []
    best = None
    for item in contents:
        if best is None or (item.get("type") == "text/html" and best.get("type") != "text/html"):
            best = item
    if best is not None and best.get("value"):
        return _as_html(best), best.get("base", "")
    detail = entry.get("summary_detail") or {}
    summary = entry.get("summary", "")
    return _as_html({"value": summary, "type": detail.get("type", "text/html")}), detail.get(
        "base", ""
    )


def _as_html(detail: Any) -> str:
    value = detail.get("value", "") or ""
    if detail.get("type") == "text/plain":
        paragraphs = [p.strip() for p in re.split(r"\n\s*\n", value) if p.strip()]
        return "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    return value


def _entry_to_article(entry: Any, source: SourceInfo, origin: _Origin) -> Article:
    feed_link, feed_lang = origin.link, origin.language
    # FeedBurner rewrites links to a tracking redirect and keeps the real one in origLink.
    link = absolute_url(entry.get("feedburner_origlink") or entry.get("link", ""), feed_link)
    raw_content, content_base = _pick_content(entry)
    # feedparser reports the feed URL as the base when the document sets no xml:base; relative
    # URLs in an item's HTML then mean the item's own page (as feed readers resolve them).
    if content_base and content_base != source.url:
        base = absolute_url(content_base, feed_link)
    else:
        base = link or feed_link
    content = sanitise_html(raw_content, base)
    body_text = sanitised_text(content)
    title = plain_text(entry.get("title", ""), 300) or first_sentence(body_text)
    summary_raw = entry.get("summary", "")
    summary = plain_text(summary_raw)
    if not summary or summary == body_text:
        summary = body_text
    summary = shorten(summary, SUMMARY_CHARS)
    guid = _guid(
        entry.get("id") or "", link, entry.get("title", ""), entry.get("published", ""), content
    )
    declared = None
    for detail in (entry.get("content") or [{}])[0], entry.get("title_detail") or {}:
        declared = declared or normalise_language(detail.get("language"))
    declared = declared or feed_lang or normalise_language(source.language)
    language = choose_language(
        declared, f"{title}. {body_text}", source.languages, where=f"{source.id}: {guid}"
    )
    enclosures = tuple(
        Enclosure(
            url=absolute_url(e.get("href", ""), base),
            type=e.get("type", "") or "",
            length=_int(e.get("length")),
        )
        for e in entry.get("enclosures", [])
        if e.get("href")
    )
    return Article(
        id=article_id(source.id, guid),
        source_id=source.id,
        guid=guid,
        title=title or "(untitled)",
        link=link,
        summary=summary,
        content=content,
        author=plain_text(entry.get("author", ""), 200),
        categories=tuple(
            dict.fromkeys(
                plain_text(t.get("term") or t.get("label") or "", 80)
                for t in entry.get("tags", [])
                if (t.get("term") or t.get("label"))
            )
        ),
        image=_image(entry, content, base),
        enclosures=enclosures,
        language=language,
        published=_date(entry, "published_parsed") or _date(entry, "updated_parsed"),
        updated=_date(entry, "updated_parsed") or _date(entry, "published_parsed"),
        source_title=origin.title,
        source_url=feed_link,
        credits=tuple(
            dict.fromkeys(
                name
                for credit in entry.get("media_credit", []) or []
                if (name := plain_text(str(credit.get("content") or ""), 200))
            )
        ),
        source_feed_id=origin.id,
        source_feed_updated=origin.updated,
    )


def _image(entry: Any, content: str, base: str) -> str:
    for key in ("media_thumbnail", "media_content"):
        for media in entry.get(key, []) or []:
            url = media.get("url", "")
            kind = media.get("type", "") or media.get("medium", "")
            if url and (key == "media_thumbnail" or "image" in kind or not kind):
                return absolute_url(url, base)
    for enc in entry.get("enclosures", []):
        if (enc.get("type") or "").startswith("image/") and enc.get("href"):
            return absolute_url(enc["href"], base)
    image = entry.get("image")
    if isinstance(image, dict) and image.get("href"):
        return absolute_url(image["href"], base)
    match = _FIRST_IMG.search(content)
    # The sanitised HTML escapes `&` in attributes; the field holds the URL itself.
    return unescape(match.group(1)) if match else ""


def _date(entry: Any, key: str) -> datetime | None:
    # dict.get: FeedParserDict's own lookup silently swaps published/updated (with a warning).
    value = dict.get(entry, key)
    return to_utc(value) if value else None


def _int(value: Any) -> int:
    try:
        return max(0, int(str(value).strip()))
    except (TypeError, ValueError):
        return 0


def _guid(given: str, link: str, raw_title: str, date: str, content: str) -> str:
    """The item's own guid, else its link, else an id made from what it says, stable across
    edits of its text.

    Its title and date identify it: a corrected description must update the story, not
    publish it a second time. Only an item with no title falls back to its text, and one
    with no text either (an image, an embed) to its sanitised markup.
    """
    if given.strip() or link:
        return given.strip() or link
    title = plain_text(raw_title)
    if title:
        return content_guid(title, date)
    body_text = sanitised_text(content)
    return content_guid(body_text) if body_text else content_guid(content, date)


def _dedupe(articles: list[Article], notes: list[str]) -> list[Article]:
    """Merge items that repeat a guid: true duplicates once, distinct stories kept apart."""
    seen: dict[str, Article] = {}
    merged = 0
    for article in articles:
        held = seen.get(article.id)
        if held is None:
            seen[article.id] = article
            continue
        if (held.title, held.link, held.content) == (article.title, article.link, article.content):
            merged += 1
            continue
        # Same guid, different story: keep both, the later one under a guid made distinct
        # by its title and link (ids published before stay as they were), or, when those
        # are the same too (items with neither), by its content; so none is lost and each
        # id is the same at every poll.
        named = (article.title, article.link)
        for parts in (named, (*named, article.content)):
            guid = f"{article.guid}#{content_guid(*parts)[7:]}"
            distinct = replace(article, guid=guid, id=article_id(article.source_id, guid))
            if distinct.id not in seen:
                seen[distinct.id] = distinct
                break
        else:  # the very same story a third time: a true duplicate
            merged += 1
            continue
        notes.append(f"guid {article.guid!r} is used by more than one item; kept each story")
    if merged:
        notes.append(f"{merged} duplicate item(s) merged")
    return list(seen.values())


# -- JSON Feed ---------------------------------------------------------------------------


def _parse_json_feed(body: bytes, source: SourceInfo) -> ParsedFeed:
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
    feed_link = absolute_url(str(data.get("home_page_url") or ""), source.url) or source.url
    feed_title = plain_text(str(data.get("title") or "")) or source.title
    feed_lang = normalise_language(data.get("language")) or normalise_language(source.language)
    feed_author = _json_author(data)
    feed_id = absolute_url(str(data.get("feed_url") or ""), source.url) or source.url
    notes: list[str] = []
    articles: list[Article] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            notes.append(f"item {index} is not an object; skipped")
            continue
        articles.append(
            _json_item(item, source, feed_link, feed_title, feed_lang, feed_author, feed_id)
        )
    return ParsedFeed(
        articles=_dedupe(articles, notes),
        title=feed_title,
        link=feed_link,
        notes=notes,
        entries_found=len(items),
    )


def _json_author(obj: dict[str, Any]) -> str:
    authors = obj.get("authors") or ([obj["author"]] if isinstance(obj.get("author"), dict) else [])
    names = [str(a.get("name")) for a in authors if isinstance(a, dict) and a.get("name")]
    return ", ".join(names)


def _json_item(
    item: dict[str, Any],
    source: SourceInfo,
    feed_link: str,
    feed_title: str,
    feed_lang: str | None,
    feed_author: str,
    feed_id: str,
) -> Article:
    link = absolute_url(str(item.get("url") or item.get("external_url") or ""), feed_link)
    base = link or feed_link
    if item.get("content_html"):
        content = sanitise_html(str(item["content_html"]), base)
    else:
        content = _as_html({"value": str(item.get("content_text") or ""), "type": "text/plain"})
    body_text = sanitised_text(content)
    title = plain_text(str(item.get("title") or ""), 300) or first_sentence(body_text)
    summary = shorten(plain_text(str(item.get("summary") or "")) or body_text, SUMMARY_CHARS)
    guid = _guid(
        str(item.get("id") or ""),
        link,
        str(item.get("title") or ""),
        str(item.get("date_published") or ""),
        content,
    )
    declared = normalise_language(item.get("language")) or feed_lang
    language = choose_language(
        declared, f"{title}. {body_text}", source.languages, where=f"{source.id}: {guid}"
    )
    enclosures = tuple(
        Enclosure(
            url=absolute_url(str(a.get("url")), base),
            type=str(a.get("mime_type") or ""),
            length=_int(a.get("size_in_bytes")),
        )
        for a in item.get("attachments") or []
        if isinstance(a, dict) and a.get("url")
    )
    tags = item.get("tags") if isinstance(item.get("tags"), list) else []
    return Article(
        id=article_id(source.id, guid),
        source_id=source.id,
        guid=guid,
        title=title or "(untitled)",
        link=link,
        summary=summary,
        content=content,
        author=_json_author(item) or feed_author,
        categories=tuple(dict.fromkeys(plain_text(str(t), 80) for t in tags if t)),
        image=absolute_url(str(item.get("image") or item.get("banner_image") or ""), base),
        enclosures=enclosures,
        language=language,
        published=to_utc(item.get("date_published")) or to_utc(item.get("date_modified")),
        updated=to_utc(item.get("date_modified")),
        source_title=feed_title,
        source_url=feed_link,
        source_feed_id=feed_id,
    )
