"""When each source's job fires: its own place within its `every:`, or its `cron:`.

Owns: a source's APScheduler trigger (the slots `scheduled_after` gives it, so that many
sources make a steady trickle of polls rather than bursts, or its crontab), when its job first
runs after a start or a reload (soon, jittered, for a source never polled, overdue or at a new
location; else its next scheduled time after its last poll or its backoff's end, as the
schedule in force now says), whether a poll may follow the last one (what a worker claiming a
source asks: across every worker on the store, never sooner than the schedule allows), and its
job's id. It decides times; the worker owns the jobs.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger

from syndication.config import SourceSettings
from syndication.ingest.poll import scheduled_after

FIRST_SPREAD = 10.0  # at most this many seconds of jitter before a source's first poll
LATE = 2.0  # seconds a job may fire after its time (a busy machine) and still poll


class Slots(BaseTrigger):
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


def trigger_for(source: SourceSettings) -> BaseTrigger:
    if source.cron:
        return CronTrigger.from_crontab(source.cron, timezone=UTC)
    return Slots(source)


def first_run(
    source: SourceSettings,
    trigger: BaseTrigger,
    due: datetime | None,
    now: datetime,
    spread: float = FIRST_SPREAD,
) -> datetime | None:
    """When the source's job first runs: `due` (its next poll by the schedule in force, see
    `next_poll`) unless that has passed, then soon, jittered over `spread` seconds."""
    if not source.cron:
        spread = min(source.every / 2, spread)
    if due is None or due <= now:
        # Sources that start together would otherwise all poll at the same instant.
        return now + timedelta(seconds=random.uniform(0, spread))
    if source.cron:
        # The crontab says when; a backoff ending later makes that run skip (poll_source).
        return trigger.get_next_fire_time(None, now)
    return due


def may_follow(source: SourceSettings, last: datetime, now: datetime) -> bool:
    """Whether a poll of `source` may begin at `now` after one began at `last` (by any
    worker): `every` apart, less the few seconds (LATE, at most a quarter of `every`) a job
    may fire after its time, so that a poll made off the schedule (a first poll, a `retry`,
    `once`) takes the place of the next scheduled one; for a crontab, once its next time after
    `last` has come. Whichever workers make them, two polls are never closer than that."""
    late = timedelta(seconds=min(LATE, source.every / 4))
    if source.cron:
        return now >= scheduled_after(source, last + timedelta(seconds=LATE)) - late
    return now - last >= timedelta(seconds=source.every) - late


def job_id(source_id: str) -> str:
    return f"source:{source_id}"
