"""The worker's jobs: APScheduler triggers the stages, each job at its own pace.

Owns: the jobs and how they run (a job per source, placed by :mod:`syndication.run.schedule`
and started on the Poller's event loop; a translation job draining the backlog through
providers kept across runs, so their rate limits and circuit breakers hold; a publish job
pulled forward after a change (debounced) and run at least every `publish.every`; no job
overlapping itself, one asked for while running run once more after; a publish at the time
the next embargo ends), the heartbeat, requests left in the store by the command line
(`retry`, `reload`), applying a reload (:mod:`syndication.run.reload` decides what changed;
SIGHUP, `syndication reload` or the file changing on disk ask for it), and noticing the store
file removed under it. Jobs only trigger stages; every stage works through the store, so jobs
running side by side never share state here.

With other workers on the same (PostgreSQL) store, a job claims its work first: a source job
claims the source's poll (skipped when another worker polls it, or polled it less than its
`every` ago: schedule.may_follow; dropped by the poll itself when the claim lapsed before its
request went out), the translation job claims a batch of due translations (the
store does, in its work query), and the publish job takes the publish lock (another worker
publishing: this one tries again within `publish.debounce`). A worker killed before it
published its changes leaves them to whichever worker sees them waiting too long (housekeeping
looks every few seconds: fleet.PublishWatch). A database that stops answering makes the jobs
stand back and retry with backoff (fleet.py).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent import futures
from concurrent.futures import Future
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from syndication import metrics
from syndication.config import Config, SourceSettings
from syndication.errors import StoreError, StoreUnreachable
from syndication.ingest.poll import DROPPED, Poller, SourceOutcome, next_poll
from syndication.model import SourceState, utcnow
from syndication.publish import publish
from syndication.publish.changes import AT, MARK
from syndication.run import reload as reloading
from syndication.run.cycle import translate
from syndication.run.fleet import Heartbeat, Outage, PublishWatch
from syndication.run.health import Condition, healthz
from syndication.run.schedule import FIRST_SPREAD, first_run, job_id, may_follow, trigger_for
from syndication.store import Store
from syndication.store.base import parse_iso
from syndication.translate.engine import TranslationReport, build_providers

log = logging.getLogger(__name__)

TRANSLATE_EVERY = 60.0  # seconds; a change found by a source job runs it at once as well
PUBLISH_RETRY = 60.0  # seconds before a failed publish is tried again
# Command-line requests and the configuration file's mtime: a partner's token rotated or
# removed in the YAML must stop working within 5 s of the save.
HOUSEKEEPING_EVERY = 2.0
ENDED = "last_publish"  # the setting saying when the last publish ended (AT: when it began)

Announce = Callable[[str], None]


class Worker:
    """The schedule of one worker process over one store."""

    def __init__(
        self,
        config: Config,
        store: Store,
        *,
        announce: Announce | None = None,
        on_reload: Callable[[Config], None] | None = None,
    ):
        self.config = config
        self.store = store
        self.announce = announce or (lambda line: None)
        self.on_reload = on_reload
        self.providers = build_providers(config)
        self.condition = Condition()
        self.outage = Outage()  # a shared store not answering (fleet.py)
        self.watch = PublishWatch()  # changes a dead worker left unpublished (fleet.py)
        self._told_owed: datetime | None = None
        self.heartbeat = Heartbeat(store, config.settings.fleet.lease, self._beaten)
        self.on_fatal: Callable[[], None] = lambda: None
        self._store_identity = store.file_identity()
        self._reload_lock = threading.Lock()
        self._runs_lock = threading.Lock()
        self._running: set[str] = set()  # translate / publish running now
        self._again: set[str] = set()  # … and asked for again meanwhile
        self._busy: set[str] = set()  # sources being polled now (a `retry` must not overlap)
        self._busy_lock = threading.Lock()
        self._config_stamp = reloading.stamp(config.path)
        self._publish_took = 0.0  # seconds the last publish took
        self._publish_all = False  # the next publish renders every file (`publish --all`)
        self._publish_look = False  # it checks the output has every file (`publish`)
        self._last_reasons: tuple[str, ...] = ()
        self._last_told = 0.0
        self.poller = Poller(config)
        # Bookkeeping after a poll (store reads, nudging translate and publish) off the loop.
        self._after = futures.ThreadPoolExecutor(1, thread_name_prefix="syndication-polled")
        self.scheduler = BackgroundScheduler(
            executors={
                # A source job only starts its poll on the Poller; translation and publishing
                # each have a thread, so a long translation never holds back new stories.
                "fetch": ThreadPoolExecutor(max_workers=2),
                "translate": ThreadPoolExecutor(max_workers=1),
                "publish": ThreadPoolExecutor(max_workers=1),
                "default": ThreadPoolExecutor(max_workers=2),
            },
            # One run of a job at a time; runs missed while it was busy (or the machine
            # slept) collapse into one late run instead of piling up.
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=UTC,
        )
        self.scheduler.add_listener(self._skipped, EVENT_JOB_MAX_INSTANCES | EVENT_JOB_MISSED)

    # -- schedule -----------------------------------------------------------------------

    def start(self) -> None:
        now = utcnow()
        reloading.record_in_use(self.store, self.config)
        states = {state.source_id: state for state in self.store.source_states()}
        for source in self.config.settings.sources:
            self._schedule_source(source, states.get(source.id))
        # /healthz's last cycle across a restart: the store's last poll, not null until the
        # next one (which, for sources polled hourly, may be most of an hour away).
        polled = [s.last_attempt for s in states.values() if s.last_attempt is not None]
        self.condition.last_cycle = max(polled, default=None)
        publish_every = self.config.settings.publish.every
        # Whatever a stopped or killed worker left pending is taken up at once.
        self.scheduler.add_job(
            self.drain,
            IntervalTrigger(seconds=TRANSLATE_EVERY, timezone=UTC),
            id="translate",
            executor="translate",
            next_run_time=now,
        )
        self.scheduler.add_job(
            self.publish,
            IntervalTrigger(seconds=publish_every, timezone=UTC),
            id="publish",
            executor="publish",
            next_run_time=now + timedelta(seconds=publish_every),
        )
        self.scheduler.add_job(
            self.housekeeping,
            IntervalTrigger(seconds=HOUSEKEEPING_EVERY, timezone=UTC),
            id="housekeeping",
        )
        self.scheduler.start()
        self._guard("embargo", self._publish_at_next_embargo)

    def stop(self) -> None:
        self.heartbeat.stop()
        if self.scheduler.running:  # a stop may come before the start
            self.scheduler.shutdown(wait=False)

    def _schedule_source(
        self, source: SourceSettings, state: SourceState | None, spread: float = FIRST_SPREAD
    ) -> None:
        """(Re)place the source's job, first run when the schedule in force now says.

        That is soon (jittered over `spread` seconds) for a source never polled, overdue, or at
        a new location; otherwise its next scheduled time after its last poll (or its backoff's
        end), however long the interval was when that poll recorded a next due time.
        """
        now = utcnow()
        trigger = trigger_for(source)
        due = next_poll(source, state, self.config.settings.fetch.max_backoff)
        first = first_run(source, trigger, due, now, spread)
        self.scheduler.add_job(
            self.poll_source,
            trigger,
            args=[source.id],
            id=job_id(source.id),
            name=f"poll {source.id}",
            executor="fetch",
            replace_existing=True,
            next_run_time=first,
        )
        if state is not None and first is not None:  # `status` shows it from the store
            self.store.set_next_due(source.id, max(first, due) if due else first)

    def _skipped(self, event: JobExecutionEvent) -> None:
        what = "still running" if event.code == EVENT_JOB_MAX_INSTANCES else "missed"
        log.info("%s: previous run %s; this one skipped", event.job_id, what)

    def request_publish(self) -> None:
        """Publish soon: within `publish.debounce`, so a burst of changes publishes once.

        Never sooner than the last publish took, either: with many sources and editions a
        publish costs seconds of CPU, and changes arriving all the time must leave the
        worker at most half busy publishing."""
        self._trigger("publish", self._publish_delay())

    def _publish_delay(self) -> float:
        return max(self.config.settings.publish.debounce, self._publish_took)

    def request_translate(self) -> None:
        self._trigger("translate", 0.0)

    def _trigger(self, job_id: str, delay: float) -> None:
        """Run the job within `delay` seconds; if it is running now, once more after it ends.

        A run already under way may have read the store before the change that asks for it,
        and APScheduler would skip a second instance rather than queue it.
        """
        with self._runs_lock:
            if job_id in self._running:
                self._again.add(job_id)
                return
        job = self.scheduler.get_job(job_id)
        target = utcnow() + timedelta(seconds=delay)
        if job is not None and (job.next_run_time is None or job.next_run_time > target):
            job.modify(next_run_time=target)

    def _once_at_a_time(
        self, job_id: str, work: Callable[[], None], again: Callable[[], None]
    ) -> None:
        """Run `work`; if it was asked for again meanwhile, `again()` schedules one more run."""
        with self._runs_lock:
            self._running.add(job_id)
            self._again.discard(job_id)
        try:
            self._guard(job_id, work)
        finally:
            with self._runs_lock:
                self._running.discard(job_id)
                wanted = job_id in self._again
                self._again.discard(job_id)
            if wanted:
                again()

    # -- jobs ---------------------------------------------------------------------------

    def poll_source(self, source_id: str, force: bool = False) -> None:
        """Start polling one source (unless it is backing off and not `force`d); return at once.

        The poll itself runs on the Poller's event loop, so a partner that never answers
        holds a connection slot until the fetch timeout, never one of the scheduler's threads.
        """
        config = self.config
        source = next((s for s in config.settings.sources if s.id == source_id), None)
        if source is None or self._standing_back():  # removed by a reload meanwhile
            return
        with self._busy_lock:
            if source_id in self._busy:
                return  # still polling (a slow partner, or a `retry` met the schedule)
            self._busy.add(source_id)
        claimed = False
        try:
            state = self.store.source_state(source.id)
            # A backoff belongs to the location that failed: an edited URL is tried at once.
            failing = (
                state is not None and state.failures and state.location == source.stored_location
            )
            due = next_poll(source, state, config.settings.fetch.max_backoff)
            backoff = due if failing else None
            if not force and backoff is not None and backoff > utcnow():
                self._show_next_due(source, backoff)
                self._done_polling(source_id)
                return
            claimed = self._claim(source, force=force)
            if not claimed:
                # Polled lately (a `once`, another worker): that poll took this run's place,
                # and `status` must not keep showing this run's time once it has passed.
                self._show_next_due(source, None)
                self._done_polling(source_id)
                return
            future = self.poller.submit(config, self.store, source, state)
        except Exception as exc:
            self._done_polling(source_id, release=claimed)
            self._failed(f"source {source_id}", exc)
            return
        self._stood_up()
        future.add_done_callback(lambda done: self._after.submit(self._polled, source, done))

    def _claim(self, source: SourceSettings, *, force: bool) -> bool:
        """Claim the source's poll, due by when any worker last polled it (always ours when
        this process is no registered worker: tests driving a Worker directly)."""
        if self.store.worker_id is None:
            return True
        why = self.store.claim_source(
            source.id, partial(may_follow, source), location=source.stored_location, force=force
        )
        if why is None:
            metrics.claimed("source", "taken")
            return True
        metrics.claimed("source", "polled" if why.startswith("polled") else "held")
        log.debug("source %s not polled here: %s", source.id, why, extra={"source": source.id})
        return False

    def _polled(self, source: SourceSettings, done: Future[SourceOutcome]) -> None:
        try:
            outcome = done.result()  # poll_source never raises; a cancelled one (a stop) may
            if outcome.result == DROPPED:
                # Its claim lapsed before the request (the poll logged it): whoever holds the
                # claim now polls the source, and records its state and next due time.
                metrics.claimed("source", "lapsed")
                return
            # poll_source logged what the source did (its failure, its new and updated stories).
            if outcome.new or outcome.updated or outcome.withdrawn:
                self.request_translate()
                self.request_publish()
            after = self.store.source_state(source.id)
            backoff = after.next_due if after is not None and after.failures else None
            self._show_next_due(source, backoff)
            self.condition.last_cycle = utcnow()
            # A job failure of this source's (the store, not the partner) is past now.
            self.condition.succeeded(f"source {source.id}")
        except Exception as exc:
            self._failed(f"source {source.id}", exc)
        finally:
            self._done_polling(source.id, release=True)

    def _done_polling(self, source_id: str, *, release: bool = False) -> None:
        if release and self.store.worker_id is not None:
            # Else the claim lapses with the lease; when the poll began is recorded already.
            with contextlib.suppress(StoreError):
                self.store.release_source(source_id)
        with self._busy_lock:
            self._busy.discard(source_id)

    def _show_next_due(self, source: SourceSettings, backoff: datetime | None) -> None:
        """Record when the source is polled next (its schedule, or its backoff), for `status`."""
        job = self.scheduler.get_job(job_id(source.id))
        if job is None or job.next_run_time is None:
            return
        when, now = job.next_run_time, utcnow()
        if when <= now:
            # The run under way: the scheduler moves the job to its next run only after
            # handing this one to a thread, so the trigger says when that is.
            when = job.trigger.get_next_fire_time(when, now) or when
        if backoff is not None and backoff > when:
            when = backoff
            if not source.cron:  # an interval job need not wake up only to skip
                with contextlib.suppress(JobLookupError):  # removed by a reload meanwhile
                    job.modify(next_run_time=backoff)
        self.store.set_next_due(source.id, when.astimezone(UTC))

    def drain(self) -> None:
        self._once_at_a_time("translate", self._drain, self.request_translate)

    def _drain(self) -> None:
        try:
            report = translate(self.config, self.store, providers=self.providers)
        finally:
            if self.store.worker_id is not None:
                with contextlib.suppress(StoreError):  # or they lapse with the lease
                    self.store.release_translations()
        self._log_translation(report)
        if report.translated:
            self.request_publish()

    def _log_translation(self, report: TranslationReport) -> None:
        if report.translated:
            log.info(
                "translated %d stor%s", report.translated, "y" if report.translated == 1 else "ies"
            )
        # An outage lasts: say so when it starts or changes, and every ten minutes, not
        # on every drain.
        reasons = tuple(sorted(report.reasons))
        now = time.monotonic()
        if reasons and (reasons != self._last_reasons or now - self._last_told > 600):
            # Worded as `once` and `status` word them: failed (a bad answer, retried on a
            # schedule that backs off) or waiting (a provider's outage).
            failed = Counter(f.reason for f in report.failures)
            for reason, count in report.reasons.most_common(3):
                kind = "failed" if reason in failed else "waiting"
                log.warning("translation: %d %s: %s", count, kind, reason)
            self._last_told = now
        self._last_reasons = reasons

    def publish(self) -> None:
        self._once_at_a_time("publish", self._publish, self.request_publish)
        if "publish" in self.condition.failing:  # a full disk, an unwritable folder: try again soon
            self._trigger("publish", min(PUBLISH_RETRY, self.config.settings.publish.every))

    def _publish(self) -> None:
        with self.store.publishing() as ours:
            if not ours:
                # Another worker is publishing, maybe from before this worker's change: once
                # more when it may be done (this job is running: `_again`).
                metrics.claimed("publish", "held")
                self.request_publish()
                return
            metrics.claimed("publish", "taken")
            started = time.monotonic()
            full, self._publish_all = self._publish_all, False
            look, self._publish_look = self._publish_look, False
            result = publish(self.config, self.store, full=full, look=look)
        self._publish_took = time.monotonic() - started
        self._publish_at_next_embargo()
        self.condition.last_publish = self.condition.last_cycle = utcnow()
        if result.written:
            log.info("published %d changed file(s)", len(result.written))
        for error in result.errors:
            log.error("feed not published: %s", error)

    def _publish_at_next_embargo(self) -> None:
        """An embargoed story goes out when its time comes, not at the next poll: the publish
        job is brought forward to just after the next embargo ends."""
        ends = self.store.next_embargo(utcnow())
        job = self.scheduler.get_job("publish")
        if ends is None or job is None:
            return
        # Straight on the job (not `_trigger`): called from a running publish, that would ask
        # for another publish at once.
        target = ends + timedelta(seconds=1)
        if job.next_run_time is None or job.next_run_time > target:
            job.modify(next_run_time=target)

    def _beaten(self, error: StoreError | None) -> None:
        """The heartbeat thread's news: its failure is the worker's ill health (503)."""
        if error is None:
            self.condition.succeeded("heartbeat")
            self._stood_up()
        else:
            self._failed("heartbeat", error)

    def _store_still_there(self) -> bool:
        if self.store.file_identity() == self._store_identity:
            return True
        # Deleted or replaced under us: our writes go to a file nobody will read, and a
        # `once` would start a second store beside it. Stop (exit 3) and let a supervisor
        # start a worker on the store that is there now.
        self.condition.fatal = f"the store file of {self.store.describe()} was removed or replaced"
        log.error("%s while running: stopping", self.condition.fatal)
        self.on_fatal()
        return False

    def housekeeping(self) -> None:
        """Take up what the command line asked for, and a configuration file that changed."""
        self._guard("housekeeping", self._housekeeping)

    def _housekeeping(self) -> None:
        if not self._store_still_there():
            return
        for kind, subject in self.store.take_requests():
            if kind == "fetch":
                log.info("fetching %s now, as asked", subject, extra={"source": subject})
                self.scheduler.add_job(
                    self.poll_source,
                    args=[subject, True],
                    id=f"retry:{subject}",
                    executor="fetch",
                    replace_existing=True,
                )
            elif kind == "translate":
                # `retry --failed` after an outage: the providers' circuit breakers may still
                # be open from it; fresh ones try at once.
                self.providers = build_providers(self.config)
                self.request_translate()
            elif kind == "reload":
                self.reload("syndication reload")
            elif kind == "publish":  # `withdraw`, `restore`, `publish [--all]`
                self._publish_all = self._publish_all or subject == "all"
                self._publish_look = True
                self._trigger("publish", 0.0)
        if reloading.stamp(self.config.path) != self._config_stamp:
            self.reload(f"{self.config.path} changed")
        self._publish_if_owed()

    def _publish_if_owed(self) -> None:
        """Publish changes nobody alive is going to publish (see fleet.PublishWatch).

        Their worker would have published them within the longer of the debounce and a
        publish's run (the last one's, whoever ran it: the store records when it began and
        ended), after the publish running then: twice that, and a lease more for its heartbeat
        to lapse, is the allowance. A publish that is failing is retried on its own schedule."""
        change, seen = self.store.change_and_settings([MARK, AT, ENDED])
        began, ended = parse_iso(seen[AT]), parse_iso(seen[ENDED])
        took = (ended - began).total_seconds() if began and ended else 0.0
        s = self.config.settings
        allowance = s.fleet.lease + 2 * max(self._publish_delay(), took)
        owed = self.watch.look(change, int(seen[MARK] or 0), allowance)
        self.condition.publish_overdue = self.watch.waiting_since
        with self._runs_lock:
            running = "publish" in self._running
        if owed and not running and "publish" not in self.condition.failing:
            if self._told_owed != self.watch.waiting_since:  # once per wait
                self._told_owed = self.watch.waiting_since
                log.warning(
                    "changes have waited since %s for a publish (did the worker that made "
                    "them stop before publishing them?): publishing them",
                    self._told_owed,
                )
            self._trigger("publish", 0.0)

    def _guard(self, name: str, job: Callable[[], None]) -> None:
        if self._standing_back():
            return
        try:
            job()
        except Exception as exc:  # a job failure must never kill the scheduler
            self._failed(name, exc)
        else:
            self.condition.succeeded(name)
            self._stood_up()

    def _failed(self, name: str, exc: Exception) -> None:
        if isinstance(exc, StoreUnreachable):
            # The database not answering: said once (fleet.Outage), not by every job.
            self.outage.failed(exc)
            self.condition.last_error = self.condition.failing[name] = str(exc)
        else:
            self.condition.failed(name, exc)

    def _standing_back(self) -> bool:
        """The database not answering: jobs wait, one tries again after the backoff."""
        return self.outage.waiting()

    def _stood_up(self) -> None:
        self.outage.succeeded()

    # -- reload -------------------------------------------------------------------------

    def reload(self, why: str) -> bool:
        """Read the YAML again and apply it; an invalid one is logged and changes nothing."""
        with self._reload_lock:
            old = self.config
            self._config_stamp = reloading.stamp(old.path)
            new = reloading.read_again(old.path)
            if isinstance(new, list):
                reloading.rejected(self.store, why, new)
                return False
            changes = reloading.changes(old, new)  # what needs a restart too
            new = reloading.keep_fixed(old, new)
            self.config = new
            with contextlib.suppress(StoreError):  # only `status` would miss it
                reloading.record_in_use(self.store, new)
            if new.settings.translation != old.settings.translation:
                self.providers = build_providers(new)
            if self.on_reload is not None:
                self.on_reload(new)
            self._reschedule(changes, new)
            if new.settings.publish.every != old.settings.publish.every:
                self.scheduler.reschedule_job(
                    "publish",
                    trigger=IntervalTrigger(seconds=new.settings.publish.every, timezone=UTC),
                )
            self.request_translate()  # a new edition or source may have work
            self.request_publish()
            summary = changes.summary()
            self.announce(f"configuration reloaded ({why}): {summary}")
            reloading.tell(self.store, why, ok=True, summary=summary)
            return True

    def _reschedule(self, changes: reloading.Changes, new: Config) -> None:
        for source_id in changes.removed:
            with contextlib.suppress(JobLookupError):
                self.scheduler.remove_job(job_id(source_id))
        if not changes.rescheduled:
            return
        after = {s.id: s for s in new.settings.sources}
        states = {s.source_id: s for s in self.store.source_states()}
        for source_id in changes.rescheduled:
            self._schedule_source(after[source_id], states.get(source_id), spread=2.0)

    def health(self) -> dict[str, Any]:
        """What /healthz answers (see :func:`syndication.run.health.healthz`)."""
        return healthz(self.config, self.store, self.condition)
