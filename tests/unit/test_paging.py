"""The paging rule (syndication.paging): which ranks each document of a feed holds.

Owns: the current document holding the newest `size` ranks and archive pages cutting the rest
from the oldest, every rank in exactly one document for any total, pages closing when the
next one starts, and pages leaving the kept period from the oldest.
"""

from __future__ import annotations

from syndication.paging import Paging, archive_folder, first_kept


def test_every_rank_is_in_exactly_one_document_for_any_total() -> None:
    for size in (1, 3, 20):
        for total in range(0, 70):
            paging = Paging(total, size)
            documents = [paging.current, *(paging.page(k) for k in range(paging.pages))]
            ranks = [rank for document in documents for rank in document]
            assert sorted(ranks) == list(range(total)), (size, total)
            assert len(paging.current) == min(total, size)
            assert all(len(paging.page(k)) == size for k in range(paging.pages - 1))
            for rank in ranks:
                page = paging.page_of(rank)
                assert rank in (paging.current if page is None else paging.page(page))


def test_130_then_140_stories_20_to_a_document() -> None:
    before, after = Paging(130, 20), Paging(140, 20)
    assert before.current == range(110, 130) and before.pages == 6
    assert before.page(5) == range(100, 110) and not before.closed(5)
    assert [k for k in range(6) if before.closed(k)] == [0, 1, 2, 3, 4]
    # Ten more: closed pages keep their ranks; the open page fills up.
    assert all(after.page(k) == before.page(k) for k in range(5))
    assert after.page(5) == range(100, 120) and after.pages == 6
    # Links: the current document points at the newest page; the oldest has no prev.
    assert before.prev_archive(None) == 5 and before.prev_archive(0) is None
    assert before.next_archive(4) == 5 and before.next_archive(5) is None


def test_pages_leave_the_kept_period_from_the_oldest() -> None:
    paging = Paging(100, 10)  # archive pages 0-8
    assert first_kept(paging, 0) == 0
    assert first_kept(paging, 35) == 3  # page 3 holds a recent story: kept
    assert first_kept(paging, 95) == 9 and first_kept(paging, None) == 9  # none left
    kept = Paging(100, 10, first=3)
    assert kept.kept == range(3, 9) and kept.prev_archive(3) is None
    assert archive_folder("kk/sources/x/", 0) == "kk/sources/x/archive/1/"
