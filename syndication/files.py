"""Atomic, minimal writes of files: published output and the operator's own YAML.

Owns: writing each file to a temporary file in the same folder and renaming it into place (a
reader never sees half a feed or half a configuration, even if the process is killed), not
touching a file whose bytes would not change (so its mtime, ETag and every cache downstream
stay valid), and clearing what a killed writer left behind. A leaf: it imports nothing of ours.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
import time
from pathlib import Path

TEMP_SUFFIX = ".tmp"
# A temporary file lives for the milliseconds between its creation and its rename; one this
# old was left by a publisher that was killed, and nothing will ever rename it.
ORPHAN_AGE = 60.0


def write_if_changed(path: Path, data: bytes) -> bool:
    """Write `data` to `path` atomically unless it already holds exactly these bytes."""
    try:
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, data, mode=0o644)
    return True


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


def temp_beside(path: Path, data: bytes, mode: int | None = None) -> Path:
    """`data` in a hidden temporary file in `path`'s folder, flushed to disk; the caller renames
    or removes it.

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


def remove_stale(root: Path, keep: set[Path], under: Path) -> list[Path]:
    """Delete files below `under` that this publish no longer produces (withdrawn pages)."""
    removed = []
    if not under.is_dir():
        return removed
    for path in under.rglob("*"):
        if path.is_file() and path not in keep and not path.name.startswith("."):
            path.unlink()
            removed.append(path)
    # Folders left empty (a source, topic or edition no longer configured) go too.
    for folder in sorted((p for p in under.rglob("*") if p.is_dir()), reverse=True):
        if not any(folder.iterdir()):
            folder.rmdir()
    if not any(under.iterdir()):
        under.rmdir()
    return removed


def remove_orphans(root: Path, older_than: float = ORPHAN_AGE) -> list[Path]:
    """Delete temporary files a killed publisher left behind (hidden `.name.*.tmp` files).

    Only files older than `older_than` seconds go, so a publisher still running elsewhere
    (the worker lock normally rules that out) never loses a file it is about to rename.
    """
    removed = []
    if not root.is_dir():
        return removed
    cutoff = time.time() - older_than
    for path in root.rglob(f".*{TEMP_SUFFIX}"):
        try:
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink()
                removed.append(path)
        except FileNotFoundError:  # renamed or removed meanwhile
            continue
    return removed
