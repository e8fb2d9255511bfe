"""What publishing remembers between publishes: versions, each feed's stories, the mark.

Owns: `story_versions` (each version of a story in an edition as first published: usable,
canceled or withheld, with the digest of what a reader saw), `feed_entries` (the stories of
each feed in the order they entered it, the ranks archive pages are cut from; see
`syndication.paging`), and the
record of one publish written in one transaction: the versions and entries it added, the files
it wrote (one batched upsert) and removed, and its mark (the last change number it accounts
for, and the settings it ran under). What a version or a page is, the publish stage decides.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, delete, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from syndication.model import utcnow
from syndication.store.base import StoreBase, chunks, iso, parse_iso
from syndication.store.schema import feed_entries, meta, published_files, story_versions

USABLE, CANCELED = "usable", "canceled"
# Put under embargo after it was published: the version's digest is when the embargo ends
# (ISO 8601), so a new end is a new version.
WITHHELD = "withheld"


@dataclass(frozen=True, slots=True)
class Version:
    """The latest version of a story in an edition."""

    article_id: str
    edition: str
    version: int
    status: str  # usable | canceled | withheld
    digest: str
    seq: int
    at: datetime


@dataclass(frozen=True, slots=True)
class Entry:
    """A story's place in a feed: its rank (0 = the first to enter) and when it entered."""

    feed: str
    rank: int
    article_id: str
    at: datetime


@dataclass
class PublishRecord:
    """What one publish leaves in the store, written in one transaction at its end."""

    versions: list[Version] = field(default_factory=list)  # new versions (their seq is given here)
    entries: list[Entry] = field(default_factory=list)  # new feed_entries rows
    rebuilt: set[str] = field(default_factory=set)  # feeds whose entries were all replaced
    dropped: set[str] = field(default_factory=set)  # feeds no longer published
    files: list[tuple[str, str, int]] = field(default_factory=list)  # (path, sha256, size)
    removed: list[str] = field(default_factory=list)  # paths no longer published
    settings: dict[str, str] = field(default_factory=dict)  # the mark and friends (meta)


class FeedsMixin(StoreBase):
    # -- versions -----------------------------------------------------------------------

    def latest_versions(self, ids: Iterable[str]) -> dict[tuple[str, str], Version]:
        """The latest version of each of these stories in every edition it has one in."""
        found: dict[tuple[str, str], Version] = {}
        with self.begin() as conn:
            for chunk in chunks(list(dict.fromkeys(ids))):
                query = (
                    select(story_versions)
                    .where(story_versions.c.article_id.in_(chunk))
                    .order_by(story_versions.c.seq)
                )
                for row in conn.execute(query):
                    found[(row.article_id, row.edition)] = _version(row)
        return found

    def first_versions(self, edition: str) -> list[tuple[str, int, datetime]]:
        """Every story with a version in `edition` as (id, seq, at) of its first one, in the
        order they entered the edition."""
        first = func.min(story_versions.c.seq)
        query = (
            select(story_versions.c.article_id, first.label("seq"), func.min(story_versions.c.at))
            .where(story_versions.c.edition == edition)
            .group_by(story_versions.c.article_id)
            .order_by(first)
        )
        with self.begin() as conn:
            return [
                (row[0], int(row[1]), parse_iso(row[2]) or utcnow()) for row in conn.execute(query)
            ]

    def versions_after(self, edition: str, after: int, limit: int) -> list[Version]:
        """Versions of `edition` with a seq after `after`, oldest first (a partner's cursor)."""
        query = (
            select(story_versions)
            .where(and_(story_versions.c.edition == edition, story_versions.c.seq > after))
            .order_by(story_versions.c.seq)
            .limit(limit)
        )
        with self.begin() as conn:
            return [_version(row) for row in conn.execute(query)]

    # -- feed entries -------------------------------------------------------------------

    def feed_size(self, feed: str) -> int:
        """How many stories ever entered `feed` (its next rank)."""
        query = select(func.max(feed_entries.c.rank)).where(feed_entries.c.feed == feed)
        with self.begin() as conn:
            top = conn.execute(query).scalar()
        return 0 if top is None else int(top) + 1

    def feed_entries(self, feed: str, ranks: range) -> list[Entry]:
        """The entries of `feed` whose rank is in `ranks`, by rank."""
        if not ranks:
            return []
        query = (
            select(feed_entries)
            .where(
                and_(
                    feed_entries.c.feed == feed,
                    feed_entries.c.rank >= ranks.start,
                    feed_entries.c.rank < ranks.stop,
                )
            )
            .order_by(feed_entries.c.rank)
        )
        with self.begin() as conn:
            return [_entry(row) for row in conn.execute(query)]

    def entries_of(self, ids: Iterable[str]) -> dict[str, list[Entry]]:
        """Every feed each of these stories is in, with its rank there."""
        found: dict[str, list[Entry]] = {}
        with self.begin() as conn:
            for chunk in chunks(list(dict.fromkeys(ids))):
                query = select(feed_entries).where(feed_entries.c.article_id.in_(chunk))
                for row in conn.execute(query):
                    found.setdefault(row.article_id, []).append(_entry(row))
        return found

    def first_rank_since(self, feed: str, since: datetime) -> int | None:
        """The first rank of `feed` that entered at or after `since` (None: none did)."""
        query = select(func.min(feed_entries.c.rank)).where(
            and_(feed_entries.c.feed == feed, feed_entries.c.at >= iso(since))
        )
        with self.begin() as conn:
            found = conn.execute(query).scalar()
        return None if found is None else int(found)

    def feeds_entered_between(self, start: datetime, end: datetime) -> set[str]:
        """Feeds with a story that entered in [start, end): where time moves something."""
        query = (
            select(feed_entries.c.feed)
            .where(and_(feed_entries.c.at >= iso(start), feed_entries.c.at < iso(end)))
            .distinct()
        )
        with self.begin() as conn:
            return set(conn.execute(query).scalars())

    def entered_feeds(self) -> set[str]:
        """Every feed that has entries."""
        with self.begin() as conn:
            return set(conn.execute(select(feed_entries.c.feed).distinct()).scalars())

    # -- one publish, recorded ------------------------------------------------------------

    def record_publish(self, record: PublishRecord) -> None:
        """Everything one publish leaves in the store, in one transaction: a killed publish
        leaves none of it, and the next one starts again from the same mark."""
        stamp = iso(utcnow())
        with self.begin() as conn:
            for feed in sorted(record.rebuilt | record.dropped):
                conn.execute(delete(feed_entries).where(feed_entries.c.feed == feed))
            # Rows made a batch at a time: a full publish of a big store adds hundreds of
            # thousands, and a list of them all would double its peak memory.
            for chunk in chunks(record.entries):
                rows = [
                    {"feed": e.feed, "rank": e.rank, "article_id": e.article_id, "at": iso(e.at)}
                    for e in chunk
                ]
                conn.execute(insert(feed_entries), rows)
            for chunk in chunks(record.versions):
                rows = [
                    {
                        "article_id": v.article_id,
                        "edition": v.edition,
                        "version": v.version,
                        "status": v.status,
                        "digest": v.digest,
                        "at": iso(v.at),
                    }
                    for v in chunk
                ]
                conn.execute(insert(story_versions), rows)
            _record_files(conn, record.files, stamp)
            for chunk in chunks(record.removed):
                conn.execute(delete(published_files).where(published_files.c.path.in_(chunk)))
            _put_settings(conn, record.settings)


def _record_files(
    conn: Connection, files: Sequence[tuple[str, str, int]], stamp: str | None
) -> None:
    """(path, sha256, size) of the files written, as one upsert statement per batch."""
    dialect = conn.dialect.name
    for batch in chunks(files):
        rows = [{"path": p, "sha256": d, "size": n, "written_at": stamp} for p, d, n in batch]
        if dialect in ("sqlite", "postgresql"):
            statement = (sqlite.insert if dialect == "sqlite" else postgresql.insert)(
                published_files
            )
            excluded = statement.excluded
            upsert = statement.on_conflict_do_update(
                index_elements=[published_files.c.path],
                set_={
                    "sha256": excluded.sha256,
                    "size": excluded.size,
                    "written_at": excluded.written_at,
                },
            )
            conn.execute(upsert, rows)
        else:  # another database: delete, then insert, per batch
            paths = [p for p, _, _ in batch]
            conn.execute(delete(published_files).where(published_files.c.path.in_(paths)))
            conn.execute(insert(published_files), rows)


def _put_settings(conn: Connection, settings: Mapping[str, str]) -> None:
    for key, value in settings.items():
        done = conn.execute(meta.update().where(meta.c.key == key).values(value=value))
        if done.rowcount == 0:
            conn.execute(meta.insert().values(key=key, value=value))


def _version(row: Any) -> Version:
    return Version(
        article_id=row.article_id,
        edition=row.edition,
        version=int(row.version),
        status=row.status,
        digest=row.digest,
        seq=int(row.seq),
        at=parse_iso(row.at) or utcnow(),
    )


def _entry(row: Any) -> Entry:
    return Entry(
        feed=row.feed,
        rank=int(row.rank),
        article_id=row.article_id,
        at=parse_iso(row.at) or utcnow(),
    )
