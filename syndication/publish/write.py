"""Write: the rendered files to the output, minimally, as they are rendered.

Owns: the output a publish writes to (`Output`: a folder, through atomic writes that leave an
unchanged file untouched and are made durable a batch at a time, or an object store:
`publish/s3.py`), writing file by file as the stage renders them (the stage renders story
pages before the feeds and indexes that link to them), one file that cannot be written
stopping no other (and the first one named as published), files a killed publish left
half-written, which published files a folder no longer has (removed by hand), removing what a
publish no longer produces (named files when it follows the changes; a walk of every edition
folder, and of its notices' copies under `withdrawn/`, on a full publish), and what was
written, for the store to record.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from syndication.files import Staged, digest, remove_orphans, remove_stale
from syndication.lang import BASE_LANGUAGES, DERIVED
from syndication.media import WITHDRAWN_COPIES

RUNNING = ".publishing"
BATCH = 1000  # files staged in a folder before they are flushed and renamed into place


class Output(Protocol):
    """Where published files go, by path relative to the site's root ("kk/rss.xml")."""

    def begin(self, thorough: bool) -> None:
        """A publish starts: remove what a killed one left half-written (always when
        `thorough`, else when the last publish did not finish)."""

    def finish(self) -> None:
        """The publish wrote everything it meant to."""

    def tidy(self) -> None:
        """A publish with nothing to write: remove what a killed one left, if it did."""

    def has(self, path: str) -> bool:
        """Whether a file is published at `path`."""

    def put(self, path: str, data: bytes) -> bool:
        """Store `data` at `path` unless it holds those bytes already; True when written (or
        staged: see `flush`)."""

    def flush(self) -> list[tuple[str, OSError]]:
        """Make every file put so far published; those that could not be, and why."""

    def remove(self, path: str) -> bool:
        """Remove the file at `path`; True when there was one."""

    def remove_stale(self, keep: Collection[str], under: str) -> list[str]:
        """Remove the files below the folder `under` that are not in `keep`; those removed."""

    def missing(self, paths: Iterable[str]) -> list[str]:
        """Those of these files (published before) that are not there any more."""

    def explain(self, path: str, exc: OSError) -> str:
        """One line on why the file at `path` could not be written, naming it as published."""


class Folder:
    """The output as a local folder (`output:` in the YAML), written atomically, in the order
    put, `BATCH` files flushed to disk at a time."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.staged = Staged()
        self.failed: list[tuple[str, OSError]] = []
        self.spared = 0  # a killed publish's temporary files too young to remove yet

    def begin(self, thorough: bool) -> None:
        # A mark left while a publish runs: found at the start of the next, the last one was
        # killed. Walking the whole output for its temporary files only then keeps a publish
        # that follows change from costing O(files). Hidden: never served.
        mark = self.root / RUNNING
        if thorough or mark.exists():
            self.spared = remove_orphans(self.root)[1]
        self.root.mkdir(parents=True, exist_ok=True)
        mark.write_bytes(b"")

    def finish(self) -> None:
        # A restart within ORPHAN_AGE of the kill (systemd's RestartSec) finds the killed
        # publish's files too young to be sure of: the mark stays, and a later publish
        # sweeps again until none is left.
        if not self.spared:
            (self.root / RUNNING).unlink(missing_ok=True)

    def tidy(self) -> None:
        if (self.root / RUNNING).exists():
            self.spared = remove_orphans(self.root)[1]
            self.finish()

    def has(self, path: str) -> bool:
        return (self.root / path).is_file()

    def put(self, path: str, data: bytes) -> bool:
        written = self.staged.stage(self.root / path, data)
        if len(self.staged.pending) >= BATCH:
            self._commit()
        return written

    def flush(self) -> list[tuple[str, OSError]]:
        self._commit()
        failed, self.failed = self.failed, []
        return failed

    def _commit(self) -> None:
        for path, exc in self.staged.commit():
            self.failed.append((path.relative_to(self.root).as_posix(), exc))

    def remove(self, path: str) -> bool:
        target = self.root / path
        try:
            target.unlink()
        except FileNotFoundError:
            return False
        # Folders left empty (an expired archive page) go too, up to the edition's.
        folder = target.parent
        while folder != self.root and folder.parent != self.root:
            try:
                folder.rmdir()
            except OSError:
                break
            folder = folder.parent
        return True

    def remove_stale(self, keep: Collection[str], under: str) -> list[str]:
        return remove_stale(self.root, keep, under)

    def missing(self, paths: Iterable[str]) -> list[str]:
        # One listing of each folder, not a stat of each file: a story's pages are tens of
        # thousands in one folder (the cost: bench/README.md, "Files removed by hand").
        names: dict[str, list[str]] = {}
        for path in paths:
            folder, _, name = path.rpartition("/")
            names.setdefault(folder, []).append(name)
        gone: list[str] = []
        for folder, wanted in names.items():
            try:
                there = set(os.listdir(os.path.join(self.root, folder)))
            except OSError:  # the folder is gone, or a file stands where it was
                there = set()
            prefix = f"{folder}/" if folder else ""
            gone += [prefix + name for name in wanted if name not in there]
        return gone

    def explain(self, path: str, exc: OSError) -> str:
        # The published path, never the temporary file the error may name (or none: a write
        # to a full disk fails with no file name at all).
        return f"{self.root / path}: {exc.strerror or exc}"


@dataclass
class Writer:
    """One publish's writes to `output`: what was written, left as it was, failed, removed."""

    output: Output
    written: list[str] = field(default_factory=list)
    changed: list[tuple[str, str, int]] = field(default_factory=list)  # (path, sha256, size)
    unchanged: int = 0
    failed: list[tuple[str, OSError]] = field(default_factory=list)  # (path, why)
    removed: list[str] = field(default_factory=list)
    produced: set[str] = field(default_factory=set)  # every path this publish rendered

    def begin(self, thorough: bool) -> None:
        self.output.begin(thorough)

    def finish(self) -> None:
        self.output.finish()

    def tidy(self) -> None:
        self.output.tidy()

    def put(self, files: dict[str, bytes]) -> None:
        """Write each file whose bytes changed; a file that cannot be written stops no other."""
        for path, data in files.items():
            self.produced.add(path)
            try:
                if not self.output.put(path, data):
                    self.unchanged += 1
                    continue
            except OSError as exc:
                self.failed.append((path, exc))
                continue
            self.written.append(path)
            self.changed.append((path, digest(data), len(data)))

    def remove(self, paths: Iterable[str]) -> None:
        """Remove files this publish no longer produces (it named them)."""
        for path in paths:
            try:
                if path not in self.produced and self.output.remove(path):
                    self.removed.append(path)
            except OSError as exc:
                # Left in place for now: the publish is done again, and removes it then.
                self.failed.append((path, exc))

    def sweep(self, editions: Iterable[str], keep: Collection[str]) -> None:
        """Remove every file of an edition folder this publish did not produce (a full publish):
        withdrawn sources, topics and editions, expired pages, and the copies of notices
        (`withdrawn/{edition}/`) whose story is back or whose page went. Every folder an
        edition could have, configured or not: an edition dropped from the YAML must not stay
        published, frozen. Other folders in the output are not ours."""
        wanted = self.produced | set(keep)
        for edition in dict.fromkeys([*editions, *BASE_LANGUAGES, *DERIVED]):
            self.removed += self.output.remove_stale(wanted, edition)
            self.removed += self.output.remove_stale(wanted, f"{WITHDRAWN_COPIES}/{edition}")

    def flush(self) -> None:
        """Publish every file put so far; those that could not be are added to `failed`."""
        lost = self.output.flush()
        if lost:
            paths = {path for path, _ in lost}
            self.written = [path for path in self.written if path not in paths]
            self.changed = [change for change in self.changed if change[0] not in paths]
            self.failed += lost

    def check(self) -> None:
        """Publish every file put; raise OSError when one could not be written (after every
        other was)."""
        self.flush()
        if self.failed:
            first = self.output.explain(*self.failed[0])
            raise OSError(f"{len(self.failed)} file(s) not written, the first: {first}")
