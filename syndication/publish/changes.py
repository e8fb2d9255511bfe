"""Changes: what a publish has to do, from what changed since the last one.

Owns: the publish mark (the last change number published, kept in the store's `meta`), the
digest of the configuration that shapes the output and the output-format version (either
changing means every file is rendered again, as `syndication publish --all` asks), embargoes
that ended since the last publish (each takes a change number here), and the time events a
quiet store still has: stories aging out of `feeds.max_age`, tombstones older than 30 days,
stories leaving the kept period `feeds.archive`. The result is a `Plan`; what to render for it
is the stage's work.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from syndication.config import Config
from syndication.model import utcnow
from syndication.render import TOMBSTONE_DAYS
from syndication.store import Store
from syndication.store.base import parse_iso

# Bump when the published files change shape: the first publish after an upgrade then
# renders every file again on its own.
FORMAT_VERSION = "ids-5"  # 2: URIs (web_url); 3: atom:source ids well formed or none;
# 4: a page for every archive page, zh-Hant in Taiwan standard forms, story pages in the
# edition's language; 5: a story's enclosures on its page, and no credential of a source
# URL's query in atom:source / RSS source

MARK = "publish_seq"  # the last change number published
SHAPE = "publish_shape"  # the digest of the configuration and format published under
AT = "publish_at"  # when the last publish ran (its clock, for the time events)


@dataclass(frozen=True)
class Plan:
    """What one publish starts from."""

    now: datetime
    previous: datetime | None  # when the last publish ran (None: never)
    full: bool  # render every file (first publish, --all, a new configuration or format)
    why: str  # why it is full ("" when it follows the changes)
    mark: int  # the change number this publish accounts for, once done
    changed: tuple[str, ...]  # stories to look at again (a full publish looks at all)
    expiring: frozenset[str]  # feeds where a story left the kept period since last time
    shape: str

    @property
    def idle(self) -> bool:
        """Nothing to render at all."""
        return not (self.full or self.changed or self.expiring)


def plan(
    config: Config,
    store: Store,
    *,
    full: bool = False,
    missing: str = "",
    now: datetime | None = None,
) -> Plan:
    """What this publish must do: everything (asked for, the first publish, a new
    configuration or output format, a front file of the output removed by hand: `missing`),
    or what changed since the mark."""
    now = now or utcnow()
    previous = parse_iso(store.setting(AT))
    if previous is not None and previous > now:  # a clock set back: start the windows again
        previous = None
    # An embargo that ended is a change like any other: it takes a number before the mark
    # is read, so this publish carries it.
    store.release_embargoes(previous, now)
    mark = store.change_mark()
    shape = output_shape(config)
    why = "asked (--all)" if full else ""
    if not why and store.setting(MARK) is None:
        why = "first publish"
    elif not why and store.setting(SHAPE) != shape:
        why = "configuration or output format changed"
    elif not why and missing:
        why = f"the output has no {missing}"
    if why:
        return Plan(now, previous, True, why, mark, (), frozenset(), shape)
    since = int(store.setting(MARK) or 0)
    changed = dict.fromkeys(store.changed_since(since, mark))
    expiring: frozenset[str] = frozenset()
    if previous is not None:
        changed.update(dict.fromkeys(_time_events(config, store, previous, now)))
        archive = timedelta(seconds=config.settings.feeds.archive)
        expiring = frozenset(store.feeds_entered_between(previous - archive, now - archive))
    return Plan(now, previous, False, "", mark, tuple(changed), expiring, shape)


def _time_events(config: Config, store: Store, previous: datetime, now: datetime) -> list[str]:
    """Stories whose feeds look different now only because time passed."""
    found: list[str] = []
    max_age = config.settings.feeds.max_age
    if max_age:
        age = timedelta(seconds=max_age)
        found += store.dated_between(previous - age, now - age)
    days = timedelta(days=TOMBSTONE_DAYS)
    found += store.withdrawn_between(previous - days, now - days)
    return found


def output_shape(config: Config) -> str:
    """A digest of every setting that shapes a published file, and of the output format: the
    same digest, the same files for the same stories. Schedules, fetching and translation
    providers are left out: they change what is stored, not how it is published."""
    s = config.settings
    shaping = {
        "format": FORMAT_VERSION,
        "site": s.site.model_dump(mode="json"),
        "editions": list(s.editions),
        "feeds": s.feeds.model_dump(mode="json"),
        "untranslated": s.translation.untranslated,
        "public": s.publish.public,
        "sources": [
            {
                "id": source.id,
                "title": source.title,
                "rights": source.rights,
                # Published as atom:source unless it carries a secret (then never).
                "url": config.redact(str(source.url or "")),
            }
            for source in s.sources
        ],
    }
    blob = json.dumps(shaping, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()
