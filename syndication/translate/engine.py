"""The translation stage: drain pending translations from the store, honestly.

Owns: the stage in its phases: plan (each (article, language) due now, its title, summary and
content cut into segments as the source's rights allow, a correction note on its own, grouped
by language pair), translate (each pair's segments through the `Chain`: whole blocks, then text
nodes one by one, then plain text, each level one round of requests), and save (each story's
outcome per language: `translated`, or `pending`/`failed` with the reason and when it is tried
again; a text a provider refused on its own judged last). Also the providers a configuration
names, each behind its guard, and the report of a run.
"""

from __future__ import annotations

import html
import time
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from syndication.config import Config, ProviderSettings, TranslationSettings
from syndication.html import CORRECTION_OPEN, correction_note, opening_note, sanitise_html
from syndication.model import Article, StoredArticle, Translation, utcnow
from syndication.store import Store
from syndication.translate import outages
from syndication.translate.chain import BUDGET, NOT_TRANSLATED, Chain, Failure
from syndication.translate.guard import Guarded
from syndication.translate.providers import PROVIDERS
from syndication.translate.segment import Document, Glossary, Segment, split_html, split_text
from syndication.words import word


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
    # A local article's correction note, translated on its own: its paragraph (class, fixed
    # label) is put back around it, never sent to a provider (see `_save_translated`).
    note: Document

    def segments(self) -> list[Segment]:
        return [
            *self.title.segments,
            *self.summary.segments,
            *self.note.segments,
            *self.content.segments,
        ]

    def documents(self) -> tuple[tuple[str, Document], ...]:
        return (
            ("title", self.title),
            ("summary", self.summary),
            ("note", self.note),
            ("content", self.content),
        )


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
    """Translate every translation due now; `retry_all` also retries failures not yet due.

    An outage costs the same whatever the backlog. When no provider answered lately (a new
    process; the first cycle after an outage) one story goes first, as a probe, before the
    backlog is read or even counted. If every provider is then down (its breaker open, or
    its Retry-After running), the backlog is counted from the status index alone and told
    why it waits in one statement that changes no row while the reason stays the same: no
    story is read, segmented or rewritten. Otherwise the work is counted by language pair;
    a pair whose every provider is down waits the same way, and the others' stories are read
    and translated, in chunks doubling from one story until a provider of the pair answers.
    """
    t = config.settings.translation
    now = now or utcnow()
    due_at = now + timedelta(days=3650) if retry_all else now
    report = TranslationReport()
    guards = providers if providers is not None else build_providers(config)
    sent_before = sum(p.requests for p in guards.values())
    seen = outages.restore(store, guards)
    chain = Chain(store, guards, t.chain_for, time.monotonic() + t.budget)
    stage = _Stage(config, store, chain, report, on_progress)
    try:
        stage.run(due_at)
    finally:
        outages.remember(store, guards, seen)
    report.requests = sum(p.requests for p in guards.values()) - sent_before
    report.from_memory = chain.from_memory
    return report


Pair = tuple[str, str]  # (the story's language, the translation's)


class _Stage:
    """One run of the stage: the probe, which pairs can be asked, the work read and done
    pair by pair, and the counts of what waits."""

    def __init__(
        self,
        config: Config,
        store: Store,
        chain: Chain,
        report: TranslationReport,
        on_progress: Callable[[int, int], None] | None,
    ) -> None:
        self.config = config
        self.store = store
        self.chain = chain
        self.report = report
        self.on_progress = on_progress
        t = config.settings.translation
        self.glossary = Glossary(tuple(t.glossary), tuple(t.keep))
        self.due: dict[Pair, int] = {}  # counted after the probe, which it leaves out
        self.total = 0
        self.done = 0
        self.handled: Counter[Pair] = Counter()  # of each pair's counted work, done
        self.seen: set[tuple[str, str]] = set()  # (article id, language) done this run
        self.waiting: set[Pair] = set()  # pairs left waiting for the rest of the run
        self.reasons: dict[Pair | None, str] = {}  # why, for those with rows left to tell
        self.failing: dict[Pair, Failure] = {}  # pairs down for a reason that is no outage
        # A story whose text a provider refused on its own is judged when the run ends: by
        # then every other request has shown whether that provider answers others.
        self.refused: list[tuple[_Job, Results]] = []

    def run(self, due_at: datetime) -> None:
        languages = self.config.settings.languages
        guards = list(self.chain.providers.values())
        if any(not g.is_open for g in guards) and not any(
            g.answering and not g.is_open for g in guards
        ):
            # Nobody answered lately: one story first, before the backlog is read or counted.
            probe = self.store.translation_work(languages, now=due_at, limit=1, newest_first=False)
            if probe and self.chain.available(*_pair(*probe[0])):
                self._work(probe)
            self.handled.clear()  # the counts below leave the probe out
        probed = list(self.seen)
        down = self._everyone_down()
        if down is not None:
            # Nobody can be asked anything: the backlog waits, unread.
            left = sum(
                self.store.translation_due_by_language(languages, due_at, exclude=probed).values()
            )
            self._counted(len(probed) + left)
            if left:
                self.reasons[None] = down.reason
                self.report.pending += left
                self.report.reasons[down.reason] += left
                self._advance(left)
        else:
            self.due = self.store.translation_due(languages, due_at, exclude=probed)
            self._counted(len(probed) + sum(self.due.values()))
            askable = self._askable(list(self.due))
            if askable:
                self._work(self.store.translation_work(languages, now=due_at, pairs=askable))
            if self.failing:
                # Down for an answer it cannot give (not an outage): each story fails, on its
                # retry schedule, as if asked; read for that, never segmented.
                for stored, translation in self.store.translation_work(
                    languages, now=due_at, pairs=list(self.failing)
                ):
                    self._fail(stored, translation, self.failing[_pair(stored, translation)])
        for job, results in self.refused:
            self._save(job, results)
        # Last, so that a row saved above already says why and is left alone here.
        for pair, reason in self.reasons.items():
            self.store.note_waiting(pair, reason, languages)

    def _everyone_down(self) -> Failure | None:
        """Why nothing can be asked now, when the one provider is down (with several, each
        pair has its own reason: the last of its chain; they are counted by pair)."""
        guards = list(self.chain.providers.values())
        if len(guards) == 1 and guards[0].is_open:
            down = self.chain.down_for(guards[0])
            return down if down.outage else None
        return None

    def _counted(self, total: int) -> None:
        self.total = total
        if self.on_progress and self.done:
            self.on_progress(self.done, self.total)

    def _askable(self, pairs: list[Pair]) -> list[Pair]:
        """The pairs some provider may be asked for now; the others wait, unread."""
        for pair in pairs:
            if not self.chain.available(*pair):
                self._wait(pair, self.chain.down(*pair))
        return [pair for pair in pairs if pair not in self.waiting]

    def _work(self, work: Sequence[tuple[StoredArticle, Translation]]) -> None:
        """The work read, pair by pair, in chunks doubling from one story until a provider
        of the pair answers (then all the rest at once, packed as tightly as it goes)."""
        by_pair: defaultdict[Pair, list[tuple[StoredArticle, Translation]]] = defaultdict(list)
        for stored, translation in work:
            if (stored.article.id, translation.language) not in self.seen:
                by_pair[_pair(stored, translation)].append((stored, translation))
        for pair, rows in by_pair.items():
            start, size = 0, 1
            while start < len(rows) and pair not in self.waiting:
                if time.monotonic() > self.chain.deadline:
                    self._wait(pair, BUDGET)
                elif not self.chain.available(*pair):
                    down = self.chain.down(*pair)
                    if not down.outage:
                        for stored, translation in rows[start:]:
                            self._fail(stored, translation, down)
                        break
                    self._wait(pair, down)
                else:
                    count = len(rows) - start if self.chain.answering(*pair) else size
                    self._translate(pair, rows[start : start + count])
                    start, size = start + count, size * 2

    def _translate(self, pair: Pair, rows: Sequence[tuple[StoredArticle, Translation]]) -> None:
        jobs = [
            _plan(self.config, self.glossary, stored, translation) for stored, translation in rows
        ]
        results = _translate_segments(
            self.chain, [seg for job in jobs for seg in job.segments()], *pair
        )
        for job in jobs:
            self.handled[pair] += 1
            self.seen.add((job.stored.article.id, job.translation.language))
            failure = _first_failure(job, results)
            if failure is not None and failure.alone:
                self.refused.append((job, results))
            else:
                self._save(job, results)

    def _save(self, job: _Job, results: Results) -> None:
        _save(self.store, job, results, self.chain, self.config.settings.translation, self.report)
        self._advance(1)

    def _fail(self, stored: StoredArticle, translation: Translation, failure: Failure) -> None:
        """A story that failed without being asked (its provider is down for a reason that
        is no outage), saved as a failed attempt would be."""
        self.handled[_pair(stored, translation)] += 1
        self.seen.add((stored.article.id, translation.language))
        job = _Job(stored, translation, Document([]), Document([]), Document([]), Document([]))
        t = self.config.settings.translation
        _save_failure(self.store, job, failure, self.chain, t.retry_after, self.report)
        self._advance(1)

    def _wait(self, pair: Pair, failure: Failure) -> None:
        """The pair's work not done this run waits (counted as pending); its rows are told
        why when the run ends. A pair down for a reason that is no outage fails instead."""
        if not failure.outage:
            self.failing[pair] = failure
            self.waiting.add(pair)
            return
        self.waiting.add(pair)
        left = self.due.get(pair, 0) - self.handled[pair]
        if left <= 0:
            return
        self.reasons[pair] = failure.reason
        self.report.pending += left
        self.report.reasons[failure.reason] += left
        self._advance(left)

    def _advance(self, count: int) -> None:
        self.done += count
        if self.on_progress and self.total:  # the probe's progress waits for the count
            self.on_progress(self.done, self.total)


def _pair(stored: StoredArticle, translation: Translation) -> Pair:
    return stored.article.language, translation.language


# -- plan --------------------------------------------------------------------------------

# Segmenting is the costly part of planning: each story version is segmented once per
# target language and kept (a story retried after a failure is not segmented again).
_SEGMENTED: OrderedDict[tuple[object, ...], tuple[Document, Document, Document, Document]] = (
    OrderedDict()
)
_SEGMENTED_MAX = 4096


def _plan(
    config: Config, glossary: Glossary, stored: StoredArticle, translation: Translation
) -> _Job:
    """One story to translate into one language, each field as the source's rights allow
    (the title always, the summary unless `title`, the content only if `full`)."""
    article = stored.article
    rights = config.settings.rights(article.source_id)
    pairs = glossary.pairs(article.language, translation.language)
    key = (article.id, article.text_hash, translation.language, rights, tuple(pairs))
    documents = _SEGMENTED.get(key)
    if documents is None:
        content, note = article.content, ""
        opening = _note(article)
        if opening is not None:
            note, content = opening
        documents = (
            split_text(article.title, pairs),
            split_text(article.summary, pairs) if rights != "title" else Document([]),
            split_html(content, pairs) if rights == "full" else Document([]),
            split_html(note, pairs) if rights == "full" else Document([]),
        )
        _SEGMENTED[key] = documents
        if len(_SEGMENTED) > _SEGMENTED_MAX:
            _SEGMENTED.popitem(last=False)
    else:
        _SEGMENTED.move_to_end(key)
    title, summary, content, note = documents
    return _Job(stored, translation, title, summary, content, note)


def _note(article: Article) -> tuple[str, str] | None:
    """(the correction note as HTML text, the rest of the body) when the body opens with the
    note's paragraph (`ingest.local`); None otherwise."""
    if not article.correction or not article.content.startswith(CORRECTION_OPEN):
        return None
    opening = opening_note(article.content)
    return None if opening is None else (opening[1], opening[2])


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
        failure = errors.get(whole, NOT_TRANSLATED)
        restored = seg.restore(answers[whole]) if whole in answers else None
        if restored is not None:
            results[id(seg)] = _Outcome(restored)
        elif whole in answers or failure.markup:
            by_nodes.append(seg)  # the provider lost or moved an inline-tag placeholder
        else:
            results[id(seg)] = _Outcome(failure=failure)
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
        unanswered = [text for _, text in nodes[id(seg)] if text not in answers]
        missing = [errors.get(text, NOT_TRANSLATED) for text in unanswered]
        failure = next((f for f in missing if not f.markup), None)
        if failure is not None:
            results[id(seg)] = _Outcome(failure=failure)
            continue
        if missing:  # only markers lost: the plain text may still come back
            as_plain.append(seg)
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
            if outcome.failure.outage or not doc.is_attribute(seg):
                return None, outcome.failure
            continue  # alt/title words refused (a product name back unchanged): kept as written
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
    if status != "failed" and previous.status == status and previous.error == reason:
        # Still waiting, for the reason it already gives: nothing about the row changes.
        report.reasons[reason] += 1
        report.pending += 1
        return
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


def _content(fields: dict[str, str], language: str) -> str:
    """The translated body, opening with the translated correction note (if any) in its
    paragraph, with the fixed label of `language`."""
    content = sanitise_html(fields.get("content", ""))
    note = sanitise_html(fields.get("note", "")).strip()
    if not note:
        return content
    return correction_note(word(language, "correction"), note) + content


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
            content=_content(fields, previous.language),
            provider=",".join(sorted(used)),
            attempts=previous.attempts + 1,
        ),
        article.text_hash,
    )
    if saved:
        report.translated += 1
