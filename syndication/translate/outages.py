"""Provider outages remembered in the store, so that a new process starts where the last left.

Owns: what a provider's guard leaves behind when a cycle ends while the provider is down
(its failures in a row, its last error, a Retry-After still running), kept under a `meta` key
of its own, and handing that to a fresh guard. A `once` run by cron, or a restarted worker,
then asks a provider that was down with one probe request, tried once, rather than with the
retries and backoff of a first failure, and never asks one whose Retry-After still runs (at
most `guard.MAX_RETRY_AFTER`, whatever an older version recorded). Also what `status` shows
of them (`recorded`) and the operator's override (`forget`, for `retry --failed`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from syndication.model import utcnow
from syndication.store import Store
from syndication.translate.guard import MAX_RETRY_AFTER, Guarded

KEY = "translate.outage.{}"


def restore(store: Store, guards: Mapping[str, Guarded]) -> dict[str, str]:
    """Give each fresh guard (one that has not asked anything yet) what the store remembers
    of its provider; returns what was read, by provider, for `remember` to compare with."""
    seen: dict[str, str] = {}
    now, clock = utcnow(), time.monotonic()
    for name, guard in guards.items():
        seen[name] = raw = store.setting(KEY.format(name)) or ""
        if not raw or guard.requests or guard.consecutive_failures:
            continue  # healthy, or this guard has its own, newer, experience
        state = _parse(raw)
        if state is None:
            continue
        failures, error, until = state
        guard.consecutive_failures = failures
        guard.last_error = error
        if until is not None:
            until = min(until, now + timedelta(seconds=guard.max_retry_after))
        if until is not None and until > now:
            guard.asked_until = clock + (until - now).total_seconds()
            guard.open_until = max(guard.open_until, guard.asked_until)
    return seen


def remember(store: Store, guards: Mapping[str, Guarded], seen: Mapping[str, str]) -> None:
    """Record each provider's state where it differs from what `restore` read (a healthy
    provider's key is emptied): nothing is written while an outage goes on unchanged."""
    now, clock = utcnow(), time.monotonic()
    for name, guard in guards.items():
        before = seen.get(name, "")
        value = _state(guard, now, clock, _parse(before) if before else None)
        if value != before:
            store.set_setting(KEY.format(name), value)


def recorded(store: Store, names: Iterable[str]) -> list[dict[str, Any]]:
    """The outages the store remembers, of the providers `names`: each provider, its failures
    in a row, its last error and until when it is not asked (None: asked again, as a probe,
    at the next cycle), as `status` shows them."""
    found = []
    now = utcnow()
    for name in names:
        raw = store.setting(KEY.format(name))
        state = _parse(raw) if raw else None
        if state is None:
            continue
        failures, error, until = state
        if until is not None:
            until = min(until, now + timedelta(seconds=MAX_RETRY_AFTER))
        found.append(
            {
                "provider": name,
                "failures": failures,
                "error": error,
                "until": until.isoformat() if until is not None and until > now else None,
            }
        )
    return found


def forget(store: Store, names: Iterable[str]) -> list[dict[str, Any]]:
    """The operator's override (`retry --failed`): the next process or worker guard asks the
    providers `names` at once, whatever outage the store remembers; returns those forgotten."""
    found = recorded(store, names)
    for outage in found:
        store.set_setting(KEY.format(outage["provider"]), "")
    return found


def _state(
    guard: Guarded,
    now: datetime,
    clock: float,
    before: tuple[int, str, datetime | None] | None,
) -> str:
    if not guard.suspect and guard.asked_until <= clock:
        return ""
    until = None
    if guard.asked_until > clock:
        until = now + timedelta(seconds=round(guard.asked_until - clock))
        if (
            before is not None
            and before[2] is not None
            and abs((before[2] - until).total_seconds()) < 3
        ):
            until = before[2]  # the same Retry-After read back: not a change
    return json.dumps(
        {
            "failures": guard.consecutive_failures,
            "error": guard.last_error,
            "until": until.isoformat() if until else None,
        },
        ensure_ascii=False,
        sort_keys=True,
    )


def _parse(raw: str) -> tuple[int, str, datetime | None] | None:
    try:
        data = json.loads(raw)
        until = datetime.fromisoformat(data["until"]) if data.get("until") else None
        return int(data["failures"]), str(data["error"]), until
    except (ValueError, KeyError, TypeError):
        return None  # written by another version, or damaged: forget it
