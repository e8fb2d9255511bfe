"""What a partner's entry in the YAML may not say, as an operator meets it in `check` and in
`syndication serve` (started on the file, or reloading it when it is saved).

Owns: a token the YAML holds part of (a `${VAR:-default}` fallback, text around `${VAR}`)
refused like a token written in full, at its `file:line`, without showing it, and never let in
by `serve`; a partner's `sources:`, `topics:` or `editions:` emptied (an empty list, or no
value) refused, never read as every source or edition, and a running `serve` keeping the
partner's entitlement when such a file is saved; and who pulls what under `serve` (no
`/metrics` there: `status` and the access log), as README's "For partners" says.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.conftest import OFFLINE_TRANSLATION, PARTNER_FEED, run_cli, write_config
from tests.system.test_operations import wait_until
from tests.system.test_partners import (  # noqa: F401  (started: fixture)
    ENV,
    KHABAR,
    Worker,
    _answers,
    _get,
    _items,
    _serving,
    _write,
    started,
)
from tests.system.test_worker import _free_port
from tests.unit.partners.test_partner_config import _line

IN_FILE = "default-token-abcdefghij"  # the token a `:-` default writes into the YAML
FEED = "/partners/culture/kk/rss.xml"


def _config(folder: Path, partner: dict[str, Any], **overrides: Any) -> tuple[Path, str]:
    """A configuration with one partner, serving on a free port: its path and address."""
    port = _free_port()
    settings = {"serve": {"host": "127.0.0.1", "port": port},
                "translation": OFFLINE_TRANSLATION, "partners": [partner]}  # fmt: skip
    config = write_config(folder, **(settings | overrides))
    return config, f"http://127.0.0.1:{port}"


@pytest.mark.parametrize(
    ("token", "said"),
    [
        # exploreF t/deflt.yaml: the variable unset, the default became the token.
        ("${UNSET_TOK:-" + IN_FILE + "}", "${UNSET_TOK:-…}: the default after ':-' is a token"),
        # Set here, the default is still in every copy of the file, for a shell without it.
        ("${KHABAR_TOKEN:-" + IN_FILE + "}", "${KHABAR_TOKEN:-…}: the default after ':-'"),
        # exploreF t/suffix.yaml, and a prefix.
        ("${KHABAR_TOKEN}x", "the text around ${KHABAR_TOKEN} is part of the token"),
        ("desk-${KHABAR_TOKEN}", "the text around ${KHABAR_TOKEN} is part of the token"),
    ],
)
def test_check_refuses_a_token_the_yaml_holds_part_of_at_its_line(
    tmp_path: Path, token: str, said: str
) -> None:
    config, _ = _config(tmp_path, {"id": "culture", "token": token})
    check = run_cli("check", "--config", str(config), env=ENV)
    assert check.code == 2, check.output
    line = _line(config, "token:")
    assert f"{config}:{line}: partners.0.token: {said}" in check.stderr, check.stderr
    assert "token: ${VAR} alone" in check.stderr and "token_sha256" in check.stderr
    assert IN_FILE not in check.output and KHABAR not in check.output


@pytest.mark.parametrize(
    ("token", "taken"),
    [("${UNSET_TOK:-" + IN_FILE + "}", IN_FILE), ("${KHABAR_TOKEN}x", KHABAR + "x")],
)
def test_serve_never_lets_in_a_token_the_yaml_holds_part_of(
    tmp_path: Path,
    started: Callable[..., Worker],  # noqa: F811
    token: str,
    taken: str,
) -> None:
    """exploreF: `serve` started on such a file answered the token it made. It must refuse
    the file (exit 2, naming the line), as it refuses a token written in full."""
    valid = {"id": "culture", "token": "${KHABAR_TOKEN}"}
    config, base = _config(tmp_path, valid)
    assert run_cli("once", "--config", str(config), env=ENV).code in (0, 1)  # stories to serve
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    _write(config, {**data, "partners": [{**valid, "token": token}]})
    server = started(config, tmp_path / "serve.log", "serve")
    while server.process.poll() is None:
        # Asked until the process ends; a serve that lets the token in fails here at once.
        assert not _answers(base, FEED, taken), "serve let in a token written in the YAML"
        time.sleep(0.2)
    assert server.process.returncode == 2, server.output()
    assert f"{config}:{_line(config, 'token:')}: partners.0.token: " in server.output()
    assert IN_FILE not in server.output() and KHABAR not in server.output()


def test_check_refuses_a_partners_emptied_sources_topics_or_editions(tmp_path: Path) -> None:
    """exploreF t/emptysources.yaml: `sources: []` gave the partner every source (and
    `topics: []` any story) while `editions: []` was refused; `editions:` with no value gave
    every edition."""
    digest = "ab" * 32
    config, _ = _config(
        tmp_path,
        {"id": "a", "token_sha256": digest, "sources": []},
        feeds={"topics": [{"id": "culture", "tags": ["culture"]}]},
    )
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["partners"] += [
        {"id": "b", "token_sha256": "cd" * 32, "topics": []},
        {"id": "c", "token_sha256": "ef" * 32, "sources": None},  # `sources:` with no value
        {"id": "d", "token_sha256": "12" * 32, "editions": None},
    ]
    _write(config, data)
    check = run_cli("check", "--config", str(config))
    assert check.code == 2, check.output
    lines = config.read_text(encoding="utf-8").splitlines()
    at = [n for n, text in enumerate(lines, 1) if text.strip() in ("sources: []", "topics: []",
                                                                   "sources: null",
                                                                   "editions: null")]  # fmt: skip
    assert check.stderr.count(f"{config}:") == 4, check.stderr
    for line, said in zip(
        at,
        [
            "partners.0.sources: an empty list: name at least one source, or remove the key "
            "to give every source",
            "partners.1.topics: an empty list: name at least one topic, or remove the key to "
            "give stories of any topic",
            "partners.2.sources: no value: name at least one source",
            "partners.3.editions: no value: name at least one edition, or remove the key to "
            "give every edition",
        ],
        strict=True,
    ):
        assert f"{config}:{line}: {said}" in check.stderr, check.stderr


def _ids(base: str, token: str) -> list[str]:
    return [str(item["id"]) for item in _items(_get(base, "/partners/khabar/kk/feed.json", token))]


def test_a_sources_list_emptied_under_serve_is_rejected_and_the_partner_keeps_its_own(
    tmp_path: Path,
    started: Callable[..., Worker],  # noqa: F811
) -> None:
    """The operator renegotiating a contract empties its list and saves: `serve` keeps the
    partner's entitlement (and says why), instead of opening it the whole catalogue."""
    config, base = _config(
        tmp_path,
        {"id": "khabar", "token": "${KHABAR_TOKEN}", "sources": ["newsroom"]},
        sources=[
            {"id": "newsroom", "articles": "articles", "language": "kk"},
            {"id": "wire", "file": str(PARTNER_FEED), "language": "ru"},
        ],
        translation={**OFFLINE_TRANSLATION, "untranslated": "original"},
    )
    assert run_cli("once", "--config", str(config), env=ENV).code in (0, 1)
    public = json.loads((tmp_path / "public" / "kk" / "feed.json").read_bytes())["items"]
    assert any(":wire:" in item["id"] for item in public)  # more than the partner's in kk
    server = started(config, tmp_path / "serve.log", "serve")
    wait_until(lambda: _answers(base, "/partners/khabar/kk/feed.json", KHABAR), 15,
               "serve answering khabar", server)  # fmt: skip
    before = _ids(base, KHABAR)
    assert before and all(":newsroom:" in i for i in before), before

    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["partners"][0]["sources"] = []
    _write(config, data)
    wait_until(lambda: "configuration reload" in server.output(), 15, "the reload", server)
    assert "rejected; serving the previous one" in server.output(), server.output()[-3000:]
    assert "partners.0.sources: an empty list" in server.output()
    assert _ids(base, KHABAR) == before


def test_under_serve_who_pulls_what_is_in_status_not_metrics(
    tmp_path: Path,
    started: Callable[..., Worker],  # noqa: F811
) -> None:
    """README ("For partners") named `/metrics` for who pulls what, but `serve` answers it
    404 (only `run` has it): there `status` shows each partner's requests."""
    base, config, server = _serving(tmp_path, started)
    assert httpx.get(f"{base}/metrics", timeout=10).status_code == 404

    def counted() -> bool:
        shown = json.loads(run_cli("status", "--json", "--config", str(config), env=ENV).stdout)
        return any(p["id"] == "khabar" and p["requests_24h"] > 0 for p in shown["partners"])

    wait_until(counted, 15, "khabar's requests in status", server)
