"""Translation memory: a unit answered once by a provider is never sent to it again.

Owns: the key of a unit (its text with white space folded, NFC, the language pair and the
provider), recalling the answers the store holds for a batch of units, and remembering new
answers (the store keeps the first answer under a key). Only answers the checks accepted are
remembered; one read back that the checks refuse (remembered before a check existed) is
forgotten, so the unit is asked for again and its new answer remembered.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Sequence

from syndication.errors import TranslationError
from syndication.store import Store
from syndication.translate.checks import check_answer


def memory_key(text: str, source: str, target: str, provider: str) -> str:
    normalised = " ".join(unicodedata.normalize("NFC", text).split())
    blob = "\x1f".join((normalised, source, target, provider))
    return hashlib.sha256(blob.encode()).hexdigest()


def recall(
    store: Store, units: Sequence[str], source: str, target: str, provider: str
) -> dict[str, str]:
    """The answers `provider` gave before for any of `units` (unit -> answer) that the checks
    still accept; those they refuse are forgotten."""
    keys = {unit: memory_key(unit, source, target, provider) for unit in units}
    held = store.recall(list(keys.values()))
    found: dict[str, str] = {}
    refused: list[str] = []
    for unit, key in keys.items():
        if key not in held:
            continue
        try:
            check_answer(unit, held[key], source, target, provider)
        except TranslationError:
            refused.append(key)
        else:
            found[unit] = held[key]
    if refused:
        store.forget(refused)
    return found


def remember(
    store: Store, answers: dict[str, str], source: str, target: str, provider: str
) -> None:
    """Keep `provider`'s answers (unit -> answer) for the next time a unit comes up."""
    store.remember(
        [
            {
                "key": memory_key(unit, source, target, provider),
                "source_lang": source,
                "target_lang": target,
                "provider": provider,
                "source_text": unit,
                "target_text": answer,
            }
            for unit, answer in answers.items()
        ]
    )
