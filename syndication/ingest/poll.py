"""Polling sources into the store, each poll in phases: fetch → parse → save → record.

Owns: the polls: a cycle's sources polled concurrently (`poll_sources`), one source's poll
that never raises (`poll_source`: one source's failure or bug never stops another), the
`Poller` that `run` submits each poll to, and the phases of a poll: fetch (a conditional GET
with the validators recorded for the same location, or a file read; by a worker of a store,
only while the claim it took on the source is still its own when the fetch's turn comes:
else dropped, nothing sent, nothing recorded), parse (off the event
loop: on the ingest thread, or in the parse pool when a body is worth a process), save (the
source's articles into the store; the stories a folder's files withdraw, or whose file is
gone, and those a partner's tombstones name, withdrawn), and record (the
source's state after the attempt: result, error, counts, next due time, validators, a
permanent redirect; a source gone for good (410) polled again only after
`fetch.max_backoff`; counted and logged). When a source is due is `schedule`'s decision.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from urllib.parse import urlsplit, urlunsplit

from syndication import metrics
from syndication.config import Config, FetchSettings, SourceSettings
from syndication.errors import ArticleFileError, SourceError, StoreError
from syndication.ingest import schedule
from syndication.ingest.entries import SharedGuid
from syndication.ingest.fetch import Fetcher, FetchResult, SourceGone, read_feed_file
from syndication.ingest.local import LocalSource, scan_folder
from syndication.ingest.parse import ParsedFeed, SourceInfo, parse_feed
from syndication.ingest.pool import ParsePool
from syndication.ingest.save import save_articles
from syndication.ingest.schedule import next_poll, scheduled_after
from syndication.model import Article, SourceState, utcnow
from syndication.store import BY_PARTNER, BY_SOURCE, Store

# `next_poll` and `scheduled_after` live in `schedule`; the front ends import them from here.
__all__ = [
    "DROPPED",
    "ParsePool",
    "Poller",
    "SourceOutcome",
    "due_sources",
    "next_poll",
    "poll_source",
    "poll_sources",
    "scheduled_after",
]

log = logging.getLogger(__name__)

_RECORD_BATCH = 50  # sources whose state after a poll is written in one transaction
# The result of a poll that never went out: this worker's claim on the source lapsed while
# the poll waited its turn (another worker may have polled it meanwhile).
DROPPED = "dropped"


class _ClaimLost(Exception):
    """The poll's claim is no longer this worker's: the poll must not go out."""


@dataclass
class SourceOutcome:
    source_id: str
    result: str  # ok | not-modified | error | dropped (DROPPED: nothing sent or recorded)
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    withdrawn: int = 0
    error: str = ""
    notes: list[str] = field(default_factory=list)
    redirect: str = ""


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

    def submit(
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
            poll_source(
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


def due_sources(config: Config, store: Store, now: datetime | None = None) -> list[SourceSettings]:
    """Sources whose next poll time has come (never-polled sources are due)."""
    now = now or utcnow()
    return schedule.due(
        config.settings.sources, store.source_states(), config.settings.fetch.max_backoff, now
    )


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
    up front, and the states after the polls are written in batches (one transaction per
    `_RECORD_BATCH` sources, and the rest when the cycle ends), not one transaction each.
    """
    own = fetcher is None
    fetcher = fetcher or Fetcher(config.settings.fetch)
    own_pool = parse_pool is None
    pool = parse_pool or ParsePool(config.settings.fetch.parse_workers)
    worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="syndication-ingest")
    in_flight = asyncio.Semaphore(2 * config.settings.fetch.concurrency)
    states = {state.source_id: state for state in store.source_states()}
    recorded: list[SourceState] = []
    try:

        async def one(source: SourceSettings) -> SourceOutcome:
            async with in_flight:
                outcome = await poll_source(
                    config,
                    store,
                    source,
                    fetcher,
                    worker=worker,
                    state=states.get(source.id),
                    pool=pool,
                    recorded=recorded,
                )
            if len(recorded) >= _RECORD_BATCH:
                _save_states(store, recorded)
            if on_done:
                on_done(outcome)
            return outcome

        return list(await asyncio.gather(*(one(s) for s in chosen)))
    finally:
        _save_states(store, recorded)
        worker.shutdown(wait=True, cancel_futures=True)
        if own_pool:
            pool.close()
        if own:
            await fetcher.aclose()


async def poll_source(
    config: Config,
    store: Store,
    source: SourceSettings,
    fetcher: Fetcher,
    *,
    worker: Executor | None,
    state: SourceState | None,
    pool: ParsePool | None,
    recorded: list[SourceState] | None = None,
) -> SourceOutcome:
    """One source's poll, never raising: a bug stays in its source, and a store failure is
    reported as ours (one line), never recorded against the partner.

    `state` is the source's recorded state (None: never polled); CPU-bound work runs on
    `worker` (None: a default thread), and a feed body is parsed in `pool` when it says so.
    The source's state after the poll is saved at once, or appended to `recorded` for the
    caller to save with others.
    """
    try:
        return await _poll_and_record(
            config, store, source, fetcher, worker=worker, state=state, pool=pool, recorded=recorded
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


async def _poll_and_record(
    config: Config,
    store: Store,
    source: SourceSettings,
    fetcher: Fetcher,
    *,
    worker: Executor | None,
    state: SourceState | None,
    pool: ParsePool | None,
    recorded: list[SourceState] | None,
) -> SourceOutcome:
    """Fetch → parse → save (a folder: scan → save), then record; the source's SourceError is
    its failed attempt, recorded with its backoff."""
    loop = asyncio.get_running_loop()
    try:
        if source.kind == "articles":
            outcome = await loop.run_in_executor(worker, _ingest_folder, config, store, source)
            fetched = None
        else:
            fetched = await _fetch(config, store, source, fetcher, state)
            outcome = await _ingest_feed(config, store, source, fetched, worker, pool)
    except _ClaimLost:
        # Neither a failure of the partner's nor a poll: whoever holds the claim now polls it.
        log.info(
            "source %s: poll dropped: this worker's claim on it lapsed while the poll waited "
            "its turn (its heartbeat late past fleet.lease); another worker may poll it",
            source.id,
            extra={"source": source.id},
        )
        return SourceOutcome(source.id, DROPPED)
    except SourceError as exc:
        outcome = SourceOutcome(source.id, "error", error=exc.message)
        # _record logs the failure, with the failures in a row and the next try.
        _record(
            config,
            store,
            source,
            outcome,
            None,
            retry_after=exc.retry_after,
            gone=isinstance(exc, SourceGone),
            previous=state,
            recorded=recorded,
        )
        return outcome
    _record(config, store, source, outcome, fetched, previous=state, recorded=recorded)
    return outcome


# -- fetch -------------------------------------------------------------------------------


async def _fetch(
    config: Config,
    store: Store,
    source: SourceSettings,
    fetcher: Fetcher,
    state: SourceState | None,
) -> FetchResult:
    # Validators belong to the location they came from: a URL edited in the YAML starts fresh.
    same = state is not None and state.location == source.stored_location
    etag = state.etag if same and state else ""
    last_modified = state.last_modified if same and state else ""
    if source.url is not None:
        # Checked once the fetch's turn has come: a poll may wait for it longer than a lease.
        ours = partial(_still_ours, store, source)
        return await fetcher.fetch(source.id, source.url, etag, last_modified, before=ours)
    assert source.file is not None
    await _still_ours(store, source)
    return await asyncio.to_thread(
        read_feed_file, source.id, source.file, config.settings.fetch.max_bytes, etag
    )


async def _still_ours(store: Store, source: SourceSettings) -> None:
    """Raise _ClaimLost unless this worker's claim on the source is still its own (the store
    answers from memory while its lease held without a break; else it asks the database,
    off the loop)."""
    if store.claim_unbroken(source.id):
        return
    if not await asyncio.to_thread(store.holds_source, source.id):
        raise _ClaimLost


# -- parse, save -------------------------------------------------------------------------


async def _ingest_feed(
    config: Config,
    store: Store,
    source: SourceSettings,
    fetched: FetchResult,
    worker: Executor | None,
    pool: ParsePool | None,
) -> SourceOutcome:
    """Parse → save a fetched feed body (nothing to do when it was not modified)."""
    if fetched.status == "not-modified":
        return SourceOutcome(
            source.id,
            "not-modified",
            notes=list(fetched.notes),
            redirect=fetched.permanent_redirect,
        )
    read = fetched.url if source.url else ""
    info = SourceInfo(
        id=source.id,
        # The base of relative links has no user:password: a link made from it must not
        # carry them (a `?token=` in the query is not carried by a relative link).
        url=_without_userinfo(read),
        configured_url=_without_userinfo(source.url or ""),
        zone=source.zone,
        secret=config.is_secret(read),
        language=source.language,
        title=source.title or "",
        languages=tuple(config.settings.languages),
        translatable=config.settings.translatable,
    )
    max_bytes = config.settings.fetch.max_bytes

    def parse_and_save() -> tuple[ParsedFeed, tuple[int, int, int]]:
        parsed = parse_feed(fetched.body, fetched.headers, info, max_bytes)
        return parsed, _save(config, store, source, parsed.articles, parsed.shared, _ids(parsed))

    def withdraw(parsed: ParsedFeed) -> int:
        return store.withdraw_from_source(source.id, parsed.withdrawn, BY_PARTNER)

    # feedparser is CPU-bound and can block for seconds on a big feed, and saving a batch
    # hashes and writes every row: keep both off the loop, which goes on fetching meanwhile.
    # In a busy cycle the parse goes to another process (another core); the save stays here.
    loop = asyncio.get_running_loop()
    if pool is not None and pool.use(len(fetched.body)):
        parsed = await pool.parse(fetched.body, fetched.headers, info, max_bytes)
        new, updated, unchanged = await loop.run_in_executor(
            worker, _save, config, store, source, parsed.articles, parsed.shared, _ids(parsed)
        )
    else:
        parsed, (new, updated, unchanged) = await loop.run_in_executor(worker, parse_and_save)
    withdrawn = await loop.run_in_executor(worker, withdraw, parsed) if parsed.withdrawn else 0
    return SourceOutcome(
        source.id,
        "ok",
        new=new,
        updated=updated,
        unchanged=unchanged,
        withdrawn=withdrawn,
        notes=[*fetched.notes, *parsed.notes],
        redirect=fetched.permanent_redirect,
    )


def _ingest_folder(config: Config, store: Store, source: SourceSettings) -> SourceOutcome:
    """Scan → save a folder of article files, then withdraw the stories whose file says so
    (`status: withdrawn`) or is gone."""
    assert source.articles is not None
    if not store.holds_source(source.id):  # on the ingest thread: after its queue
        raise _ClaimLost
    local = LocalSource(
        id=source.id,
        folder=source.articles,
        language=source.language,
        base_url=config.settings.site.base_url,
        languages=tuple(config.settings.languages),
        translatable=config.settings.translatable,
        zone=source.zone,
    )
    try:
        scanned = scan_folder(local)
    except ArticleFileError as exc:
        raise SourceError(source.id, str(exc)) from None
    found, errors = scanned.articles, scanned.errors
    if not found and not errors and not scanned.withdrawn:
        live = store.live_count(source.id)
        if live:
            # An unmounted share or a folder moved away reads as empty: withdrawing every
            # story at once on that is never what the newsroom meant.
            raise SourceError(
                source.id,
                f"{source.articles} holds no article files, but {live} of its stories are "
                "published: none withdrawn (an unmounted or moved folder?). To take them "
                "down, mark their files `status: withdrawn` or run `syndication withdraw ID`",
            )
    renamed: dict[str, str] = {}
    listed = [w.article_id for w in scanned.withdrawn] + list(scanned.held)
    new, updated, unchanged = _save(config, store, source, found, (), listed, renamed)
    # A file that failed to read still exists: its article must not be withdrawn for that
    # (under its path's id, or the `id:` it declares). A file moved with its `link:` is the
    # story it was (kept under that id), not a deleted one.
    present = {a.id for a in found} | {w.article_id for w in scanned.withdrawn}
    present.update(renamed.values())
    present.update(scanned.held)
    withdrawn = store.withdraw_missing(source.id, present)
    withdrawn += store.withdraw_from_source(source.id, scanned.withdrawn, BY_SOURCE)
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
        error=_skipped(notes),
    )


def _skipped(notes: list[str]) -> str:
    """A folder's error when files were skipped: how many, whole (each file, with its line and
    why, is a note: `once` prints them all and `status` lists them), never a few cut short."""
    if not notes:
        return ""
    return f"{len(notes)} article file{'' if len(notes) == 1 else 's'} skipped"


def _save(
    config: Config,
    store: Store,
    source: SourceSettings,
    articles: list[Article],
    shared: Sequence[SharedGuid] = (),
    listed: Sequence[str] = (),
    renamed: dict[str, str] | None = None,
) -> tuple[int, int, int]:
    """The save phase of a feed or a folder: its articles into the store; (new, updated,
    unchanged). `listed`, `renamed`: as in save_articles."""
    return save_articles(
        store,
        source.id,
        articles,
        config.settings.languages,
        live_sources=_source_ids(config),
        shared=shared,
        listed=listed,
        renamed=renamed,
        # An article file's `date:` is typed by an editor: moved alone, it is a correction.
        dates_by_hand=source.kind == "articles",
    )


def _ids(parsed: ParsedFeed) -> list[str]:
    """The stories a feed's tombstones name."""
    return [w.article_id for w in parsed.withdrawn]


def _without_userinfo(url: str) -> str:
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def _source_ids(config: Config) -> list[str]:
    return [s.id for s in config.settings.sources]


# -- record ------------------------------------------------------------------------------


def _record(
    config: Config,
    store: Store,
    source: SourceSettings,
    outcome: SourceOutcome,
    fetched: FetchResult | None,
    *,
    retry_after: float | None = None,
    gone: bool = False,
    previous: SourceState | bool | None = False,
    recorded: list[SourceState] | None = None,
) -> None:
    """Store the source's state after an attempt (or leave it in `recorded` for the caller
    to store); `previous` as read before it, if it was; `gone`: the partner answered 410."""
    now = utcnow()
    if previous is False:  # not read yet (an unexpected error): read it now
        previous = store.source_state(source.id)
    assert previous is None or isinstance(previous, SourceState)
    state = _state_after(config, source, outcome, fetched, previous, now, retry_after, gone)
    # Counted and logged before saving: the attempt happened even if the store now fails.
    metrics.source_polled(source.id, outcome.result, outcome.new, outcome.updated)
    assert state.next_due is not None
    _log_attempt(source, outcome, state.failures, (state.next_due - now).total_seconds())
    if recorded is None:
        store.save_source_state(state)
    else:
        recorded.append(state)


def _save_states(store: Store, recorded: list[SourceState]) -> None:
    """Store the states left in `recorded` (emptied); a store failure costs only the sources
    it hits, each logged as ours, as one source's own save would."""
    batch, recorded[:] = list(recorded), []
    try:
        store.save_source_states(batch)
    except StoreError:
        for state in batch:
            try:
                store.save_source_state(state)
            except StoreError as exc:
                log.error(
                    "source %s: state not stored: %s",
                    state.source_id,
                    exc,
                    extra={"source": state.source_id},
                )


def _state_after(
    config: Config,
    source: SourceSettings,
    outcome: SourceOutcome,
    fetched: FetchResult | None,
    previous: SourceState | None,
    now: datetime,
    retry_after: float | None,
    gone: bool = False,
) -> SourceState:
    """The source's state after an attempt at `now` (a failed one keeps what it had)."""
    failed = outcome.result == "error"
    failures = schedule.failures_in_a_row(source, previous, failed)
    if failed and previous is not None:
        etag, last_modified = previous.etag, previous.last_modified
    elif fetched is not None:
        etag, last_modified = fetched.etag, fetched.last_modified
    else:
        etag = last_modified = ""
    return SourceState(
        source_id=source.id,
        kind=source.kind,
        location=source.stored_location,
        last_attempt=now,
        last_success=now if not failed else (previous.last_success if previous else None),
        result=outcome.result,
        # Masked before it is stored: `status` may run where the secrets' variables are unset
        # (an operator's shell), and could not mask them then.
        error=config.redact(outcome.error),
        new=outcome.new,
        updated=outcome.updated,
        unchanged=outcome.unchanged,
        failures=failures,
        next_due=schedule.next_due(
            source,
            failures,
            now,
            retry_after=retry_after,
            max_backoff=config.settings.fetch.max_backoff,
            gone=gone,
        ),
        etag=etag,
        last_modified=last_modified,
        # (The redirect's target keeps the query it was given: a token in it too.)
        redirect=config.redact(outcome.redirect)
        or (previous.redirect if previous and failed else ""),
        # Every one: a folder's are the files it skipped, which `status --json` lists (each a
        # file the newsroom must fix), not a sample.
        notes=tuple(config.redact(note) for note in outcome.notes),
        wait_until=(
            now + timedelta(seconds=min(retry_after, config.settings.fetch.max_backoff))
            if failed and retry_after is not None
            else None
        ),
    )


def _log_attempt(
    source: SourceSettings, outcome: SourceOutcome, failures: int, wait: float
) -> None:
    context = {"source": source.id}  # a JSON log line's "source" key
    if outcome.result == "error":
        log.warning(
            "source %s failed (%d in a row; next try in %.0fs): %s",
            source.id,
            failures,
            wait,
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
