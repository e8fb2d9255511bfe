"""The translation stage: drain pending translations from the store, honestly.

Owns: turning each (article, language) due for translation into units (title, summary and
HTML blocks), answering them from translation memory first, packing the rest into as few
provider requests as the limits allow, walking the provider chain, finding the units a
provider refuses inside a refused request (by asking for its halves), checking every answer
(script, unchanged text, length) before it is stored, and recording the outcome per article
and language: `translated`, or `pending`/`failed` with the reason.
"""

from __future__ import annotations

import hashlib
import html
import logging
import time
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from syndication import metrics
from syndication.config import Config, ProviderSettings
from syndication.errors import TranslationError
from syndication.html import sanitise_html
from syndication.lang import script_of
from syndication.model import StoredArticle, Translation, utcnow
from syndication.store import Store
from syndication.translate.providers import PROVIDERS, Guarded, RequestRefused
from syndication.translate.segment import (
    Document,
    Glossary,
    Segment,
    join_pieces,
    join_units,
    pack,
    split_answer,
    split_html,
    split_long,
    split_text,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FailedTranslation:
    """One story that could not be translated into one language this cycle, and when it
    is tried again."""

    article_id: str
    language: str
    reason: str
    retry_at: datetime


@dataclass
class TranslationReport:
    translated: int = 0
    failed: int = 0
    pending: int = 0
    requests: int = 0
    from_memory: int = 0
    reasons: Counter[str] = field(default_factory=Counter)  # of failed and pending ones
    failures: list[FailedTranslation] = field(default_factory=list)  # the failed ones

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.pending == 0


def build_providers(
    config: Config, sleep: Callable[[float], None] = time.sleep
) -> dict[str, Guarded]:
    """Every provider the default chain or a route names, each behind its own guard."""
    t = config.settings.translation
    guarded = {}
    for name in t.provider_names:
        settings = t.providers.get(name, ProviderSettings())
        guarded[name] = Guarded(
            PROVIDERS[name](settings),
            timeout=settings.timeout or t.timeout,
            rpm=settings.rpm,
            sleep=sleep,
        )
    return guarded


@dataclass(frozen=True)
class Failure:
    """Why a unit has no translation.

    `outage`: the provider looks down or the cycle's time ran out; the story waits for the
    next cycle (`pending`); otherwise the answer was bad and the story fails (retried on a
    schedule that backs off). `alone`: the named provider refused this unit's own request;
    when the cycle ends, that is the text's own failure if the provider is answering other
    requests, and `outage` decides as usual if it is not.
    """

    reason: str
    outage: bool = False
    alone: str = ""


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


def _failure(reason: str, alone: str = "") -> Failure:
    return Failure(reason, outage=any(marker in reason for marker in _OUTAGE), alone=alone)


def _down(provider: Guarded) -> Failure:
    """Why nothing more is asked of a provider whose breaker is open."""
    return _failure(f"{provider.name}: {provider.last_error}")


_BUDGET = Failure("translation time budget for this cycle used up", outage=True)


def memory_key(text: str, source: str, target: str, provider: str) -> str:
    normalised = " ".join(unicodedata.normalize("NFC", text).split())
    blob = "\x1f".join((normalised, source, target, provider))
    return hashlib.sha256(blob.encode()).hexdigest()


class Translator:
    """Translates units for one (source, target) pair through its chain, memory first."""

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
        self.report = TranslationReport()
        self.used: dict[str, str] = {}  # unit -> provider that answered it

    def translate_units(
        self, units: Sequence[str], source: str, target: str
    ) -> tuple[dict[str, str], dict[str, Failure]]:
        """Answers for as many units as possible, and why each one missing is missing."""
        answers: dict[str, str] = {}
        errors: dict[str, Failure] = {}
        todo = list(dict.fromkeys(u for u in units if u.strip()))
        chain = self.chain_for(source, target)
        providers = [self.providers[n] for n in chain if self.providers[n].supports(source, target)]
        if not providers:
            missing = Failure(f"no provider in the chain translates {source}→{target}")
            return {}, dict.fromkeys(todo, missing)
        for provider in providers:
            if not todo:
                break
            keys = {u: memory_key(u, source, target, provider.name) for u in todo}
            held = self.store.recall(list(keys.values()))
            hits = 0
            for unit, key in keys.items():
                if key in held:
                    answers[unit] = held[key]
                    self.used[unit] = provider.name
                    hits += 1
            self.report.from_memory += hits
            metrics.translation_memory_hits(provider.name, source, target, hits)
            todo = [u for u in todo if u not in answers]
            if not todo:
                break
            got, failed = self._ask(provider, todo, source, target)
            self.store.remember(
                [
                    {
                        "key": keys[u],
                        "source_lang": source,
                        "target_lang": target,
                        "provider": provider.name,
                        "source_text": u,
                        "target_text": a,
                    }
                    for u, a in got.items()
                ]
            )
            answers.update(got)
            self.used.update(dict.fromkeys(got, provider.name))
            errors.update(failed)
            todo = [u for u in todo if u not in answers]
        return answers, {u: errors.get(u, Failure("not translated")) for u in todo}

    def _ask(
        self, provider: Guarded, units: list[str], source: str, target: str
    ) -> tuple[dict[str, str], dict[str, Failure]]:
        limit = provider.max_chars(source)
        got: dict[str, str] = {}
        failed: dict[str, Failure] = {}
        pieces_of: dict[str, list[str]] = {u: split_long(u, limit) for u in units}
        wanted = list(dict.fromkeys(p for u in units for p in pieces_of[u]))
        piece_answers: dict[str, str] = {}
        for batch in pack(wanted, limit):
            if time.monotonic() > self.deadline:
                failed.update(dict.fromkeys(batch, _BUDGET))
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
            if all(p in piece_answers for p in pieces):
                got[unit] = join_pieces((piece_answers[p] for p in pieces), target)
            else:
                failed[unit] = next(
                    (failed[p] for p in pieces if p in failed), Failure("not translated")
                )
        return got, failed

    def _send(
        self, provider: Guarded, batch: list[str], source: str, target: str
    ) -> tuple[dict[str, str], dict[str, Failure]]:
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
    ) -> tuple[dict[str, str], dict[str, Failure]]:
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
                        bad.update(dict.fromkeys(rest, _BUDGET))
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
    ) -> tuple[dict[str, str], dict[str, Failure]]:
        """One request for the batch: (checked answers, why each unit whose answer failed).

        Raises TranslationError when the request itself failed. An answer that fails the
        sanity check fails only its own unit, so one bad paragraph does not sink its
        neighbours (the failed unit may still be answered by the next provider).
        """
        answer = provider.translate(
            join_units(batch), source, target, refused_retries=refused_retries, counted=counted
        )
        parts = split_answer(answer, len(batch))
        if parts is None:
            if len(batch) == 1:
                parts = [answer.strip()]
            else:
                # The provider merged or split paragraphs: ask for each unit on its own.
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
        good, bad = {}, {}
        for unit, part in zip(batch, parts, strict=True):
            try:
                check_answer(unit, part, source, target, provider.name)
            except TranslationError as exc:
                bad[unit] = Failure(str(exc))
            else:
                good[unit] = part
        return good, bad


def _halves(part: list[str]) -> list[list[str]]:
    middle = (len(part) + 1) // 2
    return [part[:middle], part[middle:]]


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


@dataclass
class _Job:
    stored: StoredArticle
    translation: Translation
    title: Document
    summary: Document
    content: Document


def translate_pending(
    config: Config,
    store: Store,
    *,
    now: datetime | None = None,
    retry_all: bool = False,
    providers: dict[str, Guarded] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> TranslationReport:
    """Translate every translation due now; `retry_all` also retries failures not yet due."""
    t = config.settings.translation
    now = now or utcnow()
    work = store.translation_work(
        config.settings.languages, now=now + timedelta(days=3650) if retry_all else now
    )
    translator = Translator(
        store, providers or build_providers(config), t.chain_for, time.monotonic() + t.budget
    )
    report = translator.report
    if not work:
        return report
    glossary = Glossary(tuple(t.glossary), tuple(t.keep))
    groups: defaultdict[tuple[str, str], list[_Job]] = defaultdict(list)
    for stored, translation in work:
        article = stored.article
        rights = config.settings.rights(article.source_id)
        pairs = glossary.pairs(article.language, translation.language)
        job = _Job(
            stored=stored,
            translation=translation,
            title=split_text(article.title, pairs),
            summary=split_text(article.summary, pairs) if rights != "title" else Document([]),
            content=split_html(article.content, pairs) if rights == "full" else Document([]),
        )
        groups[(article.language, translation.language)].append(job)
    done = 0
    # A story whose text a provider refused on its own is judged when the cycle ends: by
    # then every other request has shown whether that provider answers others (see Failure).
    refused: list[tuple[_Job, dict[int, _Outcome]]] = []
    for (source, target), jobs in groups.items():
        results = _translate_segments(
            translator, [seg for job in jobs for seg in _segments(job)], source, target
        )
        for job in jobs:
            failure = _first_failure(job, results)
            if failure is not None and failure.alone:
                refused.append((job, results))
                continue
            _finish(store, job, results, translator, t.retry_after)
            done += 1
            if on_progress:
                on_progress(done, len(work))
    for job, results in refused:
        _finish(store, job, results, translator, t.retry_after)
        done += 1
        if on_progress:
            on_progress(done, len(work))
    report.requests = sum(p.requests for p in translator.providers.values())
    return report


@dataclass
class _Outcome:
    """A segment's translated HTML, or why there is none."""

    html: str | None = None
    failure: Failure = field(default_factory=lambda: Failure("not translated"))


def _translate_segments(
    translator: Translator, segments: Sequence[Segment], source: str, target: str
) -> dict[int, _Outcome]:
    """Each segment (by id) translated whole, else node by node, else as plain text.

    Every level is one `translate_units` round for all segments that need it, so fallbacks
    are packed (and remembered) like first attempts.
    """
    results: dict[int, _Outcome] = {}
    answers, errors = translator.translate_units([s.whole() for s in segments], source, target)
    by_nodes: list[Segment] = []
    for seg in segments:
        whole = seg.whole()
        if whole not in answers:
            results[id(seg)] = _Outcome(failure=errors.get(whole, Failure("not translated")))
            continue
        restored = seg.restore(answers[whole])
        if restored is None:
            by_nodes.append(seg)  # the provider lost or moved an inline-tag placeholder
        else:
            results[id(seg)] = _Outcome(restored)
    if not by_nodes:
        return results
    nodes = {id(seg): seg.text_nodes() for seg in by_nodes}
    answers, errors = translator.translate_units(
        [text for seg in by_nodes for _, text in nodes[id(seg)]], source, target
    )
    as_plain: list[Segment] = []
    for seg in by_nodes:
        missing = [text for _, text in nodes[id(seg)] if text not in answers]
        if missing:
            results[id(seg)] = _Outcome(failure=errors.get(missing[0], Failure("not translated")))
            continue
        restored = seg.restore_nodes({i: answers[text] for i, text in nodes[id(seg)]})
        if restored is None:
            as_plain.append(seg)
        else:
            results[id(seg)] = _Outcome(restored)
    if not as_plain:
        return results
    answers, errors = translator.translate_units(
        [seg.plain_unit() for seg in as_plain], source, target
    )
    for seg in as_plain:
        unit = seg.plain_unit()
        restored = seg.restore_plain(answers[unit]) if unit in answers else None
        if restored is None:
            failure = errors.get(unit) or Failure(f"placeholders lost in the {target} answer")
            results[id(seg)] = _Outcome(failure=failure)
        else:
            results[id(seg)] = _Outcome(restored)
    return results


def _segments(job: _Job) -> list[Segment]:
    return [*job.title.segments, *job.summary.segments, *job.content.segments]


def _render(doc: Document, results: dict[int, _Outcome]) -> tuple[str | None, Failure | None]:
    """The document translated, or None and the first reason it could not be."""
    rendered: dict[int, str] = {}
    for index, seg in enumerate(doc.segments):
        outcome = results.get(id(seg), _Outcome())
        if outcome.html is None:
            return None, outcome.failure
        rendered[index] = outcome.html
    return doc.render(rendered), None


def _documents(job: _Job) -> tuple[tuple[str, Document], ...]:
    return (("title", job.title), ("summary", job.summary), ("content", job.content))


def _first_failure(job: _Job, results: dict[int, _Outcome]) -> Failure | None:
    for _, doc in _documents(job):
        rendered, failure = _render(doc, results)
        if rendered is None:
            return failure
    return None


def _finish(
    store: Store,
    job: _Job,
    results: dict[int, _Outcome],
    translator: Translator,
    retry_after: float,
) -> None:
    report = translator.report
    article = job.stored.article
    previous = job.translation
    fields: dict[str, str] = {}
    failure: Failure | None = None
    for name, doc in _documents(job):
        rendered, failure = _render(doc, results)
        if rendered is None:
            break
        fields[name] = rendered
    if failure is not None:
        reason, outage = failure.reason, failure.outage
        guard = translator.providers.get(failure.alone) if failure.alone else None
        if guard is not None and guard.answering:
            # It answers other requests: this text's own failure, not an outage.
            reason, outage = f"{reason} for this text alone; other requests answered", False
        attempts = previous.attempts + 1
        # A provider outage keeps the story pending (retried next cycle); a bad answer is a
        # failure, retried on a schedule that backs off.
        status = "pending" if outage and previous.status == "pending" else "failed"
        if previous.status == "stale" and outage:
            status = "stale"
        delay = min(retry_after * 2 ** max(0, attempts - 1), 6 * 3600)
        retry_at = utcnow() + timedelta(seconds=delay)
        store.save_translation(
            Translation(
                article_id=article.id,
                language=previous.language,
                status=status,  # type: ignore[arg-type]
                provider="",
                error=reason,
                attempts=attempts,
            ),
            article.text_hash,
            next_attempt=retry_at,
        )
        report.reasons[reason] += 1
        if status == "failed":
            report.failed += 1
            report.failures.append(
                FailedTranslation(article.id, previous.language, reason, retry_at)
            )
        else:
            report.pending += 1
        return
    saved = store.save_translation(
        Translation(
            article_id=article.id,
            language=previous.language,
            status="translated",
            title=html.unescape(fields["title"]).strip() or article.title,
            summary=html.unescape(fields.get("summary", "")).strip(),
            content=sanitise_html(fields.get("content", "")),
            provider=",".join(
                sorted({translator.used.get(seg.whole(), "") for seg in _segments(job)} - {""})
            ),
            attempts=previous.attempts + 1,
        ),
        article.text_hash,
    )
    if saved:
        report.translated += 1
