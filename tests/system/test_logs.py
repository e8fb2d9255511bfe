"""Log output as an operator's log collector reads it: `--log-format json` (or
SYNDICATION_LOG_FORMAT=json) gives one JSON object per stderr line, with the source a line is
about as its own key and every secret masked; the default stays Rich's human lines."""

from __future__ import annotations

import io
import json
import logging
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from syndication.logs import JsonFormatter
from tests.conftest import OFFLINE_TRANSLATION, Result, run_cli, write_config
from tests.feedserver import FeedServer

SECRET_ENV = {"FEED_TOKEN": "tok-VERYSECRET"}
# A Rich log line: optional [time], then the level name in its column.
RICH_LINE = re.compile(r"^(\[[^\]]+\])?\s+(DEBUG|INFO|WARNING|ERROR|CRITICAL)\s")


def _once(tmp_path: Path, feed_server: FeedServer, *args: str, env: dict[str, str]) -> Result:
    """`once -v` on the sample articles plus a partner whose feed is gone (HTTP 404)."""
    missing = feed_server.url("/missing.xml?token=${FEED_TOKEN}")
    config = write_config(
        tmp_path,
        sources=[
            {"id": "newsroom", "articles": "articles", "language": "kk"},
            {"id": "gone-partner", "url": missing},
        ],
        translation=OFFLINE_TRANSLATION,
    )
    return run_cli(*args, "once", "-v", "--config", str(config), env={**SECRET_ENV, **env})


@pytest.mark.parametrize(
    ("args", "env"),
    [(("--log-format", "json"), {}), ((), {"SYNDICATION_LOG_FORMAT": "json"})],
    ids=["option", "environment"],
)
def test_json_logs_are_one_object_per_line_with_the_source_and_no_secret(
    tmp_path: Path, feed_server: FeedServer, args: tuple[str, ...], env: dict[str, str]
) -> None:
    result = _once(tmp_path, feed_server, *args, env=env)
    assert result.code == 1, result.output  # the gone partner failed, nothing fatal
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    records = [json.loads(line) for line in lines if line.startswith("{")]
    assert records, result.stderr
    # What is not JSON is the command's own summary (`source … failed: …`), never a log line.
    assert not [line for line in lines if not line.startswith("{") and RICH_LINE.match(line)]
    for record in records:
        assert {"time", "level", "logger", "message"} <= record.keys(), record
        assert record["time"].endswith("Z")  # UTC
        datetime.fromisoformat(record["time"])
    failed = [r for r in records if r.get("source") == "gone-partner"]
    assert failed and failed[0]["level"] == "WARNING", records
    assert "HTTP 404" in failed[0]["message"]
    # The secret went into the message (the URL with its token) and came out masked.
    assert "token=***" in failed[0]["message"]
    assert "VERYSECRET" not in result.output
    ingested = [r for r in records if r.get("source") == "newsroom"]
    assert ingested and "4 new" in ingested[0]["message"], records


def test_human_logs_stay_the_default(tmp_path: Path, feed_server: FeedServer) -> None:
    result = _once(tmp_path, feed_server, env={})
    assert result.code == 1, result.output
    lines = result.stderr.splitlines()
    assert not any(line.startswith("{") for line in lines), result.stderr
    assert any(RICH_LINE.match(line) and "gone-partner" in line for line in lines), result.stderr
    assert "VERYSECRET" not in result.output


def test_an_unknown_log_format_is_a_usage_error() -> None:
    result = run_cli("--log-format", "xml", "version")
    assert result.code == 2 and "human" in result.output and "json" in result.output


def _formatted(
    formatter: JsonFormatter, log: logging.Logger, call: str, **kwargs: Any
) -> dict[str, Any]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    log.addHandler(handler)
    try:
        getattr(log, call)(*kwargs.pop("args"), **kwargs)
    finally:
        log.removeHandler(handler)
    text = stream.getvalue()
    assert text.count("\n") == 1, text  # one line, whatever the message holds
    return json.loads(text)


def test_json_lines_carry_context_keys_and_tracebacks() -> None:
    log = logging.getLogger("tests.logs.json")
    log.setLevel(logging.INFO)
    log.propagate = False
    record = _formatted(
        JsonFormatter(),
        log,
        "info",
        args=("translated %s\nin two lines", "Тоқаев 托卡耶夫"),
        extra={"article": "wire:1", "provider": "google", "edition": "kk", "other": "x"},
    )
    assert record["message"] == "translated Тоқаев 托卡耶夫\nin two lines"
    assert record["level"] == "INFO" and record["logger"] == "tests.logs.json"
    assert (record["article"], record["provider"], record["edition"]) == ("wire:1", "google", "kk")
    assert "other" not in record and "source" not in record and "exc" not in record
    try:
        raise ValueError("bad feed")
    except ValueError:
        failed = _formatted(JsonFormatter(), log, "exception", args=("parse failed",))
    assert failed["level"] == "ERROR"
    assert failed["exc"].startswith("Traceback") and "ValueError: bad feed" in failed["exc"]


def test_json_lines_mask_secrets_before_encoding() -> None:
    # A secret with a quote is spelt \" inside JSON: masking the encoded line would miss it.
    secret = 'pa"ss-VERYSECRET'
    log = logging.getLogger("tests.logs.secret")
    log.setLevel(logging.INFO)
    log.propagate = False
    record = _formatted(
        JsonFormatter(lambda text: text.replace(secret, "***")),
        log,
        "warning",
        args=("cannot fetch https://x.example/?key=%s", secret),
        extra={"source": f"odd-{secret}"},
    )
    assert record["message"] == "cannot fetch https://x.example/?key=***"
    assert record["source"] == "odd-***"
