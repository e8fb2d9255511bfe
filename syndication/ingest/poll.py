"""Polling sources into the store: fetch, parse, normalise, save; one source never stops another.

Owns: deciding which sources are due, running them concurrently, exponential backoff for a
failing source (capped, reset on success, Retry-After honoured), and each source's recorded
state (last attempt, result, error, counts, next due time, permanent redirects).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from syndication.config import Config, SourceSettings
from syndication.ingest.feeds import ParsedFeed, SourceInfo, parse_feed
from syndication.ingest.fetch import Fetcher, FetchResult, read_feed_file
from syndication.ingest.local import LocalSource, scan
from syndication.model import ArticleFileError, SourceError, SourceState, utcnow
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


def due_sources(config: Config, store: Store, now: datetime | None = None) -> list[SourceSettings]:
    """Sources whose next poll time has come (never-polled sources are due)."""
    now = now or utcnow()
    due = []
    for source in config.settings.sources:
        state = store.source_state(source.id)
        if state is None or state.next_due is None or state.next_due <= now:
            due.append(source)
    return due


async def poll_sources(
    config: Config,
    store: Store,
    chosen: Sequence[SourceSettings],
    *,
    on_done: Callable[[SourceOutcome], None] | None = None,
    fetcher: Fetcher | None = None,
) -> list[SourceOutcome]:
    """Poll the chosen sources concurrently; every source ends with an outcome, never a raise.

    Fetching is concurrent (the fetcher's global and per-host limits); parsing and storing,
    which are CPU-bound Python and share one GIL, run one source at a time on a single worker
    thread, off the event loop. More threads would not parse faster, only make every thread
    (the event loop's included) queue for the GIL. At most twice the fetch concurrency of
    sources hold a body at once, so a fast network cannot pile every body up in memory while
    the parser catches up. Every source's recorded state is read in one query up front.
    """
    own = fetcher is None
    fetcher = fetcher or Fetcher(config.settings.fetch)
    worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="syndication-ingest")
    in_flight = asyncio.Semaphore(2 * config.settings.fetch.concurrency)
    states = {state.source_id: state for state in store.source_states()}
    try:

        async def one(source: SourceSettings) -> SourceOutcome:
            async with in_flight:
                try:
                    outcome = await poll_source(
                        config, store, source, fetcher, worker=worker, state=states.get(source.id)
                    )
                except Exception as exc:  # a bug or a store hiccup in one source stays in it
                    log.exception("%s: unexpected error", source.id)
                    outcome = SourceOutcome(source.id, "error", error=f"internal error: {exc}")
                    _record(config, store, source, outcome, None)
            if on_done:
                on_done(outcome)
            return outcome

        return list(await asyncio.gather(*(one(s) for s in chosen)))
    finally:
        worker.shutdown(wait=True, cancel_futures=True)
        if own:
            await fetcher.aclose()


async def poll_source(
    config: Config,
    store: Store,
    source: SourceSettings,
    fetcher: Fetcher,
    *,
    worker: Executor | None = None,
    state: SourceState | bool | None = False,
) -> SourceOutcome:
    """Poll one source and record its state; CPU-bound work runs on `worker` (else a thread).

    `state` is the source's recorded state if the caller has read it already (None: never
    polled); by default it is read here.
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
            outcome = await _ingest_feed(config, store, source, fetched, worker)
    except SourceError as exc:
        outcome = SourceOutcome(source.id, "error", error=exc.message)
        _record(config, store, source, outcome, None, retry_after=exc.retry_after, previous=state)
        log.warning("source %s failed: %s", source.id, exc.message)
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

    def parse_and_save() -> tuple[ParsedFeed, tuple[int, int, int]]:
        parsed = parse_feed(fetched.body, fetched.headers, info, config.settings.fetch.max_bytes)
        counts = store.save_articles(source.id, parsed.articles, config.settings.languages)
        return parsed, counts

    # feedparser is CPU-bound and can block for seconds on a big feed, and saving a batch
    # hashes and writes every row: keep both off the loop, which goes on fetching meanwhile.
    loop = asyncio.get_running_loop()
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
    new, updated, unchanged = store.save_articles(source.id, found, config.settings.languages)
    # A file that failed to read still exists: its article must not be withdrawn for that.
    present = {a.id for a in found}
    for error in errors:
        stem = _stem_id(source, error.path)
        if stem:
            present.add(stem)
    withdrawn = store.withdraw_missing(source.id, present)
    notes = [str(e) for e in errors]
    for note in notes:
        log.warning("source %s: %s", source.id, note)
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
    failures = (previous.failures + 1 if previous else 1) if outcome.result == "error" else 0
    delay = source.every
    if failures:
        delay = min(source.every * 2 ** (failures - 1), config.settings.fetch.max_backoff)
        if retry_after is not None:
            delay = max(delay, min(retry_after, config.settings.fetch.max_backoff))
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
        next_due=now + timedelta(seconds=delay),
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
    store.save_source_state(state)
