"""Translation providers behind one small interface (`Provider`), each call one request.

Owns: the providers (deep-translator's Google, MyMemory, Microsoft, DeepL, LibreTranslate,
Yandex, and an OpenAI-compatible chat-completions provider over httpx), their size limits,
the registry the configuration names them by, and the two kinds of failure a call ends in
(the provider is unavailable or refuses our key: `TranslationError`, with Retry-After when it
said so; or it refused this one request: `RequestRefused`). Retrying, rate limiting and the
breaker are `guard`'s.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from syndication import http
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


class Provider(Protocol):
    """One translation service: its name, what it translates, how much text per request."""

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
            status = response.status_code if response is not None else None
            if status in REFUSED_ACCESS:
                raise _refused_access(self.name, status) from exc
            detail = f"HTTP {status}" if status is not None else short_reason(exc)
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
            raise TranslationError(f"{self.name}: {short_reason(exc)}", provider=self.name) from exc
        except (
            dt.LanguageNotSupportedException,
            dt.InvalidSourceOrTargetLanguage,
            dt.ApiKeyException,
            dt.AuthorizationException,
        ) as exc:
            raise TranslationError(
                f"{self.name}: {short_reason(exc)}", provider=self.name, transient=False
            ) from exc
        except (dt.BaseError, ValueError, KeyError, AttributeError, TypeError) as exc:
            # deep-translator raises these on an answer it cannot read (no result element,
            # a JSON shape it does not expect): a bad answer, worth another try later. Its own
            # errors quote the text sent (`val`), and the reason may be told of other stories
            # (the provider's last error): only the message is kept.
            detail = exc.message if isinstance(exc, dt.BaseError) else short_reason(exc)
            raise RequestRefused(
                f"{self.name}: unusable answer ({detail})", provider=self.name
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
                f"{self.name}: unreachable ({short_reason(exc)})", provider=self.name
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
        if status in REFUSED_ACCESS:
            raise _refused_access(self.name, status)
        if status >= 400:
            # A wrong address or model (404 …): the provider's set-up, not this story's text.
            raise TranslationError(
                f"{self.name}: request failed (HTTP {status})", provider=self.name, transient=False
            )
        try:
            answer = response.json()["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise RequestRefused(f"{self.name}: unusable answer", provider=self.name) from exc
        if not isinstance(answer, str) or not answer.strip():
            raise RequestRefused(f"{self.name}: empty answer", provider=self.name)
        return answer.strip()


# A key refused, or no access: the provider's set-up, not any one story's fault. Every
# provider says it the same way, a provider-wide failure (its stories wait, pending, as in
# an outage: README, "Translation") that is not retried within the cycle.
REFUSED_ACCESS = (401, 403)


def _refused_access(name: str, status: int) -> TranslationError:
    return TranslationError(
        f"{name}: request failed (HTTP {status}: the provider refused the key or the access)",
        provider=name,
        transient=False,
    )


def _deep(name: str) -> Callable[[ProviderSettings], Provider]:
    return lambda settings: DeepTranslatorProvider(name, settings)


# The names are the configuration's (`lang.PROVIDER_CODES`): `check` validates a chain by them.
PROVIDERS: dict[str, Callable[[ProviderSettings], Provider]] = {
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


def short_reason(exc: BaseException) -> str:
    """The first line of what an exception says (its type when it says nothing), cut short."""
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
    return short_reason(exc)
