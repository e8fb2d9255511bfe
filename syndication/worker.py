"""The long-running worker: APScheduler triggers the stages; the HTTP server serves the output.

Owns: the jobs (poll the sources that are due, drain translations, publish after a change,
keep the store lock alive), the worker lock on the store, and a clean stop on SIGINT/SIGTERM.
The jobs only trigger stages; every stage works through the store.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, NoReturn

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from syndication.config import Config
from syndication.model import utcnow
from syndication.pipeline import ingest, translate
from syndication.publish.editions import publish
from syndication.serve import make_server
from syndication.store import Store, StoreError
from syndication.translate.engine import TranslationReport

log = logging.getLogger(__name__)

POLL_EVERY = 30  # seconds between checks for due sources (each source keeps its own `every`)
TRANSLATE_EVERY = 60
HEARTBEAT_EVERY = 30


class Worker:
    """Schedules the stages on one thread, so stages never race each other on the store."""

    def __init__(self, config: Config, store: Store):
        self.config = config
        self.store = store
        self.last_cycle: datetime | None = None
        self.last_error = ""
        self._lock = threading.Lock()
        self._last_reasons: tuple[str, ...] = ()
        self._last_told = 0.0
        self.scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max_workers=1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60},
            timezone="UTC",
        )

    def start(self) -> None:
        now = datetime.now().astimezone()
        self.scheduler.add_job(
            self.poll, "interval", seconds=POLL_EVERY, id="poll", next_run_time=now
        )
        self.scheduler.add_job(self.drain, "interval", seconds=TRANSLATE_EVERY, id="translate")
        self.scheduler.add_job(
            self.store.heartbeat, "interval", seconds=HEARTBEAT_EVERY, id="heartbeat"
        )
        self.scheduler.start()

    def stop(self) -> None:
        if self.scheduler.running:  # a stop may come before the start
            self.scheduler.shutdown(wait=False)

    def poll(self) -> None:
        self._guard("poll", self._poll)

    def drain(self) -> None:
        self._guard("translate", self._drain)

    def _poll(self) -> None:
        outcomes = ingest(self.config, self.store)
        changed = any(o.new or o.updated or o.withdrawn for o in outcomes)
        for outcome in outcomes:
            if outcome.result == "error":
                log.warning("source %s: %s", outcome.source_id, outcome.error)
            elif outcome.new or outcome.updated:
                log.info(
                    "source %s: %d new, %d updated", outcome.source_id, outcome.new, outcome.updated
                )
        translated = 0
        if changed or self.last_cycle is None:
            report = translate(self.config, self.store)
            self._log_translation(report)
            translated = report.translated
        self._publish(force=changed or translated > 0 or self.last_cycle is None)
        self.last_cycle = utcnow()

    def _drain(self) -> None:
        report = translate(self.config, self.store)
        self._log_translation(report)
        if report.translated:
            self._publish(force=True)

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
                log.warning("translation: %d waiting: %s", count, reason)
            self._last_told = now
        self._last_reasons = reasons

    def _publish(self, force: bool) -> None:
        if not force:
            return
        result = publish(self.config, self.store)
        if result.written:
            log.info("published %d changed file(s)", len(result.written))

    def _guard(self, name: str, job: Callable[[], None]) -> None:
        with self._lock:
            try:
                job()
                self.last_error = ""
            except StoreError as exc:
                self.last_error = str(exc)
                log.error("%s job: %s", name, exc)
            except Exception as exc:  # a job failure must never kill the scheduler
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("%s job failed", name)

    def health(self) -> dict[str, Any]:
        try:
            backlog = self.store.backlog()
            reachable = True
        except StoreError as exc:
            backlog, reachable = {}, False
            self.last_error = str(exc)
        return {
            "ok": reachable,
            "store": "reachable" if reachable else "unreachable",
            "last_cycle": self.last_cycle.isoformat() if self.last_cycle else None,
            "backlog": {
                lang: sum(n for status, n in counts.items() if status != "translated")
                for lang, counts in backlog.items()
            },
            "last_error": self.last_error,
        }


def serve_until_signal(server: Any) -> None:
    """Run a uvicorn server until SIGINT/SIGTERM, then return normally.

    uvicorn re-raises the signal it caught to the handlers that were installed before it ran,
    which would turn a clean stop into exit 130 or death by SIGTERM: give it ones that just
    ask the server to stop.
    """

    def stop(*_: object) -> None:
        # Also covers a signal that lands before uvicorn has put its own handlers in place.
        server.should_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stop)
    server.run()


def run_forever(config: Config, store: Store, announce: Callable[[str], None]) -> NoReturn:
    """Run worker and server until SIGINT/SIGTERM, then end the process with exit code 0."""
    s = config.settings
    worker: Worker | None = None
    try:
        worker = Worker(config, store)
        server = make_server(config.output, s.serve.host, s.serve.port, worker.health)
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
        announce("press Ctrl-C to stop")
        serve_until_signal(server)
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
        os._exit(0)
