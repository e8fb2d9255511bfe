"""What `status` prints, through the real command line: `--json` is one JSON document on
stdout whatever is wrong (monitoring parses it), its times in one format, and the tables
show what the JSON holds."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.conftest import OFFLINE_TRANSLATION, run_cli, write_config

# README, "status --json": ISO 8601 UTC to the second.
STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00")


def _no_status(stdout: str, worker: dict[str, bool] | None = None) -> dict[str, Any]:
    """The document `status --json` prints when it has no store to report on: `worker` is
    not known (null) unless there is no store at all yet."""
    data = json.loads(stdout)
    assert data["store"] is None and data["worker"] == worker, data
    assert STAMP.fullmatch(data["generated"]), data["generated"]
    return data


def test_status_json_without_a_yaml_still_prints_json(tmp_path: Path) -> None:
    """No YAML where it is looked for: exit 2 as before, and stdout is still a document
    saying so (it was empty: monitoring parsing it got invalid input)."""
    missing = tmp_path / "nowhere.yaml"
    result = run_cli("status", "--json", "--config", str(missing))
    assert result.code == 2, result.output
    data = _no_status(result.stdout)
    assert data["config"] == str(missing.resolve())
    (problem,) = data["config_problems"]
    assert str(missing) in problem and "no such file" in problem
    # The default path, from a folder that has none (as `cd /tmp && syndication status`).
    default = run_cli("status", "--json", cwd=tmp_path, env={"SYNDICATION_CONFIG": ""})
    assert default.code == 2, default.output
    assert "no such file" in str(_no_status(default.stdout)["config_problems"])


def test_status_json_with_a_store_it_cannot_make_out_still_prints_json(tmp_path: Path) -> None:
    """`store: ${VAR}` (the file does not load) or `store: sqlite:///${VAR}/…` (it does)
    with VAR not set here: exit 2, the reason in `config_problems` and `hint`."""
    whole = write_config(tmp_path, store="${SYNDICATION_TEST_NOSTORE}")
    part = write_config(tmp_path / "part", store="sqlite:///${SYNDICATION_TEST_NOSTORE}/s.db")
    for config in (whole, part):
        result = run_cli("status", "--json", "--config", str(config))
        assert result.code == 2, result.output
        data = _no_status(result.stdout)
        reason = "needs SYNDICATION_TEST_NOSTORE, not set here"
        assert reason in data["hint"], data
        assert any(reason in problem for problem in data["config_problems"]), data
        assert "run `syndication once` first" not in result.stdout


def test_status_json_with_a_store_it_cannot_read_still_prints_json(tmp_path: Path) -> None:
    """Exit 3 (the store cannot be read) keeps its `fatal:` line on stderr, and stdout is
    still a document saying why."""
    config = write_config(tmp_path, store="sqlite:///data/damaged.db")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "damaged.db").write_text("not a database", encoding="utf-8")
    result = run_cli("status", "--json", "--config", str(config))
    assert result.code == 3, result.output
    data = _no_status(result.stdout)
    assert data["hint"].startswith("no status: store ") and "not a SQLite database" in data["hint"]
    assert data["config_problems"] == [] and "fatal:" in result.stderr


def test_status_json_times_are_to_the_second_in_utc(tmp_path: Path) -> None:
    """`generated` had microseconds and the local offset when there was no store yet."""
    config = write_config(tmp_path)
    empty = run_cli("status", "--json", "--config", str(config), env={"TZ": "Asia/Almaty"})
    assert empty.code == 0, empty.output
    assert "no store yet" in _no_status(empty.stdout, worker={"running": False})["hint"]
    config = write_config(tmp_path / "used", translation=OFFLINE_TRANSLATION)
    assert run_cli("once", "--config", str(config)).code == 1  # the translator is offline
    full = run_cli("status", "--json", "--config", str(config), env={"TZ": "Asia/Almaty"})
    assert full.code == 0, full.output
    data = json.loads(full.stdout)
    assert STAMP.fullmatch(data["generated"]) and STAMP.fullmatch(data["last_publish"]), data


def test_status_table_shows_each_partners_scope(tmp_path: Path) -> None:
    """README: `partners` lists each partner's entitlement; the table left out the sources
    and topics a partner is limited to (the JSON had them)."""
    narrow = {"id": "narrow", "token_sha256": "a" * 64, "sources": ["newsroom"]}
    config = write_config(
        tmp_path,
        translation=OFFLINE_TRANSLATION,
        feeds={"topics": [{"id": "culture", "title": {"en": "Culture"}, "tags": ["culture"]}]},
        partners=[{**narrow, "topics": ["culture"]}, {"id": "wide", "token_sha256": "b" * 64}],
    )
    assert run_cli("once", "--config", str(config)).code == 1  # the translator is offline
    result = run_cli("status", "--config", str(config))
    assert result.code == 0, result.output
    lines = [line.replace("┃", "│").split("│") for line in result.stdout.splitlines()]
    rows = {
        cells[1].strip(): [cell.strip() for cell in cells[1:-1]]
        for cells in lines
        if len(cells) > 3 and cells[1].strip() in ("partner", "narrow", "wide")
    }
    header = rows["partner"]
    assert "sources" in header and "topics" in header, header
    limited = dict(zip(header, rows["narrow"], strict=True))
    unlimited = dict(zip(header, rows["wide"], strict=True))
    assert (limited["sources"], limited["topics"]) == ("newsroom", "culture"), limited
    assert (unlimited["sources"], unlimited["topics"]) == ("all", "all"), unlimited
