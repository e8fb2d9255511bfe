"""Providers and the guard around every call, over HTTP to fakes on 127.0.0.1.

`Guarded` takes a `sleep` callable: tests pass one that records the waits (and may flip the
fake back to health), so back-off and Retry-After are checked without waiting for them.
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from syndication.config import ProviderSettings
from syndication.errors import TranslationError
from syndication.translate.guard import MAX_RETRY_AFTER, CircuitOpen, Guarded
from syndication.translate.providers import (
    PROVIDERS,
    OpenAICompatibleProvider,
    RequestRefused,
)
from tests.fakeprovider import FakeGoogle
from tests.loopback import LoopbackServer, send_json


def _google(fake: FakeGoogle, **guard: object) -> Guarded:
    provider = PROVIDERS["google"](ProviderSettings(base_url=fake.url))
    return Guarded(provider, **guard)  # type: ignore[arg-type]


def test_google_through_deep_translator_answers_in_the_target_script(
    fake_google: FakeGoogle,
) -> None:
    answer = _google(fake_google).translate("Сәлем, әлем [1]!", "kk", "zh")
    assert "[1]" in answer and any("\u4e00" <= ch <= "\u9fff" for ch in answer)
    assert (fake_google.calls[0].source, fake_google.calls[0].target) == ("kk", "zh-CN")


def test_a_hanging_provider_is_abandoned_after_the_timeout(fake_google: FakeGoogle) -> None:
    fake_google.mode = "hang"
    guard = _google(fake_google, timeout=0.5, retries=0)
    started = time.monotonic()
    with pytest.raises(TranslationError, match="no answer within"):
        guard.translate("Сәлем әлем", "kk", "en")
    assert time.monotonic() - started < 3


@pytest.mark.parametrize(("mode", "message"), [("500", "request failed"),
                                               ("429", "rate limited"),
                                               ("empty", "unusable answer")])  # fmt: skip
def test_transient_failures_are_retried_with_backoff_and_jitter(
    fake_google: FakeGoogle, mode: str, message: str
) -> None:
    fake_google.mode = mode
    waits: list[float] = []
    guard = _google(fake_google, retries=2, backoff=1.0, sleep=waits.append,
                    failures_to_open=10)  # fmt: skip
    with pytest.raises(TranslationError, match=message):
        guard.translate("Сәлем әлем", "kk", "en")
    assert len(fake_google.calls) == 3
    assert len(waits) == 2 and 0.5 <= waits[0] <= 1.5 and 1.0 <= waits[1] <= 3.0, waits
    # Recovery between attempts: the next attempt's answer is returned.
    fake_google.calls.clear()

    def recover(wait: float) -> None:
        fake_google.mode = "ok"

    guard = _google(fake_google, retries=2, sleep=recover)
    fake_google.mode = mode
    assert guard.translate("Сәлем әлем", "kk", "en") == "Salem alem"
    assert len(fake_google.calls) == 2


def test_the_circuit_opens_after_repeated_failures_and_closes_after_the_cooldown(
    fake_google: FakeGoogle,
) -> None:
    fake_google.mode = "500"
    guard = _google(fake_google, retries=0, failures_to_open=3, cooldown=0.3)
    for _ in range(3):
        with pytest.raises(TranslationError):
            guard.translate("Сәлем әлем", "kk", "en")
    with pytest.raises(CircuitOpen, match="request failed"):
        guard.translate("Сәлем әлем", "kk", "en")
    assert len(fake_google.calls) == 3, "an open circuit still called the provider"
    fake_google.mode = "ok"
    time.sleep(0.35)
    assert guard.translate("Сәлем әлем", "kk", "en") == "Salem alem"


@pytest.mark.parametrize("header", ["delta", "date"])
def test_google_429_retry_after_is_honoured_and_a_long_one_opens_the_circuit_till_then(
    fake_google: FakeGoogle, header: str
) -> None:
    def retry_after(seconds: int) -> str:
        if header == "delta":
            return str(seconds)
        return email.utils.formatdate(time.time() + seconds, usegmt=True)

    waits: list[float] = []

    def wait(seconds: float) -> None:
        waits.append(seconds)
        fake_google.mode = "ok"

    guard = _google(fake_google, retries=2, sleep=wait)
    fake_google.mode, fake_google.retry_after = "429", retry_after(7)
    assert guard.translate("Сәлем әлем", "kk", "en") == "Salem alem"
    assert len(waits) == 1 and 5.0 <= waits[0] <= 7.0, waits  # not a jittered backoff
    assert len(fake_google.calls) == 2
    # Beyond what a cycle may wait: no retry now, and no request at all until then.
    fake_google.mode, fake_google.retry_after = "429", retry_after(3600)
    waits.clear()
    with pytest.raises(TranslationError, match=r"rate limited \(HTTP 429, Retry-After"):
        guard.translate("Сәлем әлем", "kk", "en")
    assert waits == [] and len(fake_google.calls) == 3
    assert guard.is_open and guard.open_until - time.monotonic() > 3500
    fake_google.mode = "ok"
    with pytest.raises(CircuitOpen, match="HTTP 429"):
        guard.translate("Сәлем әлем", "kk", "en")
    assert len(fake_google.calls) == 3, "asked again before its Retry-After"


def test_a_refused_request_counts_once_towards_the_circuit_however_often_tried(
    fake_google: FakeGoogle,
) -> None:
    # One story's text answered 500 while every other is answered: its three attempts are
    # one failure, not an outage.
    fake_google.poison = {"Улытау"}
    guard = _google(fake_google, retries=2, sleep=lambda _: None, failures_to_open=3)
    with pytest.raises(RequestRefused, match=r"request failed \(HTTP 500\)"):
        guard.translate("Улытау облысы", "kk", "en")
    assert len(fake_google.calls) == 3 and not guard.is_open
    assert guard.translate("Сәлем әлем", "kk", "en") == "Salem alem"
    # Refused requests in a row still open it: every request failing is an outage.
    for _ in range(3):
        with pytest.raises(RequestRefused):
            guard.translate("Улытау облысы", "kk", "en")
    assert guard.is_open


def test_the_rate_limit_spaces_requests(fake_google: FakeGoogle) -> None:
    waits: list[float] = []
    guard = _google(fake_google, rpm=60, sleep=waits.append)
    guard.translate("Бірінші", "kk", "en")
    guard.translate("Екінші", "kk", "en")
    assert len(waits) == 1 and 0.9 <= waits[0] <= 1.0, waits


# -- an OpenAI-compatible endpoint: Retry-After is visible there -------------------------


class FakeChat:
    """`POST /v1/chat/completions`: answers 429 with Retry-After `throttle` times, then ok."""

    def __init__(self) -> None:
        self.throttle = 0
        self.retry_after = "7"
        self.bodies: list[dict[str, object]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.bodies.append(body)
                if fake.throttle:
                    fake.throttle -= 1
                    send_json(self, 429, {}, {"Retry-After": fake.retry_after})
                    return
                text = body["messages"][-1]["content"]
                send_json(self, 200, {"choices": [{"message": {"content": text.upper()}}]})

        self._server = LoopbackServer(Handler)

    @property
    def url(self) -> str:
        return self._server.url("/v1/")


@pytest.fixture
def fake_chat() -> Iterator[FakeChat]:
    server = FakeChat()
    yield server
    server._server.stop()


def test_retry_after_is_honoured_and_a_long_one_is_not_waited_for(fake_chat: FakeChat) -> None:
    waits: list[float] = []
    provider = OpenAICompatibleProvider(ProviderSettings(base_url=fake_chat.url, model="m"))
    guard = Guarded(provider, retries=2, sleep=waits.append)
    fake_chat.throttle = 1
    assert guard.translate("hello [1]", "en", "kk") == "HELLO [1]"
    assert waits == [7.0]
    # A Retry-After beyond what a cycle may wait fails now (retried next cycle), unslept.
    fake_chat.throttle, fake_chat.retry_after = 1, "3600"
    waits.clear()
    with pytest.raises(TranslationError, match="HTTP 429"):
        guard.translate("hello", "en", "kk")
    assert waits == []
    assert fake_chat.bodies[0]["model"] == "m"


def test_a_retry_after_of_days_keeps_the_provider_away_six_hours_at_most(
    fake_google: FakeGoogle,
) -> None:
    guard = _google(fake_google, retries=2, sleep=lambda _: None)
    fake_google.mode, fake_google.retry_after = "429", "999999"  # 11.6 days
    with pytest.raises(TranslationError, match="Retry-After 999999s"):
        guard.translate("Сәлем әлем", "kk", "en")
    left = guard.open_until - time.monotonic()
    assert MAX_RETRY_AFTER - 60 < left <= MAX_RETRY_AFTER, left
    assert guard.asked_until <= time.monotonic() + MAX_RETRY_AFTER
