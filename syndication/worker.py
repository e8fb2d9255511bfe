"""The long-running worker: APScheduler triggers the stages; the HTTP server serves the output.

Owns: the schedule (a job per source at its own `every:`, at the source's own place within
it, or at its `cron:`; a never-polled or overdue source first fired soon, with jitter; a
configuration that changed, on start or by a reload, applied from each source's last poll;
a translation job draining the backlog through providers kept across runs, so their rate
limits and circuit breakers hold; a publish job pulled forward after a change (debounced) and
run at least every `publish.every`), the store lock's heartbeat, requests left in the store
by the command line (`retry`, `reload`), configuration reload (SIGHUP, `syndication reload`,
or the file changing on disk), and a clean stop on SIGINT/SIGTERM. Jobs only trigger stages;
every stage works through the store, so jobs running side by side never share state here.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import random
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent import futures
from concurrent.futures import Future
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from syndication import config as cfg
from syndication.config import Config, SourceSettings
from syndication.errors import ConfigError, StoreError
from syndication.ingest.poll import Poller, SourceOutcome, next_poll, scheduled_after
from syndication.metrics import exposition
from syndication.model import SourceState, utcnow
from syndication.pipeline import translate
from syndication.publish import publish
from syndication.serve import make_server
from syndication.store import Store
from syndication.translate.engine import TranslationReport, build_providers

log = logging.getLogger(__name__)

TRANSLATE_EVERY = 60.0  # seconds; a change found by a source job runs it at once as well
HEARTBEAT_EVERY = 30.0
PUBLISH_RETRY = 60.0  # seconds before a failed publish is tried again
HOUSEKEEPING_EVERY = 5.0  # command-line requests and the configuration file's mtime
FIRST_SPREAD = 10.0  # at most this many seconds of jitter before a source's first poll

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
        self.last_cycle: datetime | None = None
        self.last_publish: datetime | None = None
        self.last_error = ""
        self.failing: dict[str, str] = {}  # job → its error, until it next succeeds
        self.fatal = ""  # why the worker must stop (exit 3)
        self.on_fatal: Callable[[], None] = lambda: None
        self._store_identity = store.file_identity()
        self._reload_lock = threading.Lock()
        self._runs_lock = threading.Lock()
        self._running: set[str] = set()  # translate / publish running now
        self._again: set[str] = set()  # … and asked for again meanwhile
        self._busy: set[str] = set()  # sources being polled now (a `retry` must not overlap)
        self._busy_lock = threading.Lock()
        self._config_stamp = _stamp(config.path)
        self._publish_took = 0.0  # seconds the last publish took
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
        self._record_config()
        states = {state.source_id: state for state in self.store.source_states()}
        for source in self.config.settings.sources:
            self._schedule_source(source, states.get(source.id))
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
            self._heartbeat, IntervalTrigger(seconds=HEARTBEAT_EVERY, timezone=UTC), id="heartbeat"
        )
        self.scheduler.add_job(
            self.housekeeping,
            IntervalTrigger(seconds=HOUSEKEEPING_EVERY, timezone=UTC),
            id="housekeeping",
        )
        self.scheduler.start()

    def stop(self) -> None:
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
        trigger: BaseTrigger
        if source.cron:
            trigger = CronTrigger.from_crontab(source.cron, timezone=UTC)
        else:
            trigger = _Slots(source)
            spread = min(source.every / 2, spread)
        due = next_poll(source, state, self.config.settings.fetch.max_backoff)
        first: datetime | None
        if due is None or due <= now:
            # Sources that start together would otherwise all poll at the same instant.
            first = now + timedelta(seconds=random.uniform(0, spread))
        elif source.cron:
            # The crontab says when; a backoff ending later makes that run skip (poll_source).
            first = trigger.get_next_fire_time(None, now)
        else:
            first = due
        self.scheduler.add_job(
            self.poll_source,
            trigger,
            args=[source.id],
            id=_job_id(source.id),
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
        if source is None:  # removed by a reload while this run waited for a thread
            return
        with self._busy_lock:
            if source_id in self._busy:
                return  # still polling (a slow partner, or a `retry` met the schedule)
            self._busy.add(source_id)
        try:
            state = self.store.source_state(source.id)
            # A backoff belongs to the location that failed: an edited URL is tried at once.
            failing = state is not None and state.failures and state.location == source.location
            due = next_poll(source, state, config.settings.fetch.max_backoff)
            backoff = due if failing else None
            if not force and backoff is not None and backoff > utcnow():
                self._show_next_due(source, backoff)
                self._done_polling(source_id)
                return
            future = self.poller.submit(config, self.store, source, state)
        except Exception as exc:
            self._done_polling(source_id)
            self._fail(f"source {source_id}", exc)
            return
        future.add_done_callback(lambda done: self._after.submit(self._polled, source, done))

    def _polled(self, source: SourceSettings, done: Future[SourceOutcome]) -> None:
        try:
            outcome = done.result()  # poll_source never raises; a cancelled one (a stop) may
            # poll_source logged what the source did (its failure, its new and updated stories).
            if outcome.new or outcome.updated or outcome.withdrawn:
                self.request_translate()
                self.request_publish()
            after = self.store.source_state(source.id)
            backoff = after.next_due if after is not None and after.failures else None
            self._show_next_due(source, backoff)
            self.last_cycle = utcnow()
        except Exception as exc:
            self._fail(f"source {source.id}", exc)
        finally:
            self._done_polling(source.id)

    def _done_polling(self, source_id: str) -> None:
        with self._busy_lock:
            self._busy.discard(source_id)

    def _show_next_due(self, source: SourceSettings, backoff: datetime | None) -> None:
        """Record when the source is polled next (its schedule, or its backoff), for `status`."""
        job = self.scheduler.get_job(_job_id(source.id))
        if job is None or job.next_run_time is None:
            return
        when = job.next_run_time
        if backoff is not None and backoff > when:
            when = backoff
            if not source.cron:  # an interval job need not wake up only to skip
                with contextlib.suppress(JobLookupError):  # removed by a reload meanwhile
                    job.modify(next_run_time=backoff)
        self.store.set_next_due(source.id, when.astimezone(UTC))

    def drain(self) -> None:
        self._once_at_a_time("translate", self._drain, self.request_translate)

    def _drain(self) -> None:
        report = translate(self.config, self.store, providers=self.providers)
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
            for reason, count in report.reasons.most_common(3):
                log.warning("translation: %d not translated: %s", count, reason)
            self._last_told = now
        self._last_reasons = reasons

    def publish(self) -> None:
        self._once_at_a_time("publish", self._publish, self.request_publish)
        if "publish" in self.failing:  # a full disk, an unwritable folder: try again soon
            self._trigger("publish", min(PUBLISH_RETRY, self.config.settings.publish.every))

    def _publish(self) -> None:
        started = time.monotonic()
        result = publish(self.config, self.store)
        self._publish_took = time.monotonic() - started
        self.last_publish = self.last_cycle = utcnow()
        if result.written:
            log.info("published %d changed file(s)", len(result.written))
        for error in result.errors:
            log.error("feed not published: %s", error)

    def _heartbeat(self) -> None:
        self._guard("heartbeat", self.store.heartbeat)

    def _store_still_there(self) -> bool:
        if self.store.file_identity() == self._store_identity:
            return True
        # Deleted or replaced under us: our writes go to a file nobody will read, and a
        # `once` would start a second store beside it. Stop (exit 3) and let a supervisor
        # start a worker on the store that is there now.
        self.fatal = f"the store file of {self.store.describe()} was removed or replaced"
        log.error("%s while running: stopping", self.fatal)
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
        if _stamp(self.config.path) != self._config_stamp:
            self.reload(f"{self.config.path} changed")

    def _guard(self, name: str, job: Callable[[], None]) -> None:
        try:
            job()
        except Exception as exc:  # a job failure must never kill the scheduler
            self._fail(name, exc)
        else:
            if self.failing.pop(name, None) is not None:
                log.warning("%s: working again", name)

    def _fail(self, name: str, exc: Exception) -> None:
        if isinstance(exc, StoreError):  # ours, said in one line: no traceback flood
            self.last_error = str(exc)
            log.error("%s: %s", name, exc)
        else:
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.exception("%s failed", name)
        self.failing[name] = self.last_error

    # -- reload -------------------------------------------------------------------------

    def reload(self, why: str) -> bool:
        """Read the YAML again and apply it; an invalid one is logged and changes nothing."""
        with self._reload_lock:
            old = self.config
            self._config_stamp = _stamp(old.path)
            try:
                new = cfg.load(old.path)
                problems = new.routing_problems()
            except ConfigError as exc:
                problems = exc.problems
            if problems:
                log.error(
                    "configuration reload (%s) rejected, %d problem(s); still running on the "
                    "previous configuration:",
                    why,
                    len(problems),
                )
                for problem in problems:
                    log.error("  %s", problem)
                self._tell_reload(why, ok=False, problems=problems)
                return False
            new = self._keep_fixed(old, new)
            self.config = new
            with contextlib.suppress(StoreError):  # only `status` would miss it
                self._record_config()
            if new.settings.translation != old.settings.translation:
                self.providers = build_providers(new)
            if self.on_reload is not None:
                self.on_reload(new)
            changes = self._apply_sources(old, new)
            if new.settings.publish.every != old.settings.publish.every:
                self.scheduler.reschedule_job(
                    "publish",
                    trigger=IntervalTrigger(seconds=new.settings.publish.every, timezone=UTC),
                )
            self.request_translate()  # a new edition or source may have work
            self.request_publish()
            self.announce(f"configuration reloaded ({why}): {changes}")
            self._tell_reload(why, ok=True, summary=changes)
            return True

    def _record_config(self) -> None:
        """Leave in the store what this worker runs with, for `status` to show should the
        YAML on disk stop loading (the worker goes on with this one meanwhile)."""
        record = json.dumps(self.config.in_use(), ensure_ascii=False)
        self.store.set_setting(cfg.IN_USE, record)

    def _tell_reload(self, why: str, **outcome: Any) -> None:
        """Leave the outcome in the store, where `syndication reload` waits for it."""
        record = {"at": utcnow().isoformat(), "why": why, **outcome}
        with contextlib.suppress(StoreError):
            self.store.set_setting("last_reload", json.dumps(record, ensure_ascii=False))

    def _keep_fixed(self, old: Config, new: Config) -> Config:
        """What a running process cannot change (its store, its socket) stays; say so."""
        fixed = {"store": "store", "serve": "serve", "output": "output"}
        kept = {}
        for field, name in fixed.items():
            if getattr(new.settings, field) != getattr(old.settings, field):
                log.warning("%s: changed in the YAML; takes effect after a restart", name)
                kept[field] = getattr(old.settings, field)
        if not kept:
            return new
        return dataclasses.replace(new, settings=new.settings.model_copy(update=kept))

    def _apply_sources(self, old: Config, new: Config) -> str:
        before = {s.id: s for s in old.settings.sources}
        after = {s.id: s for s in new.settings.sources}
        added = [i for i in after if i not in before]
        removed = [i for i in before if i not in after]
        changed = [i for i in after if i in before and after[i] != before[i]]
        for source_id in removed:
            with contextlib.suppress(JobLookupError):
                self.scheduler.remove_job(_job_id(source_id))
        backoff_cap = old.settings.fetch.max_backoff != new.settings.fetch.max_backoff
        rescheduled = added + [
            i
            for i in after
            if i in before
            # Title, language, rights: read by the next run as they are now.
            and (
                backoff_cap
                or (before[i].every, before[i].cron, before[i].location)
                != (after[i].every, after[i].cron, after[i].location)
            )
        ]
        states = {s.source_id: s for s in self.store.source_states()} if rescheduled else {}
        for source_id in rescheduled:
            self._schedule_source(after[source_id], states.get(source_id), spread=2.0)
        parts = [
            f"{label} {', '.join(ids)}"
            for label, ids in (("added", added), ("removed", removed), ("changed", changed))
            if ids
        ]
        sections = [
            name
            for name in type(new.settings).model_fields
            if name != "sources" and getattr(new.settings, name) != getattr(old.settings, name)
        ]
        if sections:
            parts.append(f"settings changed: {', '.join(sections)}")
        return "; ".join(parts) if parts else "nothing changed"

    # -- health -------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """What /healthz answers: not ok (503) while the store cannot be read or written or
        the output cannot be published; a partner or a translator down is not our ill health.
        """
        try:
            backlog = self.store.backlog()
            reachable = True
        except StoreError as exc:
            backlog, reachable = {}, False
            self.last_error = str(exc)
        failing = {k: v for k, v in self.failing.items() if k in ("publish", "heartbeat")}
        return {
            "ok": reachable and not failing and not self.fatal,
            "store": "reachable" if reachable else "unreachable",
            "failing": failing | ({"store": self.fatal} if self.fatal else {}),
            "last_cycle": self.last_cycle.isoformat() if self.last_cycle else None,
            "last_publish": self.last_publish.isoformat() if self.last_publish else None,
            "backlog": {
                lang: sum(n for status, n in counts.items() if status != "translated")
                for lang, counts in backlog.items()
            },
            "last_error": self.last_error,
        }


class _Slots(BaseTrigger):
    """Fires at the source's scheduled times (`scheduled_after`): every `every:` seconds, at
    the source's own place within the interval, so many sources make a steady trickle."""

    def __init__(self, source: SourceSettings) -> None:
        self.source = source

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        if previous_fire_time is None:
            return scheduled_after(self.source, now - timedelta(microseconds=1))
        following = scheduled_after(self.source, previous_fire_time)
        # Runs missed (a busy or sleeping machine) collapse into the one being made now.
        return following if following > now else scheduled_after(self.source, now)

    def __str__(self) -> str:
        return f"every {self.source.every:g}s"


def _job_id(source_id: str) -> str:
    return f"source:{source_id}"


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size


def serve_until_signal(server: Any, extra: dict[int, Callable[[], None]] | None = None) -> None:
    """Run a uvicorn server until SIGINT/SIGTERM, then return normally.

    uvicorn re-raises the signal it caught to the handlers that were installed before it ran,
    which would turn a clean stop into exit 130 or death by SIGTERM: give it ones that just
    ask the server to stop. `extra` maps further signals (SIGHUP…) to what they trigger; each
    runs on a thread of its own, never inside the signal handler.
    """

    def stop(*_: object) -> None:
        # Also covers a signal that lands before uvicorn has put its own handlers in place.
        server.should_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stop)
    for sig, action in (extra or {}).items():
        signal.signal(
            sig, lambda *_, action=action: threading.Thread(target=action, daemon=True).start()
        )
    server.run()


def run_forever(
    config: Config,
    store: Store,
    announce: Announce,
    on_reload: Callable[[Config], None] | None = None,
) -> NoReturn:
    """Run worker and server until SIGINT/SIGTERM, then end the process with exit code 0
    (3 when the worker had to stop: its store file was removed or replaced)."""
    s = config.settings
    worker: Worker | None = None
    try:
        worker = running = Worker(config, store, announce=announce, on_reload=on_reload)
        server = make_server(
            config.output,
            s.serve.host,
            s.serve.port,
            worker.health,
            metrics=lambda: exposition(store, [x.id for x in running.config.settings.sources]),
        )
        worker.on_fatal = lambda: setattr(server, "should_exit", True)
        config.output.mkdir(parents=True, exist_ok=True)
        try:
            # Serve what the store already holds at once, before the first poll finishes.
            publish(config, store)
        except Exception as exc:
            log.warning("initial publish failed: %s", exc)
        worker.start()
        host = s.serve.host
        shown = f"[{host}]" if ":" in host else host
        root = f"http://{shown}:{s.serve.port}/"
        announce(f"serving {config.output} at {root}")
        for edition in s.editions:
            announce(
                f"  {edition}: {root}{edition}/rss.xml  {root}{edition}/atom.xml  "
                f"{root}{edition}/feed.json"
            )
        announce(f"pid {os.getpid()}: `syndication reload` or SIGHUP re-reads the configuration")
        announce("press Ctrl-C to stop")
        serve_until_signal(
            server,
            {
                signal.SIGHUP: lambda: running.reload("SIGHUP"),
                signal.SIGUSR1: running.housekeeping,
            },
        )
    except KeyboardInterrupt:
        pass  # SIGINT/SIGTERM before the server took the signals over: stop all the same
    finally:
        if worker is not None:
            worker.stop()
        try:
            store.release_lock()
        except StoreError as exc:
            log.warning("could not release the store lock: %s", exc)
        announce("stopped")
        sys.stdout.flush()
        sys.stderr.flush()
        # A job may be mid-way through a cycle (a partner's slow answer, a long parse).
        # Every store write is one transaction and every file is renamed into place, so
        # nothing is lost by leaving now; waiting for the job would make a stop take as
        # long as a cycle.
        os._exit(3 if worker is not None and worker.fatal else 0)
