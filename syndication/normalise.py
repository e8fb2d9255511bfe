"""Normalising: one clean shape for every story, whichever kind of source it came from.

Owns: HTML sanitising to a republication allow-list (nh3), relative URLs made absolute,
dates in UTC, plain-text titles and summaries, stable article ids, and the language check
(declared language confirmed or overruled by lingua and Kazakh's own letters).
"""

from __future__ import annotations

import email.utils
import hashlib
import html
import logging
import re
from datetime import UTC, datetime
from functools import cache
from typing import Any
from urllib.parse import urljoin, urlsplit

import nh3

log = logging.getLogger(__name__)

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
_SPACE = re.compile(r"\s+")
_KAZAKH_LETTERS = set("әғқңөұүһіӘҒҚҢӨҰҮҺІ")
_KAZAKH = re.compile(f"[{''.join(sorted(_KAZAKH_LETTERS))}]")
# The script each language we detect by default is written in (for the cheap check).
_SCRIPTS = {"en": "latin", "ru": "cyrillic", "kk": "cyrillic", "zh": "han"}
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]")
# Unicode categories Cc (C0, DEL, C1) and Cs (surrogates), keeping tab, LF and CR: one regex
# pass instead of a unicodedata lookup per character (that loop was 40% of parsing a feed).
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_IMG = re.compile(r"<img\b[^>]*>", re.I)
_PIXEL_SIZE = re.compile(r'\s(?:width|height)="[01](?:px)?"', re.I)
# Block-level boundaries: stripping the tags must not glue "end.</p><p>Next" into "end.Next".
_BLOCK_END = re.compile(
    r"(<br\b[^>]*>|<hr\b[^>]*>|</(?:p|div|li|h[1-6]|tr|td|th|blockquote|dd|dt|pre|figcaption"
    r"|caption|table|ul|ol|dl|section|article)\s*>)",
    re.I,
)
_CJK = "\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef"
# A line break inside Chinese text is not a word space (Markdown keeps soft breaks as "\n").
_CJK_GAP = re.compile(f"(?<=[{_CJK}])\\s+(?=[{_CJK}])")
_CJK_CHAR = re.compile(f"[{_CJK}]")
# A tag as nh3 serialises it: attribute values always in double quotes (`>` escaped anyway).
_SANITISED_TAG = re.compile(r'<[A-Za-z/][^>"]*(?:"[^"]*"[^>"]*)*>')
_PRE_NEWLINE = re.compile(r"(<pre\b[^>]*>)\n")

LANGUAGE_ALIASES = {
    "kz": "kk", "kaz": "kk", "kk-kz": "kk", "zh-cn": "zh", "zh-hans": "zh", "zh-sg": "zh",
    "zh-tw": "zh", "zh-hk": "zh", "zh-hant": "zh", "chi": "zh", "zho": "zh", "cn": "zh",
    "rus": "ru", "ru-ru": "ru", "eng": "en",
}  # fmt: skip


def sanitise_html(fragment: str, base_url: str = "") -> str:
    """Sanitise HTML for republication and make every URL in it absolute."""
    if not fragment:
        return ""

    def attribute_filter(tag: str, attr: str, value: str) -> str | None:
        if attr in ("href", "src", "cite"):
            absolute = absolute_url(value, base_url)
            scheme = urlsplit(absolute).scheme.lower()
            if scheme not in ("http", "https", "mailto"):
                return None
            if tag == "img" and _is_tracker(absolute):
                return None
            return absolute
        return value

    cleaned = nh3.clean(
        fragment,
        tags=ALLOWED_TAGS,
        clean_content_tags=DROP_WITH_CONTENT,
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=attribute_filter,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener",
        strip_comments=True,
    )
    # An <img> whose src was refused (tracker, javascript:, data:) is dropped whole, and so is
    # a 1x1 (or 0-sized) image wherever it sits: that is a tracking pixel, not a picture.
    cleaned = _IMG.sub(lambda m: m.group(0) if _is_picture(m.group(0)) else "", cleaned)
    if _is_one_pixel_only(cleaned):
        return ""
    return cleaned.strip()


def _is_tracker(url: str) -> bool:
    host = urlsplit(url).netloc.lower()
    return any(host.startswith(t) or host == t for t in _TRACKER_HOSTS) or "/~r/" in url


def _is_picture(img: str) -> bool:
    return " src=" in img and not _PIXEL_SIZE.search(img)


def _is_one_pixel_only(cleaned: str) -> bool:
    return bool(re.fullmatch(r'\s*<img[^>]*(width="1"|height="1")[^>]*>\s*', cleaned))


def absolute_url(url: str, base: str = "") -> str:
    url = (url or "").strip()
    if not url:
        return ""
    try:
        return urljoin(base, url) if base else url
    except ValueError:
        return url


def plain_text(fragment: str, limit: int | None = None) -> str:
    """Text without markup, entities decoded, whitespace collapsed; cut at a word if `limit`."""
    if not fragment:
        return ""
    if "<" in fragment or "&" in fragment:
        fragment = _BLOCK_END.sub(r"\1 ", fragment)
        fragment = nh3.clean(fragment, tags=set(), clean_content_tags=DROP_WITH_CONTENT)
        fragment = html.unescape(fragment)
    # str.split() splits on exactly the characters `\s` matches: same as _SPACE.sub + strip.
    text = " ".join(_strip_controls(fragment).split())
    if _CJK_CHAR.search(text):  # the look-behind scan costs; most text has no CJK at all
        text = _CJK_GAP.sub("", text)
    return shorten(text, limit) if limit else text


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
        cleaned = html.unescape(_SANITISED_TAG.sub("", _BLOCK_END.sub(r"\1 ", cleaned)))
    text = " ".join(_strip_controls(cleaned).split())
    if _CJK_CHAR.search(text):
        text = _CJK_GAP.sub("", text)
    return text


def _strip_controls(text: str) -> str:
    """`text` without control characters (Unicode Cc, bar tab and newlines) or lone surrogates."""
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


def to_utc(value: Any) -> datetime | None:
    """A datetime, feedparser's struct_time (already UTC) or ISO text, into aware UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        dt = value if value.tzinfo else value.replace(tzinfo=UTC)
        return dt.astimezone(UTC).replace(microsecond=0)
    if hasattr(value, "tm_year"):
        try:
            return datetime(*value[:6], tzinfo=UTC)
        except (ValueError, TypeError):
            return None
    if isinstance(value, str):
        try:
            return to_utc(datetime.fromisoformat(value.strip().replace("Z", "+00:00")))
        except ValueError:
            pass
        try:  # RFC 822 dates, as RSS and HTTP headers write them
            return to_utc(email.utils.parsedate_to_datetime(value.strip()))
        except (TypeError, ValueError, IndexError):
            return None
    return None


def article_id(source_id: str, guid: str) -> str:
    return f"{source_id}:{guid}"


def content_guid(*parts: str) -> str:
    """A guid for an item that has neither guid nor link: a hash of what it says."""
    digest = hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:16]
    return f"sha256-{digest}"


def normalise_language(tag: str | None) -> str | None:
    """A declared language (`en-US`, `zh-CN`, `kz`, `ru_RU`) as our short tag."""
    if not tag:
        return None
    tag = tag.strip().replace("_", "-").lower()
    if not tag:
        return None
    if tag in LANGUAGE_ALIASES:
        return LANGUAGE_ALIASES[tag]
    primary = tag.split("-")[0]
    if not primary.isalpha() or not 2 <= len(primary) <= 3:
        return None
    return LANGUAGE_ALIASES.get(primary, primary)


CORE_LANGUAGES = ("kk", "ru", "zh", "en")
# Widely published languages a partner feed may use without declaring it.
WIDE_LANGUAGES = ("de", "fr", "es", "it", "pt", "tr", "uk", "ar", "fa", "ky", "uz", "el",
                  "pl", "nl", "ja", "ko")  # fmt: skip


@cache
def _detector(extra: tuple[str, ...] = ()) -> Any:
    from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

    languages = {Language.KAZAKH, Language.RUSSIAN, Language.CHINESE, Language.ENGLISH}
    for code in extra:
        try:
            languages.add(Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper())))
        except (AttributeError, ValueError):
            log.debug("lingua does not know language %s", code)
    builder = LanguageDetectorBuilder.from_languages(*languages)
    if extra:
        # High accuracy over the wide set holds ~260 MB of n-gram models in every process that
        # parses; the trigram-only mode needs ~30 MB and is as sure on a story's worth of text.
        builder = builder.with_low_accuracy_mode()
    return builder.build()


def detect_language(text: str, extra: tuple[str, ...] = ()) -> tuple[str | None, float]:
    """The most likely language of `text` and how sure we are (0..1)."""
    return _detect(plain_text(text)[:2000], extra)


def _detect(sample: str, extra: tuple[str, ...]) -> tuple[str | None, float]:
    letters = _letters(sample)
    if letters < 12:
        return None, 0.0
    if _HAN.search(sample) and len(_HAN.findall(sample)) > letters * 0.3:
        return "zh", 0.99
    if _KAZAKH.search(sample):
        cyr = len(_CYRILLIC.findall(sample))
        if cyr > letters * 0.5:
            return "kk", 0.99
    values = _detector(extra).compute_language_confidence_values(sample)
    if not values:
        return None, 0.0
    best = values[0]
    code = best.language.iso_code_639_1.name.lower()
    return code, float(best.value)


def _letters(sample: str) -> int:
    return sum(map(str.isalpha, sample))


def choose_language(
    declared: str | None, text: str, extra: tuple[str, ...] = (), *, where: str = ""
) -> str:
    """The declared language unless the text confidently says otherwise; `en` if unknown.

    A declaration the text's script already confirms (see `_script_confirms`) is kept without
    running lingua, whose statistical model costs about a millisecond per story; lingua runs
    when nothing is declared or when the script leaves room for doubt.
    """
    declared = normalise_language(declared)
    sample = plain_text(text)[:2000]
    if declared and _script_confirms(declared, sample, text, extra):
        return declared
    if declared and declared not in (*CORE_LANGUAGES, *extra):
        # The detector only knows our own languages: it cannot confirm or overrule a German
        # or Greek declaration, only mistake it for English. The declaration stands.
        return declared
    if not declared:
        # Nothing declared: ask a detector that also knows the common news languages, so a
        # German feed is translated from German rather than published as English.
        detected, confidence = _detect(sample, (*extra, *WIDE_LANGUAGES))
        return detected if detected and confidence >= 0.5 else "en"
    detected, confidence = _detect(sample, extra)
    if declared and detected and detected != declared:
        if confidence >= 0.9 and not _compatible(declared, detected, text):
            log.info(
                "%s: declared language %s but the text reads as %s (%.0f%%): using %s",
                where, declared, detected, confidence * 100, detected,
            )  # fmt: skip
            return detected
        return declared
    return declared or detected or "en"


def _script_confirms(declared: str, sample: str, text: str, extra: tuple[str, ...]) -> bool:
    """Whether the sample's script settles it for `declared`, so that lingua could not overrule.

    True when detection would find too few letters to say anything; when the declared language
    is Chinese and the Han shortcut of `_detect` would say so too; when it is Kazakh and the
    Kazakh-letter shortcut agrees, or the text is Cyrillic with no Kazakh letter at all (lingua
    could then only say Kazakh, or Russian, which `_compatible` overrules); when at least 80% of
    the letters are in the declared language's script and no other candidate language writes
    that script (Kazakh counts as no rival to Russian when the sample has none of its letters).
    Anything else, and any candidate language of unknown script, goes to lingua.
    """
    letters = _letters(sample)
    if letters < 12:
        return True  # _detect would say nothing, and the declaration stands
    if _HAN.search(sample) and len(_HAN.findall(sample)) > letters * 0.3:
        return declared == "zh"  # what _detect's Han shortcut answers
    kazakh = _KAZAKH.search(sample) is not None
    if kazakh and len(_CYRILLIC.findall(sample)) > letters * 0.5:
        return declared == "kk"  # what _detect's Kazakh shortcut answers
    script = _SCRIPTS.get(declared)
    if script is None or script == "han":  # Han text took the shortcut above
        return False
    pattern = _CYRILLIC if script == "cyrillic" else _LATIN
    if len(pattern.findall(sample)) < letters * 0.8:
        return False
    if declared == "kk":
        # lingua may answer ru for Kazakh without its letters; _compatible keeps kk then.
        return not kazakh and _KAZAKH.search(text) is None and _no_rivals("kk", {"ru"}, extra)
    allowed = {"kk"} if declared == "ru" and not kazakh else set()
    return _no_rivals(declared, allowed, extra)


def _no_rivals(declared: str, allowed: set[str], extra: tuple[str, ...]) -> bool:
    script = _SCRIPTS[declared]
    candidates = {*_SCRIPTS, *(code.lower() for code in extra)} - {declared} - allowed
    return all(_SCRIPTS.get(code, script) != script for code in candidates)


def _compatible(declared: str, detected: str, text: str) -> bool:
    # Kazakh without its own letters in a short text reads as Russian: trust the declaration.
    return declared == "kk" and detected == "ru" and _KAZAKH.search(text) is None


def script_of(text: str) -> dict[str, int]:
    """Counts of Han, Cyrillic and Latin letters: the sanity check's evidence."""
    return {
        "han": len(_HAN.findall(text)),
        "cyrillic": len(_CYRILLIC.findall(text)),
        "latin": len(_LATIN.findall(text)),
    }
