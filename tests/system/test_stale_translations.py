"""A correction while the translation provider is down, as readers of each edition see it.

Owns: a translated edition still showing the translation of the text before the correction
(kept published, stale, so the story never drops out) does not announce it as updated, and
moves when the corrected translation arrives.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import run_cli, write_config
from tests.fakeprovider import FakeGoogle

STORY = (
    "---\ntitle: Астанада жаңа мектеп ашылды\ndate: 2025-05-01T09:00:00Z\nlanguage: kk\n{extra}"
    "---\nЕлордада {pupils} оқушыға арналған жаңа мектеп ашылды. Мектепте заманауи "
    "зертханалар бар.\n"
)


def _item(tmp_path: Path, edition: str) -> dict[str, Any]:
    feed = json.loads((tmp_path / "public" / edition / "feed.json").read_text("utf-8"))
    (item,) = feed["items"]
    return item


def test_a_stale_translation_is_not_announced_as_updated(
    tmp_path: Path, fake_google: FakeGoogle
) -> None:
    story = tmp_path / "stories" / "school.md"
    story.parent.mkdir()
    story.write_text(STORY.format(extra="", pupils="1200"), encoding="utf-8")
    config = write_config(
        tmp_path,
        editions=["kk", "en"],
        sources=[{"id": "newsroom", "articles": "stories"}],
        translation={
            "chain": ["google"],
            "providers": {"google": {"base_url": fake_google.url, "timeout": "2s"}},
        },
    )
    assert run_cli("once", "--config", str(config)).code == 0
    before = _item(tmp_path, "en")
    assert "1200" in before["content_html"]

    # The provider cannot take the corrected story (a 500 for it alone: no outage to wait).
    fake_google.poison = {"900"}
    story.write_text(
        STORY.format(extra="correction: Оқушылар саны қате көрсетілген.\n", pupils="900"),
        encoding="utf-8",
    )
    run_cli("once", "--config", str(config))
    kk = _item(tmp_path, "kk")
    assert "900" in kk["content_html"] and kk["date_modified"] > before["date_modified"]
    stale = _item(tmp_path, "en")
    # Still the translation of the text before the correction: not news to its readers.
    assert "1200" in stale["content_html"]
    assert stale["date_modified"] == before["date_modified"]

    fake_google.poison = set()
    assert run_cli("retry", "--failed", "--config", str(config)).code == 0
    after = _item(tmp_path, "en")
    assert "900" in after["content_html"]
    assert after["date_modified"] > before["date_modified"]
