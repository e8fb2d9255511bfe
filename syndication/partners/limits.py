"""Each partner's request rate: `rate: 120/min` lets 120 through at once, then two a second.

Owns: one token bucket per partner (capacity and refill from its `rate`), kept across a
reload unless that partner's rate changed, and the Retry-After of a refused request. A token
bucket is a dozen lines on the monotonic clock; a rate-limiting library would bring storage
backends and timers this process does not need.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from syndication.config import Config


@dataclass
class _Bucket:
    capacity: float
    per_second: float
    tokens: float
    at: float

    def take(self, now: float) -> float:
        """0 when a request may go through now (one token taken), else seconds to wait."""
        self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.per_second)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.per_second


class Limits:
    """The partners' buckets. Used from the event loop only, so it needs no lock."""

    def __init__(self) -> None:
        self._buckets: dict[str, tuple[tuple[int, float], _Bucket]] = {}

    def configure(self, config: Config) -> None:
        now = time.monotonic()
        kept = {}
        for partner in config.settings.partners:
            rate = partner.rate_limit
            if rate is None:
                continue
            held = self._buckets.get(partner.id)
            if held is not None and held[0] == rate:
                kept[partner.id] = held
            else:
                count, seconds = rate
                kept[partner.id] = (rate, _Bucket(count, count / seconds, count, now))
        self._buckets = kept

    def retry_after(self, partner_id: str) -> int:
        """0 when the partner's request may go through (and is counted), else the whole
        seconds after which it may try again."""
        held = self._buckets.get(partner_id)
        if held is None:
            return 0
        wait = held[1].take(time.monotonic())
        return math.ceil(wait) if wait > 0 else 0
