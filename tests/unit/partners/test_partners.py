"""Partners through real HTTP on loopback: the server with the partners' app over a real store.

Owns: every refusal the same 401 (no token, a wrong one, another partner's, an unknown partner,
an edition not entitled), the token in the query or the header, each partner's feeds holding
exactly its entitled stories at its rights in all three formats (and the same items as the
public feeds where the entitlement is the same), ETag/304 and gzip, `rate` answered with 429
and Retry-After, the ninjs API (every item valid against the ninjs 3.1 schema, translations
pointing at their original, withdrawn stories canceled without text, `next` followed to the
end gets each version once), a new configuration taking effect at the next request, nothing
under /partners/ ever read from the output folder, and who pulls what recorded in the store,
the access log and the metrics, never the token.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from lxml import etree
from sqlalchemy import insert

from syndication import metrics
from syndication.config import Config, load
from syndication.ingest.save import save_articles
from syndication.model import Article, Translation, utcnow
from syndication.partners import PartnerApp
from syndication.publish import publish
from syndication.serve import make_server
from syndication.store import Store
from syndication.store.schema import story_versions
from tests.conftest import write_config

KHABAR = "khabar-secret-0123456789abcdef"
DESK = "desk-secret-abcdef0123456789"
CULTURE = "culture-secret-0123456789abcd"
FULL = "full-secret-0123456789abcdefgh"
EDITIONS = ["kk", "zh", "en", "kk-Latn"]
ATOM = "{http://www.w3.org/2005/Atom}"
CONTENT = "{http://purl.org/rss/1.0/modules/content/}encoded"


def _config(folder: Path, **partners_extra: Any) -> Path:
    return write_config(
        folder,
        editions=EDITIONS,
        sources=[
            {"id": "newsroom", "articles": "articles", "language": "kk"},
            {"id": "wire", "url": "https://wire.example.com/rss", "language": "en"},
            {"id": "brief", "url": "https://brief.example.com/rss", "rights": "summary"},
        ],
        feeds={
            "items": 50,
            "topics": [{"id": "culture", "title": {"en": "Culture"}, "tags": ["culture"]}],
        },
        translation={"chain": ["google"], "untranslated": "hold"},
        partners=[
            {
                "id": "khabar",
                "name": "Khabar Agency",
                "token": "${KHABAR_TOKEN}",
                "editions": ["kk", "en"],
                "rights": "summary",
            },
            {
                "id": "desk",
                "token_sha256": hashlib.sha256(DESK.encode()).hexdigest(),
                "sources": ["wire"],
            },
            {"id": "culture", "token": "${CULTURE_TOKEN}", "topics": ["culture"], "rate": "3/min"},
            {"id": "full", "token": "${FULL_TOKEN}"},
        ],
        **partners_extra,
    )


def _story(source: str, n: int, *, language: str, tags: tuple[str, ...] = ()) -> Article:
    return Article(
        id=f"{source}:story-{n}",
        source_id=source,
        guid=f"story-{n}",
        title=f"Headline {n} of {source}",
        link=f"https://{source}.example.com/news/{n}",
        summary=f"SUMMARY-{source}-{n}",
        content=f"<p>BODY-{source}-{n}</p>",
        author="Desk",
        categories=tags,
        image=f"https://{source}.example.com/img/{n}.jpg",
        language=language,
        published=utcnow() - timedelta(hours=n),
    )


@dataclass
class Site:
    config: Config
    store: Store
    app: PartnerApp
    client: httpx.Client
    root: Path

    def get(self, path: str, token: str | None = None, **headers: str) -> httpx.Response:
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return self.client.get(path, headers=headers)


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    monkeypatch.setenv("KHABAR_TOKEN", KHABAR)
    monkeypatch.setenv("CULTURE_TOKEN", CULTURE)
    monkeypatch.setenv("FULL_TOKEN", FULL)
    config = load(_config(tmp_path))
    store = Store.open(config.store_url)
    languages = ["kk", "zh", "en"]
    save_articles(store, "newsroom", [_story("newsroom", n, language="kk") for n in range(2)],
                  languages)  # fmt: skip
    wire = [_story("wire", n, language="en", tags=("culture",) if n == 0 else ()) for n in range(3)]
    save_articles(store, "wire", wire, languages)
    brief = [_story("brief", n, language="en", tags=("culture",)) for n in range(2)]
    save_articles(store, "brief", brief, languages)
    for article in [*wire, *brief]:
        store.save_translation(
            Translation(
                article.id,
                "kk",
                "translated",
                title=f"Тақырып {article.id}",
                summary=f"ҚЫСҚАША {article.id}",
                content=f"<p>МӘТІН {article.id}</p>",
                provider="google",
            ),
            article.text_hash,
        )
    root = config.output
    root.mkdir(parents=True, exist_ok=True)
    app = PartnerApp(config, store)
    server = make_server(root, "127.0.0.1", 0, partners=app)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
    yield Site(config, store, app, client, root)
    client.close()
    server.should_exit = True
    thread.join(timeout=10)
    app.stop()


def _same_refusal(response: httpx.Response, first: httpx.Response) -> None:
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="partners"'
    assert response.content == first.content
    keep = ("content-type", "content-length", "www-authenticate", "cache-control")
    assert {k: response.headers.get(k) for k in keep} == {k: first.headers.get(k) for k in keep}


def test_every_refusal_is_the_same_401(site: Site) -> None:
    first = site.get("/partners/khabar/kk/rss.xml")  # no token at all
    refusals = [
        site.get("/partners/khabar/kk/rss.xml", token="wrong-token-0123456789abcdef"),
        site.get(f"/partners/khabar/kk/rss.xml?token={KHABAR}x"),
        site.get("/partners/khabar/kk/rss.xml", token=DESK),  # another partner's key
        site.get("/partners/nobody/kk/rss.xml", token=KHABAR),  # no such partner
        site.get("/partners/nobody/kk/rss.xml"),
        site.get("/partners/khabar/zh/rss.xml", token=KHABAR),  # not its edition
        site.get("/partners/khabar/fr/rss.xml", token=KHABAR),  # no such edition
        site.get("/partners/khabar/api/v1/items?edition=kk"),
        site.get("/partners/khabar/api/v1/items?edition=zh", token=KHABAR),
        site.get("/partners/nobody/api/v1/items?edition=kk", token=KHABAR),
        # Unauthenticated, the API's parameters are not even looked at.
        site.get("/partners/khabar/api/v1/items?limit=nonsense"),
    ]
    _same_refusal(first, first)
    for response in refusals:
        _same_refusal(response, first)
    # What is no partner route at all is not found, whoever asks.
    assert site.get("/partners/khabar/kk/other.xml", token=KHABAR).status_code == 404
    assert site.get("/partners/").status_code == 404


def test_the_token_in_the_query_or_in_the_header(site: Site) -> None:
    publish(site.config, site.store)  # stories enter partners' feeds as they are published
    by_query = site.get(f"/partners/khabar/kk/feed.json?token={KHABAR}")
    by_header = site.get("/partners/khabar/kk/feed.json", token=KHABAR)
    assert by_query.status_code == by_header.status_code == 200
    assert by_query.content == by_header.content
    assert json.loads(by_query.content)["items"]
    # A partner configured by its digest only is let in by the token behind it.
    assert site.get("/partners/desk/en/atom.xml", token=DESK).status_code == 200


def _feeds(site: Site, partner: str, token: str, edition: str) -> dict[str, bytes]:
    found = {}
    for name in ("rss.xml", "atom.xml", "feed.json"):
        response = site.get(f"/partners/{partner}/{edition}/{name}", token=token)
        assert response.status_code == 200, (partner, edition, name)
        found[name] = response.content
    return found


def _ids(feeds: dict[str, bytes]) -> dict[str, set[str]]:
    rss = etree.fromstring(feeds["rss.xml"])
    atom = etree.fromstring(feeds["atom.xml"])
    return {
        "rss.xml": {g.text or "" for g in rss.iter("guid")},
        "atom.xml": {e.findtext(f"{ATOM}id") or "" for e in atom.iter(f"{ATOM}entry")},
        "feed.json": {item["id"] for item in json.loads(feeds["feed.json"])["items"]},
    }


def _stories(feeds: dict[str, bytes]) -> set[str]:
    """The stories a feed holds (by article id), the same in all three formats."""
    ids = _ids(feeds)
    assert ids["rss.xml"] == ids["atom.xml"] == ids["feed.json"]
    return {i.split(",2025:", 1)[1].rsplit("/", 1)[0] for i in ids["rss.xml"]}


def test_each_feed_holds_exactly_the_partners_stories_at_its_rights(site: Site) -> None:
    publish(site.config, site.store)  # stories enter partners' feeds as they are published
    newsroom = {"newsroom:story-0", "newsroom:story-1"}
    wire = {f"wire:story-{n}" for n in range(3)}
    brief = {"brief:story-0", "brief:story-1"}
    # khabar: every source, kk and en, capped at summary.
    kk = _feeds(site, "khabar", KHABAR, "kk")
    assert _stories(kk) == newsroom | wire | brief
    assert _stories(_feeds(site, "khabar", KHABAR, "en")) == wire | brief  # no kk→en yet
    for feeds in (kk, _feeds(site, "khabar", KHABAR, "en")):
        text = b"".join(feeds.values()).decode("utf-8")
        assert "BODY-" not in text and "МӘТІН" not in text  # never a body, in any format
        assert "SUMMARY-" in text or "ҚЫСҚАША" in text
        assert etree.fromstring(feeds["rss.xml"]).find(f".//{CONTENT}") is None
        assert etree.fromstring(feeds["atom.xml"]).find(f".//{ATOM}content") is None
        assert all("content_html" not in i for i in json.loads(feeds["feed.json"])["items"])
    # desk: the wire only, every edition, at the wire's own (full) rights.
    desk = _feeds(site, "desk", DESK, "kk")
    assert _stories(desk) == wire
    assert "МӘТІН wire:story-0" in desk["feed.json"].decode("utf-8")
    assert _stories(_feeds(site, "desk", DESK, "kk-Latn")) == wire
    # culture: its topic's stories, a summary-only source kept to its summary.
    culture = _feeds(site, "culture", CULTURE, "en")
    assert _stories(culture) == {"wire:story-0"} | brief
    text = culture["feed.json"].decode("utf-8")
    assert "BODY-wire-0" in text and "BODY-brief" not in text


def test_a_full_partner_gets_the_public_feeds_items(site: Site) -> None:
    """Built and rendered as publishing does: the same ids, text, dates and alternates."""
    publish(site.config, site.store)
    for edition in EDITIONS:
        public = json.loads((site.root / edition / "feed.json").read_bytes())
        private = json.loads(_feeds(site, "full", FULL, edition)["feed.json"])
        assert private["items"] == public["items"], edition
        assert private["feed_url"].endswith(f"/partners/full/{edition}/feed.json")


def test_etag_304_and_gzip(site: Site) -> None:
    path = "/partners/desk/en/rss.xml"
    first = site.get(path, token=DESK, **{"Accept-Encoding": "identity"})
    assert first.headers["cache-control"].startswith("private")
    plain = {"Accept-Encoding": "identity", "If-None-Match": first.headers["etag"]}
    again = site.get(path, token=DESK, **plain)
    assert again.status_code == 304 and again.content == b""
    packed = site.client.get(path, headers={"Authorization": f"Bearer {DESK}",
                                            "Accept-Encoding": "gzip"})  # fmt: skip
    assert packed.headers["content-encoding"] == "gzip"
    assert packed.content == first.content  # httpx decoded it
    head = site.client.head(path, headers={"Authorization": f"Bearer {DESK}"})
    assert head.status_code == 200 and head.content == b""


def test_past_its_rate_a_partner_gets_429_with_retry_after(site: Site) -> None:
    path = "/partners/culture/en/rss.xml"
    answers = [site.get(path, token=CULTURE) for _ in range(5)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
    assert 1 <= int(answers[3].headers["retry-after"]) <= 20  # 3/min: one every 20 s
    # Another partner is not held back by it.
    assert site.get("/partners/desk/en/rss.xml", token=DESK).status_code == 200


def _append(store: Store, article_id: str, edition: str, version: int, status: str = "usable"
            ) -> None:  # fmt: skip
    """A row of the version log, as the publish stage appends it."""
    with store.begin() as conn:
        conn.execute(
            insert(story_versions).values(
                article_id=article_id,
                edition=edition,
                version=version,
                status=status,
                digest=f"{article_id}/{edition}/{version}",
                at=(datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            )
        )


def _validator(shared: Path) -> Callable[[dict[str, Any]], list[str]]:
    import jsonschema

    schema = json.loads((shared / "corpus" / "schemas" / "ninjs-schema_3.1.json").read_bytes())
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    return lambda item: [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(item)
    ]


def test_every_api_item_is_valid_ninjs(site: Site, shared: Path) -> None:
    errors_of = _validator(shared)
    for article_id in ("newsroom:story-0", "wire:story-0", "brief:story-0", "wire:story-1"):
        for edition in ("kk", "en", "kk-Latn"):
            _append(site.store, article_id, edition, 1)
    site.store.withdraw_missing("wire", ["wire:story-0", "wire:story-2"])  # wire:story-1 goes
    _append(site.store, "wire:story-1", "kk", 2, "canceled")
    answers = {
        (partner, edition): site.get(
            f"/partners/{partner}/api/v1/items?edition={edition}", token=token
        ).json()
        for partner, token in (("khabar", KHABAR), ("full", FULL), ("desk", DESK))
        for edition in ("kk", "en")
    }
    answers[("full", "kk-Latn")] = site.get(
        "/partners/full/api/v1/items?edition=kk-Latn", token=FULL
    ).json()
    items = [item for answer in answers.values() for item in answer["items"]]
    assert len(items) > 10
    for item in items:
        assert errors_of(item) == [], item
    full_kk = {i["uri"].split(",2025:")[1]: i for i in answers[("full", "kk")]["items"]}
    # A translation is its own item, pointing at its original story and language.
    translated = full_kk["wire:story-0/kk"]
    assert translated["language"] == "kk" and translated["headlines"][0]["value"].startswith("Т")
    (original,) = [a for a in translated["associations"] if a["name"] == "original"]
    assert original["rel"] == "translationOf" and original["language"] == "en"
    assert original["uri"].endswith(",2025:wire:story-0/en")
    assert "Machine translation from English" in translated["edNote"]
    assert translated["bodies"][0]["contentType"] == "text/html"
    assert translated["usageTerms"] and translated["copyrightHolder"]
    own = full_kk["newsroom:story-0/kk"]
    assert own["language"] == "kk"
    assert [a["name"] for a in own["associations"]] == ["picture"]  # no original: it is one
    # Withdrawn: each version row keeps its own status (the usable version 1 stays usable, the
    # canceled version 2 is canceled), and none has any text at all.
    withdrawn = [i for i in items if "wire:story-1/" in i["uri"]]
    assert {(i["version"], i["pubStatus"]) for i in withdrawn} == {
        ("1", "usable"),
        ("2", "canceled"),
    }
    for item in withdrawn:
        assert not {"headlines", "descriptions", "bodies"} & set(item)
    # A summary partner never receives a body; a derived script points at its base edition.
    assert all(
        "bodies" not in i for k, a in answers.items() if k[0] == "khabar" for i in a["items"]
    )
    latn = {i["uri"].split(",2025:")[1]: i for i in answers[("full", "kk-Latn")]["items"]}
    (base,) = [
        a for a in latn["newsroom:story-0/kk-Latn"]["associations"] if a["name"] == "original"
    ]
    assert base["rel"] == "transliterationOf" and base["language"] == "kk"
    # The desk gets only the wire.
    assert {i["uri"].split(":")[2] for i in answers[("desk", "kk")]["items"]} == {"wire"}


def test_following_next_gets_each_version_once(site: Site) -> None:
    ids = ["newsroom:story-0", "wire:story-0", "wire:story-1", "brief:story-0", "wire:story-2"]
    for n, article_id in enumerate(ids):
        _append(site.store, article_id, "kk", 1)
        _append(site.store, article_id, "en", 1)
        if n % 2:
            _append(site.store, article_id, "kk", 2)
    seen: list[tuple[str, str]] = []
    cursor = ""
    pages = 0
    while True:
        query = f"edition=kk&limit=2{f'&after={cursor}' if cursor else ''}"
        answer = site.get(f"/partners/desk/api/v1/items?{query}", token=DESK)
        assert answer.status_code == 200
        data = answer.json()
        seen += [(i["uri"], i["version"]) for i in data["items"]]
        pages += 1
        if not data["items"]:
            assert data["next"] == cursor  # caught up: the same cursor back
            break
        cursor = data["next"]
    # The desk's stories (the wire) in kk, every version once, oldest first.
    assert len(seen) == len(set(seen)) == 4
    assert [v for u, v in seen if u.endswith("wire:story-0/kk")] == ["1", "2"]
    assert pages == 3
    # Unchanged answer: 304 on its ETag. A new version: a new answer after the same cursor.
    asked = f"/partners/desk/api/v1/items?edition=kk&after={cursor}"
    caught_up = site.get(asked, token=DESK)
    assert (
        site.get(asked, token=DESK, **{"If-None-Match": caught_up.headers["etag"]}).status_code
        == 304
    )
    _append(site.store, "wire:story-2", "kk", 2)
    time.sleep(1.1)  # the log is looked at again after a second (partners.feeds.FRESH)
    newer = site.get(asked, token=DESK).json()
    assert [(i["uri"].rsplit(":", 1)[1], i["version"]) for i in newer["items"]] == [
        ("story-2/kk", "2")
    ]
    assert int(newer["next"]) > int(cursor)


def test_bad_api_parameters_are_told_to_the_partner(site: Site) -> None:
    queries = (
        "",
        "edition=kk&after=x",
        "edition=kk&limit=0",
        "edition=kk&limit=100000",
        "edition=kk&after=99999999999999999999999",  # past any database's integer: was a 500
    )
    for query in queries:
        answer = site.get(f"/partners/full/api/v1/items?{query}", token=FULL)
        assert answer.status_code == 400, query


def test_a_cursor_past_the_newest_version_is_refused_saying_where_the_log_ends(
    site: Site,
) -> None:
    """A cursor never handed out (a store restored from an older backup): an empty answer
    would leave the partner waiting for versions it has already missed."""
    newest = site.get("/partners/full/api/v1/items?edition=kk&limit=200", token=FULL).json()
    end = int(newest["next"])
    ahead = site.get(f"/partners/full/api/v1/items?edition=kk&after={end + 1000}", token=FULL)
    assert ahead.status_code == 400
    assert "is past the newest version (" in ahead.text
    assert site.get(f"/partners/full/api/v1/items?edition=kk&after={end}", token=FULL).json() == {
        "items": [],
        "next": str(end),
    }


def test_a_new_configuration_applies_at_the_next_request(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = "/partners/khabar/kk/rss.xml"
    assert site.get(path, token=KHABAR).status_code == 200
    rotated = "khabar-rotated-0123456789abcdef"
    monkeypatch.setenv("KHABAR_TOKEN", rotated)
    site.app.configure(load(site.config.path))
    assert site.get(path, token=KHABAR).status_code == 401
    assert site.get(path, token=rotated).status_code == 200
    removed = load(write_config(
        tmp_path,
        editions=EDITIONS,
        sources=[{"id": "newsroom", "articles": "articles", "language": "kk"}],
        partners=[{"id": "full", "token": "${FULL_TOKEN}"}],
    ))  # fmt: skip
    site.app.configure(removed)
    assert site.get(path, token=rotated).status_code == 401
    assert site.get("/partners/full/kk/rss.xml", token=FULL).status_code == 200


def test_nothing_under_partners_comes_from_the_output_folder(site: Site) -> None:
    planted = site.root / "partners" / "khabar" / "kk"
    planted.mkdir(parents=True)
    (planted / "rss.xml").write_text("PLANTED", encoding="utf-8")
    (planted / "index.html").write_text("PLANTED", encoding="utf-8")
    for path in (
        "/partners/khabar/kk/rss.xml",
        "/partners/khabar/kk/",
        "/partners/khabar/kk/index.html",
    ):
        assert b"PLANTED" not in site.get(path).content
    assert b"PLANTED" not in site.get("/partners/khabar/kk/rss.xml", token=KHABAR).content


def test_who_pulls_what_is_recorded_never_the_token(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    before = (
        metrics.REGISTRY.get_sample_value(
            "syndication_partner_requests_total",
            {"partner": "khabar", "kind": "feed", "result": "not-modified"},
        )
        or 0.0
    )
    caplog.set_level(logging.INFO, logger="syndication.access")
    first = site.get(f"/partners/khabar/kk/rss.xml?token={KHABAR}")
    site.get(
        f"/partners/khabar/kk/rss.xml?token={KHABAR}", **{"If-None-Match": first.headers["etag"]}
    )
    site.get("/partners/khabar/api/v1/items?edition=en", token=KHABAR)
    site.get("/partners/khabar/kk/rss.xml?token=guessed-0123456789abcdef")
    site.get("/partners/nobody/kk/rss.xml", token=KHABAR)
    site.app.activity.flush()
    lines = [r.getMessage() for r in caplog.records if r.name == "syndication.access"]
    assert len(lines) == 5
    assert all(KHABAR not in line and "guessed" not in line for line in lines)
    partners = [getattr(r, "partner", None) for r in caplog.records if r.name.endswith("access")]
    assert partners == ["khabar", "khabar", "khabar", "khabar", "-"]
    assert "GET /partners/khabar/api/v1/items?edition=en 200" in lines[2]
    (activity,) = [
        a for k, a in site.store.partner_activity("2000-01-01T00").items() if k == "khabar"
    ]
    assert (activity.requests, activity.not_modified) == (3, 1)
    assert (activity.last_cursor_edition, activity.last_cursor) == ("en", "0")
    assert activity.last_refused is not None and activity.last_refused_from == "127.0.0.1"
    assert "nobody" not in site.store.partner_activity("2000-01-01T00")
    after = metrics.REGISTRY.get_sample_value(
        "syndication_partner_requests_total",
        {"partner": "khabar", "kind": "feed", "result": "not-modified"},
    )
    assert after == before + 1
    dump = "\n".join(
        str(row) for table in ("partner_state", "partner_traffic", "meta")
        for row in site.store.engine.connect().exec_driver_sql(f"SELECT * FROM {table}")
    )  # fmt: skip
    assert KHABAR not in dump and hashlib.sha256(KHABAR.encode()).hexdigest() not in dump
