"""RSS and Atom feeds (RSS 0.9x/1.0/2.0, Atom) into Articles, through feedparser.

Owns: calling feedparser on bytes already decided to be UTF-8 (see `encoding`), telling a feed
from an HTML page or binary junk, the notes a sloppy feed earns, the item of a document that
is not well-formed open where it breaks (skipped: cut off, its text or link lost), and mapping
each feedparser
entry onto an Article: its link (FeedBurner's original one), richest content and xml:base
(content that is not text or HTML skipped), title and summary (Atom's type="text" as written,
the others read as HTML), guid (a relative one made absolute against the configured URL, never
an xml:base; the links against the URL the feed came from under any xml:base, as feedparser
made them), declared language,
enclosures, image (a thumbnail too small to show only when there is no other), categories,
credits, authors (names, never an address; an Atom entry without its own takes those of its
atom:source, else of the feed; an RSS item none of its channel's) and the partner feed it came
from (atom:source); and the entries the feed says are deleted (RFC 6721 `at:deleted-entry`),
which feedparser does not keep (kurtmckee/feedparser#149), read from the XML with lxml,
entities and the network off.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from html import unescape
from typing import Any
from urllib.parse import urljoin
from xml.parsers import expat
from xml.sax import SAXParseException

import feedparser
from lxml import etree

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
from syndication.ingest.encoding import to_utf8
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
# A thumbnail smaller than this (pixels, its width or height) is an icon beside a headline,
# not a story's picture: Blogger's is 72 by 72, cropped (`/s72-c/` in its URL).
_USABLE_PIXELS = 200
_BLOGGER_SIZE = re.compile(r"[/=]s(\d+)-c(?=[/-]|$)")
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.I | re.S)
# An RSS <guid> with its attributes and text (CDATA or not), and its isPermaLink; feedparser
# resolves a guid whose isPermaLink is absent or exactly "true".
_GUID = re.compile(rb"<guid\b([^>]*)>\s*(?:<!\[CDATA\[(.*?)\]\]>|([^<]*))\s*</guid>", re.I | re.S)
_PERMALINK = re.compile(rb"""\bispermalink\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.I)
# What only feedparser given the feed's URL reads as it was always read: a base of the
# document's own (xml:base, or feedparser's reading of a plain `base=`), which feedparser with
# none misapplies (a nested relative one ignored, an absolute one kept past its element's end),
# an Atom enclosure link in another format and a <media:thumbnail> with its URL as text (both
# resolved by feedparser, unlike <enclosure url> and <media:thumbnail url>). Searched
# case-sensitively, as XML names are: ten times faster.
_OWN_BASE = re.compile(rb"base\s*=\s*[\"']")
# An attribute that sets a base (`xml:base`, or the plain `base` feedparser also reads), and
# the text of an <id> or <guid> element: what tells whether a base of the document's own may
# have moved an item's id (see `_unbased_ids`).
_BASE_ATTRIBUTE = re.compile(rb"(?<=\s)(?:xml:)?base(?=\s*=\s*[\"'])")
_ID_TEXT = re.compile(rb"<(?:[\w.-]+:)?(?:id|guid)\b[^>]*>\s*(?:<!\[CDATA\[\s*)?([^<\s\]]*)")
_SCHEME = re.compile(rb"[A-Za-z][A-Za-z0-9+.-]*:")
_LINKED_ENCLOSURE = re.compile(rb":link\b[^>]*\brel\s*=\s*[\"']?enclosure")
_TEXT_THUMBNAIL = re.compile(rb"thumbnail>\s*[^<\s]")
# An `&` that starts no entity or character reference; CDATA sections are matched whole, to
# be left alone (an `&` is literal there).
_BARE_AMPERSAND = re.compile(
    rb"<!\[CDATA\[.*?\]\]>|&(?![A-Za-z_][\w.-]*;|#[0-9]+;|#[xX][0-9A-Fa-f]+;)", re.S
)
# The start and the end of an RSS item or an Atom entry (any namespace prefix): the entry
# open where a not-well-formed document breaks has started there but not ended.
_ENTRY_END = re.compile(rb"</(?:[\w.-]+:)?(?:item|entry)\s*>")
_ENTRY_START = re.compile(rb"<(?:[\w.-]+:)?(?:item|entry)[\s/>]")
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
    # Atom's feed-level <author>, which applies to an entry without one (RFC 4287 §4.2.1).
    # RSS has no such rule: a channel's managingEditor is its editorial contact (an e-mail
    # address, by the spec), not the byline of every story in it.
    author: str


def parse_xml_feed(body: bytes, headers: dict[str, str], source: SourceInfo) -> ParsedFeed:
    """An RSS or Atom body as Articles; raise SourceError when feedparser finds no feed."""
    content_type = headers.get("content-type", "")
    withdrawn = _tombstones(body, source)
    body, _encoding, encoding_note = to_utf8(body, content_type)
    mime = content_type.split(";")[0].strip() or "application/xml"
    # We already decoded; tell feedparser so. A missing Content-Type (a file source) is not a
    # problem worth a note, so we name the generic XML type rather than let it complain.
    # No Content-Location: given a base, feedparser joins it with itself at every element and
    # resolves every link, a fifth of its time; we resolve the few URLs we use (_joined),
    # unless the document is one only feedparser given the base reads right (_needs_base).
    response_headers = {"content-type": f"{mime}; charset=utf-8"}
    if source.url and _needs_base(body):
        response_headers["content-location"] = source.url
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
    broken = _broken_entry(parsed, mended or body)
    if broken is not None and broken < len(entries):
        # A feed cut off mid-download, or broken inside an item: feedparser's loose reading
        # still gives the item open at the break, with its text, link or date lost. Taken,
        # it would overwrite the stored story with that wreck and publish it as a correction.
        # The items after it are as feedparser reads any sloppy feed: kept.
        notes.append(
            f"item {broken + 1} skipped: the XML breaks inside it (a cut-off download?); "
            "its stored story kept as it was"
        )
        entries = entries[:broken] + entries[broken + 1 :]
    if mended is not None:
        notes.append("feed is not well-formed XML: an `&` that starts no entity read as an `&`")
    # Atom says which text is plain (type="text", its default); RSS does not, and its titles
    # often carry escaped markup.
    atom = version.startswith("atom")
    feed_id, names = _names(parsed, mended or body, response_headers, source)
    origin = _origin(parsed.get("feed", {}), source, atom, feed_id)
    if broken is not None and broken < len(names):
        names = names[:broken] + names[broken + 1 :]
    kept = [(e, name) for e, name in zip(entries, names, strict=True) if not _is_empty(e)]
    stories = [entry for entry, _name in kept]
    if len(stories) < len(entries):
        # e.g. a stray `<item />` nested inside another item: nothing to publish.
        notes.append(f"{len(entries) - len(stories)} empty item(s) skipped")
    read = [_entry_to_article(entry, name, source, origin, atom) for entry, name in kept]
    notes.extend(
        dates_notes(
            [
                (written, article.published)
                for entry, article in zip(stories, read, strict=True)
                if (written := _get(entry, "published") or _get(entry, "updated"))
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
    the stories they withdraw (ref is the entry's id as the partner wrote it: `_ref_guids`)."""
    if TOMBSTONES_NS.encode() not in body:
        return []  # the common case costs one byte search, not a second parse
    try:
        # The feed's URL as the document's own: an element's `.base` is then what its
        # xml:base makes of it, as feedparser's.
        root = etree.fromstring(body, _SAFE_XML, base_url=source.url or None)
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
        # itertext: the text around an entity reference, which stays unexpanded. The comment
        # is text (RFC 6721): `Legal <b>review</b>` written escaped is those words, as written.
        reason = literal_text("".join(comment.itertext()), 300) if comment is not None else ""
        when = to_utc(element.get("when") or None)
        for guid in _ref_guids(ref, element.base, source):
            found[guid] = Withdrawal(article_id(source.id, guid), reason, when)
    return list(found.values())


def _ref_guids(ref: str, base: str | None, source: SourceInfo) -> list[str]:
    """The guids a tombstone's ref may name one of this source's stories by: the ref made
    absolute as an entry's id is (against the configured URL, whatever the xml:base:
    `_unbased_ids`), as written (an RSS guid marked isPermaLink="false" is kept so, and a
    `file:` source's ids are), and under the xml:base where it stands (how ids were made before
    they stopped following it: stories stored then keep those ids). All of this source: a ref
    never withdraws another source's story."""
    forms = [_joined(ref, source.id_base) if source.id_base else ref, ref]
    if base:
        forms.append(_joined(ref, base))
    return [form for form in dict.fromkeys(forms) if form]


def _needs_base(body: bytes) -> bool:
    return any(p.search(body) for p in (_OWN_BASE, _LINKED_ENCLOSURE, _TEXT_THUMBNAIL))


def _permalinks(body: bytes) -> dict[str, set[bool]]:
    """Each RSS guid's text, with whether feedparser took it for a permalink (isPermaLink
    absent or exactly "true")."""
    found: dict[str, set[bool]] = {}
    for attrs, cdata, text in _GUID.findall(body):
        given = _PERMALINK.search(attrs)
        value = (given.group(1) or given.group(2)) if given else b"true"
        guid = cdata.decode("utf-8", "replace") if cdata else unescape(text.decode("utf-8"))
        found.setdefault(guid.strip(), set()).add(value == b"true")
    return found


def _joined(url: str, base: str) -> str:
    """`url` resolved against `base` as feedparser resolves a link ("" when urljoin cannot)."""
    if not url or not base:
        return url
    try:
        return urljoin(base, url)
    except ValueError:
        return ""


def _resolved_by_feedparser(entry: Any) -> bool | None:
    """Whether feedparser, given a base, made this entry's (or feed's) id absolute: a <guid>
    (isPermaLink not "false") or an Atom <id> is, an RDF `rdf:about` never; None when
    feedparser's record does not tell (a link came before a guid, which hides its isPermaLink)."""
    if "guidislink" not in entry:  # no <guid>/<id> element: an rdf:about, or no id
        return False
    if entry["guidislink"]:
        return True
    # A permalink guid with no link before it is copied to the link: no link, no permalink.
    return False if "link" not in entry else None


def _names(
    parsed: Any, body: bytes, response_headers: dict[str, str], source: SourceInfo
) -> tuple[str, list[tuple[str, str]]]:
    """The feed's id, and each entry's guid and link: what an item is known by (its guid, else
    its link). The links follow any base of the document's own (xml:base), the ids do not
    (`_unbased_ids`)."""
    feed_id, names = _based_names(parsed, body, response_headers, source)
    unbased = _unbased_ids(body, response_headers, source, len(names))
    if unbased is None:
        return feed_id, names
    feed_id, guids = unbased
    return feed_id, [(guid, link) for guid, (_based, link) in zip(guids, names, strict=True)]


def _unbased_ids(
    body: bytes, response_headers: dict[str, str], source: SourceInfo, count: int
) -> tuple[str, list[str]] | None:
    """The feed's id and each entry's guid as they are with no base of the document's own
    (xml:base, or a plain `base`): a relative one made absolute against the configured URL
    alone. None when the document sets no base, or has no relative <id> or <guid> for one to
    move (its ids are then as `_based_names` made them).

    An id says which story an item is, not where it is: a relative one follows the source's
    `url:` in the YAML (README), so a feed whose xml:base changes (`/base/dir/` to `/base/v2/`)
    keeps its stories, as a feed that moves does. feedparser applies every base to an id; the
    document read again with each base attribute renamed (the same elements in the same order,
    so the same entries) gets only the configured one."""
    if not _OWN_BASE.search(body):
        return None
    if all(_SCHEME.match(text) for text in _ID_TEXT.findall(body) if text):
        return None  # every id is absolute: no base moves it
    unbased = _BASE_ATTRIBUTE.sub(lambda m: b"ignored-" + m.group().replace(b":", b"-"), body)
    if unbased == body:
        return None  # `base=` only as text, or as part of another name (`codebase=`)
    headers = {k: v for k, v in response_headers.items() if k != "content-location"}
    if source.id_base:
        headers["content-location"] = source.id_base
    feed_id, names = _exact_names(unbased, headers)
    if len(names) != count:
        return None  # read otherwise (only a document feedparser reads loosely could be)
    return feed_id, [guid for guid, _link in names]


def _based_names(
    parsed: Any, body: bytes, response_headers: dict[str, str], source: SourceInfo
) -> tuple[str, list[tuple[str, str]]]:
    """The feed's id, and each entry's guid and link, as feedparser made them given the base
    `source.id_base` (under any base of the document's own).

    feedparser made a relative guid (`<guid>ep-3</guid>`, isPermaLink left at its default, or
    an Atom <id>; never one isPermaLink="false") absolute against the URL the body came from,
    and stores hold it so: for a feed that has not moved, the same base gives the same bytes,
    hence the same story ids. The base is the configured URL, not where a redirect led
    (SourceInfo.id_base): a guid then stays put when the feed moves, and when the operator
    copies the new URL into the YAML, the item's link (which followed the feed at the move)
    is the one stored, so the store's rename by link keeps the id (decide.renamed_guids).
    A guid no base changes costs nothing; one whose isPermaLink feedparser's record hides,
    is read from the document's <guid> elements (one with that text whose isPermaLink says),
    and one they do not settle, or a document read with another base (_needs_base), by a
    second parse with the base, exactly as before."""
    feed = parsed.get("feed", {})
    records = [feed, *parsed.get("entries", [])]
    given = [str(_get(r, "id") or "") for r in records]
    links = [str(_get(r, "link") or "") for r in records]
    base = source.id_base
    based = response_headers.get("content-location")
    if not base or based == base:
        return given[0], list(zip(given[1:], links[1:], strict=True))
    if based:
        return _exact_names(body, {**response_headers, "content-location": base})
    permalinks: dict[str, set[bool]] | None = None  # read once, when needed
    resolved: list[str] = []
    for record, guid in zip(records, given, strict=True):
        joined = _joined(guid, base) if guid else ""
        if joined == guid:
            resolved.append(guid)
            continue
        resolvable = _resolved_by_feedparser(record)
        if resolvable is None:
            if permalinks is None:
                permalinks = _permalinks(body)
            said = permalinks.get(guid, set())
            resolvable = next(iter(said)) if len(said) == 1 else None
        if resolvable is None:
            return _exact_names(body, {**response_headers, "content-location": base})
        resolved.append(joined if resolvable else guid)
    joined_links = [_joined(link, base) for link in links[1:]]
    return resolved[0], list(zip(resolved[1:], joined_links, strict=True))


def _exact_names(
    body: bytes, response_headers: dict[str, str]
) -> tuple[str, list[tuple[str, str]]]:
    """The feed's id, and each entry's guid and link, as feedparser reads them with these
    headers."""
    again = _feedparse(body, response_headers)
    entries = again.get("entries", [])
    names = [(str(_get(e, "id") or ""), str(_get(e, "link") or "")) for e in entries]
    return str(_get(again.get("feed", {}), "id") or ""), names


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


def _broken_entry(parsed: Any, body: bytes) -> int | None:
    """The index of the entry open where a not-well-formed document breaks; None when it is
    well-formed, broken only by an undefined entity (an HTML one such as `&nbsp;`, which
    feedparser's loose reading resolves as its author meant) or broken outside any entry."""
    if not isinstance(parsed.get("bozo_exception"), SAXParseException):
        return None
    # feedparser's error is about the document as it rewrote it (its DOCTYPE replaced), so its
    # line and column may be elsewhere in ours: expat says where ours breaks, to the byte.
    # Nothing is fetched (no external entity or DTD is ever read) and nothing is kept.
    parser = expat.ParserCreate("utf-8")  # the bytes are UTF-8 by now (`to_utf8`)
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    try:
        parser.Parse(body, True)
    except expat.ExpatError as exc:
        if exc.code == expat.errors.codes[expat.errors.XML_ERROR_UNDEFINED_ENTITY]:
            return None
        ended = len(_ENTRY_END.findall(body, 0, parser.ErrorByteIndex))
        started = len(_ENTRY_START.findall(body, 0, parser.ErrorByteIndex))
        return ended if started > ended else None
    return None


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


def _origin(feed: Any, source: SourceInfo, atom: bool, feed_id: str) -> _Origin:
    return _Origin(
        link=absolute_url(feed.get("link", ""), source.url) or source.public_url,
        title=_text(feed, "title", atom) or source.title,
        language=normalise_language(feed.get("language")) or normalise_language(source.language),
        id=_feed_id(feed, source, feed_id),
        updated=_date(feed, "updated", source) or _date(feed, "published", source),
        author=_byline(feed) if atom else "",
    )


def _feed_id(feed: Any, source: SourceInfo, feed_id: str) -> str:
    given = plain_text(feed_id, 500)
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


def _byline(record: Any) -> str:
    """The names of an entry's (or feed's, or atom:source's) authors. feedparser's `author`
    joins an address to the name (`Ерлан (noreply@blogger.com)`), and keeps the last of
    several: each author's own name is read instead."""
    return byline(plain_text(str(_get(a, "name") or "")) for a in _get(record, "authors") or [])


def _author(entry: Any, origin: _Origin) -> str:
    """An entry's byline: its own authors, else (Atom) those of the feed it was taken from
    (atom:source), else of this feed (RFC 4287 §4.2.1)."""
    if _get(entry, "authors"):
        return _byline(entry)
    source = _get(entry, "source")
    if isinstance(source, dict) and _get(source, "authors"):
        return _byline(source)
    return origin.author


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


def _entry_to_article(
    entry: Any, name: tuple[str, str], source: SourceInfo, origin: _Origin, atom: bool
) -> Article:
    feed_link = origin.link
    # FeedBurner rewrites links to a tracking redirect and keeps the real one in origLink
    # (which feedparser never resolved). The link (under any xml:base, already applied) is
    # relative to the feed's URL, as feedparser would have made it.
    origlink = _get(entry, "feedburner_origlink")
    given_link = _get(entry, "link", "")
    link = absolute_url(origlink or _joined(given_link, source.url), feed_link)
    # An item with no guid is known by its link: made absolute as a guid is (see _names).
    given_guid, link_by_name = name
    id_link = link
    if not origlink and source.id_base != source.url:
        id_link = absolute_url(link_by_name, feed_link)
    raw_content, content_base = _pick_content(entry)
    # feedparser reports the base of the content: its xml:base (relative to the feed's URL),
    # or none. Relative URLs in an item's HTML with none mean the item's own page (as feed
    # readers resolve them), as they do under an xml:base that names the feed's URL itself.
    content_base = _joined(content_base, source.url)
    if content_base and content_base != source.url:
        base = absolute_url(content_base, feed_link)
    else:
        base = link or feed_link
    content = sanitise_html(raw_content, base)
    enclosures = entry.get("enclosures", [])  # built from the links at each lookup: once
    if atom:
        # Atom's enclosures are links, which feedparser resolved against the feed's URL (RSS's
        # <enclosure url> it left to us: relative to the item, below).
        enclosures = [
            {**e, "href": _joined(_get(e, "href", ""), source.url)} if _get(e, "href") else e
            for e in enclosures
        ]
    body_text = sanitised_text(content)
    summary = _text(entry, "summary", atom)
    if not summary or summary == body_text:
        summary = body_text
    files = _enclosures(enclosures, base)
    published = _date(entry, "published", source) or _date(entry, "updated", source)
    title = (
        visible(_text(entry, "title", atom, 300))
        or fallback_title(body_text, summary)
        or untitled_title(
            # A podcast episode's own title, or an Atom enclosure link's.
            _get(entry, "itunes_title") or next((_get(e, "title") for e in enclosures), ""),
            [f.url for f in files],
            origin.title or source.id,
            published,
        )
    )
    guid = item_guid(
        given_guid,
        id_link,
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
        title=title,
        link=link,
        summary=shorten(summary, SUMMARY_CHARS),
        content=content,
        author=_author(entry, origin),
        categories=_categories(entry),
        image=_image(entry, enclosures, content, base),
        enclosures=files,
        language=language,
        published=published,
        updated=_date(entry, "updated", source) or _date(entry, "published", source),
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
    """The story's picture: its media, an image enclosure, its itunes:image, the first image
    of its content; a thumbnail too small to show (`_too_small`) only when it has none of
    these."""
    small = ""
    for key in ("media_thumbnail", "media_content"):
        for media in _get(entry, key, []) or []:
            url = media.get("url", "")
            kind = _get(media, "type", "") or _get(media, "medium", "")
            if url and key == "media_thumbnail" and _too_small(media):
                small = small or url
            elif url and (key == "media_thumbnail" or "image" in kind or not kind):
                return absolute_url(url, base)
    for enc in enclosures:
        if (_get(enc, "type") or "").startswith("image/") and _get(enc, "href"):
            return absolute_url(enc["href"], base)
    image = _get(entry, "image")
    if isinstance(image, dict) and _get(image, "href"):
        return absolute_url(image["href"], base)
    match = _FIRST_IMG.search(content)
    if match:
        # The sanitised HTML escapes `&` in attributes; the field holds the URL itself.
        return unescape(match.group(1))
    return absolute_url(small, base) if small else ""


def _too_small(thumbnail: Any) -> bool:
    """Whether a media:thumbnail says (its width or height, or Blogger's size in its URL) it
    is smaller than a picture worth showing with a story."""
    sizes = [str(_get(thumbnail, "width") or ""), str(_get(thumbnail, "height") or "")]
    sizes += _BLOGGER_SIZE.findall(str(_get(thumbnail, "url") or ""))
    return any(size.strip().isdigit() and 0 < int(size) < _USABLE_PIXELS for size in sizes)


def _date(entry: Any, key: str, source: SourceInfo) -> datetime | None:
    """The date `key` (published, updated) of an entry or feed, read from what it says: not
    feedparser's `*_parsed`, which misreads the forms `dates` knows (one without a zone in
    the source's)."""
    # dict.get: FeedParserDict's own lookup silently swaps published/updated (with a warning).
    value = dict.get(entry, key)
    return read_date(value, source.zone) if value else None
