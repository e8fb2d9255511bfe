"""What the worker says about itself: `/healthz` and the `/metrics` exposition.

Owns: the worker's condition (which jobs are failing and why, the last cycle and publish, the
latest error of a job until that job works again, why it must stop), the `/healthz` document
built from it, the store and the output folder it serves (whether that holds a published site),
`syndication serve`'s `/healthz` (the same look at its output folder, and whether the store its
partners' feeds come from can be read), and the text a `/metrics` scrape gets: this process's
counters (:mod:`syndication.metrics`) plus gauges read from the store at that moment
(translation backlog, each source's last success and consecutive failures, the live workers and
what this one holds, whether the store answered).
All read the store (blocking): call them off the event loop, as the server does.

Labels carry source ids and language tags only, never URLs or keys, so a secret in the
configuration cannot reach a scrape.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from prometheus_client import generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from syndication.config import Config
from syndication.errors import OutputError, StoreError
from syndication.metrics import CONTENT_TYPE, REGISTRY
from syndication.model import utcnow
from syndication.store import Store

log = logging.getLogger(__name__)

# Every status a translation row can have: each is reported, 0 included, so an alert on
# "failed > 0" sees the series at 0 rather than no series at all.
TRANSLATION_STATUSES = ("translated", "pending", "stale", "failed")
# Jobs whose failure is the service's own ill health (a partner or a translator down is not).
VITAL_JOBS = ("publish", "heartbeat")
# What puts a site into an output folder that holds none (said by `serve` at start and in
# its /healthz).
TO_PUBLISH = "`syndication once` (or `syndication run`) with this configuration publishes it"
# … and into the folder a running worker serves (said in its /healthz).
TO_REPUBLISH = "the next publish writes it (`syndication publish` asks for one now)"


@dataclass
class Condition:
    """How the worker's jobs are going, as `/healthz` reports it."""

    last_cycle: datetime | None = None
    last_publish: datetime | None = None
    failing: dict[str, str] = field(default_factory=dict)  # job → its error, until it succeeds
    fatal: str = ""  # why the worker must stop (exit 3)
    # Since when changes have waited for a publish past what a live publisher takes (None:
    # they have not): the worker that made them died, or no publish can run (fleet.py).
    publish_overdue: datetime | None = None
    # When `last_error` came (None: there is none).
    last_error_at: datetime | None = None
    _last_error: str = field(default="", repr=False)

    @property
    def last_error(self) -> str:
        """The latest error of a job, until that job succeeds ("" then)."""
        return self._last_error

    @last_error.setter
    def last_error(self, message: str) -> None:
        # A property so that every way a failure is recorded (`failed`, and the worker's
        # outage path, which sets it directly) stamps it with its time.
        self._last_error = message
        self.last_error_at = utcnow() if message else None

    def failed(self, name: str, exc: Exception) -> None:
        """Log a job's failure and keep it until the job next succeeds."""
        if isinstance(exc, StoreError | OutputError):  # ours, said in one line
            self.last_error = str(exc)
            log.error("%s: %s", name, exc)
        elif isinstance(exc, OSError):
            # The file system's refusal (a folder turned into a file, a full disk) names its
            # path: a traceback repeated at every retry adds nothing to it.
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.error("%s failed: %s", name, self.last_error)
        else:
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.exception("%s failed", name)
        self.failing[name] = self.last_error

    def succeeded(self, name: str) -> None:
        error = self.failing.pop(name, None)
        if error is None:
            return
        log.warning("%s: working again", name)
        if error == self.last_error:
            # Its error is past: kept, /healthz went on saying it as if the job still failed.
            self.last_error = ""


def healthz(config: Config, store: Store, condition: Condition) -> dict[str, Any]:
    """What `run`'s /healthz answers: not ok (503) while the store cannot be read or written,
    the output cannot be published, or the output folder it serves holds no published site
    (every public URL would be 404); a partner or a translator down is not our ill health.

    The folder is not let off while the worker starts: `run` answers only once it has tried
    its first publish (it publishes before it serves), so a fresh worker's site is there by
    its first answer. A folder without one is then a publish that failed (`failing.publish`
    says why), one another worker of a fleet is still making, or the folder moved, emptied or
    removed since; any publish finding the front page gone writes the whole site again."""
    last_error, last_error_at = condition.last_error, condition.last_error_at
    try:
        backlog = store.backlog()
        reachable = True
    except StoreError as exc:
        # Said in this answer only: the next one that reaches the store has no error to tell.
        backlog, reachable = {}, False
        last_error, last_error_at = str(exc), utcnow()
    failing = {k: v for k, v in condition.failing.items() if k in VITAL_JOBS}
    problem = site_problem(config)
    if problem is not None:
        failing["output"] = f"{problem}: {TO_REPUBLISH}"
    fatal = condition.fatal
    return {
        "ok": reachable and not failing and not fatal,
        "store": "reachable" if reachable else "unreachable",
        "failing": failing | ({"store": fatal} if fatal else {}),
        "last_cycle": condition.last_cycle.isoformat() if condition.last_cycle else None,
        "last_publish": condition.last_publish.isoformat() if condition.last_publish else None,
        "publish_overdue_since": (
            condition.publish_overdue.isoformat() if condition.publish_overdue else None
        ),
        "backlog": {
            lang: sum(n for status, n in counts.items() if status != "translated")
            for lang, counts in backlog.items()
        },
        "last_error": last_error,
        "last_error_at": last_error_at.isoformat() if last_error_at else None,
    }


def output_problem(folder: Path) -> str | None:
    """Why the output folder holds no published site to serve (it is missing, not a folder,
    or has no front page: nothing published there yet, or moved or emptied since), or None."""
    try:
        if not folder.exists():
            return f"{folder} does not exist"
        if not folder.is_dir():
            return f"{folder} is not a folder"
        if not (folder / "index.html").is_file():
            return f"{folder} holds no index.html"
    except OSError as exc:  # a folder on the way that this user may not enter
        return f"{folder} cannot be read: {exc}"
    return None


def site_problem(config: Config) -> str | None:
    """Why the configured output folder holds no published site to serve (`output_problem`),
    or None: it does, or nothing public is served from a folder (an object store, or
    `publish.public: false`)."""
    if config.folder is None or not config.settings.publish.public:
        return None
    return output_problem(config.folder)


def serving(config: Config, store: Store | None) -> dict[str, Any]:
    """What `syndication serve`'s /healthz answers: not ok (503) while its output folder holds
    no published site (every public file would be 404), or, with partners configured, while
    the store their feeds are read from cannot be read (`store` None: it could not be opened
    when serve started). `serve` reads no store for anything else."""
    s = config.settings
    failing: dict[str, str] = {}
    problem = site_problem(config)
    if problem is not None:
        failing["output"] = f"{problem}: {TO_PUBLISH}"
    state: str | None = None  # no partners: no store read
    if s.partners:
        state = "unreachable"
        if store is None:
            failing["store"] = "not open (see serve's log at start): partners' feeds not served"
        else:
            try:
                store.change_mark()  # the read every partner's request starts with
                state = "reachable"
            except StoreError as exc:
                failing["store"] = str(exc)
    return {"ok": not failing, "output": str(config.output), "store": state, "failing": failing}


def exposition(store: Store, sources: Collection[str] | None = None) -> tuple[bytes, str]:
    """The ``/metrics`` answer: body in the Prometheus text format, and its Content-Type.

    `sources`: the configured source ids (per-source gauges only for those).
    """
    return generate_latest(_Scrape(store, sources)), CONTENT_TYPE


class _Scrape(Collector):
    """This process's registry plus the store's gauges, as one collector for one scrape."""

    def __init__(self, store: Store, sources: Collection[str] | None) -> None:
        self.store = store
        self.sources = sources

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()
        yield from _store_families(self.store, self.sources)


def _store_families(store: Store, sources: Collection[str] | None) -> Iterator[Metric]:
    """Gauges read from the store now, then ``syndication_store_up``; never raises StoreError.

    Everything is read before anything is yielded, so a store failing half-way leaves no
    half-filled families in the scrape.
    """
    up = GaugeMetricFamily(
        "syndication_store_up", "Whether the store answered this scrape's queries (1) or not (0)."
    )
    try:
        backlog = store.backlog()
        states = store.source_states()
        fleet = store.workers()
    except StoreError as exc:
        # A scrape during an outage must still answer: the outage is what it has to report.
        log.warning("metrics: store unreachable: %s", exc)
        up.add_metric([], 0)
        yield up
        return
    translations = GaugeMetricFamily(
        "syndication_translation_backlog",
        "Translations of live articles per target language and status.",
        labels=["language", "status"],
    )
    for language in sorted(backlog):
        counts = backlog[language]
        for status in dict.fromkeys([*TRANSLATION_STATUSES, *sorted(counts)]):
            translations.add_metric([language, status], counts.get(status, 0))
    last_success = GaugeMetricFamily(
        "syndication_source_last_success_timestamp_seconds",
        "When a source was last polled without error (Unix time); absent if it never was.",
        labels=["source"],
    )
    failures = GaugeMetricFamily(
        "syndication_source_consecutive_failures",
        "Failed polls of a source since its last success.",
        labels=["source"],
    )
    for state in states:
        if sources is not None and state.source_id not in sources:
            continue  # removed from the YAML: its history stays in the store, not in a graph
        if state.last_success is not None:
            last_success.add_metric([state.source_id], state.last_success.timestamp())
        failures.add_metric([state.source_id], state.failures)
    workers = GaugeMetricFamily(
        "syndication_workers", "Live workers registered on the store (this one included)."
    )
    workers.add_metric([], len(fleet))
    held = GaugeMetricFamily(
        "syndication_worker_claims",
        "What this worker holds now: sources it is polling, translations it is doing.",
        labels=["kind"],
    )
    mine = next((w for w in fleet if w.id == store.worker_id), None)
    held.add_metric(["sources"], len(mine.sources) if mine else 0)
    held.add_metric(["translations"], mine.translations if mine else 0)
    up.add_metric([], 1)
    yield from (translations, last_success, failures, workers, held, up)
