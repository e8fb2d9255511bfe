"""Text from outside (story titles, source titles and locations, errors, reasons a provider
gave) is shown by every command exactly as written: Rich never reads it as markup, so a
`[/x]` in it cannot end a command with a MarkupError, and a `[bold]` is not swallowed."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_cli, write_config
from tests.fakeprovider import FakeGoogle

TITLE = "Budget [/x] talks [bold]close[/bold]"


def _assert_shown(result_output: str, *texts: str) -> None:
    assert "Traceback" not in result_output and "MarkupError" not in result_output, result_output
    for text in texts:
        assert text in result_output, (text, result_output)


def test_outside_text_is_shown_as_written_by_every_command(
    tmp_path: Path, fake_google: FakeGoogle
) -> None:
    articles = tmp_path / "articles"
    articles.mkdir()
    (articles / "budget.md").write_text(
        f'---\ntitle: "{TITLE}"\ndate: 2025-05-04\nlanguage: en\n---\n'
        "Read more at [1]the ministry site[/1]. The minister [bold]said[/x] so.\n",
        encoding="utf-8",
    )
    config = write_config(
        tmp_path,
        sources=[
            {"id": "newsroom", "articles": "articles", "title": "[bold]Newsroom[/x]"},
            {"id": "partner", "url": "http://127.0.0.1:9/gone[/x][bold]"},
        ],
        translation={
            "chain": ["google"],
            "providers": {"google": {"base_url": fake_google.url}},
            "timeout": "5s",
        },
    )
    # A page without a result: the story fails (its reason no longer quotes the text sent;
    # the title is shown as written by `withdraw` below).
    fake_google.mode = "empty"
    once = run_cli("once", "--config", str(config))
    assert once.code == 1, once.output
    _assert_shown(once.output, "[/x]", "[bold]", "9/gone[/x][bold]")
    status = run_cli("status", "--config", str(config))
    assert status.code == 0, status.output
    _assert_shown(status.output, "9/gone[/x][bold]")
    listed = run_cli("sources", "list", "--config", str(config))
    assert listed.code == 0, listed.output
    _assert_shown(listed.output, "9/gone[/x][bold]")
    data = json.loads(run_cli("status", "--json", "--config", str(config)).stdout)
    story = data["failed"][0]["article"]
    withdrawn = run_cli(
        "withdraw", story, "--reason", "court order [/x] [bold]", "--config", str(config)
    )
    assert withdrawn.code == 0, withdrawn.output
    _assert_shown(withdrawn.output, "[/x] talks [bold]close[/bold]", "court order [/x] [bold]")
    status = run_cli("status", "--config", str(config))
    _assert_shown(status.output, "court order [/x] [bold]")
    unknown = run_cli("once", "--source", "[/x]", "--config", str(config))
    assert unknown.code == 2, unknown.output
    _assert_shown(unknown.output, "unknown source [/x]")
