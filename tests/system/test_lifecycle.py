"""A story's life end to end, through the command line and over real HTTP.

Owns: RFC 5005 archives walked from every edition's current documents (RSS, Atom and JSON
Feed's `next_url`, main, per-source and topic feeds: every story exactly once, every archive
document passing the checks the current feeds pass, closed ones byte-identical after more
stories arrive and cached for a day); withdrawals three ways (a file's `status: withdrawn`, a
partner's RFC 6721 tombstone, `syndication withdraw`): no word of the story left in any file,
its pages answering 410 Gone, a tombstone in each edition's Atom (an edition taken out and
put back too), a canceled version in the store, and `restore` bringing it back; an embargo
under `run` (absent from every file and answer before its time, in every edition soon after
it); and a correction reaching every edition with the same id, a later `updated` and the note.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import jsonschema
import pytest
from lxml import etree
from lxml import html as lxml_html

from tests.conftest import OFFLINE_TRANSLATION, REPO, run_cli, write_config
from tests.fakeprovider import FakeGoogle, fake_translate
from tests.feedserver import FeedItem, FeedServer, GrowingFeed
from tests.system.test_feeds_output import JSON_FEED_SCHEMA, check_atom, check_rss

BASE = "https://feeds.example.kz/"
EDITIONS = ("kk", "zh", "en")
ATOM = "{http://www.w3.org/2005/Atom}"
FH = "{http://purl.org/syndication/history/1.0}"
AT = "{http://purl.org/atompub/tombstones/1.0}"
START = datetime(2025, 3, 1, tzinfo=UTC)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Site:
    """The output served by `syndication serve` (or `run`) on loopback."""

    port: int
    process: subprocess.Popen[str]

    def get(self, url: str, **headers: str) -> httpx.Response:
        """GET a published URL (under BASE) from our server."""
        local = url.replace(BASE, f"http://127.0.0.1:{self.port}/")
        return httpx.get(local, headers=headers, timeout=10)


def _start(command: str, config: Path, port: int) -> Site:
    process = subprocess.Popen(
        [sys.executable, "-m", "syndication", command, "--config", str(config)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    site = Site(port, process)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[0]
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return site
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError(f"{command} did not answer within 30 s")


def _stop(site: Site) -> None:
    if site.process.poll() is None:
        site.process.send_signal(signal.SIGTERM)
        try:
            site.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            site.process.kill()
            site.process.wait()


@pytest.fixture
def serving() -> Iterator[list[Site]]:
    started: list[Site] = []
    yield started
    for site in started:
        _stop(site)


# -- walking the archives ------------------------------------------------------------------


def _links(root: etree._Element, rss: bool) -> dict[str, str]:
    parent = root.find("channel") if rss else root
    assert parent is not None
    return {
        link.get("rel", ""): link.get("href", "")
        for link in parent.findall(f"{ATOM}link")
        if link.get("rel") in ("self", "current", "prev-archive", "next-archive")
    }


def walk(site: Site, url: str, edition: str) -> list[str]:
    """Every item id met walking `prev-archive` from the current document at `url`, each
    document checked as the current feeds are, the links between them checked both ways."""
    rss = url.endswith("rss.xml")
    ids: list[str] = []
    current, here, newer = url, url, ""
    seen: set[str] = set()
    while here:
        assert here not in seen, f"a prev-archive loop at {here}"
        seen.add(here)
        answer = site.get(here)
        assert answer.status_code == 200, (here, answer.status_code)
        data = answer.content
        (check_rss if rss else check_atom)(data, here, edition)
        root = etree.fromstring(data)
        links = _links(root, rss)
        archived = (root.find("channel") if rss else root).find(f"{FH}archive")  # type: ignore[union-attr]
        if here == current:
            assert archived is None and "current" not in links, here
        else:
            assert archived is not None, f"{here}: no fh:archive"
            assert links["current"] == current, here
            assert links.get("next-archive", "") == newer, (here, links, newer)
            closed = "next-archive" in links
            cache = answer.headers["cache-control"]
            assert cache == ("public, max-age=86400" if closed else "public, max-age=300"), here
        if rss:
            ids += [guid.text or "" for guid in root.iter("guid")]
        else:
            ids += [entry.findtext(f"{ATOM}id") or "" for entry in root.iter(f"{ATOM}entry")]
        newer, here = (here if here != current else ""), links.get("prev-archive", "")
    return ids


def walk_json(site: Site, url: str) -> list[str]:
    """Every item id met following JSON Feed's `next_url` from `url`."""
    validator = jsonschema.Draft202012Validator(JSON_FEED_SCHEMA)
    ids: list[str] = []
    while url:
        data = site.get(url).json()
        assert not list(validator.iter_errors(data)), url
        ids += [item["id"] for item in data["items"]]
        url = data.get("next_url", "")
    return ids


def _stories(ids: list[str]) -> list[str]:
    """The story part of item ids (the same in every edition)."""
    return [item.rsplit("/", 1)[0] for item in ids]


def _closed(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every closed archive document under `root` (it links a later page) with its bytes and
    mtime."""
    found = {}
    for path in root.rglob("archive/*/*"):
        data = path.read_bytes()
        if b'rel="next-archive"' in data or b'"next_archive_url"' in data:
            found[path.relative_to(root).as_posix()] = (data, path.stat().st_mtime_ns)
    return found


def _wire_item(n: int) -> FeedItem:
    parity = "Even" if n % 2 == 0 else "Odd"
    return FeedItem(
        guid=f"wire-{n}",
        title=f"{parity} story number {n} from the wire",
        link=f"https://wire.example.org/news/{n}",
        summary=f"Story {n} tells what happened on day {n}.",
        published=START + timedelta(hours=n),
    )


def test_archives_give_every_story_exactly_once_and_closed_pages_never_change(
    tmp_path: Path, feed_server: FeedServer, fake_google: FakeGoogle, serving: list[Site]
) -> None:
    wire = GrowingFeed(feed_server, "/wire.xml")
    for n in range(130):
        wire.publish(_wire_item(n))
    port = _free_port()
    config = write_config(
        tmp_path,
        editions=list(EDITIONS),
        sources=[{"id": "wire", "url": wire.url, "language": "en"}],
        feeds={"items": 20, "topics": [{"id": "even", "keywords": ["Even"]}]},
        translation={"chain": ["google"], "providers": {"google": {"base_url": fake_google.url}},
                     "timeout": "5s"},
        serve={"host": "127.0.0.1", "port": port},
    )  # fmt: skip
    assert (done := run_cli("once", "--config", str(config))).code == 0, done.output
    site = _start("serve", config, port)
    serving.append(site)
    expected = {f"wire:wire-{n}" for n in range(130)}

    def every_walk(total: set[str]) -> None:
        evens = {story for story in total if int(story.rsplit("-", 1)[1]) % 2 == 0}
        for edition in EDITIONS:
            for folder, wanted in (
                (f"{edition}/", total),
                (f"{edition}/sources/wire/", total),
                (f"{edition}/feeds/even/", evens),
            ):
                for name in ("atom.xml", "rss.xml"):
                    found = _stories(walk(site, f"{BASE}{folder}{name}", edition))
                    assert len(found) == len(set(found)), (folder, name, "a story twice")
                    assert {s.split(",2025:", 1)[1] for s in found} == wanted, (folder, name)
                found = _stories(walk_json(site, f"{BASE}{folder}feed.json"))
                assert sorted(s.split(",2025:", 1)[1] for s in found) == sorted(wanted), folder

    every_walk(expected)
    public = tmp_path / "public"
    closed = _closed(public)
    # 130 stories, 20 to a document: the current one holds 20, archive pages 1-5 are full and
    # closed, page 6 holds 10 and is open; per edition and format, in the main and source feed.
    assert len([p for p in closed if p.startswith("en/archive/")]) == 5 * 3, sorted(closed)
    for n in range(130, 140):
        wire.publish(_wire_item(n))
    assert (done := run_cli("once", "--config", str(config))).code == 0, done.output
    after = _closed(public)
    for path, (data, mtime) in closed.items():
        assert after[path] == (data, mtime), f"{path} changed"
    # Page 6 took the 10 stories the current document passed on: full, open until page 7.
    sixth = etree.fromstring((public / "en" / "archive" / "6" / "atom.xml").read_bytes())
    assert len(sixth.findall(f"{ATOM}entry")) == 20 and set(after) == set(closed)
    every_walk(expected | {f"wire:wire-{n}" for n in range(130, 140)})


# -- withdrawals -----------------------------------------------------------------------------

PARTNER_ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:at="http://purl.org/atompub/tombstones/1.0">
<title>Partner</title><id>urn:partner</id><updated>2025-05-09T00:00:00Z</updated>
<link rel="self" href="https://partner.example.org/atom.xml"/>{entries}{tombstones}
</feed>"""


def _partner_entry(n: int, marker: str) -> str:
    return (
        f"<entry><id>urn:partner:{n}</id><title>Partner {marker} report {n}</title>"
        f'<link href="https://partner.example.org/{n}"/>'
        f"<updated>2025-05-0{n}T08:00:00Z</updated>"
        f"<summary>The {marker} affair, day {n}: officials met.</summary></entry>"
    )


def _partner(server: FeedServer, entries: str, tombstones: str, version: int) -> str:
    """Serve the partner's Atom feed (a new version, with a new ETag); its URL."""
    body = PARTNER_ATOM.format(entries=entries, tombstones=tombstones).encode()
    headers = {"Content-Type": "application/atom+xml"}
    return server.add("/partner.xml", body, headers=headers, etag=f'"p{version}"')


def _words(root: Path, article_id: str) -> set[str]:
    """What every edition showed of the story: its titles and summaries in each (in its
    current documents or its archives)."""
    words: set[str] = set()
    for path in root.rglob("feed.json"):
        for item in json.loads(path.read_text(encoding="utf-8"))["items"]:
            if f",2025:{article_id}/" in item["id"]:
                words.update({item["title"], item.get("summary", "")} - {""})
    assert len(words) >= 2 * len(EDITIONS), words  # it was there, in every edition
    return words


def _text_of(root: Path) -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in root.rglob("*") if p.is_file())


def _versions(tmp_path: Path, article_id: str) -> list[tuple[str, int, str]]:
    with sqlite3.connect(tmp_path / "data" / "test.db") as conn:
        return conn.execute(
            "SELECT edition, version, status FROM story_versions WHERE article_id = ? ORDER BY seq",
            (article_id,),
        ).fetchall()


def _assert_gone(tmp_path: Path, site: Site, article_id: str, words: set[str], why: str) -> None:
    public = tmp_path / "public"
    text = _text_of(public)
    for word in words:
        assert word not in text, f"{word!r} is still published"
    for edition in EDITIONS:
        atom = etree.fromstring((public / edition / "atom.xml").read_bytes())
        ids = [e.findtext(f"{ATOM}id") or "" for e in atom.iter(f"{ATOM}entry")]
        assert not [i for i in ids if f",2025:{article_id}/" in i], edition
        (tombstone,) = [
            t for t in atom.iter(f"{AT}deleted-entry") if f",2025:{article_id}/" in t.get("ref", "")
        ]
        assert tombstone.get("ref", "").endswith(f"/{edition}") and tombstone.get("when")
        assert why in (tombstone.findtext(f"{AT}comment") or ""), edition
        page = site.get(f"{BASE}{edition}/articles/{_slug(article_id)}.html")
        assert page.status_code == 410, (edition, page.status_code)
    canceled = [(e, s) for e, _, s in _versions(tmp_path, article_id) if s == "canceled"]
    assert sorted(canceled) == sorted((e, "canceled") for e in EDITIONS)
    status = run_cli("status", "--json", "--config", str(tmp_path / "syndication.yaml"))
    listed = {w["article"]: w for w in json.loads(status.stdout)["withdrawn"]}
    assert why in listed[article_id]["reason"]


def _assert_back(tmp_path: Path, site: Site, article_id: str, words: set[str]) -> None:
    public = tmp_path / "public"
    text = _text_of(public)
    assert all(word in text for word in words), "restored, but not in every edition"
    for edition in EDITIONS:
        page = site.get(f"{BASE}{edition}/articles/{_slug(article_id)}.html")
        assert page.status_code == 200, edition
    assert _versions(tmp_path, article_id)[-1][2] == "usable"


def _slug(article_id: str) -> str:
    from syndication.items import slug

    return slug(article_id)


def test_a_withdrawn_story_leaves_no_word_behind_and_restore_brings_it_back(
    tmp_path: Path, feed_server: FeedServer, fake_google: FakeGoogle, serving: list[Site]
) -> None:
    entries = "".join(_partner_entry(n, "Quorvane") for n in (1, 2, 3))
    partner = _partner(feed_server, entries, "", 1)
    port = _free_port()
    config = write_config(
        tmp_path,
        editions=list(EDITIONS),
        sources=[
            {"id": "newsroom", "articles": "articles", "language": "kk"},
            {"id": "partner", "url": partner, "language": "en"},
        ],
        # Small documents, so the stories are in archive pages too.
        feeds={"items": 3},
        translation={"chain": ["google"], "providers": {"google": {"base_url": fake_google.url}},
                     "timeout": "5s"},
        serve={"host": "127.0.0.1", "port": port},
    )  # fmt: skip
    articles = tmp_path / "articles"
    (articles / "zavod.md").write_text(
        "---\ntitle: Zelvorin zauyty ashyldy\nlanguage: kk\ndate: 2025-05-06\n---\n"
        "Zelvorin zauyty Astanada ashyldy. Onda zhuz adam zhumys isteidi.\n",
        encoding="utf-8",
    )
    assert (done := run_cli("once", "--config", str(config))).code == 0, done.output
    site = _start("serve", config, port)
    serving.append(site)
    public = tmp_path / "public"

    # 1. The newsroom's file says `status: withdrawn`.
    local = "newsroom:zavod"
    words = _words(public, local)
    text = (articles / "zavod.md").read_text(encoding="utf-8")
    (articles / "zavod.md").write_text(
        text.replace("language: kk\n", "language: kk\nstatus: withdrawn\nreason: Court order\n"),
        encoding="utf-8",
    )
    assert (done := run_cli("once", "--config", str(config))).code == 0, done.output
    _assert_gone(tmp_path, site, local, words, "Court order")
    restored = run_cli("restore", local, "--config", str(config))
    assert restored.code == 0 and "restored" in restored.stdout, restored.output
    _assert_back(tmp_path, site, local, words)

    # 2. The partner's Atom feed carries an RFC 6721 tombstone for one of its entries.
    remote = "partner:urn:partner:2"
    words = _words(public, remote)
    stone = ('<at:deleted-entry ref="urn:partner:2" when="2025-05-09T10:00:00Z">'
             "<at:comment>Retracted by the partner</at:comment></at:deleted-entry>")  # fmt: skip
    entries = "".join(_partner_entry(n, "Quorvane") for n in (1, 3))
    _partner(feed_server, entries, stone, 2)
    assert (done := run_cli("once", "--config", str(config))).code == 0, done.output
    _assert_gone(tmp_path, site, remote, words, "Retracted by the partner")
    assert run_cli("restore", remote, "--config", str(config)).code == 0
    _assert_back(tmp_path, site, remote, words)

    # 3. The operator withdraws one; translation of it stops.
    chosen = "partner:urn:partner:3"
    words = _words(public, chosen)
    done = run_cli("withdraw", chosen, "--reason", "Legal review", "--config", str(config))
    assert done.code == 0 and "withdrew" in done.stdout, done.output
    _assert_gone(tmp_path, site, chosen, words, "Legal review")
    # The partner changes the story: it stays withdrawn, and is never sent to translation.
    entries = "".join(_partner_entry(n, "Quorvane") for n in (1,)) + _partner_entry(
        3, "Quorvane revised"
    )
    _partner(feed_server, entries, stone, 3)
    before = len(fake_google.calls)
    assert (done := run_cli("once", "--config", str(config))).code == 0, done.output
    assert not [t for t in fake_google.texts()[before:] if "revised" in t.lower()]
    assert "revised" not in _text_of(public).lower()
    assert run_cli("restore", chosen, "--config", str(config)).code == 0
    assert (done := run_cli("once", "--config", str(config))).code == 0, done.output
    assert "Quorvane revised report 3" in _text_of(public / "en")
    # An unknown story is a usage error.
    unknown = run_cli("withdraw", "partner:nope", "--config", str(config))
    assert unknown.code == 2 and "unknown story" in unknown.output


# -- embargo under `run` -------------------------------------------------------------------------


def test_an_embargoed_story_is_nowhere_before_its_time_and_everywhere_after(
    tmp_path: Path, fake_google: FakeGoogle, serving: list[Site]
) -> None:
    port = _free_port()
    config = write_config(
        tmp_path,
        editions=list(EDITIONS),
        # Polled once at start: what publishes the story later is the worker's own schedule.
        sources=[{"id": "newsroom", "articles": "articles", "language": "kk", "every": "1h"}],
        translation={"chain": ["google"], "providers": {"google": {"base_url": fake_google.url}},
                     "timeout": "5s"},
        serve={"host": "127.0.0.1", "port": port},
    )  # fmt: skip
    embargo = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=40)
    (tmp_path / "articles" / "budget.md").write_text(
        "---\ntitle: Vexmoril budget unveiled\nlanguage: en\n"
        f"embargo: {embargo.isoformat()}\n---\nThe Vexmoril budget doubles spending.\n",
        encoding="utf-8",
    )
    site = _start("run", config, port)
    serving.append(site)
    public = tmp_path / "public"
    page = f"{BASE}{{edition}}/articles/{_slug('newsroom:budget')}.html"
    # Before its time: translated ahead, yet in no file and no answer.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with sqlite3.connect(tmp_path / "data" / "test.db") as conn:
            done = conn.execute(
                "SELECT count(*) FROM translations WHERE article_id = 'newsroom:budget' "
                "AND status = 'translated'"
            ).fetchone()[0]
        if done == 2 and (public / "kk" / "atom.xml").exists():
            break
        time.sleep(0.5)
    assert done == 2, "not translated ahead of its time"
    assert datetime.now(UTC) < embargo, "the machine was too slow to look before the embargo"
    assert "Vexmoril" not in _text_of(public)
    for edition in EDITIONS:
        for name in ("atom.xml", "rss.xml", "feed.json", "index.html"):
            answer = site.get(f"{BASE}{edition}/{name}")
            assert answer.status_code == 200 and "Vexmoril" not in answer.text, (edition, name)
        assert site.get(page.format(edition=edition)).status_code == 404
    # After its time: in every edition within 60 s, without another poll.
    deadline = time.mktime(embargo.timetuple()) + 60
    found: set[str] = set()
    while time.time() < deadline and len(found) < len(EDITIONS):
        for edition in EDITIONS:
            feed = site.get(f"{BASE}{edition}/feed.json").json()
            if any("newsroom:budget" in item["id"] for item in feed["items"]):
                found.add(edition)
        time.sleep(1)
    assert found == set(EDITIONS), f"published in {found} only, 60 s after the embargo"
    assert datetime.now(UTC) >= embargo
    for edition in EDITIONS:
        assert site.get(page.format(edition=edition)).status_code == 200
    # Withdrawn while the worker runs: the command asks it to publish, and within 60 s the
    # story is gone from every edition and its pages answer 410.
    done = run_cli("withdraw", "newsroom:budget", "--reason", "Embargo broken elsewhere",
                   "--config", str(config))  # fmt: skip
    assert done.code == 0 and "asked the running worker" in done.stdout, done.output
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and found:
        for edition in list(found):
            feed = site.get(f"{BASE}{edition}/feed.json").json()
            gone = site.get(page.format(edition=edition)).status_code == 410
            if gone and not any("newsroom:budget" in item["id"] for item in feed["items"]):
                found.discard(edition)
        time.sleep(0.5)
    assert not found, f"still published in {found} 60 s after `withdraw`"
    assert "Vexmoril" not in _text_of(public)


# -- a correction ------------------------------------------------------------------------------


def test_a_correction_reaches_every_edition_with_the_same_id_and_the_note(
    tmp_path: Path, fake_google: FakeGoogle
) -> None:
    config = write_config(
        tmp_path,
        editions=list(EDITIONS),
        sources=[{"id": "newsroom", "articles": "articles", "language": "en"}],
        translation={"chain": ["google"], "providers": {"google": {"base_url": fake_google.url}},
                     "timeout": "5s"},
    )  # fmt: skip
    story = tmp_path / "articles" / "mayor.md"
    story.write_text(
        "---\ntitle: Mayor opens bridge\nlanguage: en\ndate: 2025-05-06\n---\n"
        "The mayor, Ivan Petrov, opened the bridge.\n",
        encoding="utf-8",
    )
    assert (done := run_cli("once", "--config", str(config))).code == 0, done.output
    public = tmp_path / "public"

    def entry(edition: str) -> etree._Element:
        atom = etree.fromstring((public / edition / "atom.xml").read_bytes())
        (found,) = [e for e in atom.iter(f"{ATOM}entry") if "newsroom:mayor/" in (
            e.findtext(f"{ATOM}id") or "")]  # fmt: skip
        return found

    before = {e: (entry(e).findtext(f"{ATOM}id"), entry(e).findtext(f"{ATOM}updated"))
              for e in EDITIONS}  # fmt: skip
    time.sleep(1.1)  # `updated` has one-second resolution
    story.write_text(
        "---\ntitle: Mayor opens bridge\nlanguage: en\ndate: 2025-05-06\n"
        "correction: An earlier version misspelt the mayor's name.\n---\n"
        "The mayor, Ivan Petrenko, opened the bridge.\n",
        encoding="utf-8",
    )
    assert (done := run_cli("once", "--config", str(config))).code == 0, done.output
    for edition in EDITIONS:
        after = entry(edition)
        assert after.findtext(f"{ATOM}id") == before[edition][0]
        assert (after.findtext(f"{ATOM}updated") or "") > (before[edition][1] or ""), edition
        # The note opens the story as `<p class="correction"><strong>{label}</strong> …`: the
        # edition's own fixed label (never machine-translated) and the note in the edition's
        # language (the fake provider's "language" for the translated editions).
        note = "An earlier version misspelt the mayor's name."
        label = {"kk": "Түзету:", "zh": "更正：", "en": "Correction:"}[edition]
        shown = f"{label} {note if edition == 'en' else fake_translate(note, 'en', edition)}"
        content = lxml_html.fragment_fromstring(
            after.findtext(f"{ATOM}content") or "", create_parent="div"
        )
        page = lxml_html.fromstring(
            (public / edition / "articles" / f"{_slug('newsroom:mayor')}.html").read_bytes()
        )
        feed = json.loads((public / edition / "feed.json").read_text(encoding="utf-8"))
        (item,) = [i for i in feed["items"] if "newsroom:mayor/" in i["id"]]
        for where, first in (
            ("atom", content.find("p")),
            (
                "json",
                lxml_html.fragment_fromstring(item["content_html"], create_parent="div").find("p"),
            ),
            ("page", page.find(".//article/p[2]")),  # after the date line
        ):
            assert first is not None and first.text_content() == shown, (edition, where)
            assert first.get("class") == "correction", (edition, where)
            assert first.findtext("strong") == label, (edition, where)
    assert "Petrenko" in (entry("en").findtext(f"{ATOM}content") or "")
    versions = _versions(tmp_path, "newsroom:mayor")
    assert sorted(v for e, v, _ in versions if e == "en") == [1, 2]
    assert sorted(v for e, v, _ in versions if e == "zh") == [1, 2]


# -- the reasons a withdrawn story's page gives -----------------------------------------------


def test_a_reason_the_program_gives_is_in_each_editions_language_an_operators_as_written(
    tmp_path: Path, fake_google: FakeGoogle
) -> None:
    """A local article's file removed: its page in each edition (and its tombstone in each
    edition's Atom) gives the reason in that edition's words and script; the operator's own
    `--reason` stays as written everywhere."""
    editions = ["kk", "kk-Latn", "zh", "zh-Hant", "en"]
    config = write_config(
        tmp_path,
        editions=editions,
        sources=[{"id": "newsroom", "articles": "articles", "language": "kk"}],
        translation={"chain": ["google"], "providers": {"google": {"base_url": fake_google.url}},
                     "timeout": "5s"},
    )  # fmt: skip
    articles = tmp_path / "articles"
    for name in ("zavod", "kopir", "mektep"):
        (articles / f"{name}.md").write_text(
            f"---\ntitle: Zelvorin {name} ashyldy\nlanguage: kk\ndate: 2025-05-06\n---\n"
            f"Zelvorin {name} Astanada ashyldy.\n",
            encoding="utf-8",
        )
    assert (done := run_cli("once", "--config", str(config))).code == 0, done.output
    (articles / "zavod.md").unlink()
    assert (done := run_cli("once", "--config", str(config))).code == 0, done.output
    done = run_cli("withdraw", "newsroom:kopir", "--reason", "Sot sheshimi Qz", "--config",
                   str(config))  # fmt: skip
    assert done.code == 0, done.output
    public = tmp_path / "public"
    expected = {
        "kk": "Жаңалықтың файлы жойылды.",
        "kk-Latn": "Jañalyqtyñ faily joiyldy.",
        "zh": "此新闻的文件已被删除。",
        "zh-Hant": "此新聞的文件已被刪除。",
        "en": "Its file was removed.",
    }
    for edition in editions:
        page = (public / edition / "articles" / f"{_slug('newsroom:zavod')}.html").read_text(
            encoding="utf-8"
        )
        assert 'content="withdrawn"' in page, edition
        assert expected[edition] in page, (edition, page)
        assert "its file was removed" not in page, (edition, page)
        operator = (public / edition / "articles" / f"{_slug('newsroom:kopir')}.html").read_text(
            encoding="utf-8"
        )
        assert "Sot sheshimi Qz" in operator, (edition, operator)
        atom = etree.fromstring((public / edition / "atom.xml").read_bytes())
        comments = {
            t.get("ref", "").rsplit(",2025:", 1)[1]: t.findtext(f"{AT}comment")
            for t in atom.iter(f"{AT}deleted-entry")
        }
        assert comments == {
            f"newsroom:zavod/{edition}": expected[edition],
            f"newsroom:kopir/{edition}": "Sot sheshimi Qz",
        }, edition


def test_an_edition_put_back_carries_the_tombstones_the_others_do(tmp_path: Path) -> None:
    """`kk-Latn` taken out of `editions:` and put back: its Atom feeds carried no tombstone of
    the story withdrawn meanwhile (its feeds were worked out again in that publish, and the
    tombstones read only the entries already stored), while `kk`'s did."""
    articles = tmp_path / "articles"
    articles.mkdir()
    for name, word in (("zavod", "Завод"), ("mektep", "Мектеп")):
        (articles / f"{name}.md").write_text(
            f"---\ntitle: {word} ашылды\nlanguage: kk\ndate: 2025-05-06\n---\n"
            f"{word} Астанада ашылды. Барлығы қуанышты.\n",
            encoding="utf-8",
        )

    def once(*editions: str) -> None:
        source = {"id": "newsroom", "articles": "articles", "language": "kk"}
        config = write_config(
            tmp_path, editions=list(editions), sources=[source], translation=OFFLINE_TRANSLATION
        )
        assert (done := run_cli("once", "--config", str(config))).code == 0, done.output

    once("kk", "kk-Latn")
    done = run_cli("withdraw", "newsroom:zavod", "--reason", "Sot sheshimi Qz", "--config",
                   str(tmp_path / "syndication.yaml"))  # fmt: skip
    assert done.code == 0, done.output
    once("kk")
    once("kk", "kk-Latn")
    for edition in ("kk", "kk-Latn"):
        for feed in ("", "sources/newsroom/"):
            atom = etree.fromstring(
                (tmp_path / "public" / edition / feed / "atom.xml").read_bytes()
            )
            refs = [
                t.get("ref", "").rsplit(",2025:", 1)[1] for t in atom.iter(f"{AT}deleted-entry")
            ]
            assert refs == [f"newsroom:zavod/{edition}"], (edition, feed)
