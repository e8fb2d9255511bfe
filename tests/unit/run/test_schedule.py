"""When a worker may poll a source after the last poll of it, by whichever worker: the rule
every worker on a shared store applies when it claims a poll (schedule.may_follow)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from syndication.config import SourceSettings
from syndication.run.schedule import LATE, may_follow

T = datetime(2025, 5, 5, 10, 0, 0, tzinfo=UTC)


def _after(seconds: float) -> datetime:
    return T + timedelta(seconds=seconds)


def test_an_interval_source_is_polled_no_sooner_than_its_every_less_a_late_job() -> None:
    source = SourceSettings(id="wire", url="https://example.org/rss", every=600)
    assert not may_follow(source, T, _after(0.01))  # two workers in one slot
    assert not may_follow(source, T, _after(600 - LATE - 0.001))
    assert may_follow(source, T, _after(600 - LATE))  # this job fired a little early
    assert may_follow(source, T, _after(600))
    # A short interval allows a quarter of it, not LATE.
    fast = SourceSettings(id="fast", url="https://example.org/rss", every=4)
    assert not may_follow(fast, T, _after(2.9)) and may_follow(fast, T, _after(3.0))


def test_a_crontab_source_is_polled_once_per_crontab_time() -> None:
    source = SourceSettings(id="wire", url="https://example.org/rss", cron="*/5 * * * *")
    # Polled at 10:00:00 (its time): not again for 10:00, even a second or a minute later ...
    assert not may_follow(source, T, _after(1))
    assert not may_follow(source, T, _after(60))
    # ... but at 10:05 (a job firing at 10:05:01 too).
    assert may_follow(source, T, _after(300)) and may_follow(source, T, _after(301))
    # A retry at 10:03 holds back no crontab time: 10:05 is polled.
    assert may_follow(source, _after(180), _after(300))
