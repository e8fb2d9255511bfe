"""When each source is polled: pure decisions from its settings and its recorded state, no I/O.

Owns: a source's schedule as the YAML says now (an interval polled at a stable place of its
own within it, so sources that start together do not poll together, or a crontab), which
sources are due, the failures in a row at one location, and the backoff of a failing source
(doubling from the interval, capped, reset on success, Retry-After honoured; the cap at once
for a source gone for good).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

from apscheduler.triggers.cron import CronTrigger

from syndication.config import SourceSettings
from syndication.model import SourceState

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
    if state is None or state.last_attempt is None or state.location != source.stored_location:
        return None
    if state.failures and state.next_due is not None:
        return min(state.next_due, state.last_attempt + timedelta(seconds=max_backoff))
    return scheduled_after(source, state.last_attempt)


def due(
    sources: Sequence[SourceSettings],
    states: Iterable[SourceState],
    max_backoff: float,
    now: datetime,
) -> list[SourceSettings]:
    """The sources whose next poll time has come (never-polled sources are due), in order."""
    by_id = {state.source_id: state for state in states}
    chosen = []
    for source in sources:
        when = next_poll(source, by_id.get(source.id), max_backoff)
        if when is None or when <= now:
            chosen.append(source)
    return chosen


def failures_in_a_row(source: SourceSettings, previous: SourceState | None, failed: bool) -> int:
    """The source's failures in a row after this attempt (0 when it succeeded)."""
    # Failures in a row count at one location; an edited URL starts again from the interval.
    before = previous.failures if previous and previous.location == source.stored_location else 0
    return before + 1 if failed else 0


def next_due(
    source: SourceSettings,
    failures: int,
    now: datetime,
    *,
    retry_after: float | None,
    max_backoff: float,
    gone: bool = False,
) -> datetime:
    """When to poll again after an attempt at `now`: the next scheduled time after a success;
    after a failure the backoff (the interval doubled per failure in a row, at least what
    Retry-After asked), capped at `max_backoff`; `max_backoff` at once when the partner said
    the feed is gone (410): asking every minute will not bring it back, but a rare poll
    notices if it does."""
    if not failures:
        return scheduled_after(source, now)
    if gone:
        return now + timedelta(seconds=max_backoff)
    delay = min(source.every * 2 ** (failures - 1), max_backoff)
    if retry_after is not None:
        delay = max(delay, min(retry_after, max_backoff))
    return now + timedelta(seconds=delay)
