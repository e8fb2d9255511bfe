"""Shared fixtures: the fake translation provider, the loopback feed server, and a way to
write a configuration and run the real command line against it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fakeprovider import fake_google  # noqa: F401  (fixture)
from tests.feedserver import FeedServer

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "config" / "articles"
PARTNER_FEED = REPO / "config" / "feeds" / "partner-export.xml"
SHARED = REPO.parent / "shared"
# Translation pointed at a closed port: how the tests run a cycle "offline".
OFFLINE_TRANSLATION: dict[str, Any] = {
    "chain": ["google"],
    "providers": {"google": {"base_url": "http://127.0.0.1:9/m"}},
}


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run_cli(*args: str, timeout: float = 120, env: dict[str, str] | None = None) -> Result:
    """The real command line in a child process, exactly as an operator runs it."""
    full_env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", **(env or {})}
    done = subprocess.run(
        [sys.executable, "-m", "syndication", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        cwd=REPO,
    )
    return Result(done.returncode, done.stdout, done.stderr)


def write_config(folder: Path, **overrides: Any) -> Path:
    """A configuration in `folder` (paths relative to it), with sample local articles."""
    articles = folder / "articles"
    if not articles.exists():
        shutil.copytree(SAMPLES, articles)
    data: dict[str, Any] = {
        "site": {"base_url": "https://feeds.example.kz/"},
        "editions": ["kk", "zh", "en"],
        "store": "sqlite:///data/test.db",
        "output": "public",
        "sources": [{"id": "newsroom", "articles": "articles", "language": "kk"}],
        "translation": {"chain": ["google"], "timeout": "5s", "budget": "60s"},
    }
    data.update(overrides)
    path = folder / "syndication.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under `folder` with its bytes and mtime."""
    return {
        p.relative_to(folder).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    """Partner feeds served over real HTTP on 127.0.0.1, with a request log."""
    server = FeedServer().start()
    yield server
    server.stop()


@pytest.fixture
def shared() -> Path:
    if not (SHARED / "corpus").is_dir():
        pytest.skip("../shared/corpus is not here (a fresh clone has none)")
    return SHARED
