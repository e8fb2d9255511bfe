"""Translation memory: a unit answered once by a provider is never sent to it again.

Owns: the key of a unit (its text with white space folded, NFC, the language pair and the
provider), recalling the answers the store holds for a batch of units, and remembering new
answers (the store keeps the first answer under a key).
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Sequence

from syndication.store import Store


def memory_key(text: str, source: str, target: str, provider: str) -> str:
    normalised = " ".join(unicodedata.normalize("NFC", text).split())
    blob = "\x1f".join((normalised, source, target, provider))
    return hashlib.sha256(blob.encode()).hexdigest()


def recall(
    store: Store, units: Sequence[str], source: str, target: str, provider: str
) -> dict[str, str]:
    """The answers `provider` gave before for any of `units` (unit -> answer)."""
    keys = {unit: memory_key(unit, source, target, provider) for unit in units}
    held = store.recall(list(keys.values()))
    return {unit: held[key] for unit, key in keys.items() if key in held}


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
