"""Polling sources into the store: fetch, parse, normalise, save; one source never stops another.

Owns: when each source is due (its schedule as the YAML says now: an interval polled at a
stable place of its own within it, so sources that start together do not poll together, or
a crontab; a failing source's backoff), running them concurrently, exponential backoff for a
failing source (capped, reset on success, Retry-After honoured), and each source's recorded
state (last attempt, result, error, counts, next due time, permanent redirects), and the
pool of processes that parses feed bodies in a busy cycle.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import logging.handlers
import multiprocessing
import multiprocessing.queues
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from apscheduler.triggers.cron import CronTrigger

from syndication import metrics
from syndication.config import Config, FetchSettings, SourceSettings
from syndication.errors import ArticleFileError, SourceError, StoreError
from syndication.ingest.feeds import ParsedFeed, SourceInfo, parse_feed
from syndication.ingest.fetch import Fetcher, FetchResult, read_feed_file
from syndication.ingest.local import LocalSource, scan
from syndication.ingest.save import save_articles
from syndication.model import SourceState, utcnow
from syndication.store import Store

log = logging.getLogger(__name__)


@dataclass
class SourceOutcome:
    source_id: str
    result: str  # ok | not-modified | error
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    withdrawn: int = 0
    error: str = ""
    notes: list[str] = field(default_factory=list)
    redirect: str = ""


# Modules every parse needs, imported once in the forkserver so each worker forks ready.
_PRELOAD = [
    "syndication.ingest.forkwatch",
    "syndication.ingest.feeds",
    "feedparser",
    "nh3",
    "lingua",
]


class ParsePool:
    """Parses feed bodies in worker processes, started only once a cycle shows it will pay.

    Parsing (feedparser, nh3, our normalising) is CPU-bound Python holding the GIL: a thread
    never uses a second core, processes do. Starting them costs a fraction of a second, so the
    pool is created on the first body worth it: the `min_bodies`-th body of the cycle, or one
    of `big_body` bytes or more; smaller cycles (a `once` on two feeds, a quiet 30 s tick of
    `run`) parse in the caller's thread as before (`use` says which). Workers come from a
    forkserver, never a plain fork: the service process runs threads (APScheduler, asyncio,
    uvicorn) whose locks a forked child could inherit held. Log records from the workers are
    forwarded to this process's handlers. A worker that dies (a segfault in a C extension, the
    OOM killer) fails the bodies it was parsing with a SourceError naming the cause, and the
    next body gets a fresh pool. Close it when the cycle ends.
    """

    def __init__(
        self,
        workers: int,
        *,
        min_bodies: int = 4,
        big_body: int = 200_000,
        target: Callable[..., ParsedFeed] = parse_feed,
    ) -> None:
        self.workers = workers
        self.min_bodies = min_bodies
        self.big_body = big_body
        self.target = target  # what a worker runs; a test may pass one that crashes
        self.bodies = 0  # bodies offered in this pool's lifetime
        self.sent = 0  # bodies handed to a worker process (whatever came of them)
        self.started = 0  # executors created (more than one after a crash)
        self._executor: ProcessPoolExecutor | None = None
        self._generation = 0
        self._logs: multiprocessing.queues.Queue[logging.LogRecord] | None = None
        self._listener: logging.handlers.QueueListener | None = None

    def use(self, size: int) -> bool:
        """Whether a body of `size` bytes should go to the pool (counts it as offered)."""
        self.bodies += 1
        if self.workers < 2:
            return False
        return self._executor is not None or self.bodies >= self.min_bodies or size >= self.big_body

    async def parse(
        self, body: bytes, headers: dict[str, str], info: SourceInfo, max_bytes: int
    ) -> ParsedFeed:
        """`target(body, headers, info, max_bytes)` in a worker; its SourceError comes back."""
        executor, generation = self._get()
        self.sent += 1
        loop = asyncio.get_running_loop()
        try:
            result = await loop.run_in_executor(
                executor, self.target, body, headers, info, max_bytes
            )
        except BrokenProcessPool as exc:
            self._discard(generation)
            raise SourceError(
                info.id,
                f"the feed parser process died while parsing this body ({exc}); "
                "a new one parses the next",
            ) from None
        return result

    def close(self) -> None:
        """Stop the workers (waiting for them) and the log forwarding."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
        if self._listener is not None:
            self._listener.stop()  # drains the records the workers sent before exiting
            self._listener = None
        if self._logs is not None:
            self._logs.close()
            self._logs.join_thread()
            self._logs = None

    def _get(self) -> tuple[ProcessPoolExecutor, int]:
        if self._executor is None:
            ctx = multiprocessing.get_context("forkserver")
            # Only matters before the forkserver starts (once per process); a failed preload
            # is ignored by multiprocessing and the worker simply imports on its first parse.
            ctx.set_forkserver_preload(_PRELOAD)
            if self._logs is None:
                self._logs = ctx.Queue()
                self._listener = logging.handlers.QueueListener(self._logs, _Dispatch())
                self._listener.start()
            level = logging.getLogger("syndication").getEffectiveLevel()
            self._executor = ProcessPoolExecutor(
                self.workers,
                mp_context=ctx,
                initializer=_worker_init,
                initargs=(self._logs, level, os.getpid()),
            )
            self.started += 1
        return self._executor, self._generation

    def _discard(self, generation: int) -> None:
        # Every body in flight on a broken pool fails at once: only the first replaces it.
        if generation == self._generation and self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
            self._generation += 1


class _Dispatch(logging.Handler):
    """Hands a record from a worker to the logger of the same name here, as if logged here."""

    def handle(self, record: logging.LogRecord) -> bool:  # type: ignore[override]
        logger = logging.getLogger(record.name)
        if logger.isEnabledFor(record.levelno):
            logger.handle(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:  # pragma: no cover - handle() does it
        pass


def _worker_init(
    logs: multiprocessing.queues.Queue[logging.LogRecord], level: int, owner: int
) -> None:
    """In each worker: send log records to the parent (at its level) and import the parser."""
    root = logging.getLogger()
    root.handlers[:] = [logging.handlers.QueueHandler(logs)]
    root.setLevel(level)
    # A worker's parent is the forkserver, not the service: when the service ends abruptly
    # (`run` leaves with os._exit on SIGTERM) nothing tells the worker, so it watches.
    threading.Thread(target=_exit_with, args=(owner,), daemon=True).start()
    import syndication.ingest.feeds  # noqa: F401  (already there when preloaded: no cost)


def _exit_with(owner: int) -> None:
    while True:
        time.sleep(1.0)
        try:
            os.kill(owner, 0)
        except ProcessLookupError:
            os._exit(0)
        except PermissionError:
            pass


class Poller:
    """What `run` polls with for its whole life.

    One event loop on a thread of its own, one Fetcher (so `fetch.concurrency` and
    `per_host` hold across every source, and connections and the TLS context are reused
    instead of rebuilt at each poll), one thread that parses and stores (the only store
    writer among polls), and a parse pool for bodies big enough to stall that thread. A
    partner that never answers costs a connection slot until the fetch timeout, not a thread.
    """

    def __init__(self, config: Config) -> None:
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, name="syndication-poll", daemon=True).start()
        self._lock = threading.Lock()
        self._settings = config.settings.fetch
        self.fetcher = self._new_fetcher(self._settings)
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="syndication-ingest")
        # Processes only for big bodies (never by count: polls come one by one), kept once up.
        self.pool = ParsePool(self._settings.parse_workers, min_bodies=sys.maxsize)

    def poll(
        self, config: Config, store: Store, source: SourceSettings, state: SourceState | None
    ) -> Future[SourceOutcome]:
        """Start polling `source` on the loop; the future ends with its outcome, never raises."""
        with self._lock:
            if config.settings.fetch != self._settings:  # a reload changed fetch settings
                self._retire(self.fetcher, self._settings.timeout)
                self._settings = config.settings.fetch
                self.fetcher = self._new_fetcher(self._settings)
            fetcher = self.fetcher
        return asyncio.run_coroutine_threadsafe(
            poll_one(
                config, store, source, fetcher, worker=self.worker, state=state, pool=self.pool
            ),
            self.loop,
        )

    def _new_fetcher(self, settings: FetchSettings) -> Fetcher:
        async def make() -> Fetcher:  # its locks and client belong to the loop
            return Fetcher(settings)

        return asyncio.run_coroutine_threadsafe(make(), self.loop).result()

    def _retire(self, fetcher: Fetcher, timeout: float) -> None:
        # Polls in flight keep the old one until they are done (at most a fetch timeout).
        def close() -> None:
            self.loop.create_task(fetcher.aclose())

        self.loop.call_soon_threadsafe(self.loop.call_later, timeout + 5, close)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def phase(source_id: str) -> float:
    """Where in its interval a source is polled, from 0 to 1: the same for the source's
    whole life (a hash of its id), and spread evenly over many sources."""
    digest = hashlib.sha256(source_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def scheduled_after(source: SourceSettings, after: datetime) -> datetime:
    """The source's first scheduled poll strictly after `after`: the crontab's next time, or
    the next of the instants `phase × every` past each multiple of `every` (since the Unix
    epoch). The latter is never more than `every` after `after`, and 300 sources at the same
    `every` poll at 300 different moments of it instead of in one burst."""
    if source.cron:
        trigger = CronTrigger.from_crontab(source.cron, timezone=UTC)
        nxt = trigger.get_next_fire_time(None, after + timedelta(microseconds=1))
        assert nxt is not None  # a valid crontab always fires again
        return nxt.astimezone(UTC)
    # In whole microseconds: exact, so the result is always strictly after `after`. The
    # offset is whole seconds, so are the slots of a whole-second `every`: the store keeps
    # times to the second, and a slot read back from it must not turn into an earlier one.
    every = max(1, round(source.every * 1_000_000))
    unit = 1_000_000 if every >= 1_000_000 else 1
    offset = int(phase(source.id) * every) // unit * unit
    since = (after - _EPOCH) // timedelta(microseconds=1)
    slot = ((since - offset) // every + 1) * every + offset
    return _EPOCH + timedelta(microseconds=slot)


def next_poll(
    source: SourceSettings, state: SourceState | None, max_backoff: float
) -> datetime | None:
    """When the source is due by the configuration in force now; None: at once (never
    polled, or its location changed since: an edited URL is tried at once).

    A healthy source is due at its first scheduled time after its last poll, whatever
    schedule was in force when that poll recorded its next due time: a shorter `every:` (or
    a new crontab) applies at once. A failing source waits out the backoff it was given (it
    doubles from the interval, or follows the partner's Retry-After), capped at
    `fetch.max_backoff` as it is now."""
    if state is None or state.last_attempt is None or state.location != source.location:
        return None
    if state.failures and state.next_due is not None:
        return min(state.next_due, state.last_attempt + timedelta(seconds=max_backoff))
    return scheduled_after(source, state.last_attempt)


def due_sources(config: Config, store: Store, now: datetime | None = None) -> list[SourceSettings]:
    """Sources whose next poll time has come (never-polled sources are due)."""
    now = now or utcnow()
    states = {state.source_id: state for state in store.source_states()}
    max_backoff = config.settings.fetch.max_backoff
    due = []
    for source in config.settings.sources:
        when = next_poll(source, states.get(source.id), max_backoff)
        if when is None or when <= now:
            due.append(source)
    return due


async def poll_sources(
    config: Config,
    store: Store,
    chosen: Sequence[SourceSettings],
    *,
    on_done: Callable[[SourceOutcome], None] | None = None,
    fetcher: Fetcher | None = None,
    parse_pool: ParsePool | None = None,
) -> list[SourceOutcome]:
    """Poll the chosen sources concurrently; every source ends with an outcome, never a raise.

    Fetching is concurrent (the fetcher's global and per-host limits). Parsing, CPU-bound
    Python, goes to `fetch.parse_workers` processes once the cycle has enough bodies to pay
    for starting them (see ParsePool; they stop when the cycle ends); otherwise it runs, with
    storing, one source at a time on a single worker thread off the event loop — more threads
    would not parse faster, only make every thread (the event loop's included) queue for the
    GIL. Store writes always stay in this process, on that thread. At most twice the fetch
    concurrency of sources hold a body at once, so a fast network cannot pile every body up
    in memory while the parsers catch up. Every source's recorded state is read in one query
    up front.
    """
    own = fetcher is None
    fetcher = fetcher or Fetcher(config.settings.fetch)
    own_pool = parse_pool is None
    pool = parse_pool or ParsePool(config.settings.fetch.parse_workers)
    worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="syndication-ingest")
    in_flight = asyncio.Semaphore(2 * config.settings.fetch.concurrency)
    states = {state.source_id: state for state in store.source_states()}
    try:

        async def one(source: SourceSettings) -> SourceOutcome:
            async with in_flight:
                outcome = await poll_one(
                    config,
                    store,
                    source,
                    fetcher,
                    worker=worker,
                    state=states.get(source.id),
                    pool=pool,
                )
            if on_done:
                on_done(outcome)
            return outcome

        return list(await asyncio.gather(*(one(s) for s in chosen)))
    finally:
        worker.shutdown(wait=True, cancel_futures=True)
        if own_pool:
            pool.close()
        if own:
            await fetcher.aclose()


async def poll_one(
    config: Config,
    store: Store,
    source: SourceSettings,
    fetcher: Fetcher,
    *,
    worker: Executor | None,
    state: SourceState | None,
    pool: ParsePool | None,
) -> SourceOutcome:
    """`poll_source`, never raising: a bug stays in its source, and a store failure is
    reported as ours (one line), never recorded against the partner."""
    try:
        return await poll_source(
            config, store, source, fetcher, worker=worker, state=state, pool=pool
        )
    except StoreError as exc:
        log.error("source %s: not stored: %s", source.id, exc, extra={"source": source.id})
        return SourceOutcome(source.id, "error", error=f"not stored: {exc}")
    except Exception as exc:
        log.exception("%s: unexpected error", source.id, extra={"source": source.id})
        outcome = SourceOutcome(source.id, "error", error=f"internal error: {exc}")
        with contextlib.suppress(StoreError):
            _record(config, store, source, outcome, None)
        return outcome


async def poll_source(
    config: Config,
    store: Store,
    source: SourceSettings,
    fetcher: Fetcher,
    *,
    worker: Executor | None = None,
    state: SourceState | bool | None = False,
    pool: ParsePool | None = None,
) -> SourceOutcome:
    """Poll one source and record its state; CPU-bound work runs on `worker` (else a thread).

    `state` is the source's recorded state if the caller has read it already (None: never
    polled); by default it is read here. A feed body is parsed in `pool` when it says so.
    """
    if state is False:
        state = store.source_state(source.id)
    assert state is None or isinstance(state, SourceState)
    loop = asyncio.get_running_loop()
    try:
        if source.kind == "articles":
            outcome = await loop.run_in_executor(worker, _poll_folder, config, store, source)
            fetched = None
        else:
            fetched = await _fetch(config, source, fetcher, state)
            outcome = await _ingest_feed(config, store, source, fetched, worker, pool)
    except SourceError as exc:
        outcome = SourceOutcome(source.id, "error", error=exc.message)
        # _record logs the failure, with the failures in a row and the next try.
        _record(config, store, source, outcome, None, retry_after=exc.retry_after, previous=state)
        return outcome
    _record(config, store, source, outcome, fetched, previous=state)
    return outcome


async def _fetch(
    config: Config, source: SourceSettings, fetcher: Fetcher, state: SourceState | None
) -> FetchResult:
    # Validators belong to the location they came from: a URL edited in the YAML starts fresh.
    same = state is not None and state.location == source.location
    etag = state.etag if same and state else ""
    last_modified = state.last_modified if same and state else ""
    if source.url is not None:
        return await fetcher.fetch(source.id, source.url, etag, last_modified)
    assert source.file is not None
    return await asyncio.to_thread(
        read_feed_file, source.id, source.file, config.settings.fetch.max_bytes, etag
    )


async def _ingest_feed(
    config: Config,
    store: Store,
    source: SourceSettings,
    fetched: FetchResult,
    worker: Executor | None = None,
    pool: ParsePool | None = None,
) -> SourceOutcome:
    if fetched.status == "not-modified":
        return SourceOutcome(source.id, "not-modified", redirect=fetched.permanent_redirect)
    info = SourceInfo(
        id=source.id,
        url=fetched.url if source.url else "",
        language=source.language,
        title=source.title or "",
        languages=tuple(config.settings.languages),
    )

    max_bytes = config.settings.fetch.max_bytes
    languages = config.settings.languages

    def save(parsed: ParsedFeed) -> tuple[int, int, int]:
        return save_articles(
            store, source.id, parsed.articles, languages, live_sources=_source_ids(config)
        )

    def parse_and_save() -> tuple[ParsedFeed, tuple[int, int, int]]:
        parsed = parse_feed(fetched.body, fetched.headers, info, max_bytes)
        return parsed, save(parsed)

    # feedparser is CPU-bound and can block for seconds on a big feed, and saving a batch
    # hashes and writes every row: keep both off the loop, which goes on fetching meanwhile.
    # In a busy cycle the parse goes to another process (another core); the save stays here.
    loop = asyncio.get_running_loop()
    if pool is not None and pool.use(len(fetched.body)):
        parsed = await pool.parse(fetched.body, fetched.headers, info, max_bytes)
        new, updated, unchanged = await loop.run_in_executor(worker, save, parsed)
    else:
        parsed, (new, updated, unchanged) = await loop.run_in_executor(worker, parse_and_save)
    return SourceOutcome(
        source.id,
        "ok",
        new=new,
        updated=updated,
        unchanged=unchanged,
        notes=parsed.notes,
        redirect=fetched.permanent_redirect,
    )


def _poll_folder(config: Config, store: Store, source: SourceSettings) -> SourceOutcome:
    assert source.articles is not None
    local = LocalSource(
        id=source.id,
        folder=source.articles,
        language=source.language,
        base_url=config.settings.site.base_url,
        languages=tuple(config.settings.languages),
    )
    try:
        found, errors = scan(local)
    except ArticleFileError as exc:
        raise SourceError(source.id, str(exc)) from None
    new, updated, unchanged = save_articles(
        store, source.id, found, config.settings.languages, live_sources=_source_ids(config)
    )
    # A file that failed to read still exists: its article must not be withdrawn for that.
    present = {a.id for a in found}
    for error in errors:
        stem = _stem_id(source, error.path)
        if stem:
            present.add(stem)
    withdrawn = store.withdraw_missing(source.id, present)
    notes = [str(e) for e in errors]
    for note in notes:
        log.warning("source %s: %s", source.id, note, extra={"source": source.id})
    return SourceOutcome(
        source.id,
        "ok",
        new=new,
        updated=updated,
        unchanged=unchanged,
        withdrawn=withdrawn,
        notes=notes,
        error="; ".join(notes[:3]) if notes else "",
    )


def _source_ids(config: Config) -> list[str]:
    return [s.id for s in config.settings.sources]


def _stem_id(source: SourceSettings, path: str) -> str:
    assert source.articles is not None
    try:
        relative = Path(path).relative_to(source.articles).with_suffix("").as_posix()
    except ValueError:
        return ""
    return f"{source.id}:{relative}"


def _record(
    config: Config,
    store: Store,
    source: SourceSettings,
    outcome: SourceOutcome,
    fetched: FetchResult | None,
    *,
    retry_after: float | None = None,
    previous: SourceState | bool | None = False,
) -> None:
    """Store the source's state after an attempt; `previous` as read before it, if it was."""
    now = utcnow()
    if previous is False:  # not read yet (an unexpected error): read it now
        previous = store.source_state(source.id)
    assert previous is None or isinstance(previous, SourceState)
    # Failures in a row count at one location; an edited URL starts again from the interval.
    before = previous.failures if previous and previous.location == source.location else 0
    failures = before + 1 if outcome.result == "error" else 0
    if failures:
        delay = min(source.every * 2 ** (failures - 1), config.settings.fetch.max_backoff)
        if retry_after is not None:
            delay = max(delay, min(retry_after, config.settings.fetch.max_backoff))
        next_due = now + timedelta(seconds=delay)
    else:
        next_due = scheduled_after(source, now)
    keep_validators = outcome.result == "error" and previous is not None
    state = SourceState(
        source_id=source.id,
        kind=source.kind,
        location=source.location,
        last_attempt=now,
        last_success=now
        if outcome.result != "error"
        else (previous.last_success if previous else None),
        result=outcome.result,
        error=outcome.error,
        new=outcome.new,
        updated=outcome.updated,
        unchanged=outcome.unchanged,
        failures=failures,
        next_due=next_due,
        etag=(previous.etag if keep_validators and previous else (fetched.etag if fetched else "")),
        last_modified=(
            previous.last_modified
            if keep_validators and previous
            else (fetched.last_modified if fetched else "")
        ),
        redirect=outcome.redirect
        or (previous.redirect if previous and outcome.result == "error" else ""),
        notes=tuple(outcome.notes[:20]),
    )
    # Counted and logged before saving: the attempt happened even if the store now fails.
    metrics.source_polled(source.id, outcome.result, outcome.new, outcome.updated)
    context = {"source": source.id}  # a JSON log line's "source" key
    if outcome.result == "error":
        log.warning(
            "source %s failed (%d in a row; next try in %.0fs): %s",
            source.id,
            failures,
            (next_due - now).total_seconds(),
            outcome.error,
            extra=context,
        )
    elif outcome.new or outcome.updated or outcome.withdrawn:
        log.info(
            "source %s: %d new, %d updated, %d withdrawn",
            source.id,
            outcome.new,
            outcome.updated,
            outcome.withdrawn,
            extra=context,
        )
    store.save_source_state(state)
