"""Languages, scripts and editions: a leaf every stage may import.

Owns: the edition table (the base languages we translate into, and the script variants derived
from one of them without any translation call), an edition's base language, language tags as
partners write them (`en-US`, `zh-CN`, `kz`) into our short tags, tags in their conventional
case, what a glossary key names (a language, or the script a derived edition writes), which
script a text is written in (Kazakh in either of its Latin alphabets included), and the
derivations themselves: ``kk-Latn`` (Kazakh Cyrillic -> the 2021 Kazakh Latin alphabet, with our
own letter table) and ``zh-Hant`` (Simplified -> Traditional Chinese through OpenCC, in Taiwan's
standard character forms, with the few news phrases OpenCC misreads set right), for plain
text, a byline (a Chinese one only), a name's forms and HTML fragments; and the way back for a
Traditional Chinese original, which the Simplified ``zh`` edition shows converted (OpenCC t2s).
In HTML only text nodes and the words of ``alt``/``title`` attributes change; tags, other
attribute values, comments, entities and the content of ``<code>``/``<pre>`` (and raw-text
``<script>``/``<style>``) are copied byte for byte, so links, image URLs and code samples
survive the conversion.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import cache, lru_cache

from opencc import OpenCC

#: The languages we translate into; each is an edition of its own.
BASE_LANGUAGES: tuple[str, ...] = ("kk", "zh", "en")
#: Derived edition -> the base-language edition its text is converted from.
DERIVED: dict[str, str] = {"kk-Latn": "kk", "zh-Hant": "zh"}
#: Every edition we can build.
EDITIONS: tuple[str, ...] = (*BASE_LANGUAGES, *DERIVED)


def base_language(edition: str) -> str:
    """The language an edition's stories are written or translated in (`kk-Latn` -> `kk`)."""
    return DERIVED.get(edition, edition)


LANGUAGE_ALIASES = {
    "kz": "kk", "kaz": "kk", "kk-kz": "kk", "zh-cn": "zh", "zh-hans": "zh", "zh-sg": "zh",
    "zh-tw": "zh", "zh-hk": "zh", "zh-hant": "zh", "chi": "zh", "zho": "zh", "cn": "zh",
    "rus": "ru", "ru-ru": "ru", "eng": "en",
}  # fmt: skip


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


# Country codes written where a language tag belongs. None is an ISO 639 language code, so
# an operator's YAML that says one means the language in the comment, and is told so; a
# partner's feed saying `kz` is still read as Kazakh (LANGUAGE_ALIASES).
COUNTRY_CODES: dict[str, str] = {
    "kz": "kk", "cn": "zh", "jp": "ja", "ua": "uk", "cz": "cs", "dk": "da", "gr": "el",
    "by": "be",
}  # fmt: skip
# Chinese tags that say Traditional characters (by script, or by a region that writes them).
_TRADITIONAL_TAGS = frozenset({"zh-hant", "zh-tw", "zh-hk", "zh-mo"})


def canonical_tag(tag: str) -> str:
    """A BCP 47 tag in its conventional case (tags are case-insensitive): the language lower
    case, a script title case, a region upper case (`KK` -> `kk`, `zh-hant` -> `zh-Hant`,
    `zh-tw` -> `zh-TW`); `_` read as `-`."""
    parts = tag.strip().replace("_", "-").split("-")
    out = [parts[0].lower()]
    for part in parts[1:]:
        if len(part) == 4 and part.isalpha():
            out.append(part.title())
        elif (len(part) == 2 and part.isalpha()) or (len(part) == 3 and part.isdigit()):
            out.append(part.upper())
        else:
            out.append(part.lower())
    return "-".join(out)


def glossary_language(key: str) -> str | None:
    """What a glossary key names, as stories are tagged: a language a story may be in (`kk`,
    `ru`, `zh`…; `en-US` is `en`), or the script a derived edition writes its base language in
    (`kk-Latn`; `zh-Hant`, also as `zh-TW`/`zh-HK`): forms an original in that script uses.
    None for anything else (a typo, a country code such as `kz`)."""
    tag = canonical_tag(key)
    lower = tag.lower()
    if lower.startswith("kk-latn"):
        return "kk-Latn"
    if lower in _TRADITIONAL_TAGS or lower.startswith("zh-hant-"):
        return "zh-Hant"
    if tag.split("-")[0] in COUNTRY_CODES:
        return None
    short = normalise_language(tag)
    return short if short is not None and short in known_languages() else None


def script_forms(form: str, language: str) -> list[str]:
    """How an original written in another script spells a name given in `language`'s own:
    Kazakh in the 2021 Latin alphabet (as `kk-Latn` derives it), Chinese in Traditional
    characters (as `zh-Hant` derives it; also with Taiwan and Hong Kong glyphs). Forms that
    come out the same as `form` are left out."""
    if language == "kk":
        forms = [kazakh_latin(form)]
    elif language == "zh":
        forms = [traditional_chinese(form, variant) for variant in ("s2t", "s2tw", "s2hk")]
    else:
        return []
    return [f for f in dict.fromkeys(forms) if f and f != form]


# -- what each translation provider calls our languages ----------------------------------

# Our tags -> each provider's codes. A pair is supported when both ends have a code.
# (deep-translator 1.11.4: Google rejects plain "zh"; MyMemory wants region codes; Libre,
# DeepL and Yandex-free have no Kazakh.)
PROVIDER_CODES: dict[str, dict[str, str]] = {
    "google": {"kk": "kk", "zh": "zh-CN", "en": "en", "ru": "ru"},
    "mymemory": {"kk": "kk-KZ", "zh": "zh-CN", "en": "en-GB", "ru": "ru-RU"},
    "microsoft": {"kk": "kk", "zh": "zh-Hans", "en": "en", "ru": "ru"},
    "deepl": {"zh": "zh", "en": "en", "ru": "ru"},
    "libre": {"zh": "zh", "en": "en", "ru": "ru"},
    "yandex": {"kk": "kk", "zh": "zh", "en": "en", "ru": "ru"},
    "openai": {"kk": "Kazakh", "zh": "Simplified Chinese", "en": "English", "ru": "Russian"},
}


def provider_code(provider: str, language: str) -> str | None:
    """The provider's code for one of our language tags, or None if it has none.

    Beyond the table, Google takes every language deep-translator lists for it, so a partner
    feed in German or Turkish still reaches the three editions.
    """
    code = PROVIDER_CODES.get(provider, {}).get(language)
    if code is None and provider == "google":
        from deep_translator.constants import GOOGLE_LANGUAGES_TO_CODES

        if language in GOOGLE_LANGUAGES_TO_CODES.values():
            code = language
    return code


@cache
def known_languages() -> frozenset[str]:
    """Every language tag some provider has a code for: what a story may be translated from."""
    from deep_translator.constants import GOOGLE_LANGUAGES_TO_CODES

    tags = {tag for codes in PROVIDER_CODES.values() for tag in codes}
    return frozenset(tags | set(GOOGLE_LANGUAGES_TO_CODES.values()))


def provider_supports(provider: str, source: str, target: str) -> bool:
    return (
        provider_code(provider, source) is not None and provider_code(provider, target) is not None
    )


# Letters only Kazakh writes among the Cyrillic languages we meet.
KAZAKH_LETTERS = set("әғқңөұүһіӘҒҚҢӨҰҮҺІ")
KAZAKH = re.compile(f"[{''.join(sorted(KAZAKH_LETTERS))}]")
HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
CYRILLIC = re.compile(r"[\u0400-\u04ff]")
LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]")
#: The script each language we detect by default is written in.
SCRIPTS = {"en": "latin", "ru": "cyrillic", "kk": "cyrillic", "zh": "han"}


# Kazakh written in Latin letters: the 2018 alphabet (á ǵ ı ń ó ú ý, sh, ch) or the 2021 one
# (ä ğ ı ñ ö ū ü ş). lingua has no Latin Kazakh model (it reads it as Turkish or English), so
# the letters decide: the Kazakh marks, the Turkic ı ğ ş, and a q not followed by u (Qazaqstan,
# aqparat) are its evidence; what no Kazakh Latin alphabet writes (c outside ch, w, x, ə, and the
# accents of the European languages) is evidence against it.
_KAZAKH_LATIN_MARKS = re.compile("[áǵńóúýäñūÁǴŃÓÚÝÄÑŪ]")
_TURKIC_LATIN = re.compile("[ıİğĞşŞ]")
_BARE_Q = re.compile("[qQ](?![uU])")
_NOT_KAZAKH_LATIN = re.compile(
    "[cC](?![hH])|[wWxXəƏéèêëàâãåíìîïòôõøùûçÇłŁąĄęĘśŚźŹżŻćĆčČřŘšŠžŽěĚůŮßœæ]"
)
_KAZAKH_LETTERS_LATIN = re.compile("[áǵńóúýäñūıİğĞşŞÁǴŃÓÚÝÄÑŪ]")


def kazakh_latin_letters(text: str) -> bool:
    """Whether a Latin-script `text` writes Kazakh in one of its Latin alphabets.

    It must show two kinds of Kazakh evidence (the Kazakh marks, the Turkic ı ğ ş, a bare q),
    or the ǵ no other language writes, and more than twice as many Kazakh marks and bare q's as
    letters Kazakh Latin never uses. Turkish (ı ğ ş, but c and ç and no q), Spanish or Czech
    (á ó ú, but c, í, č), Polish (ń ó, but ł ą ę) and Azerbaijani (ı q, but ə) each lack one
    kind or carry their own letters.
    """
    # A bare q alone is one kind of evidence: a text with neither a Kazakh mark nor ı ğ ş
    # (every ASCII text, so English at the cost of one check) is never Kazakh.
    if text.isascii() or _KAZAKH_LETTERS_LATIN.search(text) is None:
        return False
    marks = len(_KAZAKH_LATIN_MARKS.findall(text))
    turkic = len(_TURKIC_LATIN.findall(text))
    bare_q = len(_BARE_Q.findall(text))
    kinds = (marks > 0) + (turkic > 0) + (bare_q > 0)
    if kinds < 2 and "ǵ" not in text and "Ǵ" not in text:
        return False
    # ı ğ ş are Turkish too: they make a kind of evidence, not a count against the rest.
    return marks + bare_q > 2 * len(_NOT_KAZAKH_LATIN.findall(text))


def script_of(text: str) -> dict[str, int]:
    """Counts of Han, Cyrillic and Latin letters: the sanity check's evidence."""
    return {
        "han": len(HAN.findall(text)),
        "cyrillic": len(CYRILLIC.findall(text)),
        "latin": len(LATIN.findall(text)),
    }


# The 2021 Kazakh Latin alphabet. Letters Kazakh borrowed with Russian loanwords (ц ч щ ъ ь
# э ю я ё) have no letter of their own, so they are spelled out or dropped.
_KK_LOWER: dict[str, str] = {
    "а": "a",
    "ә": "ä",
    "б": "b",
    "в": "v",
    "г": "g",
    "ғ": "ğ",
    "д": "d",
    "е": "e",
    "ё": "io",
    "ж": "j",
    "з": "z",
    "и": "i",
    "й": "i",
    "к": "k",
    "қ": "q",
    "л": "l",
    "м": "m",
    "н": "n",
    "ң": "ñ",
    "о": "o",
    "ө": "ö",
    "п": "p",
    "р": "r",
    "с": "s",
    "т": "t",
    "у": "u",
    "ұ": "ū",
    "ү": "ü",
    "ф": "f",
    "х": "h",
    "һ": "h",
    "ц": "ts",
    "ч": "ch",
    "ш": "ş",
    "щ": "şş",
    "ъ": "",
    "ы": "y",
    "і": "ı",
    "ь": "",
    "э": "e",
    "ю": "iu",
    "я": "ia",
}


def _latin_upper(latin: str) -> str:
    # Kazakh Latin pairs i/İ (и, й) and ı/I (і), as Turkish does; str.upper() would turn
    # "i" into a dotless "I" and merge и into і.
    return "".join({"i": "İ", "ı": "I"}.get(ch, ch.upper()) for ch in latin)


# Title-case spelling of each capital ("Ч" -> "Ch"); _kazakh_upper_at() decides when a
# multi-letter spelling must be all caps instead.
_KK_UPPER: dict[str, str] = {
    cyr.upper(): _latin_upper(lat[:1]) + lat[1:] for cyr, lat in _KK_LOWER.items()
}

# "й" and "ё" may arrive decomposed (letter + combining breve/diaeresis) from some keyboards
# and PDF exports; composing only these runs leaves every other character's bytes alone.
_CYRILLIC_WITH_MARKS = re.compile("[\u0400-\u04ff][\u0300-\u036f]+")
CYRILLIC = re.compile("[\u0400-\u04ff]")


def _shouting(text: str, index: int) -> bool:
    """Whether the capital at ``index`` sits in an all-caps run ("ЧАЙ", "ЦСКА", "ЮНЕСКО").

    The following letter decides; a word-final capital (the Я of "ДАРИЯ") falls back to the
    letter before it, so a lone capital such as an initial "Ю." stays title case.
    """
    after = text[index + 1 : index + 2]
    if after.isalpha():
        return after.isupper()
    before = text[index - 1 : index] if index else ""
    return before.isalpha() and before.isupper()


def kazakh_latin(text: str) -> str:
    """Transliterate Kazakh Cyrillic to the 2021 Kazakh Latin alphabet.

    Case is kept letter by letter; anything that is not a Kazakh/Russian Cyrillic letter
    (digits, Latin, punctuation, CJK, other Cyrillic such as Ukrainian ї) passes through.
    """
    if not CYRILLIC.search(text):
        return text
    text = _CYRILLIC_WITH_MARKS.sub(lambda m: unicodedata.normalize("NFC", m.group()), text)
    out: list[str] = []
    for index, ch in enumerate(text):
        latin = _KK_LOWER.get(ch)
        if latin is None:
            latin = _KK_UPPER.get(ch)
            if latin is None:
                latin = ch
            elif len(latin) > 1 and _shouting(text, index):
                latin = _latin_upper(latin)
        out.append(latin)
    return "".join(out)


#: The OpenCC configuration the ``zh-Hant`` edition is derived with: Taiwan's standard
#: character forms (觀眾, 裡, 著, 為), the forms Traditional Chinese is printed in today; OpenCC's
#: own ``s2t`` writes older ones no region prints (觀衆, 裏, 着, 爲). Words are kept as written
#: (``s2twp`` would also turn 软件 into 軟體): the stories are the partners' words.
ZH_HANT_VARIANT = "s2tw"
# Phrases OpenCC's dictionaries read as another word, as they should be read in the news:
# 总台 is a front desk there (總檯), but in a story it is China Media Group (中央广播电视总台,
# 总台记者), a station: 臺. Given in the Traditional form, which each variant then writes in its
# own standard (s2tw 總臺, s2hk 總台).
_NEWS_PHRASES = {"总台": "总臺"}
_NEWS_PHRASE = re.compile("|".join(_NEWS_PHRASES))

# Only Simplified -> Traditional configurations: a typo such as "t2s" would otherwise quietly
# produce a Simplified "Traditional" edition, and the name becomes a file path inside opencc.
TRADITIONAL_VARIANTS: frozenset[str] = frozenset({"s2t", "s2tw", "s2twp", "s2hk"})


@cache
def _opencc(variant: str) -> OpenCC:
    # Building a converter parses several megabytes of dictionaries; convert() itself keeps
    # no per-call state, so one shared instance per variant is safe across threads.
    return OpenCC(variant)


def traditional_chinese(text: str, variant: str = "s2t") -> str:
    """Convert Simplified Chinese to Traditional with OpenCC.

    ``variant`` is an OpenCC configuration: ``s2t`` (OpenCC standard, the default),
    ``s2tw``/``s2hk`` (Taiwan/Hong Kong glyphs) or ``s2twp`` (Taiwan glyphs and vocabulary);
    the ``zh-Hant`` edition's is ``ZH_HANT_VARIANT``. A phrase OpenCC misreads in the news
    (``_NEWS_PHRASES``) is set right first. Non-Chinese characters are left as they are.
    """
    if variant not in TRADITIONAL_VARIANTS:
        raise ValueError(
            f"unknown Traditional Chinese variant {variant!r}; "
            f"expected one of {sorted(TRADITIONAL_VARIANTS)}"
        )
    if not text:
        return text
    text = _NEWS_PHRASE.sub(lambda found: _NEWS_PHRASES[found[0]], text)
    return _opencc(variant).convert(text)


def simplified_chinese(text: str) -> str:
    """Convert Traditional Chinese to Simplified with OpenCC (``t2s``); the rest is kept."""
    return _opencc("t2s").convert(text) if text else text


@lru_cache(maxsize=4096)  # every publish asks again of the same stories' originals
def is_traditional(text: str) -> bool:
    """Whether Chinese `text` is written in Traditional characters.

    OpenCC's t2s changes a good share of the Han characters of a Traditional text (臺灣的鐵路建設:
    4 of 7) and next to none of a Simplified one; a Traditional name quoted in a Simplified
    story stays under the threshold.
    """
    han = len(HAN.findall(text))
    if han == 0:
        return False
    converted = simplified_chinese(text)
    changed = sum(a != b for a, b in zip(text, converted, strict=False))
    return changed >= 2 and changed >= 0.05 * han


def zh_hant(text: str) -> str:
    """Simplified Chinese as the ``zh-Hant`` edition writes it (``ZH_HANT_VARIANT``)."""
    return traditional_chinese(text, ZH_HANT_VARIANT)


_CONVERTERS: dict[str, Callable[[str], str]] = {
    "kk-Latn": kazakh_latin,
    "zh-Hant": zh_hant,
}


def derive_text(text: str, edition: str) -> str:
    """Plain text for ``edition``; editions that are not derived get ``text`` back unchanged."""
    convert = _CONVERTERS.get(edition)
    return convert(text) if convert else text


def derive_byline(byline: str, edition: str) -> str:
    """A story's author as ``edition`` shows it: a Chinese one (Han characters) in the
    ``zh-Hant`` edition's characters, as the story's text is; any other as written (a name in
    Latin letters is its bearer's own spelling, which no derivation may change)."""
    if edition == "zh-Hant" and HAN.search(byline):
        return zh_hant(byline)
    return byline


# One alternation over the markup an HTML tokenizer would not treat as text. Tags allow ">"
# inside quoted attribute values; an unterminated comment or tag runs to the end, as in a
# browser, so a truncated <a href="...Қала is never mistaken for text and transliterated.
_MARKUP = re.compile(
    r"""
      <!--(?:>|->|.*?(?:--!?>|\Z))  # comment
    | <[!?][^>]*(?:>|\Z)  # doctype, CDATA, processing instruction
    | </?[A-Za-z][^\t\n\f\r />]*  # start or end tag: its name, then attributes
      (?:"[^"]*(?:"|\Z)|'[^']*(?:'|\Z)|[^"'>])*(?:>|\Z)
    """,
    re.DOTALL | re.VERBOSE,
)
_TAG_NAME = re.compile(r"<(/?)([A-Za-z][^\t\n\f\r />]*)")
_ENTITY = re.compile(r"&(?:#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);?")

# Code samples are literal text; a transliterated identifier or command is a broken one.
_VERBATIM = frozenset({"code", "pre"})
# Raw-text elements: their content is not HTML, so "<" inside them must not open a tag.
_RAW_TEXT = frozenset({"script", "style"})


def _convert_text_node(raw: str, convert: Callable[[str], str]) -> str:
    # Entities stay as written: "&amp;" must not become "&" and "&#1179;" must not be decoded.
    pieces = _ENTITY.split(raw)
    entities = _ENTITY.findall(raw)
    out = [convert(pieces[0])]
    for entity, piece in zip(entities, pieces[1:], strict=True):
        out.append(entity)
        out.append(convert(piece))
    return "".join(out)


def derive_html(fragment: str, edition: str) -> str:
    """HTML fragment for ``edition``: text nodes and the words of `alt`/`title` attributes
    converted, every other part of the markup copied byte for byte (the other attribute
    values are mostly URLs, and a converted URL is a broken link). Editions that are not
    derived are unchanged.
    """
    convert = _CONVERTERS.get(edition)
    if convert is None:
        return fragment
    return convert_html(fragment, convert)


# The attributes that hold words a reader sees (an image's description, a tooltip), in
# double quotes as our sanitiser writes every attribute.
_WORDS_ATTRIBUTE = re.compile(r'(\s(?:alt|title)=")([^"]*)(")', re.IGNORECASE)


def _convert_tag(tag: str, convert: Callable[[str], str]) -> str:
    if "=" not in tag:
        return tag
    return _WORDS_ATTRIBUTE.sub(
        lambda m: m.group(1) + _convert_text_node(m.group(2), convert) + m.group(3), tag
    )


def convert_html(fragment: str, convert: Callable[[str], str]) -> str:
    """`fragment` with `convert` applied to its text nodes and `alt`/`title` words only, as
    `derive_html` does."""
    if not fragment:
        return fragment
    out: list[str] = []
    verbatim_depth = 0
    pos = 0
    length = len(fragment)
    while pos < length:
        match = _MARKUP.search(fragment, pos)
        text_end = match.start() if match else length
        if text_end > pos:
            text = fragment[pos:text_end]
            out.append(text if verbatim_depth else _convert_text_node(text, convert))
        if match is None:
            break
        tag = match.group()
        pos = match.end()
        name_match = _TAG_NAME.match(tag)
        if name_match is None:  # a comment, doctype or CDATA: as written
            out.append(tag)
            continue
        out.append(tag if verbatim_depth else _convert_tag(tag, convert))
        closing, name = name_match.group(1) == "/", name_match.group(2).lower()
        if name in _VERBATIM:
            # Nested <pre><code> is common; a stray closing tag must not go negative.
            verbatim_depth = max(0, verbatim_depth - 1) if closing else verbatim_depth + 1
        elif name in _RAW_TEXT and not closing:
            close = re.compile(rf"</{name}(?=[\t\n\f\r />])", re.IGNORECASE).search(fragment, pos)
            raw_end = close.start() if close else length
            out.append(fragment[pos:raw_end])
            pos = raw_end
    return "".join(out)
