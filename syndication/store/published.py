"""Published files as the store keeps them.

Owns: each file the publisher wrote (path, digest, size, when), when a file last changed, and
when publishing last ran to the end.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select

from syndication.model import utcnow
from syndication.store.base import StoreBase, chunks, iso, parse_iso
from syndication.store.control import read_setting
from syndication.store.schema import published_files


class PublishedMixin(StoreBase):
    def record_published(self, files: Sequence[tuple[str, str, int]]) -> None:
        """Remember (path, sha256, size) of files the publisher just wrote."""
        stamp = iso(utcnow())
        rows = [{"path": p, "sha256": d, "size": n, "written_at": stamp} for p, d, n in files]
        # Delete-then-insert in batches: portable across databases, and a cold publish of
        # thousands of files costs two statements per batch instead of two per file.
        with self.begin() as conn:
            for chunk in chunks(rows):
                conn.execute(
                    published_files.delete().where(
                        published_files.c.path.in_([r["path"] for r in chunk])
                    )
                )
                conn.execute(published_files.insert(), list(chunk))

    def published(self) -> dict[str, tuple[str, int, datetime | None]]:
        with self.begin() as conn:
            return {
                row.path: (row.sha256, row.size, parse_iso(row.written_at))
                for row in conn.execute(select(published_files))
            }

    def published_paths(self) -> list[str]:
        """The path of every file recorded as published (what a publish looks for)."""
        with self.begin() as conn:
            return list(conn.execute(select(published_files.c.path)).scalars())

    def last_publish(self) -> datetime | None:
        """When publishing last ran to the end (whether or not a file changed)."""
        with self.begin() as conn:
            return parse_iso(read_setting(conn, "last_publish"))

    def last_file_change(self) -> datetime | None:
        """When a published file last changed."""
        with self.begin() as conn:
            value = conn.execute(select(func.max(published_files.c.written_at))).scalar()
        return parse_iso(value)
