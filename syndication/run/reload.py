"""Re-reading the YAML while the worker runs: what changed, and what may not.

Owns: reading the configuration again (one `run` would refuse is rejected, its problems
logged, and the worker goes on with the one it has), keeping what a running process cannot
change (its store, socket and output folder, with a warning that a restart applies them), the
differences the worker applies to its schedule (sources added, removed, changed, to be
rescheduled; other sections changed) and their one-line summary, the records left in the store
(the configuration in use, for `status`; the outcome, for `syndication reload`), and the file's
stamp by which a change on disk is noticed. The worker applies; this module decides.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from syndication import config as cfg
from syndication.config import Config
from syndication.errors import ConfigError, StoreError
from syndication.model import utcnow
from syndication.store import Store

log = logging.getLogger(__name__)

# Settings a running process holds on to: its store, its socket, its output (and how to reach it).
FIXED = ("store", "serve", "output", "output_options")


def stamp(path: Path) -> tuple[int, int] | None:
    """What tells the file changed on disk: its modification time and size."""
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size


def read_again(path: Path) -> Config | list[str]:
    """The configuration at `path`, or the problems for which `run` would refuse it."""
    try:
        new = cfg.load(path)
        problems = new.routing_problems()
    except ConfigError as exc:
        problems = exc.problems
    return problems or new


def rejected(store: Store, why: str, problems: list[str]) -> None:
    """Say that the reload changed nothing, and why, in the log and to `syndication reload`."""
    log.error(
        "configuration reload (%s) rejected, %d problem(s); still running on the "
        "previous configuration:",
        why,
        len(problems),
    )
    for problem in problems:
        log.error("  %s", problem)
    tell(store, why, ok=False, problems=problems)


def keep_fixed(old: Config, new: Config) -> Config:
    """What a running process cannot change (its store, its socket) stays; say so."""
    kept = {}
    for name in FIXED:
        if getattr(new.settings, name) != getattr(old.settings, name):
            log.warning("%s: changed in the YAML; takes effect after a restart", name)
            kept[name] = getattr(old.settings, name)
    if not kept:
        return new
    return dataclasses.replace(new, settings=new.settings.model_copy(update=kept))


@dataclass(frozen=True)
class Changes:
    """What a reload changes: source ids by what happened to them, and other sections."""

    added: list[str]
    removed: list[str]
    changed: list[str]
    rescheduled: list[str]  # added, or polled on a new schedule or at a new location
    sections: list[str]  # the settings other than `sources` that differ, applied
    restart: list[str] = dataclasses.field(default_factory=list)  # FIXED ones that differ

    def summary(self) -> str:
        parts = [
            f"{label} {', '.join(ids)}"
            for label, ids in (
                ("added", self.added),
                ("removed", self.removed),
                ("changed", self.changed),
            )
            if ids
        ]
        if self.sections:
            parts.append(f"settings changed: {', '.join(self.sections)}")
        if self.restart:
            parts.append(f"{', '.join(self.restart)} changed: takes effect after a restart")
        # The worker applies a saved file by itself within seconds: a `reload` right after
        # saving finds it in force already, which "nothing changed" alone made look ignored.
        return "; ".join(parts) if parts else "nothing changed: the worker runs this file already"


def changes(old: Config, new: Config) -> Changes:
    before = {s.id: s for s in old.settings.sources}
    after = {s.id: s for s in new.settings.sources}
    added = [i for i in after if i not in before]
    backoff_cap = old.settings.fetch.max_backoff != new.settings.fetch.max_backoff
    return Changes(
        added=added,
        removed=[i for i in before if i not in after],
        changed=[i for i in after if i in before and after[i] != before[i]],
        rescheduled=added
        + [
            i
            for i in after
            if i in before
            # Title, language, rights: read by the next run as they are now.
            and (
                backoff_cap
                or (before[i].every, before[i].cron, before[i].location)
                != (after[i].every, after[i].cron, after[i].location)
            )
        ],
        sections=[
            name
            for name in type(new.settings).model_fields
            if name != "sources"
            and name not in FIXED
            and getattr(new.settings, name) != getattr(old.settings, name)
        ],
        restart=[
            name for name in FIXED if getattr(new.settings, name) != getattr(old.settings, name)
        ],
    )


def record_in_use(store: Store, config: Config) -> None:
    """Leave in the store what this worker runs with, for `status` to show should the YAML on
    disk stop loading (the worker goes on with this one meanwhile)."""
    store.set_setting(cfg.IN_USE, json.dumps(config.in_use(), ensure_ascii=False))


def tell(store: Store, why: str, **outcome: Any) -> None:
    """Leave the outcome in the store, where `syndication reload` waits for it."""
    # Each answer its own: two reloads in one second with the same outcome wrote the same
    # record, and the command waiting for a new one saw none ("no answer yet", exit 1).
    record = {"at": utcnow().isoformat(), "answer": uuid.uuid4().hex, "why": why, **outcome}
    # A write waits behind a publish's (SQLite has one writer): tried a few times, since the
    # command waiting for this answer otherwise says "no answer yet" and exits 1.
    for attempt in range(3):
        try:
            store.set_setting("last_reload", json.dumps(record, ensure_ascii=False))
            return
        except StoreError:
            if attempt < 2:
                time.sleep(1.0)
