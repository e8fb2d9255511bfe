"""The translation stage: drain pending translations from the store, honestly.

Owns: the stage in its phases: plan (each (article, language) due now, its title, summary and
content cut into segments as the source's rights allow, grouped by language pair), translate
(each pair's segments through the `Chain`: whole blocks, then text nodes one by one, then
plain text, each level one round of requests), and save (each story's outcome per language:
`translated`, or `pending`/`failed` with the reason and when it is tried again; a text a
provider refused on its own judged last). Also the providers a configuration names, each
behind its guard, and the report of a run.
"""

from __future__ import annotations

import html
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from syndication.config import Config, ProviderSettings, TranslationSettings
from syndication.html import sanitise_html
from syndication.model import StoredArticle, Translation, utcnow
from syndication.store import Store
from syndication.translate.chain import NOT_TRANSLATED, Chain, Failure
from syndication.translate.guard import Guarded
from syndication.translate.providers import PROVIDERS
from syndication.translate.segment import Document, Glossary, Segment, split_html, split_text


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


@dataclass
class _Job:
    """One story to translate into one language, its fields cut into segments."""

    stored: StoredArticle
    translation: Translation
    title: Document
    summary: Document
    content: Document

    def segments(self) -> list[Segment]:
        return [*self.title.segments, *self.summary.segments, *self.content.segments]

    def documents(self) -> tuple[tuple[str, Document], ...]:
        return (("title", self.title), ("summary", self.summary), ("content", self.content))


@dataclass
class _Outcome:
    """A segment's translated HTML, or why there is none."""

    html: str | None = None
    failure: Failure = NOT_TRANSLATED


Results = dict[int, _Outcome]  # by id() of the segment


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
    chain = Chain(
        store, providers or build_providers(config), t.chain_for, time.monotonic() + t.budget
    )
    report = TranslationReport()
    if not work:
        return report
    done = 0
    # A story whose text a provider refused on its own is judged when the cycle ends: by
    # then every other request has shown whether that provider answers others (see Failure).
    refused: list[tuple[_Job, Results]] = []
    for (source, target), jobs in _plan(config, work).items():
        results = _translate_segments(
            chain, [seg for job in jobs for seg in job.segments()], source, target
        )
        for job in jobs:
            failure = _first_failure(job, results)
            if failure is not None and failure.alone:
                refused.append((job, results))
                continue
            _save(store, job, results, chain, t, report)
            done += 1
            if on_progress:
                on_progress(done, len(work))
    for job, results in refused:
        _save(store, job, results, chain, t, report)
        done += 1
        if on_progress:
            on_progress(done, len(work))
    report.requests = sum(p.requests for p in chain.providers.values())
    report.from_memory = chain.from_memory
    return report


# -- plan --------------------------------------------------------------------------------


def _plan(
    config: Config, work: Sequence[tuple[StoredArticle, Translation]]
) -> dict[tuple[str, str], list[_Job]]:
    """The work as jobs grouped by (source, target) language, each field as the source's
    rights allow (the title always, the summary unless `title`, the content only if `full`)."""
    t = config.settings.translation
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
    return groups


# -- translate ---------------------------------------------------------------------------


def _translate_segments(
    chain: Chain, segments: Sequence[Segment], source: str, target: str
) -> Results:
    """Each segment (by id) translated whole, else node by node, else as plain text.

    Every level is one `translate_units` round for all segments that need it, so fallbacks
    are packed (and remembered) like first attempts.
    """
    results: Results = {}
    answers, errors = chain.translate_units([s.whole() for s in segments], source, target)
    by_nodes: list[Segment] = []
    for seg in segments:
        whole = seg.whole()
        if whole not in answers:
            results[id(seg)] = _Outcome(failure=errors.get(whole, NOT_TRANSLATED))
            continue
        restored = seg.restore(answers[whole])
        if restored is None:
            by_nodes.append(seg)  # the provider lost or moved an inline-tag placeholder
        else:
            results[id(seg)] = _Outcome(restored)
    if not by_nodes:
        return results
    as_plain = _translate_nodes(chain, by_nodes, source, target, results)
    if as_plain:
        _translate_plain(chain, as_plain, source, target, results)
    return results


def _translate_nodes(
    chain: Chain, segments: list[Segment], source: str, target: str, results: Results
) -> list[Segment]:
    """The first fallback: each text node of the segments on its own; returns the segments
    whose answers still lost a placeholder."""
    nodes = {id(seg): seg.text_nodes() for seg in segments}
    answers, errors = chain.translate_units(
        [text for seg in segments for _, text in nodes[id(seg)]], source, target
    )
    as_plain: list[Segment] = []
    for seg in segments:
        missing = [text for _, text in nodes[id(seg)] if text not in answers]
        if missing:
            results[id(seg)] = _Outcome(failure=errors.get(missing[0], NOT_TRANSLATED))
            continue
        restored = seg.restore_nodes({i: answers[text] for i, text in nodes[id(seg)]})
        if restored is None:
            as_plain.append(seg)
        else:
            results[id(seg)] = _Outcome(restored)
    return as_plain


def _translate_plain(
    chain: Chain, segments: list[Segment], source: str, target: str, results: Results
) -> None:
    """The last fallback: each segment's text without its inline markup."""
    answers, errors = chain.translate_units([seg.plain_unit() for seg in segments], source, target)
    for seg in segments:
        unit = seg.plain_unit()
        restored = seg.restore_plain(answers[unit]) if unit in answers else None
        if restored is None:
            failure = errors.get(unit) or Failure(f"placeholders lost in the {target} answer")
            results[id(seg)] = _Outcome(failure=failure)
        else:
            results[id(seg)] = _Outcome(restored)


# -- save --------------------------------------------------------------------------------


def _render(doc: Document, results: Results) -> tuple[str | None, Failure | None]:
    """The document translated, or None and the first reason it could not be."""
    rendered: dict[int, str] = {}
    for index, seg in enumerate(doc.segments):
        outcome = results.get(id(seg), _Outcome())
        if outcome.html is None:
            return None, outcome.failure
        rendered[index] = outcome.html
    return doc.render(rendered), None


def _first_failure(job: _Job, results: Results) -> Failure | None:
    for _, doc in job.documents():
        rendered, failure = _render(doc, results)
        if rendered is None:
            return failure
    return None


def _save(
    store: Store,
    job: _Job,
    results: Results,
    chain: Chain,
    settings: TranslationSettings,
    report: TranslationReport,
) -> None:
    """The job's outcome into the store and the report: its translation, or why not."""
    fields: dict[str, str] = {}
    failure: Failure | None = None
    for name, doc in job.documents():
        rendered, failure = _render(doc, results)
        if rendered is None:
            break
        fields[name] = rendered
    if failure is not None:
        _save_failure(store, job, failure, chain, settings.retry_after, report)
    else:
        _save_translated(store, job, fields, chain, report)


def _save_failure(
    store: Store,
    job: _Job,
    failure: Failure,
    chain: Chain,
    retry_after: float,
    report: TranslationReport,
) -> None:
    article = job.stored.article
    previous = job.translation
    reason, outage = failure.reason, failure.outage
    guard = chain.providers.get(failure.alone) if failure.alone else None
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
        report.failures.append(FailedTranslation(article.id, previous.language, reason, retry_at))
    else:
        report.pending += 1


def _save_translated(
    store: Store, job: _Job, fields: dict[str, str], chain: Chain, report: TranslationReport
) -> None:
    article = job.stored.article
    previous = job.translation
    used = {chain.used.get(seg.whole(), "") for seg in job.segments()} - {""}
    saved = store.save_translation(
        Translation(
            article_id=article.id,
            language=previous.language,
            status="translated",
            title=html.unescape(fields["title"]).strip() or article.title,
            summary=html.unescape(fields.get("summary", "")).strip(),
            content=sanitise_html(fields.get("content", "")),
            provider=",".join(sorted(used)),
            attempts=previous.attempts + 1,
        ),
        article.text_hash,
    )
    if saved:
        report.translated += 1
