"""Who pulls what: each partner request counted, recorded in the store, and logged.

Owns: what a request leaves behind, never its token: the Prometheus counter by partner,
kind and result (:mod:`syndication.metrics`); the partner's traffic by the hour, its last
request, the last API cursor served and the last refusal with the client's address, added to
the store every `SAVE_EVERY` seconds (for `status`, also of a server in another process); and
one access-log line per request (logger ``syndication.access``, with the partner id as the
`partner` field of JSON logs). Requests are noted on the event loop at the cost of a few
dictionary updates; a thread of its own writes the store and the log lines (with each
request's own time), so neither a slow disk nor a slow log stream holds up an answer.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections import deque
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from syndication import metrics
from syndication.errors import StoreError
from syndication.logs import ACCESS_LOGGER
from syndication.store import PartnerMark, Store

log = logging.getLogger(ACCESS_LOGGER)
log.setLevel(logging.INFO)  # the access log is written whatever the service's log level
_self_log = logging.getLogger(__name__)

SAVE_EVERY = 2.0  # seconds between writes to the store (what `status` may lag behind)
LOG_EVERY = 0.2  # seconds between batches of access-log lines
KEEP_HOURS = 48  # traffic by the hour kept in the store (status sums the last 24)
UNKNOWN = "-"  # the partner of a refused request whose id is not configured


@functools.lru_cache(maxsize=4)
def _hour(hours: int) -> str:
    return datetime.fromtimestamp(hours * 3600, UTC).strftime("%Y-%m-%dT%H")


def hour_of(when: datetime) -> str:
    """The hour bucket of a time, as the store keys traffic: 2025-05-05T10 (UTC)."""
    return _hour(int(when.timestamp()) // 3600)


@dataclass(frozen=True)
class Seen:
    """One request as the access log tells it (the query string without its token)."""

    at: datetime
    partner: str  # the configured partner whose id the path names, or UNKNOWN
    admitted: bool  # the request carried that partner's token
    kind: str  # feed | api | other
    method: str
    path: str
    query: str
    status: int
    size: int
    client: str
    seconds: float


class Activity:
    """Notes requests on the event loop; its thread records and logs them."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._traffic: dict[tuple[str, str], tuple[int, int]] = {}
        self._marks: dict[str, PartnerMark] = {}
        self._lines: deque[Seen] = deque()
        self._lock = threading.Lock()  # the counts and marks
        self._writing = threading.Lock()  # one writer of lines and counts at a time
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def note(self, seen: Seen) -> None:
        """Count one request (called on the event loop, once per answer)."""
        metrics.partner_request(seen.partner, seen.kind, _result(seen.status))
        self._lines.append(seen)
        if seen.partner == UNKNOWN:
            return
        with self._lock:
            mark = self._marks.get(seen.partner, PartnerMark())
            if seen.status == 401:
                mark = replace(mark, refused=(seen.at, seen.client))
            elif not seen.admitted:
                return  # someone else's request for a path under the partner's prefix
            else:
                key = (seen.partner, hour_of(seen.at))
                requests, not_modified = self._traffic.get(key, (0, 0))
                self._traffic[key] = (requests + 1, not_modified + (seen.status == 304))
                mark = replace(mark, last_request=seen.at)
            self._marks[seen.partner] = mark

    def served_cursor(self, partner_id: str, edition: str, cursor: str) -> None:
        with self._lock:
            mark = self._marks.get(partner_id, PartnerMark())
            self._marks[partner_id] = replace(mark, cursor=(edition, cursor))

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="syndication-partner-activity", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        """Write what is still held (a clean stop loses no count and no log line)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.flush()

    def flush(self) -> None:
        """Log the lines held, and add the counts held to the store; when it returns, what
        was noted before is written (also what the thread was writing meanwhile)."""
        with self._writing:
            self._log_lines()
            self._save()

    def _run(self) -> None:
        waited = 0.0
        while not self._stop.wait(LOG_EVERY):
            waited += LOG_EVERY
            with self._writing:
                self._log_lines()
                if waited >= SAVE_EVERY:
                    waited = 0.0
                    self._save()

    def _log_lines(self) -> None:
        while self._lines:
            seen = self._lines.popleft()
            if not log.isEnabledFor(logging.INFO):
                continue
            record = log.makeRecord(
                log.name,
                logging.INFO,
                __file__,
                0,
                "partner %s %s %s%s %d %dB %.1fms from %s",
                (
                    seen.partner,
                    seen.method,
                    seen.path,
                    f"?{seen.query}" if seen.query else "",
                    seen.status,
                    seen.size,
                    seen.seconds * 1000,
                    seen.client,
                ),
                None,
                extra={"partner": seen.partner},
            )
            # The line carries the request's own time, not the moment it was written out.
            record.created = seen.at.timestamp()
            record.msecs = (record.created % 1) * 1000
            log.handle(record)

    def _save(self) -> None:
        with self._lock:
            traffic, self._traffic = self._traffic, {}
            marks, self._marks = self._marks, {}
        if not traffic and not marks:
            return
        keep_since = hour_of(datetime.now(UTC) - timedelta(hours=KEEP_HOURS))
        try:
            self.store.record_partner_activity(traffic, marks, keep_since=keep_since)
        except StoreError as exc:
            # Counted again with the next requests' rather than lost.
            _self_log.warning("partner activity not recorded yet: %s", exc)
            with self._lock:
                for key, (requests, not_modified) in traffic.items():
                    held = self._traffic.get(key, (0, 0))
                    self._traffic[key] = (held[0] + requests, held[1] + not_modified)
                for partner_id, mark in marks.items():
                    self._marks.setdefault(partner_id, mark)


def _result(status: int) -> str:
    return {
        200: "ok",
        304: "not-modified",
        401: "refused",
        429: "limited",
        400: "bad-request",
    }.get(status, str(status))
