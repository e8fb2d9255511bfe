"""Write: the rendered site to its output, minimally, and what was written to the store.

Owns: the output a publish writes to (`Output`: a folder, through atomic writes that leave an
unchanged file untouched, or an object store: `publish/s3.py`), the order of writes
(article pages before the feeds and indexes that link to them), one file that cannot be
written stopping no other, files a killed publish left half-written, files of an edition this
publish no longer produces (withdrawn stories, dropped sources, topics and editions), and the
record of each written file (path, digest, size) in the store.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from syndication.files import digest, remove_orphans, remove_stale, write_if_changed
from syndication.lang import BASE_LANGUAGES, DERIVED
from syndication.publish.render import Rendered
from syndication.store import Store


class Output(Protocol):
    """Where published files go, by path relative to the site's root ("kk/rss.xml")."""

    def clean(self) -> None:
        """Remove what a killed publish left half-written."""

    def put(self, path: str, data: bytes) -> bool:
        """Store `data` at `path` unless it holds those bytes already; True when written."""

    def remove_stale(self, keep: Collection[str], under: str) -> list[str]:
        """Remove the files below the folder `under` that are not in `keep`; those removed."""


@dataclass(frozen=True)
class Folder:
    """The output as a local folder (`output:` in the YAML), written atomically."""

    root: Path

    def clean(self) -> None:
        remove_orphans(self.root)

    def put(self, path: str, data: bytes) -> bool:
        return write_if_changed(self.root / path, data)

    def remove_stale(self, keep: Collection[str], under: str) -> list[str]:
        kept = {self.root / path for path in keep}
        removed = remove_stale(self.root, kept, self.root / under)
        return [path.relative_to(self.root).as_posix() for path in removed]


@dataclass(frozen=True)
class Written:
    written: tuple[str, ...]  # paths written, in order
    unchanged: int  # files that already held the same bytes
    removed: tuple[str, ...]  # stale files removed


def write(output: Output, rendered: Rendered, store: Store, editions: Iterable[str]) -> Written:
    """Write what changed, record it, then remove what this publish no longer produces.

    Raises OSError when a file could not be written (after writing every other and recording
    them): the caller says so and publishes again; nothing stale is removed then.
    """
    output.clean()
    written: list[str] = []
    changed: list[tuple[str, str, int]] = []
    failed: list[OSError] = []
    unchanged = 0
    for path, data in _pages_first(rendered.files):
        try:
            if not output.put(path, data):
                unchanged += 1
                continue
        except OSError as exc:
            failed.append(exc)
            continue
        written.append(path)
        changed.append((path, digest(data), len(data)))
    if changed:
        store.record_published(changed)
    if failed:
        # The caller says so (exit 3, /healthz 503) and tries again; what was written stays.
        raise OSError(f"{len(failed)} file(s) not written, the first: {failed[0]}")
    keep = {*rendered.files, *rendered.kept}
    removed: list[str] = []
    # Every folder an edition could have, configured or not: an edition dropped from the
    # YAML must not stay published, frozen. Other folders in the output are not ours.
    for edition in dict.fromkeys([*editions, *BASE_LANGUAGES, *DERIVED]):
        removed += output.remove_stale(keep, edition)
    return Written(tuple(written), unchanged, tuple(removed))


def _pages_first(files: dict[str, bytes]) -> list[tuple[str, bytes]]:
    """Article pages before the feeds and indexes that link to them, so a reader never
    follows a new item to a page not written yet; otherwise in the order rendered."""
    return sorted(files.items(), key=lambda file: not is_page(file[0]))


def is_page(path: str) -> bool:
    """Whether `path` is a story's page (which feeds and indexes link to)."""
    return "/articles/" in path
