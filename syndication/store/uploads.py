"""What an object-store output holds, as the store remembers it.

Owns: per output (`target`) and key, the digest and size of the bytes last uploaded there
(what a publish compares with before uploading, so no publish lists the bucket), uploads that
failed since (retried by the next publish, shown by `status`), and forgetting keys deleted from
the object store.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, select

from syndication.model import utcnow
from syndication.store.base import StoreBase, chunks, iso, parse_iso
from syndication.store.schema import uploads


@dataclass(frozen=True)
class FailedUpload:
    target: str
    path: str
    error: str
    since: datetime | None


class UploadsMixin(StoreBase):
    def uploaded(self, target: str) -> dict[str, str]:
        """Every key of `target` the store knows of → the sha256 of the bytes it holds ("":
        nothing uploaded yet, only a failure recorded)."""
        with self.begin() as conn:
            rows = conn.execute(
                select(uploads.c.path, uploads.c.sha256).where(uploads.c.target == target)
            )
            return {row.path: row.sha256 for row in rows}

    def record_upload(self, target: str, path: str, sha256: str, size: int) -> None:
        """`path` of `target` now holds bytes with this digest (any failure recorded is over)."""
        with self.begin() as conn:
            key = and_(uploads.c.target == target, uploads.c.path == path)
            conn.execute(uploads.delete().where(key))
            conn.execute(
                uploads.insert().values(
                    target=target, path=path, sha256=sha256, size=size, uploaded_at=iso(utcnow())
                )
            )

    def record_upload_failure(self, target: str, path: str, error: str) -> None:
        """Uploading newer bytes to `path` failed; what it held before is still known."""
        with self.begin() as conn:
            key = and_(uploads.c.target == target, uploads.c.path == path)
            done = conn.execute(
                uploads.update().where(key).values(error=error, failed_at=iso(utcnow()))
            )
            if done.rowcount == 0:
                conn.execute(
                    uploads.insert().values(
                        target=target, path=path, error=error, failed_at=iso(utcnow())
                    )
                )

    def forget_uploads(self, target: str, paths: Iterable[str]) -> None:
        """Keys deleted from `target`: nothing to compare with, nothing failing there."""
        with self.begin() as conn:
            for chunk in chunks(list(paths)):
                conn.execute(
                    uploads.delete().where(
                        and_(uploads.c.target == target, uploads.c.path.in_(chunk))
                    )
                )

    def failed_uploads(self) -> list[FailedUpload]:
        """Uploads failing now, oldest failure first, whatever the output."""
        with self.begin() as conn:
            rows = conn.execute(
                select(uploads)
                .where(uploads.c.error != "")
                .order_by(uploads.c.failed_at, uploads.c.target, uploads.c.path)
            )
            return [
                FailedUpload(row.target, row.path, row.error, parse_iso(row.failed_at))
                for row in rows
            ]
