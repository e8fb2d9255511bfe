-- A store as release 1 of syndication created it: its DDL exactly as shipped (frozen; never
-- edit). Every released store began here; syndication/store/schema.py's MIGRATIONS take it
-- forward. tests/unit/store/test_store.py builds old stores from it and checks an upgraded store is the
-- same as a fresh one.
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER);
CREATE TABLE sources (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, location TEXT NOT NULL,
    etag TEXT NOT NULL DEFAULT '', last_modified TEXT NOT NULL DEFAULT '',
    last_attempt TEXT, last_success TEXT, result TEXT NOT NULL DEFAULT 'never',
    error TEXT NOT NULL DEFAULT '', new_count INTEGER NOT NULL DEFAULT 0,
    updated_count INTEGER NOT NULL DEFAULT 0, unchanged_count INTEGER NOT NULL DEFAULT 0,
    failures INTEGER NOT NULL DEFAULT 0, next_due TEXT, redirect TEXT NOT NULL DEFAULT '',
    notes TEXT NOT NULL DEFAULT '[]');
CREATE TABLE articles (
    id TEXT PRIMARY KEY, source_id TEXT NOT NULL, guid TEXT NOT NULL,
    link TEXT NOT NULL DEFAULT '', canonical TEXT NOT NULL DEFAULT '',
    title TEXT NOT NULL DEFAULT '', summary TEXT NOT NULL DEFAULT '',
    content TEXT NOT NULL DEFAULT '', author TEXT NOT NULL DEFAULT '',
    categories TEXT NOT NULL DEFAULT '[]', image TEXT NOT NULL DEFAULT '',
    enclosures TEXT NOT NULL DEFAULT '[]', language TEXT NOT NULL,
    published TEXT, updated TEXT, source_title TEXT NOT NULL DEFAULT '',
    source_url TEXT NOT NULL DEFAULT '', first_seen TEXT NOT NULL, sort_date TEXT NOT NULL,
    content_hash TEXT NOT NULL, text_hash TEXT NOT NULL,
    withdrawn INTEGER NOT NULL DEFAULT 0, also_from TEXT NOT NULL DEFAULT '[]',
    changed_at TEXT NOT NULL);
CREATE INDEX articles_sort ON articles (withdrawn, sort_date);
CREATE INDEX articles_source ON articles (source_id, sort_date);
CREATE INDEX articles_canonical ON articles (canonical);
CREATE TABLE translations (
    article_id TEXT NOT NULL, language TEXT NOT NULL, status TEXT NOT NULL,
    title TEXT NOT NULL DEFAULT '', summary TEXT NOT NULL DEFAULT '',
    content TEXT NOT NULL DEFAULT '', provider TEXT NOT NULL DEFAULT '',
    error TEXT NOT NULL DEFAULT '', attempts INTEGER NOT NULL DEFAULT 0,
    text_hash TEXT NOT NULL DEFAULT '', updated_at TEXT, next_attempt TEXT,
    PRIMARY KEY (article_id, language));
CREATE INDEX translations_status ON translations (status, language);
CREATE TABLE translation_memory (
    key TEXT PRIMARY KEY, source_lang TEXT NOT NULL, target_lang TEXT NOT NULL,
    provider TEXT NOT NULL, source_text TEXT NOT NULL, target_text TEXT NOT NULL,
    created_at TEXT NOT NULL);
CREATE TABLE published_files (
    path TEXT PRIMARY KEY, sha256 TEXT NOT NULL, size INTEGER NOT NULL,
    written_at TEXT NOT NULL);
CREATE TABLE worker_lock (
    name TEXT PRIMARY KEY, holder TEXT NOT NULL, host TEXT NOT NULL,
    pid INTEGER NOT NULL, heartbeat_at TEXT NOT NULL);
DELETE FROM schema_version;
INSERT INTO schema_version (version) VALUES (1);
