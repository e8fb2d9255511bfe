"""Atomic, minimal writes of published files.

Owns: writing each file to a temporary file in the same folder and renaming it into place (a
reader never sees half a feed, even if the process is killed), and not touching a file whose
bytes would not change (so its mtime, ETag and every cache downstream stay valid).
"""

from __future__ import annotations

import hashlib
import os
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
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return True


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
