"""Log output formats: human (Rich, the default) or JSON lines for log collectors.

Owns: the `--log-format` choice (:class:`LogFormat`, remembered for the process by
:func:`choose`), the JSON-lines formatter, and building the one handler the command line
installs (:func:`handler`). Which logger logs at which level stays with the command line;
this module only decides how a record looks.

A JSON line is one object: ``time`` (ISO 8601, UTC), ``level``, ``logger``, ``message``, the
context keys in :data:`CONTEXT_KEYS` when the call gave them (``extra={"source": ...}``), and
``exc`` with the traceback when there is one. Log calls pass those keys so a collector can
filter on a source or an article without parsing the message.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TextIO

from rich.console import Console
from rich.logging import RichHandler

# Attributes a log call may set with `extra=` that JSON lines carry as their own keys.
CONTEXT_KEYS = ("source", "article", "provider", "edition", "partner")


class LogFormat(StrEnum):
    human = "human"
    json = "json"


_chosen = {"format": LogFormat.human}  # set once by the CLI's global option


def choose(log_format: LogFormat) -> None:
    """Remember the process's log format (the CLI's `--log-format`)."""
    _chosen["format"] = log_format


def chosen() -> LogFormat:
    return _chosen["format"]


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (newlines inside values are escaped).

    `redact` masks secrets in every string before encoding. The stream the line is written to
    may mask them again, but only the raw text: a secret holding a quote or a backslash is
    spelt differently once JSON-escaped, so masking before encoding is what makes it certain.
    """

    def __init__(self, redact: Callable[[str], str] | None = None) -> None:
        super().__init__()
        self.redact = redact or (lambda text: text)

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": self.redact(record.getMessage()),
        }
        for key in CONTEXT_KEYS:
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = self.redact(value if isinstance(value, str) else str(value))
        if record.exc_info:
            # Cached on the record like logging.Formatter does, for any other handler.
            record.exc_text = record.exc_text or self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc"] = self.redact(record.exc_text)
        if record.stack_info:
            entry["stack"] = self.redact(self.formatStack(record.stack_info))
        # ensure_ascii=False keeps Cyrillic and Han readable and lets a stream-level redaction
        # still recognise a non-ASCII secret.
        return json.dumps(entry, ensure_ascii=False, default=str)


# One line per partner request (syndication.partners.activity): written by a handler of its
# own, a plain line or a JSON object, since Rich's rendering of a line costs more than
# answering the request it tells of.
ACCESS_LOGGER = "syndication.access"


def access_handler(
    log_format: LogFormat, *, stream: TextIO, redact: Callable[[str], str] | None = None
) -> logging.Handler:
    """The access log's handler: `[2026-05-05 10:04:28] partner …` lines, or JSON lines."""
    access = logging.StreamHandler(stream)
    if log_format is LogFormat.json:
        access.setFormatter(JsonFormatter(redact))
    else:
        access.setFormatter(logging.Formatter("[%(asctime)s] %(message)s", "%Y-%m-%d %H:%M:%S"))
    return access


def handler(
    log_format: LogFormat,
    *,
    console: Console,
    stream: TextIO,
    redact: Callable[[str], str] | None = None,
) -> logging.Handler:
    """The handler for `log_format`: Rich on `console`, or JSON lines on `stream`."""
    if log_format is LogFormat.json:
        json_handler = logging.StreamHandler(stream)
        json_handler.setFormatter(JsonFormatter(redact))
        return json_handler
    # Times in ISO order, local to the machine like the rest of its logs.
    rich_handler = RichHandler(
        console=console,
        show_path=False,
        rich_tracebacks=False,
        log_time_format="[%Y-%m-%d %H:%M:%S]",
    )
    rich_handler.setFormatter(logging.Formatter("%(message)s"))
    return rich_handler
