"""Workers sharing one store: the registry, claims as leases, the publish lock, and writes
that two workers may make at the same moment. Each test runs on SQLite and on PostgreSQL
(`store_url`) unless it is about what only PostgreSQL shares; a "worker" here is a second
handle on the same database (`Store.open` twice), or a child process when it must die."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from syndication.ingest.decide import canonical_link
from syndication.ingest.save import save_articles
from syndication.model import Article, Translation
from syndication.store import SCHEMA_VERSION, ArticleWrite, Store
from syndication.store.translations import CLAIM_BATCH

LANGS = ["kk", "zh", "en"]
LEASE = timedelta(seconds=30)


def _article(n: int, source: str = "s", **changes: object) -> Article:
    base = Article(
        id=f"{source}:{n}",
        source_id=source,
        guid=str(n),
        title=f"Story {n}",
        link=f"https://example.org/{source}/{n}",
        summary="A summary.",
        content="<p>Body text.</p>",
        language="en",
        published=datetime(2025, 5, 1, tzinfo=UTC),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def _worker(url: str, name: str, lease: timedelta = LEASE) -> Store:
    store = Store.open(url)
    store.register(f"test {name}", lease)
    return store


class Child:
    """A worker in a process of its own: registers, runs `code` (with `store` bound), says
    "ready", then waits to be killed."""

    def __init__(self, url: str, code: str, lease: float = 30.0) -> None:
        script = (
            "import sys, time\n"
            "from datetime import timedelta\n"
            "from syndication.store import Store\n"
            f"store = Store.open({url!r})\n"
            f"store.register('child', timedelta(seconds={lease}))\n"
            f"{code}\n"
            "print('ready', flush=True)\n"
            "time.sleep(120)\n"
        )
        self.process = subprocess.Popen(
            [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        assert line == "ready", f"child said {line!r}"

    def kill(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()


def _eventually(check: object, within: float = 30.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


class Schedule:
    """A source's schedule whose slot moves on when told: a poll may follow the last one when
    a `next()` was made between them."""

    def __init__(self) -> None:
        self.marks: list[datetime] = []

    def __call__(self, last: datetime, now: datetime) -> bool:
        return any(last < mark <= now for mark in self.marks)

    def next(self) -> None:
        self.marks.append(datetime.now(UTC))


def always(last: datetime, now: datetime) -> bool:
    return True


def _not_due(refusal: str | None) -> bool:
    return refusal is not None and "not due again yet" in refusal


def test_a_source_is_polled_once_per_slot_whichever_worker_asks(store_url: str) -> None:
    a, b = _worker(store_url, "a"), _worker(store_url, "b")
    schedule = Schedule()
    assert a.claim_source("wire", schedule) is None
    if b.shared:  # a SQLite store has one worker: another's claim is a dead one's
        held = b.claim_source("wire", schedule)
        assert held is not None and f"pid {os.getpid()}" in held  # A, polling it now
        assert {w.holder: w.sources for w in b.workers()} == {"test a": ("wire",), "test b": ()}
    a.release_source("wire")
    # The poll for this slot happened: nobody polls again until the next slot ...
    assert _not_due(b.claim_source("wire", schedule))
    assert _not_due(a.claim_source("wire", schedule))
    schedule.next()
    assert b.claim_source("wire", schedule) is None
    # ... unless asked to (`retry`, `once`), and never while another worker polls it.
    if b.shared:
        assert a.claim_source("wire", schedule, force=True) is not None
    b.release_source("wire")
    assert a.claim_source("wire", schedule, force=True) is None
    a.release_source("wire")
    assert _not_due(b.claim_source("wire", schedule))
    # A source never polled at its (new) location is polled at once, ...
    assert b.claim_source("wire", schedule, location="https://example.org/new") is None
    b.release_source("wire")
    # ... and a shorter interval applies at once: by it, the last poll was long enough ago.
    assert _not_due(a.claim_source("wire", schedule))
    assert a.claim_source("wire", always) is None


def test_a_cycles_sources_are_claimed_together_as_one_by_one(store_url: str) -> None:
    a, b = _worker(store_url, "a"), _worker(store_url, "b")
    schedule = Schedule()
    assert a.claim_sources({"wire": schedule, "desk": schedule}) == {"wire": None, "desk": None}
    if b.shared:  # held by A, polling them now; a new source is free
        held = b.claim_sources({"wire": always, "desk": always, "new": always}, force=True)
        assert held["new"] is None
        assert all(f"pid {os.getpid()}" in str(held[k]) for k in ("wire", "desk"))
        b.release_sources(["new"])
    a.release_sources(["wire", "desk"])
    assert {w.holder: w.sources for w in a.workers()} == {"test a": (), "test b": ()}
    # The poll for this slot happened: not again until the next slot, unless forced.
    answers = b.claim_sources({"wire": schedule, "desk": schedule})
    assert _not_due(answers["wire"]) and _not_due(answers["desk"])
    assert b.claim_sources({"wire": schedule}, force=True) == {"wire": None}
    schedule.next()
    assert b.claim_sources({"desk": schedule}) == {"desk": None}
    assert {w.holder: w.sources for w in a.workers()}["test b"] == ("desk", "wire")
    b.release_sources(["wire", "desk"])
    # More sources than one statement takes: every one claimed, every one released.
    many = {f"s{n}": always for n in range(1234)}
    assert set(a.claim_sources(many).values()) == {None}
    assert len({w.holder: w.sources for w in b.workers()}["test a"]) == 1234
    a.release_sources(list(many))
    assert {w.holder: w.sources for w in b.workers()}["test a"] == ()


def test_a_killed_workers_claims_are_taken_over_after_its_lease(postgres_url: str) -> None:
    store_url = postgres_url
    b = _worker(store_url, "b")
    save_articles(b, "s", [_article(1), _article(2)], LANGS)
    child = Child(
        store_url,
        "assert store.claim_source('wire', lambda last, now: True) is None\n"
        "assert len(store.translation_work(['kk', 'zh'])) == 4",
        lease=2.0,
    )
    try:
        # The child holds the source's poll and the four translations.
        assert b.claim_source("wire", always) is not None
        assert b.translation_work(LANGS) == []
    finally:
        child.kill()
    # Killed without a word: its claims hold until its lease runs out, then they are ours.
    assert _eventually(lambda: b.claim_source("wire", always) is None)
    assert len(b.translation_work(LANGS)) == 4
    assert [w.holder for w in b.workers()] == ["test b"]


def test_a_heartbeat_keeps_a_live_workers_claims(postgres_url: str) -> None:
    store_url = postgres_url
    a = _worker(store_url, "a", lease=timedelta(seconds=2))
    b = _worker(store_url, "b")
    save_articles(a, "s", [_article(n) for n in range(3)], LANGS)
    assert len(a.translation_work(LANGS)) == 6
    assert a.claim_source("wire", always) is None
    for _ in range(4):  # three seconds: past the lease, renewed all along
        time.sleep(0.75)
        a.heartbeat()
    assert b.translation_work(LANGS) == []
    assert b.claim_source("wire", always) is not None
    a.unregister()  # a clean stop hands everything over at once
    assert len(b.translation_work(LANGS)) == 6
    assert b.claim_source("wire", always) is None


def test_a_late_workers_claims_are_its_own_only_where_nobody_took_them(
    store_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A worker whose heartbeat came after its lease ran out (a stalled process): the claims
    another worker took meanwhile are not its own any more, the others are once it is back
    in the registry; a claim taken since is surely its own again."""
    a = _worker(store_url, "a", lease=timedelta(seconds=2))
    b = _worker(store_url, "b")
    assert a.claim_sources({"wire": always, "desk": always}) == {"wire": None, "desk": None}
    assert a.claim_unbroken("wire") and a.holds_source("wire") and a.holds_source("desk")
    assert _eventually(lambda: not a.claim_unbroken("wire"), within=10.0)  # no heartbeat
    assert b.claim_source("wire", always) is None  # A's lease ran out: the poll is B's
    assert not a.holds_source("wire")
    b.release_source("wire")  # polled and done: still not A's
    assert not a.holds_source("wire")
    # Nobody took "desk", but anybody may while A's registration is expired; on SQLite the
    # store's lock keeps every other worker out, so the claim's row alone says it is A's.
    assert a.holds_source("desk") is not a.shared
    with caplog.at_level(logging.WARNING, logger="syndication.store.control"):
        a.heartbeat()  # late: back in the registry
    assert "lease ran out" in caplog.text
    assert a.holds_source("desk") and not a.holds_source("wire")
    assert not a.claim_unbroken("desk")  # taken before the break: the store was asked
    assert a.claim_source("new", always) is None
    assert a.claim_unbroken("new")
    a.release_sources(["desk", "new"])
    assert not a.holds_source("desk") and not a.holds_source("new")


def test_translations_are_claimed_by_one_worker_each(postgres_url: str) -> None:
    a, b = _worker(postgres_url, "a"), _worker(postgres_url, "b")
    stories = [_article(n) for n in range(CLAIM_BATCH)]
    save_articles(a, "s", stories, LANGS)  # two translations each: kk and zh
    first, second = a.translation_work(LANGS), b.translation_work(LANGS)
    keys = [(s.article.id, t.language) for s, t in first + second]
    assert len(keys) == len(set(keys)) == 2 * CLAIM_BATCH
    assert len(first) == len(second) == CLAIM_BATCH  # a batch each: a backlog is shared
    # Saving one gives its claim up; what A claimed and left is A's until it asks again.
    done_story, done = first[0]
    a.save_translation(
        Translation(done_story.article.id, done.language, "translated", title="T"),
        done_story.article.text_hash,
    )
    assert b.translation_work(LANGS) == second  # B's own again, nothing of A's
    a.release_translations()
    again = b.translation_work(LANGS)
    assert len(again) == CLAIM_BATCH
    assert (done_story.article.id, done.language) not in {
        (s.article.id, t.language) for s, t in again
    }


def test_a_request_is_taken_by_one_worker_and_a_reload_by_its_own(store_url: str) -> None:
    # (SQLite has one worker; the same rows serve it.)
    a, b = _worker(store_url, "a"), _worker(store_url, "b")
    a.request("fetch", "wire")
    a.request("reload", b.worker_id or "")
    assert a.take_requests() == [("fetch", "wire")]
    assert b.take_requests() == [("reload", b.worker_id)]
    assert a.take_requests() == b.take_requests() == []


def test_only_live_workers_are_listed_with_what_they_hold(store_url: str) -> None:
    a, b = _worker(store_url, "a"), _worker(store_url, "b")
    save_articles(a, "s", [_article(1)], LANGS)
    b.translation_work(LANGS)
    a.claim_source("wire", always)
    a.set_address("http://127.0.0.1:8080/")
    listed = {w.holder: w for w in a.workers()}
    assert set(listed) == {"test a", "test b"}
    assert listed["test a"].sources == ("wire",) and listed["test a"].translations == 0
    assert listed["test a"].address == "http://127.0.0.1:8080/"
    assert listed["test b"].translations == 2 and listed["test b"].sources == ()
    b.unregister()
    assert [w.holder for w in a.workers()] == ["test a"]


def test_one_publisher_at_a_time_and_a_killed_one_blocks_nobody(postgres_url: str) -> None:
    url = postgres_url
    a, b = _worker(url, "a"), _worker(url, "b")
    with a.publishing() as got:
        assert got
        assert {w.holder: w.publishing for w in b.workers()} == {
            "test a": True,
            "test b": False,
        }
        with b.publishing(wait=0.3) as also:
            assert not also
    with b.publishing() as got:
        assert got
    child = Child(url, "held = store.publishing()\nassert held.__enter__()", lease=60.0)
    with a.publishing(wait=0.3) as got:
        assert not got
    child.kill()
    # The server drops a dead session's advisory lock at once, no lease to wait out.
    with a.publishing(wait=10.0) as got:
        assert got


def test_a_sqlite_store_has_one_publisher_its_worker(tmp_path: Path) -> None:
    store = _worker(f"sqlite:///{tmp_path / 'x.db'}", "a")
    with store.publishing() as got:
        assert got and not store.shared


def test_two_workers_saving_the_same_story_at_once_store_it_once(postgres_url: str) -> None:
    """Two sources carrying one story, saved by two workers at the same moment: the second
    waits for the first's batch and finds the story held (without the ingest lock both
    batches read "not held" and both insert it: the story twice in every edition)."""
    url = postgres_url
    a, b = _worker(url, "a"), _worker(url, "b")
    story = _article(1, "a", link="https://example.org/story")
    same = _article(7, "b", link="https://example.org/story")
    outcome: list[tuple[int, int, int]] = []
    now = datetime.now(UTC)
    with a.article_batch(now) as batch:
        assert batch.held([story.id]) == {}
        other = threading.Thread(
            target=lambda: outcome.append(save_articles(b, "b", [same], LANGS))
        )
        other.start()

        def waiting() -> bool:
            with a.engine.connect() as conn:
                query = "SELECT count(*) FROM pg_locks WHERE NOT granted"
                return bool(conn.execute(text(query)).scalar())

        assert _eventually(waiting, within=10.0), "B's batch did not wait for A's"
        batch.insert(
            [
                ArticleWrite(
                    story,
                    canonical=canonical_link(story.link),
                    first_seen=now,
                    translate_into=("kk", "zh"),
                )
            ]
        )
    other.join(timeout=30)
    assert outcome == [(0, 0, 1)]  # B found it held from A
    assert b.article_count() == 1


def test_two_workers_remembering_the_same_segment_at_once_both_succeed(
    postgres_url: str,
) -> None:
    url = postgres_url
    a, b = _worker(url, "a"), _worker(url, "b")
    row = {
        "key": "k1",
        "source_lang": "en",
        "target_lang": "kk",
        "provider": "google",
        "source_text": "Story",
        "target_text": "Тақырып",
    }
    errors: list[BaseException] = []
    with a.engine.begin() as conn:
        a_row = {**row, "created_at": "2025-05-05T10:00:00Z"}
        conn.execute(
            text(
                "INSERT INTO translation_memory (key, source_lang, target_lang, provider, "
                "source_text, target_text, created_at) VALUES (:key, :source_lang, "
                ":target_lang, :provider, :source_text, :target_text, :created_at)"
            ),
            a_row,
        )

        def remember() -> None:
            try:
                b.remember([row])
            except BaseException as exc:
                errors.append(exc)

        other = threading.Thread(target=remember)
        other.start()
        time.sleep(0.5)  # B's insert now waits on A's uncommitted key
    other.join(timeout=30)
    assert errors == []
    assert b.recall(["k1"]) == {"k1": "Тақырып"} and b.memory_size() == 1
    # The same for a setting two workers record at once.
    a.set_setting("x", "1")
    b.set_setting("x", "2")
    assert a.setting("x") == "2"


def test_workers_starting_together_on_an_empty_database_all_start(postgres_url: str) -> None:
    """Each `run` migrates the store as it starts: on an empty database the first creates
    the schema and the others wait for it (without the migration lock: a duplicate-key
    error from PostgreSQL's catalogue, and the worker exits 3)."""
    errors: list[BaseException] = []

    def start() -> None:
        try:
            Store.open(postgres_url)
        except BaseException as exc:
            errors.append(exc)

    starters = [threading.Thread(target=start) for _ in range(4)]
    for starter in starters:
        starter.start()
    for starter in starters:
        starter.join(timeout=60)
    assert errors == []
    assert Store.open(postgres_url).version() == SCHEMA_VERSION
