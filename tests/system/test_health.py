"""`/healthz` as an operator's probe reads it, through `syndication run` in a process: it
forgets an error once the job that had it works again.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.conftest import OFFLINE_TRANSLATION, write_config
from tests.system.test_operations import wait_until
from tests.system.test_partners import Worker, started  # noqa: F401  (fixture)
from tests.system.test_worker import _free_port, _wait_for_index


def _health(port: int) -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)


def _status(port: int) -> int | None:
    """The /healthz status, or None while nothing listens yet."""
    try:
        return _health(port).status_code
    except httpx.TransportError:
        return None


def test_run_forgets_an_error_once_its_job_works_again(
    tmp_path: Path,
    started: Callable[..., Worker],  # noqa: F811
) -> None:
    """exploreI: `last_error` kept saying a publish failure, with no time, long after publishes
    worked again, while `ok` was true."""
    port = _free_port()
    config = write_config(
        tmp_path,
        serve={"host": "127.0.0.1", "port": port},
        translation=OFFLINE_TRANSLATION,
        publish={"debounce": "0.5s", "every": "2s"},
    )
    worker = started(config, tmp_path / "run.log")
    _wait_for_index(f"http://127.0.0.1:{port}/", worker.process)
    healthy = _health(port).json()
    assert (healthy["ok"], healthy["last_error"], healthy["last_error_at"]) == (True, "", None)
    kk = tmp_path / "public" / "kk"
    shutil.rmtree(kk)
    kk.write_text("a file where the kk folder should be\n", encoding="utf-8")
    wait_until(lambda: _status(port) == 503, 15, "an unhealthy answer", worker)
    failed = _health(port).json()
    assert failed["last_error"] == failed["failing"]["publish"] and str(kk) in failed["last_error"]
    assert failed["last_error_at"] is not None
    kk.unlink()
    wait_until(lambda: _status(port) == 200, 15, "health again", worker)
    again = _health(port).json()
    assert (again["last_error"], again["last_error_at"], again["failing"]) == ("", None, {})
    assert worker.stop()[0] == 0
