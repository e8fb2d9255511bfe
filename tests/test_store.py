"""The store: versioned schema that upgrades in place, the worker lock, and the article and
translation bookkeeping every stage relies on (idempotent saves, stale marking, dedupe)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from syndication import store as store_module
from syndication.errors import StoreError, StoreLocked
from syndication.model import Article, Translation
from syndication.store import SCHEMA_VERSION, Store

LANGS = ["kk", "zh", "en"]


def _article(n: int, source: str = "s", **changes: object) -> Article:
    base = Article(
        id=f"{source}:{n}",
        source_id=source,
        guid=str(n),
        title=f"Story {n}",
        link=f"https://example.org/{n}",
        summary="A summary.",
        content="<p>Body text.</p>",
        language="en",
        published=datetime(2025, 5, n % 28 + 1, tzinfo=UTC),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def _open(tmp_path: Path) -> Store:
    return Store.open(f"sqlite:///{tmp_path / 'x.db'}")


def test_saving_twice_changes_nothing(tmp_path: Path) -> None:
    store = _open(tmp_path)
    batch = [_article(n) for n in range(50)]
    assert store.save_articles("s", batch, LANGS) == (50, 0, 0)
    counts = store.count_rows()
    assert store.save_articles("s", batch, LANGS) == (0, 0, 50)
    assert store.count_rows() == counts
    assert counts["translations"] == 100  # kk and zh for each English story


def test_changed_text_marks_translations_stale(tmp_path: Path) -> None:
    store = _open(tmp_path)
    article = _article(1)
    store.save_articles("s", [article], LANGS)
    (_stored, pending), _ = store.translation_work(LANGS)
    store.save_translation(
        Translation(article.id, pending.language, "translated", title="T", content="<p>C</p>"),
        article.text_hash,
    )
    edited = replace(article, content="<p>Body text, corrected.</p>")
    assert store.save_articles("s", [edited], LANGS) == (0, 1, 0)
    statuses = {t.language: t.status for _, t in store.translation_work(LANGS)}
    assert statuses[pending.language] == "stale"
    # A stale translation stays published until it is redone.
    rows = store.articles_for_edition(pending.language, limit=10)
    assert rows and rows[0][1] is not None and rows[0][1].title == "T"


def test_translation_for_an_outdated_text_is_not_stored(tmp_path: Path) -> None:
    store = _open(tmp_path)
    article = _article(1)
    store.save_articles("s", [article], LANGS)
    store.save_articles("s", [replace(article, title="New title")], LANGS)
    saved = store.save_translation(
        Translation(article.id, "kk", "translated", title="old"), article.text_hash
    )
    assert saved is False


def test_same_story_from_two_sources_is_kept_once(tmp_path: Path) -> None:
    store = _open(tmp_path)
    store.save_articles("a", [_article(1, "a", link="https://www.example.org/story/")], LANGS)
    new, _, unchanged = store.save_articles(
        "b", [_article(9, "b", link="http://example.org/story")], LANGS
    )
    assert (new, unchanged) == (0, 1)
    assert store.article_count() == 1
    held = store.get_article("a:1")
    assert held is not None and held.sources == ("a", "b")


def test_withdrawn_and_restored(tmp_path: Path) -> None:
    store = _open(tmp_path)
    store.save_articles("s", [_article(1), _article(2)], LANGS)
    assert store.withdraw_missing("s", {"s:1"}) == 1
    assert store.article_count() == 1
    assert store.save_articles("s", [_article(2)], LANGS) == (0, 1, 0)
    assert store.article_count() == 2


def test_migrations_keep_data_and_are_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _open(tmp_path)
    store.save_articles("s", [_article(1)], LANGS)
    assert store.version() == SCHEMA_VERSION
    # A future release appends a migration: the next start applies it and keeps the rows.
    extra = ["ALTER TABLE articles ADD COLUMN extra TEXT NOT NULL DEFAULT ''"]
    monkeypatch.setattr(store_module, "MIGRATIONS", [*store_module.MIGRATIONS, extra])
    monkeypatch.setattr(store_module, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    upgraded = _open(tmp_path)
    assert upgraded.version() == SCHEMA_VERSION + 1
    assert upgraded.article_count() == 1
    with sqlite3.connect(tmp_path / "x.db") as conn:
        assert conn.execute("SELECT extra FROM articles").fetchone() == ("",)


def test_schema_3_keeps_credits_and_leaves_older_stories_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A store written by the release before credits (schema 2) ...
    monkeypatch.setattr(store_module, "MIGRATIONS", store_module.MIGRATIONS[:2])
    monkeypatch.setattr(store_module, "SCHEMA_VERSION", 2)
    older = _open(tmp_path)
    with older.begin() as conn:
        row = store_module._article_row(_article(1), first_seen="2025-05-01T00:00:00Z", now=None)
        for key in ("credits", "source_feed_id", "source_feed_updated"):
            del row[key]
        row["changed_at"] = "2025-05-01T00:00:00Z"
        conn.execute(store_module.text(
            f"INSERT INTO articles ({', '.join(row)}) VALUES ({', '.join(':' + k for k in row)})"
        ), row)  # fmt: skip
    monkeypatch.undo()
    # ... upgrades in place: the story is there, unchanged for a story without credits.
    store = _open(tmp_path)
    assert store.version() == SCHEMA_VERSION >= 3
    assert store.save_articles("s", [_article(1)], LANGS) == (0, 0, 1)
    credited = _article(1, credits=("Фото: Ақорда",), source_feed_id="urn:uuid:1")
    assert store.save_articles("s", [credited], LANGS) == (0, 1, 0)
    stored = store.get_article("s:1")
    assert stored is not None and stored.article.credits == ("Фото: Ақорда",)
    assert stored.article.source_feed_id == "urn:uuid:1"
    # The partner feed's own `updated` moving is no change to the story.
    moved = replace(credited, source_feed_updated=datetime(2025, 6, 1, tzinfo=UTC))
    assert store.save_articles("s", [moved], LANGS) == (0, 0, 1)


def test_a_store_from_a_newer_program_is_refused(tmp_path: Path) -> None:
    _open(tmp_path)
    with sqlite3.connect(tmp_path / "x.db") as conn:
        conn.execute("UPDATE schema_version SET version = 999")
    with pytest.raises(StoreError, match="newer"):
        _open(tmp_path)


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    _open(tmp_path)
    with sqlite3.connect(tmp_path / "x.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_lock_refuses_a_live_holder_and_takes_over_a_dead_one(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    _open(tmp_path)
    # Another live process holds the lock.
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys,time; from syndication.store import Store; "
            f"Store.open({url!r}).acquire_lock('test'); print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(StoreLocked, match=f"pid {holder.pid}"):
            Store.open(url).acquire_lock("me")
    finally:
        holder.kill()
        holder.wait()
    # Killed without releasing: the next worker takes the lock over.
    Store.open(url).acquire_lock("me")
    with sqlite3.connect(tmp_path / "x.db") as conn:
        assert conn.execute("SELECT pid FROM worker_lock").fetchone() == (os.getpid(),)


def test_unusable_store_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError):
        Store.open(f"sqlite:///{blocker / 'sub' / 'x.db'}")


def test_a_removed_source_keeps_no_story_from_the_one_that_replaces_it(tmp_path: Path) -> None:
    store = _open(tmp_path)
    store.save_articles("old", [_article(1, "old", link="https://example.org/story")], LANGS)
    new, _, _ = store.save_articles(
        "renamed",
        [_article(1, "renamed", link="https://example.org/story")],
        LANGS,
        live_sources=["renamed"],
    )
    assert new == 1
