"""The store: versioned schema that upgrades in place, the worker lock, and the article and
translation bookkeeping every stage relies on (idempotent saves, stale marking, dedupe)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, text

from syndication.errors import StoreError, StoreLocked
from syndication.ingest.decide import canonical_link
from syndication.ingest.save import save_articles
from syndication.model import Article, Translation
from syndication.store import SCHEMA_VERSION, Store, schema
from syndication.store.rows import article_values

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


def _sql(store: Store, statement: str) -> list[tuple[object, ...]]:
    """Run one statement on the store's database, as an operator's SQL shell would."""
    with store.engine.begin() as conn:
        result = conn.execute(text(statement))
        return [tuple(row) for row in result] if result.returns_rows else []


def _released_store(path: Path, version: int) -> None:
    """A store as release `version` left it: release 1's DDL, then each later release's step."""
    conn = sqlite3.connect(path)
    try:
        conn.executescript((Path(__file__).parent / "store_v1.sql").read_text(encoding="utf-8"))
        for step in range(2, version + 1):
            for statement in schema.MIGRATIONS[step]:
                conn.execute(statement)
        conn.execute("UPDATE schema_version SET version = ?", (version,))
        conn.commit()
    finally:
        conn.close()


def _shape(store: Store) -> dict[str, object]:
    """Every table's columns (type, nullability, default, key), indexes and constraints
    (PostgreSQL's reflection gives no per-column key: get_pk_constraint covers it)."""
    found = inspect(store.engine)
    return {
        table: {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"], c["default"], c.get("primary_key"))
                for c in found.get_columns(table)
            ],
            "primary_key": found.get_pk_constraint(table),
            "indexes": sorted(
                (i["name"], tuple(i["column_names"]), i["unique"]) for i in found.get_indexes(table)
            ),
            "unique": found.get_unique_constraints(table),
            "foreign_keys": found.get_foreign_keys(table),
        }
        for table in found.get_table_names()
    }


def test_saving_twice_changes_nothing(store_url: str) -> None:
    store = Store.open(store_url)
    batch = [_article(n) for n in range(50)]
    assert save_articles(store, "s", batch, LANGS) == (50, 0, 0)
    counts = store.count_rows()
    assert save_articles(store, "s", batch, LANGS) == (0, 0, 50)
    assert store.count_rows() == counts
    assert counts["translations"] == 100  # kk and zh for each English story


def test_changed_text_marks_translations_stale(store_url: str) -> None:
    store = Store.open(store_url)
    article = _article(1)
    save_articles(store, "s", [article], LANGS)
    (_stored, pending), _ = store.translation_work(LANGS)
    store.save_translation(
        Translation(article.id, pending.language, "translated", title="T", content="<p>C</p>"),
        article.text_hash,
    )
    edited = replace(article, content="<p>Body text, corrected.</p>")
    assert save_articles(store, "s", [edited], LANGS) == (0, 1, 0)
    statuses = {t.language: t.status for _, t in store.translation_work(LANGS)}
    assert statuses[pending.language] == "stale"
    # A stale translation stays published until it is redone.
    rows = store.articles_for_edition(pending.language, limit=10)
    assert rows and rows[0][1] is not None and rows[0][1].title == "T"


def test_translation_for_an_outdated_text_is_not_stored(store_url: str) -> None:
    store = Store.open(store_url)
    article = _article(1)
    save_articles(store, "s", [article], LANGS)
    save_articles(store, "s", [replace(article, title="New title")], LANGS)
    saved = store.save_translation(
        Translation(article.id, "kk", "translated", title="old"), article.text_hash
    )
    assert saved is False


def test_same_story_from_two_sources_is_kept_once(store_url: str) -> None:
    store = Store.open(store_url)
    save_articles(store, "a", [_article(1, "a", link="https://www.example.org/story/")], LANGS)
    new, _, unchanged = save_articles(
        store, "b", [_article(9, "b", link="http://example.org/story")], LANGS
    )
    assert (new, unchanged) == (0, 1)
    assert store.article_count() == 1
    held = store.get_article("a:1")
    assert held is not None and held.sources == ("a", "b")


def test_withdrawn_and_restored(store_url: str) -> None:
    store = Store.open(store_url)
    save_articles(store, "s", [_article(1), _article(2)], LANGS)
    assert store.withdraw_missing("s", {"s:1"}) == 1
    assert store.article_count() == 1
    assert save_articles(store, "s", [_article(2)], LANGS) == (0, 1, 0)
    assert store.article_count() == 2


def test_migrations_keep_data_and_are_recorded(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store.open(store_url)
    save_articles(store, "s", [_article(1)], LANGS)
    assert store.version() == SCHEMA_VERSION
    # A future release appends a migration: the next start applies it and keeps the rows.
    extra = ["ALTER TABLE articles ADD COLUMN extra TEXT NOT NULL DEFAULT ''"]
    monkeypatch.setattr(schema, "MIGRATIONS", {**schema.MIGRATIONS, SCHEMA_VERSION + 1: extra})
    monkeypatch.setattr(schema, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    upgraded = Store.open(store_url)
    assert upgraded.version() == SCHEMA_VERSION + 1
    assert upgraded.article_count() == 1
    assert _sql(upgraded, "SELECT extra FROM articles") == [("",)]


def test_schema_3_keeps_credits_and_leaves_older_stories_unchanged(tmp_path: Path) -> None:
    # A store written by the release before credits (schema 2) ...
    _released_store(tmp_path / "x.db", 2)
    first_seen = datetime(2025, 5, 1, tzinfo=UTC)
    story = _article(1)
    row = article_values(
        story, canonical=canonical_link(story.link), first_seen=first_seen, now=first_seen
    )
    for key in ("credits", "source_feed_id", "source_feed_updated"):
        del row[key]
    with sqlite3.connect(tmp_path / "x.db") as conn:
        conn.execute(
            f"INSERT INTO articles ({', '.join(row)}) VALUES ({', '.join(':' + k for k in row)})",
            row,
        )
    # ... upgrades in place: the story is there, unchanged for a story without credits.
    store = _open(tmp_path)
    assert store.version() == SCHEMA_VERSION >= 3
    assert save_articles(store, "s", [_article(1)], LANGS) == (0, 0, 1)
    credited = _article(1, credits=("Фото: Ақорда",), source_feed_id="urn:uuid:1")
    assert save_articles(store, "s", [credited], LANGS) == (0, 1, 0)
    stored = store.get_article("s:1")
    assert stored is not None and stored.article.credits == ("Фото: Ақорда",)
    assert stored.article.source_feed_id == "urn:uuid:1"
    # The partner feed's own `updated` moving is no change to the story.
    moved = replace(credited, source_feed_updated=datetime(2025, 6, 1, tzinfo=UTC))
    assert save_articles(store, "s", [moved], LANGS) == (0, 0, 1)


# What a store from each release holds, as that release wrote it (release 1's columns only,
# and `meta` from release 2 on).
_OLD_ROWS = {
    "sources": {"id": "wire", "kind": "url", "location": "https://example.org/rss",
                "etag": '"e1"', "result": "ok", "new_count": 3, "failures": 1,
                "next_due": "2025-05-02T00:00:00Z", "notes": '["a note"]'},
    "articles": {"id": "wire:1", "source_id": "wire", "guid": "1",
                 "link": "https://example.org/1", "canonical": "example.org/1",
                 "title": "Story", "summary": "S", "content": "<p>Body</p>",
                 "categories": '["Politics"]', "language": "en",
                 "published": "2025-05-01T00:00:00Z", "first_seen": "2025-05-01T01:00:00Z",
                 "sort_date": "2025-05-01T00:00:00Z", "content_hash": "c1", "text_hash": "t1",
                 "also_from": '["other"]', "changed_at": "2025-05-01T01:00:00Z"},
    "translations": {"article_id": "wire:1", "language": "kk", "status": "translated",
                     "title": "Тақырып", "content": "<p>Мәтін</p>", "provider": "google",
                     "attempts": 1, "text_hash": "t1", "updated_at": "2025-05-01T02:00:00Z"},
    "translation_memory": {"key": "k1", "source_lang": "en", "target_lang": "kk",
                           "provider": "google", "source_text": "Story",
                           "target_text": "Тақырып", "created_at": "2025-05-01T02:00:00Z"},
    "published_files": {"path": "en/rss.xml", "sha256": "ab", "size": 10,
                        "written_at": "2025-05-01T03:00:00Z"},
    "worker_lock": {"name": "worker", "holder": "run", "host": "h", "pid": 1,
                    "heartbeat_at": "2025-05-01T03:00:00Z"},
    "meta": {"key": "id_authority", "value": "feeds.example.kz,2025"},
}  # fmt: skip


@pytest.mark.parametrize("release", [1, 2, 3])
def test_a_store_from_any_release_upgrades_to_the_same_schema_as_a_fresh_one(
    tmp_path: Path, release: int
) -> None:
    old = tmp_path / "old.db"
    _released_store(old, release)
    held = {t: r for t, r in _OLD_ROWS.items() if t != "meta" or release >= 2}
    with sqlite3.connect(old) as conn:
        for table, row in held.items():
            conn.execute(
                f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                tuple(row.values()),
            )
    upgraded = Store.open(f"sqlite:///{old}")
    fresh = Store.open(f"sqlite:///{tmp_path / 'fresh.db'}")
    assert upgraded.version() == fresh.version() == SCHEMA_VERSION
    # Same tables, columns, types, nullability, defaults, keys and indexes ...
    assert _shape(upgraded) == _shape(fresh)
    assert set(_shape(fresh)) == set(schema.metadata.tables)
    # ... and every row kept as it was, the columns added since filled with their defaults.
    conn = sqlite3.connect(old)
    conn.row_factory = sqlite3.Row
    try:
        for table, row in held.items():
            (stored,) = conn.execute(f"SELECT * FROM {table}").fetchall()
            assert {k: stored[k] for k in row} == row, table
        added = conn.execute(
            "SELECT credits, source_feed_id, source_feed_updated FROM articles"
        ).fetchone()
        assert tuple(added) == ("[]", "", None)
    finally:
        conn.close()
    # The program reads what the old release wrote.
    story = upgraded.get_article("wire:1")
    assert story is not None and story.sources == ("wire", "other")
    assert story.article.categories == ("Politics",) and story.article.credits == ()
    (state,) = upgraded.source_states()
    assert (state.etag, state.new, state.notes) == ('"e1"', 3, ("a note",))
    assert upgraded.recall(["k1"]) == {"k1": "Тақырып"}
    assert set(upgraded.published()) == {"en/rss.xml"}
    (_, translation), *_ = upgraded.articles_for_edition("kk", limit=5)
    assert translation is not None and translation.title == "Тақырып"
    if release >= 2:
        assert upgraded.setting("id_authority") == "feeds.example.kz,2025"


@pytest.mark.postgres
@pytest.mark.parametrize("release", [1, 2, 3])
def test_a_store_from_any_release_upgrades_on_postgresql_as_on_sqlite(
    postgres_server: Any, release: int
) -> None:
    """The same frozen DDL and migration steps on PostgreSQL: a store migrated there has the
    shape of a fresh one, its rows kept (PostgreSQL stores ran no release before this one,
    but `migrate` must work on both the same way)."""
    old_url, fresh_url = postgres_server.create_database(), postgres_server.create_database()
    try:
        release_ddl = (Path(__file__).parent / "store_v1.sql").read_text(encoding="utf-8")
        statements = [
            s.strip()
            for s in "\n".join(
                line for line in release_ddl.splitlines() if not line.startswith("--")
            ).split(";")
            if s.strip()
        ]
        for step in range(2, release + 1):
            statements += schema.MIGRATIONS[step]
        old = Store.open(old_url, migrate=False)
        with old.engine.begin() as conn:
            for statement in statements:
                conn.execute(text(statement))
            conn.execute(text("UPDATE schema_version SET version = :v"), {"v": release})
            for table, row in _OLD_ROWS.items():
                if table != "meta" or release >= 2:
                    conn.execute(
                        text(
                            f"INSERT INTO {table} ({', '.join(row)}) "
                            f"VALUES ({', '.join(':' + k for k in row)})"
                        ),
                        row,
                    )
        upgraded, fresh = Store.open(old_url), Store.open(fresh_url)
        assert upgraded.version() == fresh.version() == SCHEMA_VERSION
        assert _shape(upgraded) == _shape(fresh)
        assert set(_shape(fresh)) == set(schema.metadata.tables)
        story = upgraded.get_article("wire:1")
        assert story is not None and story.sources == ("wire", "other")
        assert upgraded.recall(["k1"]) == {"k1": "Тақырып"}
        upgraded.engine.dispose()
        fresh.engine.dispose()
    finally:
        postgres_server.drop_database(old_url)
        postgres_server.drop_database(fresh_url)


def test_a_store_from_a_newer_program_is_refused(store_url: str) -> None:
    _sql(Store.open(store_url), "UPDATE schema_version SET version = 999")
    with pytest.raises(StoreError, match="newer"):
        Store.open(store_url)


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


def test_a_removed_source_keeps_no_story_from_the_one_that_replaces_it(store_url: str) -> None:
    store = Store.open(store_url)
    save_articles(store, "old", [_article(1, "old", link="https://example.org/story")], LANGS)
    new, _, _ = save_articles(
        store,
        "renamed",
        [_article(1, "renamed", link="https://example.org/story")],
        LANGS,
        live_sources=["renamed"],
    )
    assert new == 1


def test_processes_opening_a_new_store_at_once_all_get_it(store_url: str) -> None:
    # `serve` with several workers opens the store in each: none may fail on a table another
    # created between its check and its CREATE TABLE.
    script = (
        "import sys, time\n"
        "from syndication.store import Store\n"
        "start = float(sys.argv[2])\n"
        "time.sleep(max(0.0, start - time.time()))\n"
        "Store.open(sys.argv[1]).engine.dispose()\n"
    )
    start = str(time.time() + 3)
    opening = [
        subprocess.Popen(
            [sys.executable, "-c", script, store_url, start], stderr=subprocess.PIPE, text=True
        )
        for _ in range(6)
    ]
    errors = [p.communicate()[1] for p in opening]
    assert [p.returncode for p in opening] == [0] * 6, errors
    assert Store.open(store_url).version() == SCHEMA_VERSION
