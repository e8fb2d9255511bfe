"""Answering translation units through the provider chain, memory first.

Owns: `Chain`: for one language pair, each provider of the chain in turn is asked only for the
units still unanswered, after its translation memory; units longer than its limit cut into
pieces and the rest packed into as few requests as its limit allows; an answer checked as a
whole, then split back into its units and each checked (`checks`): only answers the checks
accept are used and remembered; a refused request halved until the units the provider refuses
are found, so one story's text holds back no other; and `Failure`, why a unit has no answer
(an outage, a bad answer, markup lost, or a text the provider refuses alone).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from syndication import metrics
from syndication.errors import TranslationError
from syndication.store import Store
from syndication.translate import memory
from syndication.translate.checks import MarkupLost, check_answer, check_request
from syndication.translate.guard import Guarded
from syndication.translate.providers import RequestRefused
from syndication.translate.segment import join_pieces, join_units, pack, split_answer, split_long


@dataclass(frozen=True)
class Failure:
    """Why a unit has no translation.

    `outage`: the provider looks down or the cycle's time ran out; the story waits for the
    next cycle (`pending`); otherwise the answer was bad and the story fails (retried on a
    schedule that backs off). `alone`: the named provider refused this unit's own request;
    when the cycle ends, that is the text's own failure if the provider is answering other
    requests, and `outage` decides as usual if it is not. `markup`: the answer lost or moved a
    placeholder, so the unit's text nodes (or its plain text) may still be asked for alone.
    """

    reason: str
    outage: bool = False
    alone: str = ""
    markup: bool = False


# Failures that say the provider is unavailable rather than the answer bad.
_OUTAGE = (
    "unreachable",
    "timed out",
    "no answer within",
    "HTTP 5",
    "rate limited",
    "HTTP 429",
    "request failed",
)

NOT_TRANSLATED = Failure("not translated")
BUDGET = Failure("translation time budget for this cycle used up", outage=True)

Answers = tuple[dict[str, str], dict[str, Failure]]  # (answers, why each other unit failed)


def _failure(reason: str, alone: str = "") -> Failure:
    return Failure(reason, outage=any(marker in reason for marker in _OUTAGE), alone=alone)


def _refused(exc: TranslationError) -> Failure:
    """Why a unit whose own answer the checks refused has none."""
    return Failure(str(exc), markup=isinstance(exc, MarkupLost))


def _down(provider: Guarded) -> Failure:
    """Why nothing more is asked of a provider whose breaker is open."""
    return _failure(f"{provider.name}: {provider.last_error}")


class Chain:
    """Translates units through the chain for their language pair, memory first."""

    def __init__(
        self,
        store: Store,
        providers: dict[str, Guarded],
        chain_for: Callable[[str, str], Sequence[str]],
        deadline: float,
    ):
        self.store = store
        self.providers = providers
        self.chain_for = chain_for
        self.deadline = deadline
        self.from_memory = 0  # units answered from translation memory
        self.used: dict[str, str] = {}  # unit -> provider that answered it

    def candidates(self, source: str, target: str) -> list[Guarded]:
        """The providers of the pair's chain that translate the pair, in order."""
        names = self.chain_for(source, target)
        return [self.providers[n] for n in names if self.providers[n].supports(source, target)]

    def available(self, source: str, target: str) -> bool:
        """Whether a request for the pair may be sent now (some provider's breaker is shut;
        a pair no provider translates is "available": asking says so, story by story)."""
        found = self.candidates(source, target)
        return not found or any(not p.is_open for p in found)

    def answering(self, source: str, target: str) -> bool:
        """Whether a provider of the pair answered lately and may be asked now."""
        return any(p.answering and not p.is_open for p in self.candidates(source, target))

    def down(self, source: str, target: str) -> Failure:
        """Why nothing is asked for the pair while `available` says no (as `translate_units`
        would put it: the last provider's reason)."""
        return _down(self.candidates(source, target)[-1])

    def down_for(self, provider: Guarded) -> Failure:
        """Why nothing is asked of `provider` while its breaker is open."""
        return _down(provider)

    def translate_units(self, units: Sequence[str], source: str, target: str) -> Answers:
        """Answers for as many units as possible, and why each one missing is missing."""
        answers: dict[str, str] = {}
        errors: dict[str, Failure] = {}
        todo = list(dict.fromkeys(u for u in units if u.strip()))
        providers = self.candidates(source, target)
        if not providers:
            # The story was taken to be in `source` at ingestion; say how to change either.
            missing = Failure(
                f"no provider in the chain translates {source}→{target}: give the source a "
                f"`language:` if its stories are not in {source}, or add a provider that "
                f"translates {source} (google covers most languages)"
            )
            return {}, dict.fromkeys(todo, missing)
        for provider in providers:
            if not todo:
                break
            self._answered(self._recall(provider, todo, source, target), provider, answers)
            todo = [u for u in todo if u not in answers]
            if not todo:
                break
            got, failed = self._ask(provider, todo, source, target)
            memory.remember(self.store, got, source, target, provider.name)
            self._answered(got, provider, answers)
            errors.update(failed)
            todo = [u for u in todo if u not in answers]
        return answers, {u: errors.get(u, NOT_TRANSLATED) for u in todo}

    def _recall(
        self, provider: Guarded, units: list[str], source: str, target: str
    ) -> dict[str, str]:
        recalled = memory.recall(self.store, units, source, target, provider.name)
        self.from_memory += len(recalled)
        metrics.translation_memory_hits(provider.name, source, target, len(recalled))
        return recalled

    def _answered(self, got: dict[str, str], provider: Guarded, answers: dict[str, str]) -> None:
        answers.update(got)
        self.used.update(dict.fromkeys(got, provider.name))

    def _ask(self, provider: Guarded, units: list[str], source: str, target: str) -> Answers:
        """One provider's answers for `units`: long ones in pieces, all packed into requests."""
        limit = provider.max_chars(source)
        got: dict[str, str] = {}
        failed: dict[str, Failure] = {}
        pieces_of: dict[str, list[str]] = {u: split_long(u, limit) for u in units}
        wanted = list(dict.fromkeys(p for u in units for p in pieces_of[u]))
        piece_answers: dict[str, str] = {}
        for batch in pack(wanted, limit):
            if time.monotonic() > self.deadline:
                failed.update(dict.fromkeys(batch, BUDGET))
                continue
            good, bad = self._send(provider, batch, source, target)
            piece_answers.update(good)
            failed.update(bad)
            if provider.is_open:
                # Stop hammering a provider that is down; the rest waits for next time.
                for rest in wanted:
                    if rest not in piece_answers:
                        failed.setdefault(rest, _down(provider))
                break
        for unit in units:
            pieces = pieces_of[unit]
            if not all(p in piece_answers for p in pieces):
                failed[unit] = next((failed[p] for p in pieces if p in failed), NOT_TRANSLATED)
                continue
            answer = join_pieces((piece_answers[p] for p in pieces), target)
            try:
                if len(pieces) > 1:
                    # Judged as memory will judge it when it is read back.
                    check_answer(unit, answer, source, target, provider.name)
            except TranslationError as exc:
                failed[unit] = _refused(exc)
            else:
                got[unit] = answer
        return got, failed

    def _send(self, provider: Guarded, batch: list[str], source: str, target: str) -> Answers:
        """One request for the batch, and if the provider refuses it, the search for the
        units it refuses (`_isolate`), so one story's text holds back no other story.

        A batch of several units is not retried as a whole when refused: asking for its
        halves retries every unit anyway, and tells a passing error from a refused text.
        """
        try:
            return self._request(
                provider, batch, source, target, refused_retries=0 if len(batch) > 1 else None
            )
        except RequestRefused as exc:
            if len(batch) == 1:
                return {}, {batch[0]: _failure(str(exc), alone=provider.name)}
            return self._isolate(provider, batch, source, target, exc)
        except TranslationError as exc:
            return {}, dict.fromkeys(batch, _failure(str(exc)))

    def _isolate(
        self,
        provider: Guarded,
        batch: list[str],
        source: str,
        target: str,
        refused: RequestRefused,
    ) -> Answers:
        """Find the units of a refused batch that the provider refuses, by halving it.

        Each round asks for both halves of every part still refused; an answered part clears
        its units. A part of several units is only a probe, asked once; a unit alone is asked
        twice while the provider is answering, so that a passing error is not taken for a
        text it cannot take. A round in which every request was refused counts as one more
        failure towards the provider's breaker, so a provider refusing everything is found
        down within a few requests: the original request and two such rounds.
        """
        good: dict[str, str] = {}
        bad: dict[str, Failure] = {}
        frontier = [batch]
        while frontier:
            parts = [half for part in frontier for half in _halves(part)]
            frontier = []
            answered = False
            for index, part in enumerate(parts):
                if time.monotonic() > self.deadline:
                    for rest in [*parts[index:], *frontier]:
                        bad.update(dict.fromkeys(rest, BUDGET))
                    return good, bad
                alone = len(part) == 1
                try:
                    g, b = self._request(
                        provider,
                        part,
                        source,
                        target,
                        refused_retries=1 if alone and provider.answering else 0,
                        counted=False,
                    )
                except RequestRefused as exc:
                    refused = exc
                    if alone:
                        bad[part[0]] = _failure(str(exc), alone=provider.name)
                    else:
                        frontier.append(part)
                except TranslationError as exc:  # unavailable now: the rest waits
                    for rest in [*parts[index:], *frontier]:
                        bad.update(dict.fromkeys(rest, _failure(str(exc))))
                    return good, bad
                else:
                    answered = True
                    good.update(g)
                    bad.update(b)
            if parts and not answered:
                provider.record_failure(refused)
                if provider.is_open:
                    for rest in frontier:
                        bad.update(dict.fromkeys(rest, _down(provider)))
                    return good, bad
        return good, bad

    def _request(
        self,
        provider: Guarded,
        batch: list[str],
        source: str,
        target: str,
        *,
        refused_retries: int | None = None,
        counted: bool = True,
    ) -> Answers:
        """One request for the batch: (checked answers, why each unit whose answer failed).

        Raises TranslationError when the request itself failed. An answer that fails the
        sanity check fails only its own unit, so one bad paragraph does not sink its
        neighbours (the failed unit may still be answered by the next provider). An answer
        that is no translation as a whole (an error page, a preamble) is used for no unit:
        with a preamble or a page in front, the parts it splits into may belong to other
        units; each unit is asked for on its own instead.
        """
        request = join_units(batch)
        answer = provider.translate(
            request, source, target, refused_retries=refused_retries, counted=counted
        )
        try:
            check_request(request, answer, provider.name)
        except TranslationError as exc:
            if len(batch) > 1:
                return self._one_by_one(provider, batch, source, target)
            return {}, {batch[0]: _refused(exc)}
        parts = split_answer(answer, len(batch))
        if parts is None:
            if len(batch) > 1:
                return self._one_by_one(provider, batch, source, target)
            parts = [answer.strip()]
        good, bad = {}, {}
        for unit, part in zip(batch, parts, strict=True):
            try:
                check_answer(unit, part, source, target, provider.name)
            except TranslationError as exc:
                bad[unit] = _refused(exc)
            else:
                good[unit] = part
        return good, bad

    def _one_by_one(self, provider: Guarded, batch: list[str], source: str, target: str) -> Answers:
        """Each unit of a batch asked for on its own: the provider merged or split the
        paragraphs of the packed request, or answered it with something else than a
        translation, so its answer cannot be cut back into units."""
        good: dict[str, str] = {}
        bad: dict[str, Failure] = {}
        for unit in batch:
            if provider.is_open:
                bad[unit] = _down(provider)
                continue
            g, b = self._send(provider, [unit], source, target)
            good.update(g)
            bad.update(b)
        return good, bad


def _halves(part: list[str]) -> list[list[str]]:
    middle = (len(part) + 1) // 2
    return [part[:middle], part[middle:]]
