"""The guard around every call to a translation provider.

Owns: `Guarded`: a real timeout (deep-translator sets none), retries with backoff and jitter
honouring Retry-After (up to `MAX_RETRY_AFTER`), a per-provider rate limit (requests per
minute), and a circuit breaker that stops asking a provider that is down (`CircuitOpen`), with
the counts the metrics and the engine read (requests sent, failures in a row, whether it
answered lately).
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable
from typing import Any

from syndication import metrics
from syndication.errors import TranslationError
from syndication.translate.providers import Provider, RequestRefused, short_reason

# The longest a provider's Retry-After keeps it unasked (README, "Translation"), as a partner
# feed's backoff stops at `fetch.max_backoff`'s default: a provider asking for days (a bad
# header, a quota reset far off) is asked again within hours, and `retry --failed` sooner.
MAX_RETRY_AFTER = 6 * 3600.0


class CircuitOpen(TranslationError):
    """The provider's breaker is open: no request was sent."""


class Guarded:
    """Wraps a provider: timeout, retries with backoff and jitter, rate limit, circuit breaker.

    The breaker opens after `failures_to_open` failures in a row: every attempt counts when
    the provider is unavailable (unreachable, timed out, rate limited), a refused request
    (`RequestRefused`) counts once however often it was tried, and a Retry-After longer than
    a cycle may wait opens it at once until then (`max_retry_after` at most).

    deep-translator sets no timeout on its requests, so each call runs in a daemon thread we
    stop waiting for; the thread ends when the socket finally gives up.
    """

    def __init__(
        self,
        provider: Provider,
        *,
        timeout: float = 20.0,
        retries: int = 2,
        backoff: float = 1.0,
        max_wait: float = 30.0,
        max_retry_after: float = MAX_RETRY_AFTER,
        rpm: int | None = None,
        failures_to_open: int = 3,
        cooldown: float = 300.0,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.provider = provider
        self.name = provider.name
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_wait = max_wait
        self.max_retry_after = max_retry_after
        self.interval = 60.0 / rpm if rpm else 0.0
        self.failures_to_open = failures_to_open
        self.cooldown = cooldown
        self.sleep = sleep
        self.requests = 0
        self.consecutive_failures = 0
        self.open_until = 0.0
        self.last_error = ""
        self.last_answer = -math.inf
        self.asked_until = 0.0  # monotonic: the provider's own Retry-After, when it said one
        self._last_call = 0.0
        self._lock = threading.Lock()

    def supports(self, source: str, target: str) -> bool:
        return self.provider.supports(source, target)

    def max_chars(self, source: str) -> int:
        return self.provider.max_chars(source)

    @property
    def is_open(self) -> bool:
        return time.monotonic() < self.open_until

    @property
    def answering(self) -> bool:
        """Whether the provider answered a request lately (within one cooldown)."""
        return time.monotonic() - self.last_answer < self.cooldown

    @property
    def suspect(self) -> bool:
        """Whether it was down when last asked: its next request is a probe, tried once
        (a failure opens the breaker again at once, with no retry)."""
        return self.consecutive_failures >= self.failures_to_open

    def translate(
        self,
        text: str,
        source: str,
        target: str,
        *,
        refused_retries: int | None = None,
        counted: bool = True,
    ) -> str:
        """The answer, retrying failures up to the guard's `retries` times.

        A caller that will ask for the parts of a refused request rather than for the same
        text again passes `refused_retries` (how often to retry a `RequestRefused`), and
        `counted=False` when that refusal must not count towards the breaker (it counts
        on its own, with `record_failure`).
        """
        if self.is_open:
            # Same wording as the failure that opened it, so a cycle reports one outage once.
            raise CircuitOpen(f"{self.name}: {self.last_error}", provider=self.name)
        attempt = 0
        while True:
            try:
                answer = self._call(text, source, target)
            except TranslationError as exc:
                metrics.translation_failure(self.name, source, target)
                refused = isinstance(exc, RequestRefused)
                if not refused:
                    self.record_failure(exc)
                retries = (
                    refused_retries if refused and refused_retries is not None else self.retries
                )
                wait = (
                    exc.retry_after
                    if exc.retry_after is not None
                    else (self.backoff * 2**attempt * (0.5 + random.random()))
                )
                if not exc.transient or attempt >= retries or self.is_open or wait > self.max_wait:
                    if refused and counted:
                        self.record_failure(exc)
                    raise
                self.sleep(wait)
                attempt += 1
                continue
            self.consecutive_failures = 0
            self.last_answer = time.monotonic()
            return answer

    def record_failure(self, exc: TranslationError) -> None:
        """Count one failure towards the breaker (opening it if due, or as Retry-After says)."""
        if isinstance(exc, CircuitOpen):
            return
        self.consecutive_failures += 1
        self.last_error = str(exc).removeprefix(f"{self.name}: ")
        now = time.monotonic()
        asked = None if exc.retry_after is None else min(exc.retry_after, self.max_retry_after)
        if asked is not None and asked > self.max_wait:
            # The provider said when to come back, later than a cycle waits: not before then.
            self.asked_until = max(self.asked_until, now + asked)
            self.open_until = max(self.open_until, self.asked_until)
        if self.consecutive_failures >= self.failures_to_open:
            self.open_until = max(self.open_until, now + max(self.cooldown, asked or 0))

    def _call(self, text: str, source: str, target: str) -> str:
        with self._lock:
            wait = self._last_call + self.interval - time.monotonic()
            if wait > 0:
                self.sleep(wait)
            self._last_call = time.monotonic()
        self.requests += 1
        metrics.translation_request(self.name, source, target)
        box: dict[str, Any] = {}

        def work() -> None:
            try:
                box["answer"] = self.provider.translate(text, source, target)
            except BaseException as exc:  # handed back to the caller's thread
                box["error"] = exc

        thread = threading.Thread(target=work, name=f"translate-{self.name}", daemon=True)
        thread.start()
        thread.join(self.timeout)
        if thread.is_alive():
            raise TranslationError(
                f"{self.name}: no answer within {self.timeout:.0f}s", provider=self.name
            )
        if "error" in box:
            error = box["error"]
            if isinstance(error, TranslationError):
                raise error
            raise TranslationError(
                f"{self.name}: {short_reason(error)}", provider=self.name
            ) from error
        return box["answer"]
