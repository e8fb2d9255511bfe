"""Atomic, minimal writes of files: published output and the operator's own YAML.

Owns: writing each file to a temporary file in the same folder and renaming it into place (a
reader never sees half a feed or half a configuration, even if the process is killed), many
files made durable together before any is renamed (`Staged`), not touching a file whose bytes
would not change (so its mtime, ETag and every cache downstream stay valid), and clearing what
a killed writer left behind. A leaf: it imports nothing of ours.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
import time
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

TEMP_SUFFIX = ".tmp"
# A temporary file lives for the milliseconds between its creation and its rename; one this
# old was left by a publisher that was killed, and nothing will ever rename it.
ORPHAN_AGE = 60.0


def holds(path: Path, data: bytes) -> bool:
    """Whether `path` holds exactly these bytes already."""
    try:
        return path.stat().st_size == len(data) and path.read_bytes() == data
    except FileNotFoundError:
        return False


def write_if_changed(path: Path, data: bytes) -> bool:
    """Write `data` to `path` atomically unless it already holds exactly these bytes."""
    if holds(path, data):
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, data, mode=0o644)
    return True


class Staged:
    """Atomic writes of many files made durable together.

    Each file goes at once to a temporary file beside its target; `commit` flushes every
    staged file to disk, then renames each into place in the order it was staged. Written one
    by one, each file waited for its own flush before the next was written (a third of a full
    publish's time: 12,000 files); flushed together they cost about a third less, and
    nothing waits between them; a batch of `PARALLEL_FLUSH_FROM` files or more is flushed by
    several threads at once (almost half less again). The guarantee is the same:
    no file is renamed into place before its bytes are on disk, so even a power cut leaves the
    old file or the new one, and a reader who follows a link finds what it links to (a story's
    page is staged before the feeds that link to it).
    """

    def __init__(self) -> None:
        self.pending: list[tuple[Path, Path]] = []  # (temporary file, target), in order

    def stage(self, path: Path, data: bytes) -> bool:
        """Stage `data` for `path` unless it already holds exactly these bytes."""
        if holds(path, data):
            return False
        path.parent.mkdir(parents=True, exist_ok=True)
        self.pending.append((temp_beside(path, data, 0o644, durable=False), path))
        return True

    def commit(self) -> list[tuple[Path, OSError]]:
        """Flush every staged file to disk, then rename each into place; the targets that
        failed, and why."""
        pending, self.pending = self.pending, []
        if not pending:
            return []
        failed: list[tuple[Path, OSError]] = []
        flushed: list[tuple[Path, Path]] = []
        for (temp, path), error in zip(pending, _flush_all([t for t, _ in pending]), strict=True):
            if error is not None:
                temp.unlink(missing_ok=True)
                failed.append((path, error))
            else:
                flushed.append((temp, path))
        for temp, path in flushed:
            try:
                os.replace(temp, path)
            except OSError as exc:
                temp.unlink(missing_ok=True)
                failed.append((path, exc))
        return failed


# From this many files on, a batch's fsyncs run on `FLUSHERS` threads at once (fsync leaves
# the GIL): the file system commits them together, 3,000 files in 0.69 s against 1.2 s one
# after the other on this machine's ext4. Never os.sync() nor syncfs(): they wait for every
# dirty page of the file system, another program's gigabytes too (a CI run once saw a worker
# stall 90 s in os.sync() while a container image was being written).
PARALLEL_FLUSH_FROM = 64
FLUSHERS = 8


def _flush_all(temps: list[Path]) -> list[OSError | None]:
    """fsync each file; the error of each, in order (None: on disk)."""
    if len(temps) < PARALLEL_FLUSH_FROM:
        return [_flushed(temp) for temp in temps]
    with ThreadPoolExecutor(FLUSHERS, thread_name_prefix="syndication-flush") as flushers:
        return list(flushers.map(_flushed, temps))


def _flushed(path: Path) -> OSError | None:
    try:
        _flush(path)
    except OSError as exc:
        return exc
    return None


def _flush(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes, mode: int | None = None) -> None:
    """Replace `path` with `data` whole or not at all.

    `mode` defaults to the existing file's (an operator's YAML keeps its permissions), else
    what the umask allows a new file.
    """
    temp = temp_beside(path, data, mode)
    try:
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def temp_beside(path: Path, data: bytes, mode: int | None = None, *, durable: bool = True) -> Path:
    """`data` in a hidden temporary file in `path`'s folder, flushed to disk (unless not
    `durable`: then the caller syncs before renaming, see `Staged`); the caller renames or
    removes it.

    Beside the target: os.replace is atomic only within one file system, and a YAML validated
    there resolves its relative paths exactly as the real one will.
    """
    if mode is None:
        mode = _mode_for(path)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    temp = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.chmod(temp, mode)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return temp


def _mode_for(path: Path) -> int:
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def remove_stale(root: Path, keep: Collection[str], under: str) -> list[str]:
    """Delete files below the folder `under` of `root` that this publish no longer produces
    (withdrawn pages), and the folders left empty; `keep` and what is returned are paths
    relative to `root`, with "/"."""
    removed: list[str] = []
    top = root / under
    if not top.is_dir():
        return removed
    # os.walk and strings: Path objects cost more than the walk itself over 12,000 files.
    for folder, _, names in os.walk(top, topdown=False):
        relative = os.path.relpath(folder, root).replace(os.sep, "/")
        for name in names:
            path = f"{relative}/{name}"
            if not name.startswith(".") and path not in keep:
                os.unlink(os.path.join(folder, name))
                removed.append(path)
        # Folders left empty (a source, topic or edition no longer configured) go too.
        if not os.listdir(folder):
            os.rmdir(folder)
    return removed


def remove_orphans(root: Path, older_than: float = ORPHAN_AGE) -> tuple[list[Path], int]:
    """Delete temporary files a killed publisher left behind (hidden `.name.*.tmp` files):
    those removed, and how many were spared as too young.

    Only files older than `older_than` seconds go, so a publisher still running elsewhere
    (the worker lock normally rules that out) never loses a file it is about to rename.
    """
    removed: list[Path] = []
    spared = 0
    if not root.is_dir():
        return removed, spared
    cutoff = time.time() - older_than
    for path in root.rglob(f".*{TEMP_SUFFIX}"):
        try:
            if not path.is_file():
                continue
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed.append(path)
            else:
                spared += 1
        except FileNotFoundError:  # renamed or removed meanwhile
            continue
    return removed, spared
