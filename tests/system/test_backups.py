"""README's Backups, followed as an operator follows it: a backup taken while the store is in
use, restored by the steps README gives, leaves the public output in step with the store.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from pathlib import Path

from syndication.items import slug
from tests.conftest import OFFLINE_TRANSLATION, run_cli, write_config
from tests.system.test_packaging import README, _code, _invocations

STORY = "newsroom:2025-05-02-astana-book-fair"  # in Kazakh: published offline


def _restore_commands() -> list[list[str]]:
    """The `syndication …` commands of README's "To restore" steps, in order, without the
    `--config` they give (the test's own is added)."""
    text = README.read_text(encoding="utf-8")
    section = re.search(r"^### Backups\n(.*?)(?=^### )", text, re.M | re.S)
    assert section, "README has no Backups section"
    found = re.search(r"\bTo\s+restore\b(.*)", section.group(1), re.S)
    assert found, "README's Backups says nothing on restoring"
    steps = found.group(1)
    # Its paragraph, and the commands' block when it shows one.
    block = re.search(r"^```[^\n]*\n.*?^```", steps, re.M | re.S)
    steps = steps[: block.end()] if block else steps.split("\n\n")[0]
    commands = []
    for line in _code(steps):
        for words in _invocations(line):
            if "--config" in words:
                at = words.index("--config")
                words = words[:at] + words[at + 2 :]
            commands.append(words)
    return commands


def _published(public: Path) -> tuple[bool, bool]:
    """Whether the story is in the kk feed, and whether its kk page is a withdrawal notice."""
    feed = json.loads((public / "kk" / "feed.json").read_text(encoding="utf-8"))
    listed = any(f",2025:{STORY}/" in item["id"] for item in feed["items"])
    page = (public / "kk" / "articles" / f"{slug(STORY)}.html").read_text(encoding="utf-8")
    return listed, 'content="withdrawn"' in page


def test_a_restore_as_readme_says_leaves_the_output_in_step_with_the_store(
    tmp_path: Path,
) -> None:
    config = write_config(tmp_path, translation=OFFLINE_TRANSLATION)
    assert run_cli("once", "--config", str(config)).code in (0, 1)
    public, store = tmp_path / "public", tmp_path / "data" / "test.db"
    assert _published(public) == (True, False)
    # The online backup (README: `.backup`, or Python's backup API where there is no sqlite3).
    backup = tmp_path / "backup.db"
    with sqlite3.connect(store) as source, sqlite3.connect(backup) as copy:
        source.backup(copy)
    withdrawn = run_cli("withdraw", STORY, "--reason", "after the backup", "--config", str(config))
    assert withdrawn.code == 0, withdrawn.output
    assert _published(public) == (False, True)

    # README's steps: the worker stopped, -wal and -shm deleted, the copy in place, then its
    # commands; then the worker starts (its first cycle: `once`).
    for leftover in ("test.db-wal", "test.db-shm"):
        (tmp_path / "data" / leftover).unlink(missing_ok=True)
    shutil.copyfile(backup, store)
    commands = _restore_commands()
    for words in commands:
        done = run_cli(*words, "--config", str(config))
        assert done.code == 0, (words, done.output)
    assert run_cli("once", "--config", str(config)).code in (0, 1)

    # The restored store has the story published: so must the feed and the page.
    assert _published(public) == (True, False), commands
