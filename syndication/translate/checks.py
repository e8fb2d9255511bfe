"""Sanity checks of a provider's answer before it is used or remembered.

Owns: the rules an answer must meet to count as a translation of its unit: not empty, no HTML
the text had none of (a provider's or a proxy's error page served with status 200), no
preamble the text did not open with ("Here is the translation:", "以下是翻译：", "Аударма:"),
not the source text unchanged, mostly in the target language's script (names, acronyms and
numbers allowed), of a plausible length for the language pair, and every placeholder back
exactly once, each pair `[n]`…`[/n]` in order (`MarkupLost` otherwise: the unit's text nodes
may still be asked for on their own). The same rules judge a whole answer to a packed request
(`check_request`) and an answer read back from translation memory.
"""

from __future__ import annotations

import re

from syndication.errors import TranslationError
from syndication.lang import script_of


class MarkupLost(TranslationError):
    """The answer lost, added or misplaced a placeholder: the unit's markup cannot go back."""


# A tag (or a doctype) as an error page has them; a unit holds none of its own (its markup
# is placeholders) unless its text quotes one.
_TAG = re.compile(r"<\s*/?\s*(!doctype|[a-z][a-z0-9]*)\b[^<>]*>", re.IGNORECASE)
# What a chat model says before the translation; each ends with a colon, so a sentence that
# merely mentions a translation is no preamble. Checked only where the text had none.
_PREAMBLE = re.compile(
    r"""^[\s"'«“*#>]*(?:
        (?:sure|certainly|of\ course)[!,.]?\s+here\b
      | here(?:'s|\ is|\ are)\b[^\n:：]{0,60}?translat\w*[^\n:：]{0,40}[:：]
      | (?:the\ )?(?:(?:english|kazakh|chinese|russian)\ )?translat(?:ion|ed\ text)\b
        [^\n:：.]{0,30}[:：]
      | 以下是[^\n:：。，]{0,12}(?:翻译|译文|翻譯|譯文)[^\n:：。，]{0,8}[:：]
      | (?:(?:简体)?中文|英文|哈萨克语|俄语)?(?:翻译|译文|翻譯|譯文)(?:如下|结果)?\s*[:：]
      | (?:міне,?\s+)?(?:(?:қазақша|ағылшынша|қытайша|орысша)\s+)?аударма(?:сы)?\s*[:：]
      | (?:вот\s+)?перевод(?:\s+на\s+\w+(?:\s+язык)?)?\s*[:：]
    )""",
    re.IGNORECASE | re.VERBOSE,
)
# A placeholder as `segment.restore_placeholders` reads it back (spaces inside, full-width
# brackets forgiven).
_MARKER = re.compile(r"[\[［]\s*(/?)\s*(\d+)\s*[\]］]")


def _already_in(target: str, counts: dict[str, int]) -> bool:
    """Whether a text is already written in `target`'s own script, so that a provider rightly
    gives it back as it is (an English correction note or quote in a Kazakh story, into
    English). Cyrillic is both Kazakh's and Russian's: there an unchanged answer is an echo."""
    own = {"en": "latin", "zh": "han"}.get(target)
    letters = sum(counts.values())
    return own is not None and letters > 0 and counts[own] / letters >= 0.9


def check_request(request: str, answer: str, provider: str) -> None:
    """Raise TranslationError when the answer to a whole request is no translation at all
    (an HTML page, a preamble): then none of its parts may be used or remembered."""
    _check_page(request, answer, provider)
    _check_preamble(request, answer, provider)


def check_answer(original: str, answer: str, source: str, target: str, provider: str) -> None:
    """Raise TranslationError unless `answer` plausibly is `original` in `target`."""
    if not answer.strip():
        raise TranslationError(f"{provider}: empty answer", provider=provider)
    _check_page(original, answer, provider)
    _check_preamble(original, answer, provider)
    counts = script_of(answer)
    letters = sum(counts.values())
    source_counts = script_of(original)
    if (
        sum(source_counts.values()) >= 12
        and answer.strip() == original.strip()
        and not _already_in(target, source_counts)
    ):
        raise TranslationError(
            f"{provider}: answer is the source text unchanged", provider=provider
        )
    if letters >= 8:
        share = {
            "zh": counts["han"] / letters,
            "kk": counts["cyrillic"] / letters,
            "ru": counts["cyrillic"] / letters,
            "en": counts["latin"] / letters,
        }.get(target, 1.0)
        # Names, acronyms and numbers stay in their own script: allow a good share of them.
        if share < (0.25 if target == "zh" else 0.45):
            raise TranslationError(
                f"{provider}: answer is not in the {target} script", provider=provider
            )
    if len(original) >= 40:
        ratio = len(answer) / len(original)
        low, high = (0.5, 8.0) if source == "zh" else (0.1, 2.5) if target == "zh" else (0.3, 3.5)
        if not low <= ratio <= high:
            raise TranslationError(
                f"{provider}: implausible answer length ({ratio:.1f}× the source)",
                provider=provider,
            )
    if not _markers_kept(original, answer):
        raise MarkupLost(f"{provider}: placeholders lost in the {target} answer", provider=provider)


def _check_page(original: str, answer: str, provider: str) -> None:
    quoted = {name.lower() for name in _TAG.findall(original)}
    added = [name.lower() for name in _TAG.findall(answer) if name.lower() not in quoted]
    if added:
        raise TranslationError(
            f"{provider}: answer is HTML (<{added[0]}>), not a translation: an error page?",
            provider=provider,
        )


def _check_preamble(original: str, answer: str, provider: str) -> None:
    found = _PREAMBLE.match(answer)
    if found and not _PREAMBLE.match(original):
        raise TranslationError(
            f"{provider}: answer opens with a preamble ({found.group(0).strip()!r})",
            provider=provider,
        )


def _markers_kept(original: str, answer: str) -> bool:
    """Whether every placeholder of `original` is in `answer` once, no other is, and each pair
    whose both ends are in `original` is in order and nested (a piece of a long unit may hold
    one end of a pair only)."""
    sent = [f"[{close}{number}]" for close, number in _MARKER.findall(original)]
    got = [f"[{close}{number}]" for close, number in _MARKER.findall(answer)]
    if sorted(sent) != sorted(got):
        return False
    stack: list[str] = []
    for key in got:
        if key.startswith("[/"):
            opening = "[" + key[2:]
            if opening in sent and (not stack or stack.pop() != opening):
                return False
        elif f"[/{key[1:]}" in sent:
            stack.append(key)
    return not stack
