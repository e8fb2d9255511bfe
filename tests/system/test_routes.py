"""Provider routing in YAML: a chain per language pair (`translation.routes`), the default
chain for the rest, and `check` refusing a pair no provider can translate."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.conftest import run_cli, write_config
from tests.fakeprovider import FakeGoogle


def test_a_route_sends_its_pairs_to_its_own_chain(tmp_path: Path, fake_google: FakeGoogle) -> None:
    config = write_config(
        tmp_path,
        translation={
            # The default chain is down; only pairs into Chinese have a working route.
            "chain": ["mymemory"],
            "routes": [{"from": "*", "to": "zh", "chain": ["google"]}],
            "providers": {
                "google": {"base_url": fake_google.url},
                "mymemory": {"base_url": "http://127.0.0.1:9/get"},
            },
        },
    )
    assert run_cli("check", "--config", str(config)).code == 0
    result = run_cli("once", "--config", str(config))
    assert result.code == 1, result.output  # kk and en translations wait for mymemory
    assert {call.target for call in fake_google.calls} == {"zh-CN"}
    with sqlite3.connect(tmp_path / "data" / "test.db") as conn:
        rows = dict(
            conn.execute(
                "SELECT language, group_concat(DISTINCT status) FROM translations GROUP BY language"
            )
        )
    assert rows == {"zh": "translated", "kk": "pending", "en": "pending"}, rows


def test_check_refuses_a_pair_no_route_or_chain_covers(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        translation={
            "chain": ["deepl"],
            "routes": [{"from": "kk", "to": ["zh", "en"], "chain": ["google"]}],
        },
    )
    result = run_cli("check", "--config", str(config))
    assert result.code == 2, result.output
    # kk pairs are routed to google; pairs into Kazakh still have no provider.
    assert "zh→kk" in result.output and "en→kk" in result.output
    assert "kk→zh" not in result.output


def test_unknown_provider_in_a_route_is_reported_with_its_line(tmp_path: Path) -> None:
    config = write_config(
        tmp_path, translation={"routes": [{"from": "ru", "to": "kk", "chain": ["babelfish"]}]}
    )
    result = run_cli("check", "--config", str(config))
    assert result.code == 2
    assert "babelfish" in result.output and "syndication.yaml:" in result.output
