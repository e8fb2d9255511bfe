"""The catch-up API: every new version of every entitled story of an edition since a cursor.

Owns: the request's parameters (`edition`, `after`, `limit`) and their refusals, the answer
`{"items": [...], "next": CURSOR}` (the version log's rows after the cursor, oldest first, only
the partner's stories, each a ninjs 3.1 item with the status the log recorded for that version:
a canceled one with no text, a withheld one (put under embargo after it was published) with its
`embargoedUntil` and no text, a usable one rendered from the story as it is now at the partner's
rights (no older text is stored), and with no text while the story is withdrawn or under
embargo); `next` is the
last row's seq, or the cursor itself when there is none, so a client that stores it gets each
version once and `{"items": [], "next": <same>}` when caught up), and a cache of answers that
holds while the version log has no new row (looked at no more than once a `FRESH` interval) and
the configuration is the same.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from syndication.config import Config, PartnerSettings
from syndication.errors import SyndicationError
from syndication.items import Story, build_item, id_authority
from syndication.lang import base_language
from syndication.model import utcnow
from syndication.partners.entitle import Entitlement, entitlement
from syndication.partners.feeds import FRESH, Body, body
from syndication.partners.ninjs import canceled, held_back, retracted, usable, withheld
from syndication.store import CANCELED, USABLE, WITHHELD, Store, StoryVersion
from syndication.store.base import parse_iso

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_CURSOR = 2**63 - 1  # a version's seq is a 64-bit integer in every database
CONTENT_TYPE = "application/json; charset=utf-8"
# Answers kept: a desk polling at the head of the log asks the same question again and again.
CACHE_ENTRIES = 2048
CACHE_BYTES = 32 * 1024 * 1024


class BadRequest(SyndicationError):
    """The API's parameters cannot be read (a 400, after the partner was authenticated)."""


@dataclass(frozen=True)
class Question:
    """What a client asks: an edition's versions after a cursor, at most `limit` of them."""

    edition: str
    after: int
    limit: int


def question(parameters: list[tuple[str, str]]) -> Question:
    """The parameters of `?edition=kk&after=CURSOR&limit=50`; BadRequest when unreadable."""
    params = dict(parameters)
    edition = params.get("edition", "")
    if not edition:
        raise BadRequest("edition= is required, e.g. ?edition=kk")
    try:
        after = int(params.get("after") or 0)
        limit = int(params.get("limit") or DEFAULT_LIMIT)
    except ValueError:
        raise BadRequest("after= takes the `next` of an earlier answer; limit= a number") from None
    if not 0 <= after <= MAX_CURSOR or not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(
            f"after= takes the `next` of an earlier answer (0 or more); limit= between 1 and "
            f"{MAX_LIMIT}"
        )
    return Question(edition, after, limit)


Mark = tuple[int, int]  # (the version log's last seq, the store's change counter)


@dataclass(frozen=True)
class Answer:
    body: Body
    next: str


class CatchUp:
    """Answers the API from the store's version log, keeping answers while it does not move."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._answers: OrderedDict[tuple[str, Question], tuple[Config, Mark, Answer]]
        self._answers = OrderedDict()
        self._bytes = 0
        # The log's newest seq and the store's change counter when last asked: a story
        # changed without a new version (an embargo put on it) moves the second.
        self._seq: Mark = (-1, -1)
        self._seq_checked = float("-inf")
        self._lock = threading.Lock()

    def fresh(self, config: Config, partner_id: str, asked: Question) -> Answer | None:
        """The answer given within `FRESH` of the log's last look, if it still holds."""
        if time.monotonic() - self._seq_checked > FRESH:
            return None
        held = self._answers.get((partner_id, asked))
        if held is None or held[0] is not config or held[1] != self._seq:
            return None
        return held[2]

    def answer(self, config: Config, partner: PartnerSettings, asked: Question) -> Answer:
        """The answer as the store holds it now. Blocking: call it off the event loop."""
        # Both before the rows: a later row or change only makes the answer stale.
        seq = (self.store.last_version_seq(), self.store.change_mark())
        with self._lock:
            self._seq, self._seq_checked = seq, time.monotonic()
            held = self._answers.get((partner.id, asked))
            if held is not None and held[0] is config and held[1] == seq:
                return held[2]
        if asked.after > seq[0]:
            # Never handed out: a store restored from an older backup, or a made-up number.
            # An empty answer would leave the client waiting for versions it already missed.
            raise BadRequest(
                f"after={asked.after} is past the newest version ({seq[0]}): ask again with "
                f"after={seq[0]}, or without after= to start from the oldest story kept"
            )
        rights = entitlement(config, partner)
        rows = self.store.partner_versions_after(
            asked.edition,
            base_language(asked.edition),
            asked.after,
            limit=asked.limit,
            scopes=rights.scopes,
        )
        now = utcnow()
        items = [self._item(config, rights, row, now) for row in rows]
        cursor = str(rows[-1].seq) if rows else str(asked.after)
        data = json.dumps({"items": items, "next": cursor}, ensure_ascii=False)
        found = Answer(body((data + "\n").encode("utf-8"), CONTENT_TYPE), cursor)
        # An answer holding a usable version's text back changes when its embargo ends, with
        # no change in the store to say so: never kept.
        if not any(_embargoed(row, now) for row in rows if row.status == USABLE):
            self._keep((partner.id, asked), (config, seq, found))
        return found

    def forget(self, partner_ids: set[str]) -> None:
        with self._lock:
            for key in [k for k in self._answers if k[0] not in partner_ids]:
                self._drop(key)

    def _item(
        self, config: Config, rights: Entitlement, row: StoryVersion, now: datetime
    ) -> dict[str, object]:
        authority = id_authority(config, self.store.remembered)
        # Each version keeps the status the log recorded for it (a story withdrawn and
        # restored is usable, canceled, usable), not the story's status now.
        if row.status == CANCELED:
            return canceled(authority, row.stored, row.edition, row.version, row.at)
        if row.status == WITHHELD:
            until = parse_iso(row.digest) or row.stored.article.embargo or row.at
            return withheld(authority, row.stored, row.edition, row.version, row.at, until)
        if row.withdrawn:
            # A usable version of a story withdrawn since: a withdrawal takes its text out
            # of everything, so the version comes with its status and identity only.
            return retracted(authority, row.stored, row.edition, row.version, row.at)
        embargo = _embargoed(row, now)
        if embargo is not None:
            # A usable version of a story put under embargo since: its own status, none of
            # its text until then (the withheld version that follows says so too).
            return held_back(authority, row.stored, row.edition, row.version, row.at, embargo)
        source = row.stored.article.source_id
        item = build_item(
            config,
            row.edition,
            Story(row.stored, row.translation),
            authority=authority,
            # Each item stands alone here: its original is named in `associations`.
            carried_by=(),
            rights=rights.rights(source),
        )
        return usable(
            item,
            row.stored,
            row.edition,
            authority=authority,
            rights=rights.rights(source),
            version=row.version,
            at=row.at,
            public=config.settings.publish.public,
        )

    def _keep(self, key: tuple[str, Question], entry: tuple[Config, Mark, Answer]) -> None:
        cost = len(entry[2].body.data) + len(entry[2].body.gz or b"")
        with self._lock:
            self._drop(key)
            self._answers[key] = entry
            self._bytes += cost
            while self._answers and (
                len(self._answers) > CACHE_ENTRIES or self._bytes > CACHE_BYTES
            ):
                self._drop(next(iter(self._answers)))

    def _drop(self, key: tuple[str, Question]) -> None:
        old = self._answers.pop(key, None)
        if old is not None:
            self._bytes -= len(old[2].body.data) + len(old[2].body.gz or b"")


def _embargoed(row: StoryVersion, now: datetime) -> datetime | None:
    """When the story's embargo ends, if it is under one now."""
    embargo = row.stored.article.embargo
    return embargo if embargo is not None and embargo > now and not row.withdrawn else None
