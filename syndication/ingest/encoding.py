"""Turning a fetched body into the UTF-8 bytes a parser can trust.

Owns: a gzip body sent without Content-Encoding (inflated within the size cap), and the
charset: a BOM, valid UTF-8, the HTTP charset or the XML declaration when the bytes decode
with it (unless a Western table turns Cyrillic bytes into Latin-1 letters), else
charset_normalizer's guess; legacy labels read as the superset browsers use; a note whenever
we overrule what the feed declares. Knows nothing about feed formats beyond
the XML declaration it rewrites.
"""

from __future__ import annotations

import codecs
import re
import zlib

from syndication.errors import SourceError

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
# Western single-byte tables decode any byte: a Cyrillic feed saved in windows-1251 or KOI8-R
# under one of their labels (a common misconfiguration on Russian and Kazakh sites) decodes
# without an error as `Êóðñ òåíãå`, then reads as Turkish.
_WESTERN = frozenset({"cp1252", "iso8859-1", "iso8859-15", "ascii"})
_CYRILLIC_TABLES = ["cp1251", "koi8_r"]
# What is no text's words: tags, escaped tags in a description, entities. Each attempt stops
# at the next `<` or `&`, so a body of unclosed ones costs one pass, not one per attempt.
_MARKUP = re.compile(r"<[^<>]*>|&lt;[^&]*&gt;|&#?\w{1,10};")
# A feed's first 100,000 characters tell its script as well as the rest.
_MOJIBAKE_SAMPLE = 100_000
# The letters À..ÿ, where both Cyrillic tables put the Russian alphabet (and Kazakh shares it).
_LATIN1_LETTERS = re.compile("[\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u00ff]")
# Even the Western languages richest in accents write under 15% of their letters with them.
_MOJIBAKE_SHARE = 0.3


def inflate(body: bytes, source_id: str, max_bytes: int) -> bytes:
    """The body, inflated if it is gzip bytes (some servers send them without
    Content-Encoding); a corrupt or oversized one is the source's error."""
    if not body.startswith(b"\x1f\x8b"):
        return body
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, max_bytes + 1)
    except zlib.error as exc:
        raise SourceError(source_id, f"body looks gzip-compressed but is corrupt: {exc}") from None
    if len(out) > max_bytes or inflater.unconsumed_tail:
        raise SourceError(source_id, f"gzip body inflates past the {max_bytes:,}-byte limit")
    return out


def to_utf8(body: bytes, content_type: str = "") -> tuple[bytes, str, str]:
    """The feed re-encoded as UTF-8, the encoding it was read as, and a note if we overruled.

    feedparser trusts the declared charset and, failing that, falls back to windows-1252 or
    ISO-8859-2, which turns undeclared KOI8-R, a cut-off UTF-8 tail, or UTF-8 labelled as
    windows-1252 into mojibake. We decide the encoding once, here: a BOM; else valid UTF-8
    (a multi-byte UTF-8 sequence almost never occurs by chance in legacy-encoded text); else
    the HTTP charset, then the XML declaration, if the bytes decode with it (a Western table,
    which decodes any byte, gives way to the Cyrillic table charset_normalizer picks when its
    text is Cyrillic read with the wrong table: `Êóðñ òåíãå`); else charset_normalizer's guess
    (installed with `requests`, a declared dependency).
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
            note = _declared_but(declared, "UTF-8")
        return _reencode(body[:valid].decode("utf-8")), "utf-8", note
    for label in (http_label, xml_label):
        name = _codec(label)
        if name is None or name.startswith("utf-"):
            continue
        try:
            text = body.decode(name)
        except UnicodeDecodeError:
            continue
        if name in _WESTERN and _cyrillic_mojibake(text):
            cyrillic = _guess_encoding(body, _CYRILLIC_TABLES)
            if cyrillic:
                return _reencode(body.decode(cyrillic)), cyrillic, _declared_but(label, cyrillic)
        return _reencode(text), name, note
    guess = _guess_encoding(body)
    if guess:
        if declared:
            note = f"feed declares {declared} but does not decode with it; read as {guess}"
        else:
            note = f"feed declares no encoding; read as {guess}"
        return _reencode(body.decode(guess, "replace")), guess, note
    note = "feed encoding unknown; undecodable bytes replaced"
    return _reencode(body.decode("utf-8", "replace")), "utf-8", note


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


def _declared_but(declared: str | None, used: str) -> str:
    return f"feed declares {declared} but its bytes are {used}; read as {used}"


def _cyrillic_mojibake(text: str) -> bool:
    """Whether `text`, decoded with a Western table, is Cyrillic read with the wrong one: the
    letters of its words (markup aside) are in good part À..ÿ."""
    words = _MARKUP.sub(" ", text[:_MOJIBAKE_SAMPLE])
    letters = sum(map(str.isalpha, words))
    return letters > 0 and len(_LATIN1_LETTERS.findall(words)) > letters * _MOJIBAKE_SHARE


def _guess_encoding(body: bytes, among: list[str] | None = None) -> str | None:
    """charset_normalizer's guess, among the codecs `among` when given."""
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # pragma: no cover - requests brings it; degrade to replacement
        return None
    best = from_bytes(body, cp_isolation=among).best()
    return _codec(best.encoding) if best is not None else None


def _reencode(text: str) -> bytes:
    data = text.encode("utf-8")
    # The declaration must agree with the bytes we hand on, or feedparser re-decodes wrongly.
    return _XML_DECL_ENCODING.sub(lambda m: m.group(1) + m.group(2) + b"utf-8" + m.group(2), data)
