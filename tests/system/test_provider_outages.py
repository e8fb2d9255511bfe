"""A provider that is down, as an operator sees it through the CLI: a Retry-After is honoured
but capped (README, "Translation"), `status` says which provider is down and until when,
`retry --failed` asks it again at once, a refused key leaves every story waiting whichever
provider refused it, and `once` tells failures the same way as `run` and in JSON logs."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_cli, write_config
from tests.fakeprovider import FakeGoogle
from tests.system.test_operations import Running, wait_until
from tests.system.test_worker import _free_port

CAP = 6 * 3600  # the longest Retry-After honoured (guard.MAX_RETRY_AFTER, README)


def _config(tmp_path: Path, fake: FakeGoogle, provider: str = "google") -> Path:
    settings: dict[str, Any] = {
        "google": {"base_url": fake.url},
        "openai": {"base_url": fake.chat_url, "api_key": "not-a-key", "model": "m"},
    }[provider]
    return write_config(
        tmp_path,
        translation={"chain": [provider], "providers": {provider: settings}, "timeout": "5s"},
    )


def _status(config: Path) -> dict[str, Any]:
    done = run_cli("status", "--json", "--config", str(config))
    assert done.code == 0, done.output
    return json.loads(done.stdout)


@pytest.mark.parametrize("retry_after", ["120", "999999"])
def test_a_retry_after_is_capped_shown_by_status_and_overridden_by_retry_failed(
    tmp_path: Path, fake_google: FakeGoogle, retry_after: str
) -> None:
    config = _config(tmp_path, fake_google)
    fake_google.mode, fake_google.retry_after = "429", retry_after
    first = run_cli("once", "--config", str(config))
    assert first.code == 1, first.output
    data = _status(config)
    (outage,) = data["outages"]
    assert outage["provider"] == "google" and "429" in outage["error"], outage
    left = (datetime.fromisoformat(outage["until"]) - datetime.now(UTC)).total_seconds()
    assert 0 < left <= min(float(retry_after), CAP), outage
    pending = sum(b["pending"] for b in data["backlog"].values())
    assert pending > 0, data
    shown = run_cli("status", "--config", str(config))
    assert "google down" in shown.stdout and outage["until"][:16].replace("T", " ") in (
        shown.stdout
    ), shown.stdout
    # The operator knows better (the key was renewed, the quota raised): asked again now.
    fake_google.mode = "ok"
    sent = len(fake_google.calls)
    retried = run_cli("retry", "--failed", "--config", str(config))
    assert retried.code == 0, retried.output
    assert len(fake_google.calls) > sent, retried.output
    assert f"{pending} pending" in retried.stdout, retried.stdout
    assert "sources" not in retried.stdout.split("translation:")[0], retried.stdout
    after = _status(config)
    assert after["outages"] == [], after["outages"]
    assert all(b["pending"] == 0 and b["failed"] == 0 for b in after["backlog"].values()), after


@pytest.mark.parametrize("provider", ["google", "openai"])
def test_a_refused_key_leaves_every_story_waiting_with_either_provider(
    tmp_path: Path, fake_google: FakeGoogle, provider: str
) -> None:
    config = _config(tmp_path, fake_google, provider)
    fake_google.mode = "403"
    first = run_cli("once", "--config", str(config))
    assert first.code == 1, first.output
    assert " 0 failed" in first.stdout and "HTTP 403" in first.stdout, first.stdout
    data = _status(config)
    assert data["failed"] == [], data["failed"]
    assert sum(b["pending"] for b in data["backlog"].values()) > 0, data["backlog"]
    assert any("HTTP 403" in w["reason"] for w in data["waiting"]), data["waiting"]


def test_once_logs_each_failed_translation_in_json(tmp_path: Path, fake_google: FakeGoogle) -> None:
    config = _config(tmp_path, fake_google)
    fake_google.mode = "empty"
    done = run_cli("--log-format", "json", "once", "--verbose", "--config", str(config))
    assert done.code == 1, done.output
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.strip()]
    failed = [line for line in lines if "article" in line and "failed" in line["message"]]
    assert failed, done.stderr
    assert all("unusable answer" in line["message"] for line in failed), failed
    assert {line["level"] for line in failed} == {"ERROR"}, failed


def test_once_and_run_word_the_same_failures_the_same_way(
    tmp_path: Path, fake_google: FakeGoogle
) -> None:
    def config(folder: Path) -> Path:
        folder.mkdir()
        return write_config(
            folder,
            translation={
                "chain": ["google"],
                "providers": {"google": {"base_url": fake_google.url}},
                "timeout": "5s",
            },
            serve={"host": "127.0.0.1", "port": _free_port()},
        )

    fake_google.mode = "empty"  # an answer without a result: each story fails
    once = run_cli("once", "--config", str(config(tmp_path / "once")))
    assert once.code == 1, once.output
    failed = re.search(r"(\d+) failed \(", once.stdout)
    assert failed and int(failed[1]) > 0 and "  failed " in once.stdout, once.stdout
    # The same stories through the worker: told as failed too, not as "not translated".
    worker = Running(config(tmp_path / "run"), tmp_path / "run.log")
    try:
        wait_until(
            lambda: "failed: google: unusable" in worker.output(),
            60,
            "the worker's line for the failed translations",
            worker,
        )
        assert "not translated" not in worker.output()
        assert worker.stop()[0] == 0
    finally:
        worker.kill()


def test_retry_failed_has_the_running_worker_ask_a_provider_its_retry_after_rests(
    tmp_path: Path, fake_google: FakeGoogle
) -> None:
    config = write_config(
        tmp_path,
        translation={
            "chain": ["google"],
            "providers": {"google": {"base_url": fake_google.url}},
            "timeout": "5s",
        },
        serve={"host": "127.0.0.1", "port": _free_port()},
    )
    fake_google.mode, fake_google.retry_after = "429", "999999"
    worker = Running(config, tmp_path / "run.log")
    try:
        wait_until(lambda: bool(_status(config).get("outages")), 60, "the outage", worker)
        fake_google.mode = "ok"
        retried = run_cli("retry", "--failed", "--config", str(config))
        assert retried.code == 0 and "asked the running worker" in retried.stdout, retried.output
        assert "provider google was left alone until" in retried.stdout, retried.stdout

        def translated() -> bool:
            backlog = _status(config)["backlog"].values()
            return all(b["pending"] == 0 and b["translated"] > 0 for b in backlog)

        wait_until(translated, 60, "every story translated", worker)
        assert _status(config)["outages"] == []
        assert worker.stop()[0] == 0
    finally:
        worker.kill()
