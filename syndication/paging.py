"""The paging rule of every published feed: which stories are in its current document and which
in each RFC 5005 archive document.

Owns: cutting a feed's stories, ranked by the order they entered it (rank 0 entered first; the
store keeps the ranks in `feed_entries`), into documents of `size` (`feeds.items`) stories: the
current document holds the newest `size` ranks, archive page k (0 the oldest) holds ranks
k·size … (k+1)·size−1 of the rest. The newest archive page is open (it grows until the next one
starts); every older one is closed, and its ranks never change, so its bytes do not either
unless a story in it is corrected or withdrawn (a withdrawn story keeps its rank and is only
left out). Pages whose newest story entered before the kept period (`feeds.archive`) are no
longer published. Also the place of each document under its feed's folder.

A leaf: publishing pages its feeds here, and partner feeds can page theirs the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

ARCHIVE_FOLDER = "archive"
# What a closed archive document carries (RFC 5005 next-archive: a later page exists), in
# Atom/RSS and in JSON Feed; an open page and a current document never do.
_CLOSED_MARKS = (b'rel="next-archive"', b'"next_archive_url"')


def is_closed_archive(path: str, body: bytes) -> bool:
    """Whether the published file at `path` holding `body` is a closed archive document: it
    changes only when a story in it is corrected or withdrawn, so caches may keep it longer."""
    return f"/{ARCHIVE_FOLDER}/" in path and any(mark in body for mark in _CLOSED_MARKS)


@dataclass(frozen=True)
class Paging:
    """The documents of one feed of `total` ranks, `size` to a document."""

    total: int
    size: int
    first: int = 0  # the oldest archive page still published (older ones expired)

    @property
    def archived(self) -> int:
        """How many ranks are in archive pages (all but the newest `size`)."""
        return max(0, self.total - self.size)

    @property
    def pages(self) -> int:
        """How many archive pages there are (expired ones included)."""
        return -(-self.archived // self.size)

    @property
    def current(self) -> range:
        """The ranks of the current document."""
        return range(self.archived, self.total)

    def page(self, k: int) -> range:
        """The ranks of archive page `k`."""
        return range(k * self.size, min((k + 1) * self.size, self.archived))

    def page_of(self, rank: int) -> int | None:
        """The archive page holding `rank` (None: the current document)."""
        return None if rank >= self.archived else rank // self.size

    def closed(self, k: int) -> bool:
        """Whether archive page `k` is closed: a later page exists, so it is full for good."""
        return k < self.pages - 1

    @property
    def kept(self) -> range:
        """The archive pages still published, oldest first."""
        return range(min(self.first, self.pages), self.pages)

    def prev_archive(self, k: int | None) -> int | None:
        """The archive page before document `k` (None: the current one), if one is kept."""
        before = self.pages - 1 if k is None else k - 1
        return before if before >= self.first and before >= 0 else None

    def next_archive(self, k: int) -> int | None:
        """The archive page after page `k`, if there is one (the newest has none)."""
        return k + 1 if k + 1 < self.pages else None


def first_kept(paging: Paging, first_recent_rank: int | None) -> int:
    """The oldest archive page to keep, given the first rank that entered within the kept period
    (None: none did): a page is kept while its newest story is recent enough."""
    if first_recent_rank is None:
        return paging.pages
    page = paging.page_of(first_recent_rank)
    return paging.pages if page is None else page


def archive_folder(folder: str, k: int) -> str:
    """Where archive page `k` of the feed published in `folder` lives ("kk/archive/1/")."""
    return f"{folder}{ARCHIVE_FOLDER}/{k + 1}/"
