"""HTML for republication: sanitising, plain text, absolute URLs, XML-safe text.

Owns: the allow-list a partner newsroom can republish safely (nh3), relative URLs made
absolute, trackers and one-pixel images dropped, a URL's query parameters dropped by name (the
well-known tracking ones: `untracked`), plain text from HTML (entities decoded, block
boundaries kept as spaces, Chinese line breaks not turned into spaces), shortening at a word,
a title from a first sentence, the correction note's paragraph, and text and URLs made safe
to put into XML. A leaf: every
stage may import it; it imports nothing of ours.
"""

from __future__ import annotations

import contextlib
import html
import re
import threading
from collections.abc import Callable
from urllib.parse import unquote_plus, urljoin, urlsplit

import nh3

# Tags a partner newsroom can republish safely; anything else is unwrapped to its text.
ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "dd", "del", "dl", "dt",
    "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins",
    "li", "mark", "ol", "p", "pre", "q", "s", "small", "strong", "sub", "sup", "table",
    "tbody", "td", "tfoot", "th", "thead", "time", "tr", "u", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title", "hreflang"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "time": {"datetime"},
    "blockquote": {"cite"},
    "q": {"cite"},
    "ol": {"start"},
}
# Dropped together with their content, not unwrapped.
DROP_WITH_CONTENT = {
    "script", "style", "iframe", "object", "embed", "noscript", "template", "svg", "math",
    "form", "button", "select", "textarea", "head", "title",
}  # fmt: skip

_TRACKER_HOSTS = ("feeds.feedburner.com", "feedproxy.google.com", "pixel.", "stats.", "ad.")
# Query parameters that say who sent a reader (a campaign, a click), never which page: FeedBurner
# and many CMSs add them to a feed's links, and ad networks and mailers to every link they pass.
_TRACKING_PREFIXES = ("utm_",)
_TRACKING_NAMES = frozenset(
    {"fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid", "igshid",
     "mc_cid", "mc_eid", "_ga", "_gl"}
)  # fmt: skip
_SPACE = re.compile(r"\s+")
# Unicode categories Cc (C0, DEL, C1) and Cs (surrogates), keeping tab, LF and CR: one regex
# pass instead of a unicodedata lookup per character (that loop was 40% of parsing a feed).
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_ASCII_CONTROLS = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])
_IMG = re.compile(r"<img\b[^>]*>", re.I)
_PIXEL_SIZE = re.compile(r'\s(?:width|height)="[01](?:px)?"', re.I)
# Block-level boundaries: stripping the tags must not glue "end.</p><p>Next" into "end.Next".
_BLOCK_END = re.compile(
    r"(<br\b[^>]*>|<hr\b[^>]*>|</(?:p|div|li|h[1-6]|tr|td|th|blockquote|dd|dt|pre|figcaption"
    r"|caption|table|ul|ol|dl|section|article)\s*>)",
    re.I,
)
# CJK characters, bar the ideographic space U+3000 (whitespace, which `str.split` collapses).
_CJK = "\u2e80-\u2fff\u3001-\u9fff\uf900-\ufaff\uff00-\uffef"
# A line break inside Chinese text is not a word space (Markdown and HTML sources wrap a
# sentence with a soft "\n"; a block end or <br> counts as one): whitespace with a line break
# between two CJK characters goes. A space or U+3000 typed between two clauses is the author's,
# and stays (U+3000 as a space, as `_collapse` makes every gap).
_LINE_BREAKS = "\r\n\u2028\u2029"
_CJK_GAP = re.compile(f"(?<=[{_CJK}])[^\\S{_LINE_BREAKS}]*[{_LINE_BREAKS}]\\s*(?=[{_CJK}])")
_CJK_CHAR = re.compile(f"[{_CJK}]")
# A tag as nh3 serialises it: attribute values always in double quotes (`>` escaped anyway).
_SANITISED_TAG = re.compile(r'<[A-Za-z/][^>"]*(?:"[^"]*"[^>"]*)*>')
_PRE_NEWLINE = re.compile(r"(<pre\b[^>]*>)\n")
_ONE_PIXEL = re.compile(r'\s*<img[^>]*(width="1"|height="1")[^>]*>\s*')


# What a URI may not hold as it is (RFC 3986): anything outside printable ASCII (spaces of
# any script, controls, and every other non-ASCII character: an IRI's letters are valid in
# Atom but not in an RSS `enclosure`), these delimiters, and a `%` not starting an escape.
_WRAPPING = str.maketrans("", "", "\t\n\r")
_NOT_IN_URI = re.compile(r'[^\x21-\x7e]|["<>\\^`{|}]|%(?![0-9A-Fa-f]{2})')

# A correction note (see `correction_note`); sanitising drops the class, so the publisher
# puts the paragraph back together from the note's text.
CORRECTION_OPEN = '<p class="correction">'
_OPENING_P = re.compile(r"\s*(<p\b[^>]*>)(.*?)</p\s*>", re.S | re.I)
_LEADING_STRONG = re.compile(r"^\s*<strong\b[^>]*>.*?</strong\s*>", re.S | re.I)

# The base URL of the fragment this thread is sanitising, for the shared sanitiser's filter.
_BASE = threading.local()


def _attribute_filter(tag: str, attr: str, value: str) -> str | None:
    if attr in ("href", "src", "cite"):
        absolute = absolute_url(value, _BASE.url)
        scheme = urlsplit(absolute).scheme.lower()
        if scheme not in ("http", "https", "mailto"):
            return None
        if tag == "img" and _is_tracker(absolute):
            return None
        # In the text as in an enclosure: a URI (a Chinese path, a host in another script).
        # Nearly every URL is one already: the search alone (0.3 µs, not web_url's 4).
        if scheme == "mailto" or not _NOT_IN_URI.search(absolute):
            return absolute
        return web_url(absolute)
    return value


# Built once: `nh3.clean` builds its whole allow-list (the sets, the map) again at every call,
# which cost as much as the sanitising itself. A Cleaner keeps no state between calls.
_SANITISER = nh3.Cleaner(
    tags=ALLOWED_TAGS,
    clean_content_tags=DROP_WITH_CONTENT,
    attributes=ALLOWED_ATTRIBUTES,
    attribute_filter=_attribute_filter,
    url_schemes={"http", "https", "mailto"},
    link_rel="noopener",
    strip_comments=True,
)
_TEXT_ONLY = nh3.Cleaner(tags=set(), clean_content_tags=DROP_WITH_CONTENT)


def sanitise_html(fragment: str, base_url: str = "") -> str:
    """Sanitise HTML for republication and make every URL in it absolute."""
    if not fragment:
        return ""
    _BASE.url = base_url
    cleaned = _SANITISER.clean(fragment)
    # An <img> whose src was refused (tracker, javascript:, data:) is dropped whole, and so is
    # a 1x1 (or 0-sized) image wherever it sits: that is a tracking pixel, not a picture.
    cleaned = _IMG.sub(lambda m: m.group(0) if _is_picture(m.group(0)) else "", cleaned)
    if _is_one_pixel_only(cleaned):
        return ""
    return cleaned.strip()


def correction_note(label: str, note_html: str) -> str:
    """The paragraph that opens a corrected story: the fixed label in the language of the text
    (never machine-translated) and the note (`note_html`: HTML-escaped text)."""
    return f"{CORRECTION_OPEN}<strong>{html.escape(label)}</strong> {note_html}</p>"


def opening_note(content: str) -> tuple[str, str, str] | None:
    """(the opening paragraph's start tag, the note after its `<strong>` label, the rest) of
    `content`, or None when it does not open with a paragraph. The caller knows the paragraph
    is a correction note (the story has one); sanitised HTML nests no paragraph in another."""
    match = _OPENING_P.match(content)
    if match is None:
        return None
    note = _LEADING_STRONG.sub("", match.group(2), count=1).strip()
    return match.group(1), note, content[match.end() :]


def _is_tracker(url: str) -> bool:
    host = urlsplit(url).netloc.lower()
    return host.startswith(_TRACKER_HOSTS) or "/~r/" in url


def _is_picture(img: str) -> bool:
    return " src=" in img and not _PIXEL_SIZE.search(img)


def _is_one_pixel_only(cleaned: str) -> bool:
    return "<img" in cleaned and _ONE_PIXEL.fullmatch(cleaned) is not None


def absolute_url(url: str, base: str = "") -> str:
    url = (url or "").strip()
    if not url:
        return ""
    try:
        return urljoin(base, url) if base else url
    except ValueError:
        return url


def without_parameters(url: str, unwanted: Callable[[str], bool]) -> str:
    """`url` without the query parameters whose name (decoded, in lower case) is `unwanted`;
    the others as written, in their order. `url` itself, as given, when it has none of them:
    a key or an id made of a URL stays the same string."""
    head, hash_mark, fragment = url.partition("#")
    base, question_mark, query = head.partition("?")
    if not question_mark:
        return url
    pairs = query.split("&")
    kept = [p for p in pairs if not unwanted(unquote_plus(p.partition("=")[0]).lower())]
    if len(kept) == len(pairs):
        return url
    kept = [p for p in kept if p]
    return base + ("?" + "&".join(kept) if kept else "") + hash_mark + fragment


def untracked(url: str) -> str:
    """`url` without the well-known tracking parameters (`utm_*`, `fbclid`, `gclid`, …): the
    same page whoever sent the reader there."""
    return without_parameters(url, _is_tracking)


def _is_tracking(name: str) -> bool:
    return name in _TRACKING_NAMES or name.startswith(_TRACKING_PREFIXES)


def plain_text(fragment: str, limit: int | None = None) -> str:
    """Text without markup, entities decoded, whitespace collapsed; cut at a word if `limit`."""
    if not fragment:
        return ""
    if "<" in fragment or "&" in fragment:
        # Each block end followed by a line break, as _BLOCK_END.sub("\\1\\n") does, without
        # expanding that template once per tag in Python.
        parts = _BLOCK_END.split(fragment)
        parts[1::2] = [tag + "\n" for tag in parts[1::2]]
        fragment = _TEXT_ONLY.clean("".join(parts))
        fragment = html.unescape(fragment)
    text = _collapse(fragment)
    return shorten(text, limit) if limit else text


def literal_text(text: str, limit: int | None = None) -> str:
    """Text that is plain already (Atom `type="text"`, JSON Feed's title and summary), as
    written: controls stripped and whitespace collapsed as `plain_text` does, but nothing in it
    read as markup or as an entity (`<script>` and `&amp;` are the words the author wrote)."""
    text = _collapse(text) if text else ""
    return shorten(text, limit) if limit else text


def _collapse(text: str) -> str:
    """`text` without control characters, its whitespace collapsed, no line break inside CJK
    text."""
    text = _strip_controls(text)
    # The look-behind scan costs; most text has no CJK at all, ASCII text none for sure, and
    # a text on one line no break to drop.
    if (
        not text.isascii()
        and ("\n" in text or "\r" in text or "\u2028" in text or "\u2029" in text)
        and _CJK_CHAR.search(text)
    ):
        text = _CJK_GAP.sub("", text)
    # str.split() splits on exactly the characters `\s` matches: same as _SPACE.sub + strip.
    return " ".join(text.split())


def sanitised_text(cleaned: str) -> str:
    """`plain_text` of HTML that `sanitise_html` produced, without a second nh3 parse.

    nh3's serialiser escapes `<`, `>` and `&` in text and attribute values, double-quotes every
    attribute and keeps no comment, script or style, so its tags can be cut out with a regex and
    its text unescaped. The one thing a re-parse would change is the newline the HTML parser
    drops right after `<pre>`; that is dropped here too. Same result as `plain_text(cleaned)`
    (checked over the corpus and fuzzed fragments), at a fraction of the cost.
    """
    if not cleaned:
        return ""
    if "<" in cleaned or "&" in cleaned:
        if "<pre" in cleaned:
            cleaned = _PRE_NEWLINE.sub(r"\1", cleaned)
        # Every `<` here opens a whole tag, which _SANITISED_TAG would remove: a block end is
        # replaced by its line break at once (as if kept, followed by one, then removed).
        cleaned = html.unescape(_SANITISED_TAG.sub("", _BLOCK_END.sub("\n", cleaned)))
    return _collapse(cleaned)


def _strip_controls(text: str) -> str:
    """`text` without control characters (Unicode Cc, bar tab and newlines) or lone surrogates."""
    if text.isascii():  # bytes.translate deletes the ASCII ones 5x faster than the regex
        stripped = text.encode().translate(None, _ASCII_CONTROLS)
        return text if len(stripped) == len(text) else stripped.decode()
    return _CONTROLS.sub("", text)


def shorten(text: str, limit: int) -> str:
    """Cut at a word boundary (or anywhere for scripts without spaces), adding an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:—-") + "…"


_SENTENCE_END = re.compile(r"(?<=[.!?。！？])(?:\s+|(?=[^\s.!?。！？”’\"'»)]))")


def first_sentence(text: str, limit: int = 120) -> str:
    """A title for a story that has none: its first sentence, shortened at a word."""
    text = _SPACE.sub(" ", text).strip()
    match = _SENTENCE_END.search(text)
    sentence = text[: match.start()].strip() if match else text
    sentence = sentence.rstrip(".")
    return shorten(sentence, limit)


_XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(text: str) -> str:
    """Drop characters XML 1.0 cannot carry (a partner's stray \\x08 must not break a feed)."""
    return _XML_INVALID.sub("", text)


def web_url(url: str) -> str:
    """The URL if it is http(s), else nothing: only web links reach partners and readers.

    Written as a URI, as a browser asks for it: a space in an image's file name (a real
    partner's screenshots have one), Chinese letters in a path, a `%` that escapes nothing
    are percent-encoded (UTF-8), a host in another script is written in IDNA. An RSS
    `enclosure` or Atom `href` holding them as they are is invalid, and some readers drop
    the item. A URL that needs none of it (nearly all) is returned as it is.
    """
    # Tabs and line breaks inside a URL are wrapping, not part of it: browsers drop them.
    url = xml_safe(url).translate(_WRAPPING)
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        return ""
    if not _NOT_IN_URI.search(url):
        return url
    cut = url.index(parts.netloc) + len(parts.netloc) if parts.netloc else len(parts.scheme) + 1
    head = url[:cut]
    if not head.isascii():
        head = head[: cut - len(parts.netloc)] + _ascii_host(parts.netloc)
    return _NOT_IN_URI.sub(_percent, head) + _NOT_IN_URI.sub(_percent, url[cut:])


def _ascii_host(netloc: str) -> str:
    """`user@host:port` with the host in IDNA (its user name is left to percent-encoding)."""
    user, at, hostport = netloc.rpartition("@")
    host, colon, port = hostport.partition(":")
    with contextlib.suppress(UnicodeError):  # a name IDNA cannot write: percent-encoded
        host = host.encode("idna").decode("ascii")
    return f"{user}{at}{host}{colon}{port}"


def _percent(match: re.Match[str]) -> str:
    return "".join(f"%{byte:02X}" for byte in match.group().encode())
