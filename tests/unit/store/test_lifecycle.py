"""A story's life as the store keeps it: change numbers, withdrawals and restores, embargoes.

Owns: that every write changing how a story looks takes a change number (and nothing else
does), so a publisher reading "changed since N" misses nothing and rereads nothing; that the
operator's withdrawal outlasts the source, the source's own withdrawal comes back with the
story, and a restore holds against the source's old withdrawal until the story changes; that
an embargo ending takes a change number once; and that a store from release 3 upgrades with
its counter in place.
"""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from syndication.errors import StoreError
from syndication.ingest.save import save_articles
from syndication.model import Translation, Withdrawal, utcnow
from syndication.store import BY_PARTNER, BY_SOURCE, Store
from tests.unit.store.test_store import LANGS, _article, _open, _released_store


def _seq(store: Store, article_id: str) -> int:
    stored = store.get_article(article_id)
    assert stored is not None
    return stored.change_seq


def test_every_change_takes_a_number_and_nothing_else_does(tmp_path: Path) -> None:
    store = _open(tmp_path)
    assert store.change_mark() == 0
    save_articles(store, "s", [_article(1), _article(2)], LANGS)
    first = store.change_mark()
    assert first == 1 and _seq(store, "s:1") == _seq(store, "s:2") == 1  # one batch, one number
    save_articles(store, "s", [_article(1), _article(2)], LANGS)  # unchanged
    assert store.change_mark() == first and store.changed_since(first) == []
    save_articles(store, "s", [_article(2, title="Story 2, corrected")], LANGS)
    assert store.changed_since(first) == ["s:2"]
    corrected = store.get_article("s:2")
    assert corrected is not None and corrected.revised_at is not None
    mark = store.change_mark()
    story = _article(1)
    store.save_translation(
        Translation("s:1", "kk", "failed", error="refused", attempts=1), story.text_hash
    )
    assert store.changed_since(mark) == []  # a failed attempt shows nothing new
    store.save_translation(Translation("s:1", "kk", "translated", title="Т"), story.text_hash)
    assert store.changed_since(mark) == ["s:1"]
    # Each story carries its latest number: up to the first, none is left.
    assert store.changed_since(0, upto=first) == []
    assert store.changed_since(0) == ["s:2", "s:1"]  # in the order of their last change


def test_operator_withdrawal_outlasts_the_source_and_restore_holds(tmp_path: Path) -> None:
    store = _open(tmp_path)
    save_articles(store, "s", [_article(1), _article(2)], LANGS)
    withdrawn = store.withdraw("s:1", "Legal request")
    assert withdrawn.withdrawn and withdrawn.withdrawn_by == "operator"
    assert withdrawn.withdrawn_reason == "Legal request" and withdrawn.withdrawn_at is not None
    assert [s.article.id for s in store.withdrawn_stories()] == ["s:1"]
    # The source sends it again, even changed: it stays withdrawn (its text kept current).
    save_articles(store, "s", [_article(1), _article(2)], LANGS)
    save_articles(store, "s", [_article(1, title="New title"), _article(2)], LANGS)
    held = store.get_article("s:1")
    assert held is not None and held.withdrawn and held.article.title == "New title"
    assert [w for w, _ in store.translation_work(LANGS) if w.article.id == "s:1"] == []
    with pytest.raises(StoreError, match="no story"):
        store.withdraw("s:404", "x")
    # Restored: live, and the source's old withdrawal (a tombstone) does not take it again …
    before = store.restore("s:1")
    assert before.withdrawn
    assert store.withdraw_from_source("s", [Withdrawal("s:1", "gone")], BY_PARTNER) == 0
    assert store.withdraw_missing("s", {"s:2"}) == 0
    live = store.get_article("s:1")
    assert live is not None and not live.withdrawn
    # … until the story changes at its source; then the source's word counts again.
    save_articles(store, "s", [_article(1, title="Newer title")], LANGS)
    assert store.withdraw_from_source("s", [Withdrawal("s:1", "gone")], BY_PARTNER) == 1
    gone = store.get_article("s:1")
    assert gone is not None and gone.withdrawn_by == BY_PARTNER and gone.withdrawn_reason == "gone"
    # A source withdrawal comes back with the story (a file restored, an entry re-listed).
    save_articles(store, "s", [_article(1, title="Newer title")], LANGS)
    back = store.get_article("s:1")
    assert back is not None and not back.withdrawn
    # Another source's stories are never touched by a source's tombstones.
    assert store.withdraw_from_source("t", [Withdrawal("s:2")], BY_SOURCE) == 0


def test_an_operators_withdrawal_holds_against_another_source_carrying_the_story(
    tmp_path: Path,
) -> None:
    """A second source bringing the withdrawn story (the same link) is not a way back for
    it: the copy is recorded as also carried, never published under an id of its own, and
    `restore` brings back one story, not two. A partner's own tombstone is no such ban."""
    store = _open(tmp_path)
    save_articles(store, "a", [_article(1, source="a"), _article(2, source="a")], LANGS)
    store.withdraw("a:1", "Legal request")
    save_articles(store, "b", [_article(1, source="b")], LANGS)
    assert store.get_article("b:1") is None
    held = store.get_article("a:1")
    assert held is not None and held.withdrawn and "b" in held.sources
    store.restore("a:1")
    live = [s.article.id for s, _ in store.articles_for_edition("en", limit=10)]
    assert sorted(live) == ["a:1", "a:2"]
    # Withdrawn by its partner (a tombstone), another partner's copy is that one's to give.
    assert store.withdraw_from_source("a", [Withdrawal("a:2", "gone")], BY_PARTNER) == 1
    save_articles(store, "b", [_article(2, source="b")], LANGS)
    assert store.get_article("b:2") is not None


def test_an_embargo_ending_takes_a_number_once(tmp_path: Path) -> None:
    store = _open(tmp_path)
    now = utcnow()
    save_articles(store, "s", [_article(1, embargo=now + timedelta(hours=1)), _article(2)], LANGS)
    assert [s.article.id for s, _ in store.articles_for_edition("en", limit=10)] == ["s:2"]
    assert store.next_embargo(now) == now + timedelta(hours=1)
    assert store.embargoed_count(now) == 1
    mark = store.change_mark()
    assert store.release_embargoes(now - timedelta(minutes=1), now) == []
    later = now + timedelta(hours=2)
    assert store.release_embargoes(now, later) == ["s:1"]
    assert store.changed_since(mark) == ["s:1"]
    assert store.release_embargoes(later, later + timedelta(hours=1)) == []


def test_a_store_from_release_3_gets_its_counter(tmp_path: Path) -> None:
    _released_store(tmp_path / "x.db", 3)
    store = _open(tmp_path)
    save_articles(store, "s", [_article(1)], LANGS)
    assert _seq(store, "s:1") == 1 == store.change_mark()
    with sqlite3.connect(tmp_path / "x.db") as conn:
        assert conn.execute("SELECT name, value FROM counters").fetchall() == [("change_seq", 1)]


def test_stories_by_id_carry_their_life(tmp_path: Path) -> None:
    store = _open(tmp_path)
    at = datetime(2030, 1, 1, tzinfo=UTC)
    save_articles(store, "s", [replace(_article(1), embargo=at, correction="Fixed.")], LANGS)
    ((stored, translation),) = store.stories(["s:1"], "kk").values()
    assert stored.article.embargo == at and stored.article.correction == "Fixed."
    assert translation is not None and translation.status == "pending"


def test_a_story_whose_dates_alone_moved_is_no_new_version(tmp_path: Path) -> None:
    """A feed stamping every item with the time it was fetched (`pubDate` of "now") made
    each story "updated", a new version for API partners, at every poll, for the same text.
    The stored dates stay; a change of text with its date is an update as ever."""
    store = _open(tmp_path)
    first = datetime(2025, 6, 1, 10, tzinfo=UTC)
    assert save_articles(store, "s", [_article(1, published=first)], LANGS) == (1, 0, 0)
    mark = store.change_mark()
    later = first + timedelta(hours=3)
    moved = _article(1, published=later, updated=later)
    assert save_articles(store, "s", [moved], LANGS) == (0, 0, 1)
    kept = store.get_article("s:1")
    assert kept is not None and kept.article.published == first
    assert store.changed_since(mark) == []
    edited = _article(1, title="Story 1, corrected", published=later, updated=later)
    assert save_articles(store, "s", [edited], LANGS) == (0, 1, 0)
    assert store.changed_since(mark) == ["s:1"]
