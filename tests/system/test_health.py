"""`/healthz` as an operator's probe reads it, through `syndication serve` and `syndication
run` in processes: it says what is wrong while readers would get nothing (the output folder
missing, empty or moved; the store partners' feeds come from unreadable); `run` forgetting
an error once its job works again is in test_operations.py's health test.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import OFFLINE_TRANSLATION, run_cli, write_config
from tests.system.test_operations import Running, running, wait_until  # noqa: F401
from tests.system.test_partners import Worker, _partners, started  # noqa: F401  (fixture)
from tests.system.test_worker import _free_port


def _health(port: int) -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)


def _status(port: int) -> int | None:
    """The /healthz status, or None while nothing listens yet."""
    try:
        return _health(port).status_code
    except httpx.TransportError:
        return None


def test_serve_health_says_when_there_is_nothing_to_serve(
    tmp_path: Path,
    started: Callable[..., Worker],  # noqa: F811
) -> None:
    """exploreI: `serve` created a missing output folder, empty, and its /healthz said ok while
    every file was 404 (a wrong `output:`, or the folder moved away)."""
    port = _free_port()
    config = write_config(
        tmp_path, serve={"host": "127.0.0.1", "port": port}, translation=OFFLINE_TRANSLATION
    )
    public = tmp_path / "public"
    server = started(config, tmp_path / "serve.log", "serve")
    wait_until(lambda: _status(port) is not None, 30, "serve listening", server)
    assert not public.exists()  # not made, empty, to hide the mistake
    said = server.output()
    assert f"{public} does not exist" in said and "syndication once" in said, said
    answer = _health(port)
    assert answer.status_code == 503
    assert answer.json()["failing"]["output"].startswith(f"{public} does not exist")
    assert answer.json()["store"] is None  # no partners: serve reads no store
    public.mkdir()
    assert "holds no index.html" in _health(port).json()["failing"]["output"]
    assert run_cli("once", "--config", str(config)).code in (0, 1)
    assert _health(port).json() == {"ok": True, "output": str(public), "store": None,
                                    "failing": {}}  # fmt: skip
    public.rename(tmp_path / "public.moved")
    assert _status(port) == 503
    (tmp_path / "public.moved").rename(public)
    assert _status(port) == 200
    assert httpx.get(f"http://127.0.0.1:{port}/kk/rss.xml", timeout=5).status_code == 200


def test_serve_health_says_when_the_partners_store_cannot_be_read(
    tmp_path: Path,
    started: Callable[..., Worker],  # noqa: F811
) -> None:
    """exploreI: `serve` never looked at the store it serves partners' feeds from."""
    port = _free_port()
    config = write_config(
        tmp_path,
        serve={"host": "127.0.0.1", "port": port},
        translation=OFFLINE_TRANSLATION,
        partners=_partners(khabar=False),
    )
    assert run_cli("once", "--config", str(config)).code in (0, 1)
    server = started(config, tmp_path / "serve.log", "serve")
    wait_until(lambda: _status(port) is not None, 30, "serve listening", server)
    report: dict[str, Any] = _health(port).json()
    assert (report["ok"], report["store"]) == (True, "reachable"), report
    store = tmp_path / "data" / "test.db"
    store.write_bytes(b"not a database at all\n" * 512)  # damaged in place
    wait_until(lambda: _status(port) == 503, 15, "an unhealthy answer", server)
    report = _health(port).json()
    assert report["store"] == "unreachable" and str(store) in report["failing"]["store"], report


def test_run_health_says_when_its_output_folder_holds_no_site(
    tmp_path: Path,
    running: Callable[..., Running],  # noqa: F811
) -> None:
    """exploreI: `run`'s /healthz said ok with its output folder moved away or emptied, while
    every public URL it served was 404 (serve's said so)."""
    port = _free_port()
    config = write_config(
        tmp_path,
        serve={"host": "127.0.0.1", "port": port},
        translation=OFFLINE_TRANSLATION,
        publish={"debounce": "0.5s", "every": "1h"},  # no publish of its own in this test
    )
    public = tmp_path / "public"
    worker = running(config, tmp_path / "run.log")
    answers: list[int] = []

    def answered() -> bool:
        status = _status(port)
        if status is not None:
            answers.append(status)
        return bool(answers)

    # A fresh worker publishes before it answers: not reported broken while it starts.
    wait_until(answered, 30, "run listening", worker)
    assert answers == [200], _health(port).json()
    # Its first poll's stories published: nothing more to publish within the hour.
    kk = public / "kk" / "rss.xml"
    wait_until(lambda: "Астанада" in kk.read_text("utf-8"), 30, "the samples published", worker)
    public.rename(tmp_path / "public.moved")
    answer = _health(port)
    assert answer.status_code == 503, answer.json()
    said = answer.json()["failing"]["output"]
    assert said.startswith(f"{public} does not exist: ") and "syndication publish" in said
    public.mkdir()  # replaced by an empty one
    answer = _health(port)
    assert answer.status_code == 503
    assert answer.json()["failing"]["output"].startswith(f"{public} holds no index.html: ")
    assert run_cli("publish", "--config", str(config)).code == 0  # asks the worker for one
    wait_until(lambda: _status(port) == 200, 30, "health again", worker)
    assert _health(port).json()["failing"] == {}
    assert httpx.get(f"http://127.0.0.1:{port}/kk/rss.xml", timeout=5).status_code == 200
    assert worker.stop()[0] == 0
