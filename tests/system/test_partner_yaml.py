"""What a partner's entry in the YAML may not say, as an operator meets it in `check` and in
`syndication serve` started on the file.

Owns: a token the YAML holds part of (a `${VAR:-default}` fallback, text around `${VAR}`)
refused like a token written in full, at its `file:line`, without showing it, and never let in
by `serve`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import OFFLINE_TRANSLATION, run_cli, write_config
from tests.system.test_partners import (  # noqa: F401  (started: fixture)
    ENV,
    KHABAR,
    Worker,
    _answers,
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
