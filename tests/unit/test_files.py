"""files.py: many files staged, made durable together and renamed into place."""

from __future__ import annotations

from pathlib import Path

import pytest

from syndication.files import PARALLEL_FLUSH_FROM, TEMP_SUFFIX, Staged


@pytest.mark.parametrize("count", [3, PARALLEL_FLUSH_FROM, 3 * PARALLEL_FLUSH_FROM])
def test_every_staged_file_lands_whole_and_no_temporary_file_stays(
    tmp_path: Path, count: int
) -> None:
    # Below PARALLEL_FLUSH_FROM the files are flushed one after the other; from it on, together.
    staged = Staged()
    for n in range(count):
        (tmp_path / f"d{n % 7}").mkdir(exist_ok=True)
        assert staged.stage(tmp_path / f"d{n % 7}" / f"{n}.xml", f"<n>{n}</n>".encode())
    assert not any((tmp_path / f"d{n % 7}" / f"{n}.xml").exists() for n in range(count))
    assert staged.commit() == []
    for n in range(count):
        assert (tmp_path / f"d{n % 7}" / f"{n}.xml").read_bytes() == f"<n>{n}</n>".encode()
    assert not list(tmp_path.rglob(f"*{TEMP_SUFFIX}"))
    again = Staged()
    assert not again.stage(tmp_path / "d0" / "0.xml", b"<n>0</n>")  # same bytes: untouched


def test_a_file_that_cannot_be_renamed_into_place_stops_no_other(tmp_path: Path) -> None:
    staged = Staged()
    paths = [tmp_path / f"{n}.html" for n in range(2 * PARALLEL_FLUSH_FROM)]
    for path in paths:
        staged.stage(path, b"page")
    paths[5].mkdir()  # a folder now stands where the file goes
    failed = staged.commit()
    assert [path for path, _ in failed] == [paths[5]]
    assert all(path.read_bytes() == b"page" for path in paths if path != paths[5])
    assert not list(tmp_path.glob(f".*{TEMP_SUFFIX}"))
