"""Sanity checks of a provider's answer before it is stored.

Owns: the rules an answer must meet to count as a translation of its unit: not empty, not the
source text unchanged, mostly in the target language's script (names, acronyms and numbers
allowed), and of a plausible length for the language pair. That every placeholder came back
is `segment`'s check, made when the answer goes back into markup.
"""

from __future__ import annotations

from syndication.errors import TranslationError
from syndication.lang import script_of


def check_answer(original: str, answer: str, source: str, target: str, provider: str) -> None:
    """Raise TranslationError unless `answer` plausibly is `original` in `target`."""
    if not answer.strip():
        raise TranslationError(f"{provider}: empty answer", provider=provider)
    counts = script_of(answer)
    letters = sum(counts.values())
    source_counts = script_of(original)
    if sum(source_counts.values()) >= 12 and answer.strip() == original.strip():
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
