"""Translation providers behind one small interface, and the guard around every call.

Owns: the providers (deep-translator's Google, MyMemory, Microsoft, DeepL, LibreTranslate,
Yandex, and an OpenAI-compatible chat-completions provider over httpx), the two kinds of
failure (the provider is unavailable, or it refused one request: `RequestRefused`), and
`Guarded`: a real timeout, retries with backoff and jitter honouring Retry-After, a
per-provider rate limit and a circuit breaker.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from syndication import http, metrics
from syndication.config import ProviderSettings
from syndication.errors import TranslationError
from syndication.lang import PROVIDER_CODES, provider_code, provider_supports

# Characters per request each provider accepts (Google sends text in a GET query string:
# ~1,800 Han or ~5,000 Cyrillic characters; MyMemory refuses 500 and more).
MAX_CHARS = {
    "google": 4500,
    "mymemory": 480,
    "microsoft": 9000,
    "deepl": 9000,
    "libre": 4500,
    "yandex": 9000,
    "openai": 6000,
}
# Google's limit is on the URL-encoded query: a Han character costs 9 bytes there.
MAX_CHARS_HAN = {"google": 1500}


class RequestRefused(TranslationError):
    """The provider answered this request with an error or an answer that cannot be read.

    Unlike a timeout, a refused connection or a rate limit, this may be the request's own
    fault (one story's text the provider cannot take) as well as an outage: the engine tells
    which by asking for the request's parts, and `Guarded` counts it once per request, not
    once per attempt.
    """


class Translator(Protocol):
    name: str

    def supports(self, source: str, target: str) -> bool: ...

    def max_chars(self, source: str) -> int: ...

    def translate(self, text: str, source: str, target: str) -> str: ...


@dataclass
class DeepTranslatorProvider:
    """A deep-translator class; a new instance per call, since instances keep the text."""

    name: str
    settings: ProviderSettings

    def supports(self, source: str, target: str) -> bool:
        return provider_supports(self.name, source, target)

    def max_chars(self, source: str) -> int:
        limit = self.settings.max_chars or MAX_CHARS[self.name]
        if source == "zh":
            limit = min(limit, MAX_CHARS_HAN.get(self.name, limit))
        return limit

    def translate(self, text: str, source: str, target: str) -> str:
        import requests
        from deep_translator import exceptions as dt

        try:
            translator = self._make(
                provider_code(self.name, source) or source,
                provider_code(self.name, target) or target,
            )
            answer = translator.translate(text)
        except dt.TooManyRequests as exc:
            wait = _retry_after(_failed_response(exc))
            raise TranslationError(
                f"{self.name}: rate limited (HTTP 429"
                + (f", Retry-After {wait:.0f}s)" if wait is not None else ")"),
                provider=self.name,
                retry_after=wait,
            ) from exc
        except (dt.RequestError, dt.ServerException) as exc:
            response = _failed_response(exc)
            detail = f"HTTP {response.status_code}" if response is not None else _short(exc)
            wait = _retry_after(response)
            # With a Retry-After (a 503 of an overloaded provider) the whole provider waits;
            # without, it may be this request's own fault.
            error = TranslationError if wait is not None else RequestRefused
            raise error(
                f"{self.name}: request failed ({detail})", provider=self.name, retry_after=wait
            ) from exc
        except requests.exceptions.Timeout as exc:
            raise TranslationError(f"{self.name}: timed out", provider=self.name) from exc
        except requests.exceptions.ConnectionError as exc:
            raise TranslationError(
                f"{self.name}: unreachable ({_reason(exc)})", provider=self.name
            ) from exc
        except requests.RequestException as exc:
            raise TranslationError(f"{self.name}: {_short(exc)}", provider=self.name) from exc
        except (
            dt.LanguageNotSupportedException,
            dt.InvalidSourceOrTargetLanguage,
            dt.ApiKeyException,
            dt.AuthorizationException,
        ) as exc:
            raise TranslationError(
                f"{self.name}: {_short(exc)}", provider=self.name, transient=False
            ) from exc
        except (dt.BaseError, ValueError, KeyError, AttributeError, TypeError) as exc:
            # deep-translator raises these on an answer it cannot read (no result element,
            # a JSON shape it does not expect): a bad answer, worth another try later.
            raise RequestRefused(
                f"{self.name}: unusable answer ({_short(exc)})", provider=self.name
            ) from exc
        if not isinstance(answer, str) or not answer.strip():
            raise RequestRefused(f"{self.name}: empty answer", provider=self.name)
        return answer

    def _make(self, source: str, target: str) -> Any:
        import deep_translator as dt

        s = self.settings
        secret = s.api_key.get_secret_value() if s.api_key else None
        if self.name == "google":
            translator = dt.GoogleTranslator(source=source, target=target)
        elif self.name == "mymemory":
            email = s.email.get_secret_value() if s.email else None
            translator = dt.MyMemoryTranslator(source=source, target=target, email=email)
        elif self.name == "microsoft":
            translator = dt.MicrosoftTranslator(
                source=source, target=target, api_key=secret, region=s.region
            )
        elif self.name == "deepl":
            translator = dt.DeeplTranslator(
                source=source, target=target, api_key=secret, use_free_api=not s.base_url
            )
        elif self.name == "libre":
            # LibreTranslator ignores base_url=; custom_url= is the argument it reads.
            translator = dt.LibreTranslator(
                source=source, target=target, api_key=secret or "-", custom_url=s.base_url
            )
        elif self.name == "yandex":
            translator = dt.YandexTranslator(source=source, target=target, api_key=secret)
        else:  # pragma: no cover - guarded by the registry
            raise TranslationError(f"unknown provider {self.name}", transient=False)
        if s.base_url and self.name in ("google", "mymemory"):
            # An operator's mirror or proxy endpoint (and our tests' local fake provider).
            translator._base_url = s.base_url
        return translator


@dataclass
class OpenAICompatibleProvider:
    """Any chat-completions endpoint (OpenAI, Ollama, vLLM, a hosted API) over httpx."""

    settings: ProviderSettings
    name: str = "openai"

    def supports(self, source: str, target: str) -> bool:
        codes = PROVIDER_CODES["openai"]
        return source in codes and target in codes

    def max_chars(self, source: str) -> int:
        return self.settings.max_chars or MAX_CHARS["openai"]

    def translate(self, text: str, source: str, target: str) -> str:
        codes = PROVIDER_CODES["openai"]
        base = (self.settings.base_url or "https://api.openai.com/v1/").rstrip("/")
        headers = {"Content-Type": "application/json"}
        if self.settings.api_key:
            headers["Authorization"] = f"Bearer {self.settings.api_key.get_secret_value()}"
        prompt = (
            f"Translate the news text below from {codes[source]} to {codes[target]}. Keep every "
            "bracketed marker such as [1], [/1] exactly as it is, keep blank lines between "
            "paragraphs, and answer with the translation only."
        )
        body = {
            "model": self.settings.model or "gpt-4o-mini",
            "temperature": 0,
            "messages": [
                {"role": "system", "content": prompt},
                {"role": "user", "content": text},
            ],
        }
        timeout = self.settings.timeout or 60.0
        try:
            response = http.post(
                f"{base}/chat/completions", json=body, headers=headers, timeout=timeout
            )
        except httpx.TimeoutException as exc:
            raise TranslationError(f"{self.name}: timed out", provider=self.name) from exc
        except httpx.HTTPError as exc:
            raise TranslationError(
                f"{self.name}: unreachable ({_short(exc)})", provider=self.name
            ) from exc
        status = response.status_code
        retry_after = _retry_after(response)
        if status == 429 or (status >= 500 and retry_after is not None):
            # Overloaded, and it says until when: the whole provider waits.
            raise TranslationError(
                f"{self.name}: HTTP {status}", provider=self.name, retry_after=retry_after
            )
        if status >= 500:
            raise RequestRefused(f"{self.name}: HTTP {status}", provider=self.name)
        if status in (400, 413, 422):
            # This request's content (a filter, its size): other requests may pass.
            raise RequestRefused(f"{self.name}: HTTP {status}", provider=self.name, transient=False)
        if status >= 400:
            raise TranslationError(
                f"{self.name}: HTTP {status}", provider=self.name, transient=False
            )
        try:
            answer = response.json()["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise RequestRefused(f"{self.name}: unusable answer", provider=self.name) from exc
        if not isinstance(answer, str) or not answer.strip():
            raise RequestRefused(f"{self.name}: empty answer", provider=self.name)
        return answer.strip()


def _deep(name: str) -> Callable[[ProviderSettings], Translator]:
    return lambda settings: DeepTranslatorProvider(name, settings)


# The names are the configuration's (`lang.PROVIDER_CODES`): `check` validates a chain by them.
PROVIDERS: dict[str, Callable[[ProviderSettings], Translator]] = {
    "google": _deep("google"),
    "mymemory": _deep("mymemory"),
    "microsoft": _deep("microsoft"),
    "deepl": _deep("deepl"),
    "libre": _deep("libre"),
    "yandex": _deep("yandex"),
    "openai": lambda settings: OpenAICompatibleProvider(settings),
}


def _failed_response(exc: BaseException) -> Any:
    """The HTTP response deep-translator held when it raised `exc`, or None.

    deep-translator raises its own exceptions without the response (`TooManyRequests()`
    loses Retry-After, `RequestError()` the status code), but the response is still a local
    of the frame that raised: reading it from the traceback keeps both with no patching of
    the library and no state shared between threads.
    """
    import requests

    found = None
    tb = exc.__traceback__
    while tb is not None:  # innermost last: the frame that raised
        candidate = tb.tb_frame.f_locals.get("response")
        if isinstance(candidate, requests.Response):
            found = candidate
        tb = tb.tb_next
    return found


def _retry_after(response: Any) -> float | None:
    """Seconds from a response's Retry-After header (seconds or an HTTP date), if any."""
    return None if response is None else http.parse_retry_after(response.headers.get("retry-after"))


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]


def _reason(exc: BaseException) -> str:
    text = str(exc)
    for marker in (
        "Name or service not known",
        "Connection refused",
        "Temporary failure in name resolution",
        "Network is unreachable",
        "timed out",
    ):
        if marker in text:
            return marker.lower()
    return _short(exc)


class CircuitOpen(TranslationError):
    pass


class Guarded:
    """Wraps a provider: timeout, retries with backoff and jitter, rate limit, circuit breaker.

    The breaker opens after `failures_to_open` failures in a row: every attempt counts when
    the provider is unavailable (unreachable, timed out, rate limited), a refused request
    (`RequestRefused`) counts once however often it was tried, and a Retry-After longer than
    a cycle may wait opens it at once until then.

    deep-translator sets no timeout on its requests, so each call runs in a daemon thread we
    stop waiting for; the thread ends when the socket finally gives up.
    """

    def __init__(
        self,
        provider: Translator,
        *,
        timeout: float = 20.0,
        retries: int = 2,
        backoff: float = 1.0,
        max_wait: float = 30.0,
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
        self.interval = 60.0 / rpm if rpm else 0.0
        self.failures_to_open = failures_to_open
        self.cooldown = cooldown
        self.sleep = sleep
        self.requests = 0
        self.consecutive_failures = 0
        self.open_until = 0.0
        self.last_error = ""
        self.last_answer = -math.inf
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
        if exc.retry_after is not None and exc.retry_after > self.max_wait:
            # The provider said when to come back, later than a cycle waits: not before then.
            self.open_until = max(self.open_until, now + exc.retry_after)
        if self.consecutive_failures >= self.failures_to_open:
            self.open_until = max(self.open_until, now + max(self.cooldown, exc.retry_after or 0))

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
            raise TranslationError(f"{self.name}: {_short(error)}", provider=self.name) from error
        return box["answer"]
