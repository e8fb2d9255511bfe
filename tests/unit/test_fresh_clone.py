"""A fresh clone's `make test`: nothing outside the clone but what the `shared` fixture guards.

Owns: the guard in conftest.py that fails a test reading ../shared without the fixture, here
or in CI where ../shared is present (.ci/run also runs `make test` in a clone that has none).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import SHARED, SharedWithoutFixture

CORPUS_FILE = SHARED / "corpus" / "MANIFEST.tsv"


def test_reading_shared_without_the_fixture_fails_present_or_not() -> None:
    # The guard trips before the file system is asked, so a fresh clone fails the same way
    # (and not with a FileNotFoundError that a skip check might swallow).
    with pytest.raises(SharedWithoutFixture, match=r"test_fresh_clone\.py::.*`shared` fixture"):
        CORPUS_FILE.read_bytes()
    with pytest.raises(SharedWithoutFixture):
        open(os.path.relpath(CORPUS_FILE), "rb")  # noqa: SIM115 - a relative path is caught too
    with pytest.raises(SharedWithoutFixture):
        list((SHARED / "corpus").iterdir())
    with pytest.raises(SharedWithoutFixture):
        os.scandir(SHARED)
    # Asking whether it is there is no read: that is how a test decides to skip.
    assert isinstance(CORPUS_FILE.is_file(), bool)


def test_reading_through_the_fixture_is_allowed(shared: Path) -> None:
    manifest = (shared / "corpus" / "MANIFEST.tsv").read_text(encoding="utf-8")
    assert manifest.strip()
    assert any((shared / "corpus").iterdir())


def test_paths_beside_shared_are_not_guarded(tmp_path: Path) -> None:
    # "../shared-old" starts with the same letters but is another folder.
    twin = Path(str(SHARED) + "-not-shared") / "x"
    with pytest.raises(FileNotFoundError):
        twin.read_bytes()
