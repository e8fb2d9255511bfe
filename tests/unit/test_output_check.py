"""The output check every command makes before it starts: a folder that cannot be written is
refused by name, and workers starting together on one folder never trip over each other."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from syndication.cli.common import check_output
from syndication.config import load
from tests.conftest import run_cli, write_config


def test_workers_starting_together_all_find_the_folder_writable(tmp_path: Path) -> None:
    """A fleet's workers start at once on one output folder: each one's probe is its own."""
    config = load(write_config(tmp_path))

    def probes(_: int) -> None:
        for _ in range(300):
            check_output(config)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(probes, range(4)))  # a refusal raises here
    assert config.folder is not None and not any(config.folder.iterdir())  # no probe left


def test_an_output_that_is_a_file_is_refused_by_name(tmp_path: Path) -> None:
    (tmp_path / "public").write_text("not a folder\n", encoding="utf-8")
    once = run_cli("once", "--config", str(write_config(tmp_path)))
    said = " ".join(once.output.split())
    assert once.code == 3 and "output folder" in said and "public is not writable" in said
    assert "Traceback" not in once.output
