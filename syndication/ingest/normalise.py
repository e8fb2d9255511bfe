"""Normalising what ingestion reads: dates in UTC, guids for items without one, the language.

Owns: dates from feedparser, ISO or RFC 822 text into aware UTC; a content-derived guid for an
item that has neither guid nor link; and the language check (a declared language confirmed or
overruled by lingua and by Kazakh's own letters, Cyrillic or Latin, a language found when none
is declared (a short text taken for another than ours only when lingua is sure), URLs and
Markdown link targets left out of what is read, and the declaration kept when the text reads
as a language no translation chain takes).
"""

from __future__ import annotations

import email.utils
import hashlib
import logging
import re
from collections.abc import Collection
from datetime import UTC, datetime
from functools import cache
from typing import Any

from syndication.html import plain_text
from syndication.lang import (
    CYRILLIC,
    HAN,
    KAZAKH,
    LATIN,
    SCRIPTS,
    kazakh_latin_letters,
    normalise_language,
)

log = logging.getLogger(__name__)


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


def content_guid(*parts: str) -> str:
    """A guid for an item that has neither guid nor link: a hash of what it says."""
    digest = hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:16]
    return f"sha256-{digest}"


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
    return _detect(_sample(text), extra)


# What is no language's words: a URL (an image's address pasted into a Chinese description is
# mostly Latin letters: the story read as Portuguese), and the target of a Markdown link or
# image (`[text](target)`, `![](target)`), whose text stays.
_LINKS = re.compile(r"\]\([^)\s]*(?:\s[^)]*)?\)|(?:https?|ftp)://\S+|\bwww\.\S+", re.I)
# lingua's trigram-only mode, which the wide set of languages uses, is unreliable under about
# 120 characters (lingua's own figure): a title alone, `Relative json`, read as French (81%).
# A text that short is taken for another language than ours only when lingua is this sure.
SHORT_TEXT = 120
SURE = 0.9
# About one letter in six of Kazakh is one of its own (ә ғ қ ң ө ұ ү һ і: 16% of the Cyrillic
# letters of our Kazakh samples, no gap longer than 32 letters): 60 Cyrillic letters without
# one occur in a Kazakh text about once in 30,000 (0.84^60), while a title (`Президент Астанада
# болды`) may well lack them. Shorter, their lack proves nothing and the declaration stands.
KAZAKH_SHOWS = 60


def _sample(text: str) -> _Sample:
    """What the language of `text` is told from: its words, up to 2,000 characters."""
    words = plain_text(text)
    if "://" in words or "](" in words or "www." in words:
        words = _LINKS.sub(" ", words)
    return _Sample(words[:2000])


def _detect(sample: _Sample, extra: tuple[str, ...]) -> tuple[str | None, float]:
    if sample.few_letters():
        return None, 0.0
    if sample.mostly_han():
        return "zh", 0.99
    if sample.kazakh_cyrillic():
        return "kk", 0.99
    if sample.kazakh_latin():
        return "kk", 0.95
    values = _detector(extra).compute_language_confidence_values(sample.text)
    if not values:
        return None, 0.0
    best = values[0]
    code = best.language.iso_code_639_1.name.lower()
    return code, float(best.value)


def _letters(sample: str) -> int:
    return sum(map(str.isalpha, sample))


# Each script's characters counted as the length its runs take: one match per word, not one
# string per character as `findall` builds (half the cost of checking a story's script).
_HAN_RUNS = re.compile(HAN.pattern + "+")
_CYRILLIC_RUNS = re.compile(CYRILLIC.pattern + "+")
_LATIN_RUNS = re.compile(LATIN.pattern + "+")
_ASCII_LETTERS = bytes(range(65, 91)) + bytes(range(97, 123))
# In UTF-8 exactly the characters U+0400..U+04FF (CYRILLIC) start with a byte 0xD0..0xD3, and
# no other byte of any character is one of those.
_NOT_CYRILLIC_LEAD = bytes(b for b in range(256) if not 0xD0 <= b <= 0xD3)


def _count(runs: re.Pattern[str], sample: str) -> int:
    """How many characters of `sample` the (single-character class) pattern of `runs` takes."""
    return len(sample) - len(runs.sub("", sample))


class _Sample:
    """The counts the script checks ask of a sample, each taken once and only when asked.

    The exact number of letters (`str.isalpha` over the whole sample) is the costliest count;
    the sample's length less its spaces bounds it from above, and settles whether a script's
    share is above a threshold without it in the common case (a text in one script). The
    answers are always those of the exact counts.
    """

    __slots__ = ("_cyrillic", "_han", "_kazakh", "_kazakh_latin", "_letters", "most", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.most = len(text) - text.count(" ")  # no fewer than the letters
        self._letters = -1
        self._han = -1
        self._cyrillic = -1
        self._kazakh: bool | None = None
        self._kazakh_latin: bool | None = None

    @property
    def letters(self) -> int:
        if self._letters < 0:
            self._letters = _letters(self.text)
        return self._letters

    def few_letters(self) -> bool:
        """Fewer than 12 letters: too few for detection to say anything."""
        if self.most < 12:
            return True
        if self._letters < 0 and _letters(self.text[:48]) >= 12:
            return False  # a part of the sample has enough already
        return self.letters < 12

    def above(self, count: int, share: float) -> bool:
        """`count > letters * share`."""
        return count > self.most * share or count > self.letters * share

    def at_least(self, count: int, share: float) -> bool:
        """`not count < letters * share`."""
        return count >= self.most * share or not count < self.letters * share

    @property
    def han(self) -> int:
        if self._han < 0:
            self._han = _count(_HAN_RUNS, self.text) if HAN.search(self.text) else 0
        return self._han

    @property
    def cyrillic(self) -> int:
        if self._cyrillic < 0:
            encoded = self.text.encode("utf-8", "surrogatepass")
            self._cyrillic = len(encoded.translate(None, _NOT_CYRILLIC_LEAD))
        return self._cyrillic

    @property
    def latin(self) -> int:
        if self.text.isascii():
            return len(self.text) - len(self.text.encode().translate(None, _ASCII_LETTERS))
        return _count(_LATIN_RUNS, self.text)

    @property
    def kazakh(self) -> bool:
        if self._kazakh is None:
            self._kazakh = KAZAKH.search(self.text) is not None
        return self._kazakh

    def mostly_han(self) -> bool:
        """Han makes more than 30% of the letters: `_detect` answers Chinese."""
        return self.han > 0 and self.above(self.han, 0.3)

    def kazakh_cyrillic(self) -> bool:
        """Kazakh's own letters, in a text more than half Cyrillic: `_detect` answers Kazakh."""
        return self.kazakh and self.above(self.cyrillic, 0.5)

    def kazakh_latin(self) -> bool:
        """Kazakh in one of its Latin alphabets, in a text at least 80% Latin: `_detect` answers
        Kazakh (lingua would say Turkish or English)."""
        if self._kazakh_latin is None:
            self._kazakh_latin = kazakh_latin_letters(self.text) and self.at_least(self.latin, 0.8)
        return self._kazakh_latin


def choose_language(
    declared: str | None,
    text: str,
    extra: tuple[str, ...] = (),
    *,
    where: str = "",
    translatable: Collection[str] | None = None,
) -> str:
    """The declared language unless the text confidently says otherwise; `en` if unknown.

    A declaration the text's script already confirms (see `_script_confirms`) is kept without
    running lingua, whose statistical model costs about a millisecond per story; lingua runs
    when nothing is declared or when the script leaves room for doubt.

    `translatable`, when given, holds the languages the configured chains translate into every
    edition. A text that reads as another language would reach no edition but its own (and
    fail translation at every retry): the declaration, when it is translatable, is kept
    instead, and either way the log says so.
    """
    declared = normalise_language(declared)
    chosen = _choose(declared, text, extra, where)
    if translatable is None or chosen in translatable or chosen == declared:
        return chosen
    if declared and declared in translatable:
        log.warning(
            "%s: the text reads as %s, which no provider of the translation chain translates: "
            "kept the declared language %s",
            where, chosen, declared,
        )  # fmt: skip
        return declared
    log.warning(
        "%s: the text reads as %s, which no provider of the translation chain translates; "
        "declare the source's language: or add a provider that translates %s",
        where, chosen, chosen,
    )  # fmt: skip
    return chosen


def _choose(declared: str | None, text: str, extra: tuple[str, ...], where: str) -> str:
    if declared and declared not in (*CORE_LANGUAGES, *extra):
        # The detector only knows our own languages: it cannot confirm or overrule a German
        # or Greek declaration, only mistake it for English. The declaration stands.
        return declared
    sample = _sample(text)
    if declared and _script_confirms(declared, sample, text, extra):
        return declared
    if not declared:
        # Nothing declared: ask a detector that also knows the common news languages, so a
        # German feed is translated from German rather than published as English.
        detected, confidence = _detect(sample, (*extra, *WIDE_LANGUAGES))
        ours = (*CORE_LANGUAGES, *extra)
        if detected not in ours and confidence < SURE and len(sample.text) < SHORT_TEXT:
            # Too short to tell among them all: the most likely of our own languages.
            detected, confidence = _detect(sample, extra)
        return detected if detected and confidence >= 0.5 else "en"
    detected, confidence = _detect(sample, extra)
    if declared and detected and detected != declared:
        if confidence >= SURE and not _compatible(declared, detected, sample, text):
            log.info(
                "%s: declared language %s but the text reads as %s (%.0f%%): using %s",
                where, declared, detected, confidence * 100, detected,
            )  # fmt: skip
            return detected
        return declared
    return declared or detected or "en"


def _script_confirms(declared: str, sample: _Sample, text: str, extra: tuple[str, ...]) -> bool:
    """Whether the sample's script settles it for `declared`, so that lingua could not overrule.

    True when detection would find too few letters to say anything; when the declared language
    is Chinese and the Han shortcut of `_detect` would say so too; when it is Kazakh and the
    Kazakh-letter shortcut agrees, or the text is Cyrillic with no Kazakh letter at all but too
    short for their lack to mean anything (lingua could then only say Kazakh, or Russian, which
    `_compatible` overrules; a longer one, a Russian story in a Kazakh feed, goes to lingua);
    when at least 80% of the letters are in the declared language's script and no other
    candidate language writes that script (Kazakh counts as no rival to Russian when the sample
    has none of its letters). Anything else, and any candidate language of unknown script, goes
    to lingua.
    """
    if sample.few_letters():
        return True  # _detect would say nothing, and the declaration stands
    if sample.mostly_han():
        return declared == "zh"  # what _detect's Han shortcut answers
    if sample.kazakh_cyrillic():
        return declared == "kk"  # what _detect's Kazakh shortcut answers
    if sample.kazakh_latin():
        return declared == "kk"  # what _detect's Latin Kazakh shortcut answers
    script = SCRIPTS.get(declared)
    if script is None or script == "han":  # Han text took the shortcut above
        return False
    count = sample.cyrillic if script == "cyrillic" else sample.latin
    if not sample.at_least(count, 0.8):
        return False
    kazakh = sample.kazakh
    if declared == "kk":
        # lingua may answer ru for a short Kazakh text without its letters; _compatible keeps kk
        # then. A long one without them is most likely Russian: lingua tells.
        return _compatible("kk", "ru", sample, text) and _no_rivals("kk", {"ru"}, extra)
    allowed = {"kk"} if declared == "ru" and not kazakh else set()
    return _no_rivals(declared, allowed, extra)


def _no_rivals(declared: str, allowed: set[str], extra: tuple[str, ...]) -> bool:
    script = SCRIPTS[declared]
    candidates = {*SCRIPTS, *(code.lower() for code in extra)} - {declared} - allowed
    return all(SCRIPTS.get(code, script) != script for code in candidates)


def _compatible(declared: str, detected: str, sample: _Sample, text: str) -> bool:
    # Kazakh without its own letters in a short text reads as Russian: trust the declaration.
    # A text long enough to show them (KAZAKH_SHOWS) and showing none is Russian when lingua
    # is sure: Kazakh sites carry Russian stories in their Kazakh feeds.
    return (
        declared == "kk"
        and detected == "ru"
        and not sample.kazakh
        and sample.cyrillic < KAZAKH_SHOWS
        and KAZAKH.search(text) is None
    )
