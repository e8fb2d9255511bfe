"""A fake Google Translate on loopback, reached through deep-translator's real code over HTTP.

Owns: answering `GET /m?sl=..&tl=..&q=..` the way translate.google.com/m does (an HTML page
with a `result-container` div), translating by a deterministic letter-by-letter mapping into
the target language's script (keeping markup, URLs, numbers and `[1]`-style placeholders),
failure modes (429 with Retry-After, 500, a hang, an answer without a result, a 500 only for
texts holding a marker, a 403 as to a refused key), and a request log the tests assert on; the
same modes over an OpenAI-style `POST /v1/chat/completions` (`chat_url`). `FlakyGoogle` fails
a seeded share of requests (the chaos test's translator).
"""

from __future__ import annotations

import html
import json
import random
import re
import ssl
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

import pytest

from syndication.lang import PROVIDER_CODES
from tests.loopback import LoopbackServer

LATIN_TO_CYRILLIC = dict(
    zip("abcdefghijklmnopqrstuvwxyz", "абцдефгхийклмнопқрстұвшхың", strict=True)
)
CYRILLIC_TO_LATIN = dict(
    zip(
        "абвгдежзийклмнопрстуфхцчшщъыьэюяәғқңөұүһі",
        "abvgdejziiklmnoprstufhccsshyyeuaagqnouuhi",
        strict=True,
    )
)
RU_TO_KK = str.maketrans("окнгуеиОКНГУЕИ", "өқңғұәіӨҚҢҒҰӘІ")
KK_TO_RU = str.maketrans("өқңғұүәіһӨҚҢҒҰҮӘІҺ", "окнгууаихОКНГУУАИХ")
_CHAT_CODES = {name: code for code, name in PROVIDER_CODES["openai"].items()}
_KEEP = re.compile(r"(\[/?\d+\]|https?://\S+)")


def fake_translate(text: str, source: str, target: str) -> str:
    """Deterministic 'translation' into the target script; markup-like tokens untouched."""
    parts = _KEEP.split(text)
    out = []
    for index, part in enumerate(parts):
        out.append(part if index % 2 else _map(part, source, target))
    return "".join(out)


def _map(text: str, source: str, target: str) -> str:
    if target.startswith("zh"):
        return "".join(
            chr(0x4E00 + ord(ch) % 400) if ch.isalpha() and not _han(ch) else ch for ch in text
        )
    if target in ("kk", "ru"):
        if source in ("ru", "kk"):
            return text.translate(RU_TO_KK if target == "kk" else KK_TO_RU)
        return "".join(
            _case(LATIN_TO_CYRILLIC.get(ch.lower(), "ж") if _han(ch) or ch.isascii() else "ж", ch)
            if ch.isalpha()
            else ch
            for ch in text
        )
    # target en: everything to Latin letters
    return "".join(
        ("zi" if _han(ch) else _case(CYRILLIC_TO_LATIN.get(ch.lower(), "x"), ch))
        if ch.isalpha() and not ch.isascii()
        else ch
        for ch in text
    )


def _han(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff"


def _case(mapped: str, original: str) -> str:
    return mapped.upper() if original.isupper() else mapped


@dataclass(frozen=True)
class Call:
    source: str
    target: str
    text: str


class FakeGoogle:
    """Threaded HTTP server on 127.0.0.1 (an ephemeral port unless given; HTTPS with `tls`,
    as the container test serves it in place of translate.google.com); `mode` picks how it
    answers."""

    def __init__(self, port: int = 0, tls: ssl.SSLContext | None = None) -> None:
        self.calls: list[Call] = []
        self.mode = "ok"  # ok | 429 | 500 | 403 | hang | empty | echo
        self.retry_after = "1"  # the Retry-After header of a 429
        # A request whose text holds one of these is answered 500, whatever the mode: a story
        # the provider cannot take, while it answers every other.
        self.poison: set[str] = set()
        self.hang_seconds = 60.0
        # What the chat endpoint opens its answers with, by target language (an LLM's habit).
        self.preamble: dict[str, str] = {}
        self.latency = 0.0
        # While clear, every request waits for it to be set (up to a minute): a provider that
        # has not answered yet, for as long as a test wants.
        self.gate: threading.Event | None = None
        self._lock = threading.Lock()
        self._server = LoopbackServer(self._handler(), port=port, tls=tls)

    @property
    def url(self) -> str:
        return self._server.url("/m")

    @property
    def chat_url(self) -> str:
        """The base URL of the OpenAI-compatible provider (`openai: {base_url: …}`)."""
        return self._server.url("/v1/")

    def texts(self) -> list[str]:
        with self._lock:
            return [c.text for c in self.calls]

    def stop(self) -> None:
        self._server.stop()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args: object) -> None:
                pass

            def do_GET(self) -> None:
                query = parse_qs(urlsplit(self.path).query)
                source = query.get("sl", [""])[0]
                target = query.get("tl", [""])[0]
                text = query.get("q", [""])[0]
                with fake._lock:
                    fake.calls.append(Call(source, target, text))
                failed = self._failure(text)
                if failed is not None:
                    return self._send(*failed)
                if fake.mode == "empty":
                    return self._send(200, b"<html><body><p>nothing</p></body></html>")
                answer = self._answer(text, source, target)
                page = (
                    '<html><body><div class="result-container">'
                    f"{html.escape(answer)}</div></body></html>"
                )
                self._send(200, page.encode("utf-8"), {"Content-Type": "text/html; charset=utf-8"})

            def do_POST(self) -> None:
                # The chat-completions provider: the languages are named in its prompt.
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                prompt, text = (m["content"] for m in body["messages"][:2])
                found = re.search(r"from (.+?) to (.+?)\. Keep", prompt)
                source, target = (
                    (_CHAT_CODES.get(found[1], "en"), _CHAT_CODES.get(found[2], "en"))
                    if found
                    else ("en", "en")
                )
                with fake._lock:
                    fake.calls.append(Call(source, target, text))
                failed = self._failure(text)
                if failed is not None:
                    return self._send(*failed)
                answer = "" if fake.mode == "empty" else self._answer(text, source, target)
                if answer:
                    answer = fake.preamble.get(target, "") + answer
                reply = {"choices": [{"message": {"content": answer}}]}
                self._send(200, json.dumps(reply).encode(), {"Content-Type": "application/json"})

            def _failure(self, text: str) -> tuple[int, bytes, dict[str, str]] | None:
                if fake.latency:
                    time.sleep(fake.latency)
                if fake.gate is not None:
                    fake.gate.wait(60)
                if fake.mode == "429":
                    return 429, b"slow down", {"Retry-After": fake.retry_after}
                if fake.mode == "403":
                    return 403, b"forbidden: the key is not valid", {}
                if fake.mode == "500" or any(marker in text for marker in fake.poison):
                    return 500, b"oops", {}
                if fake.mode == "hang":
                    time.sleep(fake.hang_seconds)
                    return 500, b"late", {}
                return None

            def _answer(self, text: str, source: str, target: str) -> str:
                if fake.mode == "echo":
                    return text
                return fake_translate(text, source.split("-")[0], target.split("-")[0])

            def _send(
                self, status: int, body: bytes, headers: dict[str, str] | None = None
            ) -> None:
                try:
                    self.send_response(status)
                    for name, value in (headers or {}).items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        return Handler


@pytest.fixture
def fake_google() -> Iterator[FakeGoogle]:
    server = FakeGoogle()
    yield server
    server.stop()


class FlakyGoogle(FakeGoogle):
    """The fake Google failing a seeded share of its requests, the rest answered as usual.

    A failing request gets one of `failures`: `500`, `429` (with Retry-After: 1), `hang` (no
    answer for `hang_seconds`, then a 500: past a short translation timeout) or `drop` (the
    connection closed without an answer). Which requests fail is drawn from `random.Random(seed)`
    in the order requests arrive, so one seed gives one sequence of answers; set `fail_share`
    to 0 to make it healthy. `failed` counts what was served, by kind.
    """

    FAILURES = ("500", "429", "hang", "drop")

    def __init__(
        self,
        seed: int,
        fail_share: float = 0.3,
        failures: tuple[str, ...] = FAILURES,
        hang_seconds: float = 3.0,
    ) -> None:
        unknown = set(failures) - set(self.FAILURES)
        if unknown:
            raise ValueError(f"unknown failure kinds: {', '.join(sorted(unknown))}")
        self.fail_share = fail_share
        self.failures = failures
        self.failed: Counter[str] = Counter()
        self._dice = random.Random(seed)
        super().__init__()
        self.hang_seconds = hang_seconds

    def _roll(self) -> str | None:
        with self._lock:
            # Two draws every time, so the sequence does not depend on fail_share's history.
            fails = self._dice.random() < self.fail_share
            kind = self._dice.choice(self.failures)
            if fails:
                self.failed[kind] += 1
            return kind if fails else None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self
        healthy = super()._handler()

        class Handler(healthy):  # type: ignore[valid-type,misc]
            def do_GET(self) -> None:
                failure = fake._roll()
                if failure is None:
                    return super().do_GET()
                query = parse_qs(urlsplit(self.path).query)
                with fake._lock:
                    fake.calls.append(Call(query.get("sl", [""])[0], query.get("tl", [""])[0], ""))
                if failure == "500":
                    return self._send(500, b"oops")
                if failure == "429":
                    return self._send(429, b"slow down", {"Retry-After": "1"})
                if failure == "hang":
                    time.sleep(fake.hang_seconds)
                    return self._send(500, b"late")
                # drop: leave without a status line; the server closes the connection.
                self.close_connection = True
                return None

        return Handler
