"""The `partners:` section of the YAML: every mistake at its `file:line`, and a token that is
never kept, shown or recorded as written (only its SHA-256 stays in the settings)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from syndication.config import ConfigError, load
from tests.conftest import write_config

TOKEN = "a-long-random-partner-token-0123"
DIGEST = hashlib.sha256(b"another partner's token").hexdigest()


def _problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(path)
    return caught.value.problems


def _yaml(tmp_path: Path, partners: str, topics: str = "") -> Path:
    path = write_config(tmp_path)
    text = path.read_text(encoding="utf-8")
    if topics:
        text = text.replace("sources:\n", f"feeds:\n  topics:\n{topics}sources:\n", 1)
    path.write_text(text + "partners:\n" + partners, encoding="utf-8")
    return path


def _line(path: Path, needle: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(n for n, line in enumerate(lines, 1) if needle in line)


def test_a_partner_from_the_environment_keeps_only_the_tokens_digest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KHABAR_TOKEN", TOKEN)
    path = _yaml(
        tmp_path,
        "  - id: khabar\n    name: Khabar Agency\n    token: ${KHABAR_TOKEN}\n"
        "    editions: [kk, en]\n    rights: summary\n    rate: 120/min\n",
    )
    config = load(path)
    (partner,) = config.settings.partners
    assert partner.token_sha256 == hashlib.sha256(TOKEN.encode()).hexdigest()
    assert partner.rate_limit == (120, 60.0)
    assert TOKEN not in repr(config.settings) and TOKEN not in config.settings.model_dump_json()
    assert config.redact(f"GET /partners/khabar/kk/rss.xml?token={TOKEN}").endswith("token=***")
    recorded = json.dumps(config.in_use())
    assert TOKEN not in recorded and partner.token_sha256 not in recorded
    assert json.loads(recorded)["partners"] == [
        {
            "id": "khabar",
            "name": "Khabar Agency",
            "editions": ["kk", "en"],
            "sources": [],
            "topics": [],
            "rights": "summary",
            "rate": "120/min",
        }
    ]


def test_a_token_written_in_the_yaml_is_refused_at_its_line(tmp_path: Path) -> None:
    path = _yaml(tmp_path, f"  - id: khabar\n    token: {TOKEN}\n")
    (problem,) = _problems(path)
    assert problem.startswith(f"{path.resolve()}:{_line(path, 'token:')}: partners.0.token:")
    assert "${VAR}" in problem and "token_sha256" in problem
    assert TOKEN not in problem


@pytest.mark.parametrize(
    ("entry", "needle", "expected"),
    [
        ("  - id: a\n    token: ${SHORT}\n", "- id: a", "shorter than 16 characters"),
        ("  - id: a\n    token_sha256: abc\n", "token_sha256", "64 hex digits"),
        ("  - id: a\n    name: A\n", "- id: a", "token: ${VAR} or token_sha256"),
        ("  - id: a\n    token_sha256: " + DIGEST + "\n    rate: lots\n", "rate:", "120/min"),
        ("  - id: A B\n    token_sha256: " + DIGEST + "\n", "id: A B", "URL-safe id"),
        ("  - id: a\n    token_sha256: " + DIGEST + "\n    rights: most\n", "rights:", "full"),
    ],
)
def test_each_mistake_is_named_at_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, entry: str, needle: str, expected: str
) -> None:
    monkeypatch.setenv("SHORT", "abc")
    path = _yaml(tmp_path, entry)
    (problem,) = _problems(path)
    assert problem.startswith(f"{path.resolve()}:{_line(path, needle)}: partners.0"), problem
    assert expected in problem


def test_references_to_what_is_not_configured(tmp_path: Path) -> None:
    digest = DIGEST
    path = _yaml(
        tmp_path,
        f"  - id: a\n    token_sha256: {digest}\n    editions: [kk, fr]\n    sources: [wire]\n"
        f"    topics: [sport]\n  - id: a\n    token_sha256: {'cd' * 32}\n",
        topics="    - id: culture\n      tags: [culture]\n",
    )
    problems = _problems(path)
    assert problems == [
        f"{path.resolve()}:{_line(path, 'editions: [kk, fr]')}: partners.0.editions: unknown "
        "edition fr; expected some of kk, zh, en",
        f"{path.resolve()}:{_line(path, 'sources: [wire]')}: partners.0.sources: unknown source "
        "wire; expected some of newsroom",
        f"{path.resolve()}:{_line(path, 'topics: [sport]')}: partners.0.topics: unknown topic "
        "(feeds.topics) sport; expected some of culture",
        f"{path.resolve()}:{len(path.read_text().splitlines()) - 1}: partners.1.id: 'a' is "
        "already the id of partners.0; ids must be unique",
    ]


def test_an_environment_value_elsewhere_in_a_partner_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NAME", "Khabar")
    path = _yaml(tmp_path, f"  - id: a\n    name: ${{NAME}}\n    token_sha256: {DIGEST}\n")
    (problem,) = _problems(path)
    assert f":{_line(path, 'name:')}: partners.0.name: ${{NAME}}: environment values" in problem
