"""A story's life in the partners' feeds, through real HTTP on loopback over a real store.

Owns: each partner's feeds paged as RFC 5005 archives (the current document's `prev-archive`
walked to the oldest page gives every entitled story exactly once, in RSS and Atom, and JSON
Feed's `next_url` the same; archive documents marked `fh:archive` with their `current` and
`next-archive` links, under the partner's own URLs, behind the same token; closed ones
byte-identical as stories arrive and cached for a day), stories ranked by when they entered
the edition; an embargoed story in no partner document before its time and in them after;
a withdrawn story in no partner document (current or archive, any format), keeping its rank,
with an RFC 6721 tombstone in the Atom feed of each partner that was entitled to it, and
back at its place when restored.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from lxml import etree

from syndication.config import Config, load
from syndication.ingest.save import save_articles
from syndication.model import Article, Translation, utcnow
from syndication.partners import PartnerApp
from syndication.publish import publish
from syndication.serve import make_server
from syndication.store import Store
from tests.conftest import write_config

pytestmark = pytest.mark.usefixtures("store_url")

WIRE = "wire-secret-0123456789abcdefgh"
SUMMARY = "summary-secret-0123456789abcdef"
TOPICAL = "topical-secret-0123456789abcdef"
EDITIONS = ["kk", "en"]
BASE = "https://feeds.example.kz/"
ATOM = "{http://www.w3.org/2005/Atom}"
FH = "{http://purl.org/syndication/history/1.0}"
AT = "{http://purl.org/atompub/tombstones/1.0}"
SIZE = 3  # feeds.items: small, so that a handful of stories fill several archive pages
DAY = "private, max-age=86400"


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _marker(source: str, n: int) -> str:
    """A word of the story's title that no other story's text contains."""
    return f"Zorbex-{source}-{n}x"


def _words(source: str, n: int) -> list[bytes]:
    """What any edition shows of a story: its title's marker, its summary, its body."""
    return [w.encode() for w in (_marker(source, n), f"SUMMARY-{source}-{n}-end",
                                 f"BODY-{source}-{n}-end")]  # fmt: skip


def _story(source: str, n: int, **extra: object) -> Article:
    return Article(
        id=f"{source}:story-{n}",
        source_id=source,
        guid=f"story-{n}",
        title=f"Headline {n} of {source} {_marker(source, n)}",
        link=f"https://{source}.example.com/news/{n}",
        summary=f"SUMMARY-{source}-{n}-end",
        content=f"<p>BODY-{source}-{n}-end</p>",
        language="en",
        # Even-numbered wire stories are the "culture" topic's.
        categories=("culture",) if source == "wire" and n % 2 == 0 else (),
        published=datetime(2025, 3, 1, tzinfo=UTC) + timedelta(hours=n),
        **extra,  # type: ignore[arg-type]
    )


@dataclass
class Life:
    config: Config
    store: Store
    client: httpx.Client

    def add(self, *stories: Article) -> None:
        """Save stories (with their kk translation) as ingest does, then publish."""
        by_source: dict[str, list[Article]] = {}
        for story in stories:
            by_source.setdefault(story.source_id, []).append(story)
        for source, found in by_source.items():
            save_articles(self.store, source, found, ["kk", "en"])
        for story in stories:
            self.store.save_translation(
                Translation(
                    story.id, "kk", "translated", title=f"Тақырып {story.title}",
                    summary=f"ҚЫСҚАША {story.summary}", content=f"<p>МӘТІН {story.id}</p>",
                    provider="google",
                ),
                story.text_hash,
            )  # fmt: skip
        publish(self.config, self.store)

    def get(self, url: str, token: str) -> httpx.Response:
        """GET a partner URL as published (under BASE) from our server."""
        assert url.startswith(f"{BASE}partners/"), url
        path = url.removeprefix(BASE.rstrip("/"))
        return self.client.get(path, headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
def life(tmp_path: Path) -> Iterator[Life]:
    config = load(
        write_config(
            tmp_path,
            editions=EDITIONS,
            sources=[
                {"id": "wire", "url": "https://wire.example.com/rss", "language": "en"},
                {"id": "brief", "url": "https://brief.example.com/rss", "rights": "summary"},
            ],
            feeds={
                "items": SIZE,
                "topics": [{"id": "culture", "title": {"en": "Culture"}, "tags": ["culture"]}],
            },
            translation={"chain": ["google"], "untranslated": "hold"},
            partners=[
                {"id": "wiredesk", "token_sha256": _sha(WIRE), "sources": ["wire"]},
                {"id": "summary", "token_sha256": _sha(SUMMARY), "rights": "summary"},
                {"id": "topical", "token_sha256": _sha(TOPICAL), "topics": ["culture"]},
            ],
        )
    )
    store = Store.open(config.store_url)
    assert config.output is not None
    config.output.mkdir(parents=True, exist_ok=True)
    app = PartnerApp(config, store)
    server = make_server(config.output, "127.0.0.1", 0, partners=app)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
    found = Life(config, store, client)
    # Two sources, stories arriving in three publishes, interleaved.
    found.add(*[_story("wire", n) for n in range(5)], _story("brief", 0))
    found.add(*[_story("wire", n) for n in range(5, 8)], _story("brief", 1))
    found.add(_story("brief", 2), _story("wire", 8))
    yield found
    client.close()
    server.should_exit = True
    thread.join(timeout=10)
    app.stop()
    store.engine.dispose()


def _links(root: etree._Element, rss: bool) -> dict[str, str]:
    parent = root.find("channel") if rss else root
    assert parent is not None
    return {
        link.get("rel", ""): link.get("href", "")
        for link in parent.findall(f"{ATOM}link")
        if link.get("rel") in ("self", "current", "prev-archive", "next-archive")
    }


@dataclass
class Walk:
    ids: list[str]  # item ids met, newest document first
    documents: dict[str, bytes]  # URL -> bytes of every document met
    closed: set[str]  # URLs of the closed archive documents
    placed: dict[str, str]  # article id -> the URL of the document holding it


def walk(life: Life, partner: str, token: str, edition: str, name: str) -> Walk:
    """Every item met following `prev-archive` from the partner's current document, each
    archive document checked: fh:archive, its `current` and `next-archive` links, under the
    partner's own URLs, cached for a day when closed."""
    rss = name == "rss.xml"
    current = f"{BASE}partners/{partner}/{edition}/{name}"
    found = Walk([], {}, set(), {})
    here, newer = current, ""
    while here:
        assert here not in found.documents, f"a prev-archive loop at {here}"
        assert here.startswith(f"{BASE}partners/{partner}/{edition}/"), here
        answer = life.get(here, token)
        assert answer.status_code == 200, (here, answer.status_code)
        found.documents[here] = answer.content
        root = etree.fromstring(answer.content)
        links = _links(root, rss)
        assert links["self"] == here
        archived = (root.find("channel") if rss else root).find(f"{FH}archive")  # type: ignore[union-attr]
        if here == current:
            assert archived is None and "current" not in links, here
            assert answer.headers["cache-control"] == "private, max-age=60"
        else:
            assert archived is not None, f"{here}: no fh:archive"
            assert links["current"] == current, here
            assert links.get("next-archive", "") == newer, (here, links, newer)
            closed = "next-archive" in links
            assert answer.headers["cache-control"] == (DAY if closed else "private, max-age=60")
            if closed:
                found.closed.add(here)
            # The same token is asked for an archive document; nobody else gets it.
            assert life.client.get(here.removeprefix(BASE.rstrip("/"))).status_code == 401
            other = SUMMARY if token == WIRE else WIRE
            assert life.get(here, other).status_code == 401
        if rss:
            ids = [guid.text or "" for guid in root.iter("guid")]
        else:
            ids = [e.findtext(f"{ATOM}id") or "" for e in root.iter(f"{ATOM}entry")]
        found.ids += ids
        found.placed.update(dict.fromkeys(_stories(ids), here))
        newer, here = (here if here != current else ""), links.get("prev-archive", "")
    return found


def walk_json(life: Life, partner: str, token: str, edition: str) -> list[str]:
    """Every item id met following JSON Feed's `next_url` from the partner's feed.json."""
    url = f"{BASE}partners/{partner}/{edition}/feed.json"
    ids: list[str] = []
    met: set[str] = set()
    while url:
        assert url not in met and url.startswith(f"{BASE}partners/{partner}/{edition}/"), url
        met.add(url)
        answer = life.get(url, token)
        assert answer.status_code == 200, url
        data = answer.json()
        ids += [item["id"] for item in data["items"]]
        url = data.get("next_url", "")
    return ids


def _stories(ids: list[str]) -> list[str]:
    """The article ids behind item ids."""
    return [i.split(",2025:", 1)[1].rsplit("/", 1)[0] for i in ids]


STORIES = frozenset({f"wire:story-{n}" for n in range(9)} | {f"brief:story-{n}" for n in range(3)})
# Each partner's token and which stories it is entitled to.
ENTITLED = {
    "wiredesk": (WIRE, lambda story: story.startswith("wire:")),
    "summary": (SUMMARY, lambda story: True),
    "topical": (TOPICAL, lambda story: story.startswith("wire:") and int(story[11:]) % 2 == 0),
}


def entitled(partner: str, stories: frozenset[str] = STORIES) -> set[str]:
    return {story for story in stories if ENTITLED[partner][1](story)}


def _every_walk(
    life: Life, withdrawn: frozenset[str] = frozenset(), arrived: frozenset[str] = frozenset()
) -> dict[str, Walk]:
    """Walk every partner's feeds in every edition and format: every entitled story (but the
    withdrawn) exactly once. The walks of RSS and Atom, by URL."""
    walks = {}
    for partner, (token, _) in ENTITLED.items():
        wanted = entitled(partner, STORIES | arrived) - withdrawn
        for edition in EDITIONS:
            for name in ("atom.xml", "rss.xml"):
                found = walk(life, partner, token, edition, name)
                stories = _stories(found.ids)
                assert len(stories) == len(set(stories)), (partner, edition, name, stories)
                assert set(stories) == wanted, (partner, edition, name)
                walks[f"{partner}/{edition}/{name}"] = found
            stories = _stories(walk_json(life, partner, token, edition))
            assert sorted(stories) == sorted(wanted), (partner, edition)
    return walks


def test_walking_prev_archive_gives_every_entitled_story_once(life: Life) -> None:
    walks = _every_walk(life)
    # The summary partner: 12 stories, 3 to a document: the current one and pages 1-3, the
    # oldest two closed, the newest (3) full but open until a fourth begins.
    summary = walks["summary/kk/atom.xml"]
    assert len(summary.documents) == 4 and len(summary.closed) == 2
    # Ranked by when stories entered the edition (not by date): the current document holds
    # the three that entered last, brief 2 (dated long before wire 8) among them.
    current = etree.fromstring(summary.documents[f"{BASE}partners/summary/kk/atom.xml"])
    newest = {e.findtext(f"{ATOM}id") for e in current.iter(f"{ATOM}entry")}
    assert set(_stories(sorted(i or "" for i in newest))) == {
        "wire:story-7", "brief:story-2", "wire:story-8"
    }  # fmt: skip
    # The oldest page holds the first stories to enter (wire 0-4 and brief 0 came together,
    # and entered oldest first).
    first = f"{BASE}partners/summary/kk/archive/1/atom.xml"
    assert {a for a, url in summary.placed.items() if url == first} == {
        "brief:story-0", "wire:story-0", "wire:story-1"
    }  # fmt: skip
    assert "prev-archive" not in _links(etree.fromstring(summary.documents[first]), rss=False)
    # A summary partner never gets a body, in any document.
    for walked in (walks["summary/kk/atom.xml"], walks["summary/en/rss.xml"]):
        for data in walked.documents.values():
            assert b"BODY-" not in data and "МӘТІН".encode() not in data
    # The wire desk's pages hold only the wire: 9 stories, the current document and 2 pages.
    assert len(walks["wiredesk/en/rss.xml"].documents) == 3
    # A page that does not exist is not found (for the partner; others still get the 401).
    assert life.get(f"{BASE}partners/summary/kk/archive/9/atom.xml", SUMMARY).status_code == 404
    assert life.client.get("/partners/summary/kk/archive/9/atom.xml").status_code == 401


def test_closed_partner_archives_stay_the_same_as_stories_arrive(life: Life) -> None:
    before = _every_walk(life)
    life.add(*[_story("wire", n) for n in range(9, 13)])
    time.sleep(1.1)  # a partner's feed is looked at again after a second (partners.feeds.FRESH)
    after_walks = _every_walk(life, arrived=frozenset(f"wire:story-{n}" for n in range(9, 13)))
    for key, walked in before.items():
        for url in walked.closed:
            assert after_walks[key].documents[url] == walked.documents[url], f"{url} changed"
        assert walked.closed < after_walks[key].closed, key  # a page closed since


def test_an_embargoed_story_is_in_no_partner_document_before_its_time(life: Life) -> None:
    embargo = utcnow().replace(microsecond=0) + timedelta(seconds=3)
    held = _story("wire", 20, embargo=embargo)
    life.add(held)
    assert utcnow() < embargo, "the machine was too slow to look before the embargo"
    _every_walk(life)  # wire 20 is nowhere: the walks find exactly the others
    for partner, (token, _) in ENTITLED.items():
        for edition in EDITIONS:
            for name in ("atom.xml", "rss.xml", "feed.json"):
                answer = life.get(f"{BASE}partners/{partner}/{edition}/{name}", token)
                assert all(word not in answer.content for word in _words("wire", 20))
            api = life.get(f"{BASE}partners/{partner}/api/v1/items?edition={edition}&limit=200",
                           token).content  # fmt: skip
            assert b"story-20" not in api and all(word not in api for word in _words("wire", 20))
    while utcnow() <= embargo:
        time.sleep(0.2)
    publish(life.config, life.store)
    time.sleep(1.1)  # a partner's feed is looked at again after a second (partners.feeds.FRESH)
    for partner, (token, _) in ENTITLED.items():
        for edition in EDITIONS:
            current = life.get(f"{BASE}partners/{partner}/{edition}/atom.xml", token)
            assert _marker("wire", 20).encode() in current.content, (partner, edition)


def test_a_withdrawn_story_is_in_no_partner_document_and_has_its_tombstone(life: Life) -> None:
    before = _every_walk(life)
    # wire 1 entered with the first stories: it is on the oldest page of every feed; brief 2
    # is in the summary partner's current documents only.
    life.store.withdraw("wire:story-1", "Court order Qx")
    life.store.withdraw("wire:story-0", "Court order Qx")  # the topical partner's too
    life.store.withdraw("brief:story-2", "Retracted Qy")
    publish(life.config, life.store)
    time.sleep(1.1)  # partners.feeds.FRESH
    gone = frozenset({"wire:story-0", "wire:story-1", "brief:story-2"})
    after = _every_walk(life, withdrawn=gone)
    for key, walked in after.items():
        text = b"".join(walked.documents.values())
        for word in _words("wire", 0) + _words("wire", 1) + _words("brief", 2):
            assert word not in text, (key, word)
        # A withdrawn story keeps its rank: the same documents, no story moved to another.
        assert set(walked.documents) == set(before[key].documents), key
    for partner, (token, _) in ENTITLED.items():
        for edition in EDITIONS:
            atom = etree.fromstring(
                life.get(f"{BASE}partners/{partner}/{edition}/atom.xml", token).content
            )
            stones = {t.get("ref", ""): t for t in atom.iter(f"{AT}deleted-entry")}
            expected = {f"tag:feeds.example.kz,2025:{a}/{edition}" for a in entitled(partner, gone)}
            assert set(stones) == expected, (partner, edition)
            for ref, stone in stones.items():
                assert stone.get("when")
                why = "Court order Qx" if "wire:" in ref else "Retracted Qy"
                assert stone.findtext(f"{AT}comment") == why
            # Tombstones are Atom's: RSS and JSON Feed just leave the story out.
            rss = life.get(f"{BASE}partners/{partner}/{edition}/rss.xml", token).content
            assert b"deleted-entry" not in rss
    # Restored: back at its old place, the tombstone gone.
    life.store.restore("wire:story-1")
    publish(life.config, life.store)
    time.sleep(1.1)
    restored = _every_walk(life, withdrawn=frozenset({"wire:story-0", "brief:story-2"}))
    for key, walked in restored.items():
        assert walked.documents.keys() == before[key].documents.keys()
        if "wire:story-1" in before[key].placed:  # a partner entitled to it
            assert walked.placed["wire:story-1"] == before[key].placed["wire:story-1"], key
            assert _marker("wire", 1).encode() in walked.documents[walked.placed["wire:story-1"]]
    atom = etree.fromstring(life.get(f"{BASE}partners/wiredesk/kk/atom.xml", WIRE).content)
    refs = [t.get("ref", "") for t in atom.iter(f"{AT}deleted-entry")]
    assert refs == ["tag:feeds.example.kz,2025:wire:story-0/kk"]  # wire 1's is gone


def test_json_feed_pages_with_next_url(life: Life) -> None:
    data = json.loads(life.get(f"{BASE}partners/summary/en/feed.json", SUMMARY).content)
    assert data["next_url"] == f"{BASE}partners/summary/en/archive/3/feed.json"
    page = json.loads(life.get(data["next_url"], SUMMARY).content)
    assert page["_syndication"]["archive"] is True
    assert page["next_url"] == f"{BASE}partners/summary/en/archive/2/feed.json"


def test_a_story_put_under_embargo_after_it_was_published_is_withheld_by_the_api(
    life: Life,
) -> None:
    """The feeds drop it; the version log gets a new version, `withheld` with `embargoedUntil`
    and none of its text, which a partner caught up at the head of the log is given; the
    earlier version keeps its own status (`usable`) but carries no text until the embargo
    ends (a story changed without a new version must not be served from a kept answer). A
    new end is a new withheld version; when the embargo ends, a new usable version."""
    url = f"{BASE}partners/wiredesk/api/v1/items?edition=en&limit=200"
    before = life.get(url, WIRE).json()
    (item,) = [i for i in before["items"] if i["uri"].endswith(":wire:story-4/en")]
    assert (item["version"], item["pubStatus"]) == ("1", "usable")
    caught_up = before["next"]

    def versions_after(cursor: str) -> tuple[list[dict[str, object]], str, bytes]:
        time.sleep(1.1)  # the API's last look at the store holds for a second (FRESH)
        answer = life.get(f"{url}&after={cursor}", WIRE)
        assert answer.status_code == 200, answer.text
        data = answer.json()
        return [i for i in data["items"] if i["uri"] == item["uri"]], data["next"], answer.content

    # Seconds enough for a slow machine to publish and look before the embargo ends.
    embargo = utcnow().replace(microsecond=0) + timedelta(seconds=12)
    life.add(_story("wire", 4, embargo=embargo))
    new, cursor, body = versions_after(caught_up)
    assert utcnow() < embargo, "the machine was too slow to look before the embargo"
    assert [(i["version"], i["pubStatus"]) for i in new] == [("2", "withheld")], new
    assert new[0]["embargoedUntil"] == embargo.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert cursor != caught_up
    assert all(word not in body for word in _words("wire", 4))
    # From the start of the log: version 1 is still usable, with no text until the embargo ends.
    every, _, body = versions_after("0")
    assert [(i["version"], i["pubStatus"]) for i in every] == [("1", "usable"), ("2", "withheld")]
    assert not {"headlines", "descriptions", "bodies"} & set(every[0]), every[0]
    assert every[0]["embargoedUntil"] == new[0]["embargoedUntil"]
    assert all(word not in body for word in _words("wire", 4))
    # Publishing again with nothing changed adds nothing; a later end is a new version.
    publish(life.config, life.store)
    assert versions_after(cursor)[0] == []
    embargo = max(embargo, utcnow().replace(microsecond=0)) + timedelta(seconds=8)
    life.add(_story("wire", 4, embargo=embargo))
    later, cursor, _ = versions_after(cursor)
    assert utcnow() < embargo, "the machine was too slow to look before the embargo"
    assert [(i["version"], i["pubStatus"], i["embargoedUntil"]) for i in later] == [
        ("3", "withheld", embargo.strftime("%Y-%m-%dT%H:%M:%SZ"))
    ], later
    while utcnow() <= embargo:
        time.sleep(0.2)
    publish(life.config, life.store)
    released, _, body = versions_after(cursor)
    assert [(i["version"], i["pubStatus"]) for i in released] == [("4", "usable")], released
    assert _marker("wire", 4).encode() in body and "embargoedUntil" not in released[0]
    every, _, _ = versions_after("0")
    assert [(i["version"], i["pubStatus"]) for i in every] == [
        ("1", "usable"), ("2", "withheld"), ("3", "withheld"), ("4", "usable")
    ]  # fmt: skip
    assert every[0]["headlines"] and "embargoedUntil" not in every[0]


def test_a_story_withdrawn_under_embargo_is_canceled_and_withheld_again_when_restored(
    life: Life,
) -> None:
    """Withdrawn while under embargo: a canceled version; restored with the embargo still
    ahead: a withheld one again (never usable before its time)."""
    url = f"{BASE}partners/wiredesk/api/v1/items?edition=kk&limit=200"
    uri = "tag:feeds.example.kz,2025:wire:story-5/kk"
    embargo = utcnow().replace(microsecond=0) + timedelta(hours=1)
    life.add(_story("wire", 5, embargo=embargo))
    life.store.withdraw("wire:story-5", "Court order Qw")
    publish(life.config, life.store)
    life.store.restore("wire:story-5")
    publish(life.config, life.store)
    time.sleep(1.1)  # the API's last look at the store holds for a second (FRESH)
    answer = life.get(url, WIRE)
    items = [i for i in answer.json()["items"] if i["uri"] == uri]
    assert [(i["version"], i["pubStatus"]) for i in items] == [
        ("1", "usable"), ("2", "withheld"), ("3", "canceled"), ("4", "withheld")
    ], items  # fmt: skip
    assert items[3]["embargoedUntil"] == embargo.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert all(word not in answer.content for word in _words("wire", 5))


def test_the_api_gives_each_version_its_own_status_not_the_storys_current_one(
    life: Life,
) -> None:
    """Withdrawn then restored, a story's log is usable, canceled, usable: the API gives each
    version as the log recorded it (a canceled one with no text, a usable one with the text
    served now); while the story is withdrawn, an earlier usable version stays `usable` but
    carries none of its text (a withdrawal takes it out of everything)."""
    url = f"{BASE}partners/wiredesk/api/v1/items?edition=kk&limit=200"
    uri = "tag:feeds.example.kz,2025:wire:story-3/kk"

    def versions() -> list[dict[str, object]]:
        time.sleep(1.1)  # the API's last look at the store holds for a second (FRESH)
        answer = life.get(url, WIRE)
        assert answer.status_code == 200, answer.text
        return [i for i in answer.json()["items"] if i["uri"] == uri]

    life.store.withdraw("wire:story-3", "Court order Qz")
    publish(life.config, life.store)
    withdrawn = versions()
    assert [(i["version"], i["pubStatus"]) for i in withdrawn] == [
        ("1", "usable"),
        ("2", "canceled"),
    ], withdrawn
    for item in withdrawn:
        assert not {"headlines", "descriptions", "bodies"} & set(item), item
        assert all(word.decode() not in json.dumps(item) for word in _words("wire", 3))

    life.store.restore("wire:story-3")
    publish(life.config, life.store)
    restored = versions()
    assert [(i["version"], i["pubStatus"]) for i in restored] == [
        ("1", "usable"),
        ("2", "canceled"),
        ("3", "usable"),
    ], restored
    assert not {"headlines", "descriptions", "bodies"} & set(restored[1]), restored[1]
    for item in (restored[0], restored[2]):
        assert item["headlines"] and "МӘТІН wire:story-3" in json.dumps(
            item["bodies"], ensure_ascii=False
        ), item
