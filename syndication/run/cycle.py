"""One cycle of the stages: ingest, translate, publish, each reading and writing the store.

Owns: running the stages for `syndication once` and `retry` (ingest; then the publish of
what it stored beside the translation, which runs in a thread, and a publish again after it
when the translations changed anything) and the translation step for the worker's job, the
progress hooks a front end may listen to, and the cycle report
(what each source did, what translation did, what was published) from which the CLI derives
its summary and exit code. No stage calls another; this module only sequences them.

Run by a registered worker on a shared store (`once` beside a fleet), the cycle claims like a
worker: each source it polls (one a worker is polling this moment is left to it and named in
the report, as is one whose claim lapsed before its poll went out), the translations it does
(the store's work query), and the publish lock (waited for: another worker's publish ends in
seconds, or with its process).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from syndication.config import Config, SourceSettings
from syndication.ingest.poll import DROPPED, SourceOutcome, due_sources, poll_sources
from syndication.model import utcnow
from syndication.publish import PublishReport, publish
from syndication.run.schedule import may_follow
from syndication.store import CLAIM_BATCH, Store
from syndication.translate.engine import TranslationReport, build_providers, translate_pending
from syndication.translate.guard import Guarded

log = logging.getLogger(__name__)


@dataclass
class CycleReport:
    sources: list[SourceOutcome] = field(default_factory=list)
    translation: TranslationReport = field(default_factory=TranslationReport)
    publish: PublishReport = field(default_factory=PublishReport)
    elsewhere: dict[str, str] = field(default_factory=dict)  # source → the worker polling it
    waiting: dict[str, datetime] = field(default_factory=dict)  # source → its partner's wait

    @property
    def failed_sources(self) -> list[SourceOutcome]:
        """Sources that failed, and folders with files that could not be read."""
        return [s for s in self.sources if s.result == "error" or s.error]

    @property
    def ok(self) -> bool:
        # A source whose partner asks us to wait is still a failing one (429, 503).
        return (
            not self.failed_sources
            and not self.waiting
            and self.translation.ok
            and not self.publish.errors
        )


@dataclass
class Progress:
    """Callbacks a front end (the CLI's progress display, the worker's log) may listen to."""

    stage: Callable[[str, int], None] = lambda name, total: None
    advance: Callable[[str, int], None] = lambda name, done: None


def ingest(
    config: Config,
    store: Store,
    chosen: list[SourceSettings] | None = None,
    progress: Progress | None = None,
) -> list[SourceOutcome]:
    progress = progress or Progress()
    chosen = due_sources(config, store) if chosen is None else chosen
    progress.stage("ingest", len(chosen))
    done = 0

    def tick(_outcome: SourceOutcome) -> None:
        nonlocal done
        done += 1
        progress.advance("ingest", done)

    return asyncio.run(poll_sources(config, store, chosen, on_done=tick))


def translate(
    config: Config,
    store: Store,
    *,
    retry_all: bool = False,
    progress: Progress | None = None,
    providers: dict[str, Guarded] | None = None,
) -> TranslationReport:
    """Translate what is due; `providers` kept across calls keep their rate limits and breakers.

    A shared store hands a worker its work a batch (CLAIM_BATCH) at a time: batches follow
    one another while a full one went well, until none is left or the time budget is spent."""
    progress = progress or Progress()
    providers = providers or build_providers(config)
    deadline = time.monotonic() + config.settings.translation.budget
    started = False

    def tick(done: int, total: int) -> None:
        nonlocal started
        if not started:
            progress.stage("translate", total)
            started = True
        progress.advance("translate", done)

    report = TranslationReport()
    while True:
        batch = translate_pending(
            config, store, retry_all=retry_all, on_progress=tick, providers=providers
        )
        _add(report, batch)
        done = batch.translated + batch.failed + batch.pending
        if not (store.shared and batch.translated and done >= CLAIM_BATCH):
            return report
        if time.monotonic() >= deadline:
            return report


def _add(report: TranslationReport, batch: TranslationReport) -> None:
    report.translated += batch.translated
    report.failed += batch.failed
    report.pending += batch.pending
    report.requests += batch.requests
    report.from_memory += batch.from_memory
    report.reasons.update(batch.reasons)
    report.failures += batch.failures


def run_cycle(
    config: Config,
    store: Store,
    *,
    chosen: list[SourceSettings] | None = None,
    progress: Progress | None = None,
) -> CycleReport:
    """Poll the chosen sources (default: every source but those whose partner asked us to
    wait: a source named is polled whatever it asked), then translate what is due while
    publishing what was stored, and publish again what the translations changed."""
    report = CycleReport()
    if chosen is None:
        chosen = _not_waiting(config, store, report)
    claimed = _claim(store, chosen, report)
    try:
        polled = ingest(config, store, claimed, progress)
    finally:
        if store.worker_id is not None:
            store.release_sources([source.id for source in claimed])
    report.sources = [o for o in polled if o.result != DROPPED]
    for dropped in (o for o in polled if o.result == DROPPED):
        report.elsewhere[dropped.source_id] = (
            "its claim lapsed before the poll went out (this process stalled past fleet.lease?)"
        )
    # What ingest stored is published while the translation runs beside it: the originals
    # and every file no translation changes need not wait for the provider's answers (nor,
    # in an outage, for its retries); what the translations changed is published after them.
    with futures.ThreadPoolExecutor(1, thread_name_prefix="syndication-translate") as beside:
        translating = beside.submit(_translate, config, store, progress)
        try:
            report.publish = _publish(config, store, progress)
        finally:
            report.translation = translating.result()
    t = report.translation
    if t.translated or t.failed or t.from_memory:
        report.publish = report.publish.then(_publish(config, store, progress))
    return report


def _translate(config: Config, store: Store, progress: Progress | None) -> TranslationReport:
    # Failed translations keep their retry schedule even in `once`: cron running it every
    # few minutes must not resend every bad answer each time. Pending ones (an outage) go.
    try:
        return translate(config, store, progress=progress)
    finally:
        if store.worker_id is not None:
            store.release_translations()


def _publish(config: Config, store: Store, progress: Progress | None) -> PublishReport:
    if progress:
        progress.stage("publish", 1)
    with store.publishing(wait=None):
        published = publish(config, store)
    if progress:
        progress.advance("publish", 1)
    return published


def _not_waiting(config: Config, store: Store, report: CycleReport) -> list[SourceSettings]:
    """Every source, less those whose partner's Retry-After has not passed (at the location
    it was said for: an edited URL is polled at once). Polling every source is what `once`
    is for, but a partner that answered 429 or 503 asking for an hour must not be asked
    again by each run of a cron job meanwhile."""
    now = utcnow()
    waits = {
        state.source_id: (state.location, state.wait_until)
        for state in store.source_states()
        if state.wait_until is not None and state.wait_until > now
    }
    chosen = []
    for source in config.settings.sources:
        location, until = waits.get(source.id, ("", None))
        if until is not None and location == source.stored_location:
            report.waiting[source.id] = until
        else:
            chosen.append(source)
    return chosen


def _claim(store: Store, chosen: list[SourceSettings], report: CycleReport) -> list[SourceSettings]:
    """The chosen sources this cycle may poll now: all of them, but for those another worker
    is polling this moment (a forced claim: `once` polls now, whatever the schedule; the poll
    takes the place of the source's next scheduled one fleet-wide)."""
    if store.worker_id is None:
        return chosen
    answers = store.claim_sources({s.id: partial(may_follow, s) for s in chosen}, force=True)
    claimed = []
    for source in chosen:
        why = answers[source.id]
        if why is None:
            claimed.append(source)
        else:
            report.elsewhere[source.id] = why
    return claimed
