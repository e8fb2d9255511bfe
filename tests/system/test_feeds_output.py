"""The published feeds as partners and readers receive them, after a real `syndication once`.

Owns: the W3C Feed Validation Service rules that can be checked offline (well-formed XML,
RSS channel elements, atom:link rel=self with the public URL, an author for every Atom entry,
ids that are valid tag: URIs, RFC 822 / RFC 3339 dates, HTML declared type="html", BCP 47
language tags), a feedparser round-trip of every item (language, ids, links, enclosures,
hreflang alternates, dates), JSON Feed 1.1 against a JSON Schema written here, the derived
kk-Latn and zh-Hant editions, machine-translation attribution, and ids stable across runs.

One cycle runs once per module (the CLI in a child process, a partner feed and a fake Google
Translate on loopback); each test reads the files it left on disk.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import feedparser
import jsonschema
import pytest
from lxml import etree
from lxml import html as lxml_html

from tests.conftest import OFFLINE_TRANSLATION, PARTNER_FEED, REPO, run_cli, snapshot, write_config
from tests.fakeprovider import FakeGoogle
from tests.feedserver import FeedServer

BASE = "https://feeds.example.kz/"
EDITIONS = ("kk", "zh", "en", "kk-Latn", "zh-Hant")
SOURCES = ("newsroom", "partner")
ATOM = "http://www.w3.org/2005/Atom"
A = f"{{{ATOM}}}"
DC = "{http://purl.org/dc/elements/1.1/}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

# BCP 47 as our editions use it: a primary language subtag, optional script and region.
BCP47 = re.compile(r"^[a-z]{2,3}(-[A-Z][a-z]{3})?(-([A-Z]{2}|\d{3}))?$")
KNOWN_LANGUAGES = {"kk", "zh", "en", "ru"}  # ISO 639-1; `kz` is a country code, not Kazakh
# RFC 4151: tag:authority,date:specific, where specific is URI path characters only.
TAG_URI = re.compile(r"^tag:[a-z0-9.-]+,\d{4}(-\d{2}(-\d{2})?)?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?%]+$")
RFC822 = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"\d{4} \d{2}:\d{2}:\d{2} ([+-]\d{4}|GMT|UT)$"
)
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
HTML_TAG = re.compile(r"<[a-zA-Z/][^>]*>")
HAN = re.compile(r"[\u4e00-\u9fff]")
CYRILLIC = re.compile(r"[\u0400-\u04ff]")

# JSON Feed 1.1 (https://www.jsonfeed.org/version/1.1/) as a JSON Schema: what the spec
# requires (version URL, title, items with id and content_html or content_text), the types
# it gives every field, RFC 3339 dates, and attachments with url and mime_type.
DATE = {"type": "string", "pattern": RFC3339.pattern}
AUTHOR = {"type": "object", "minProperties": 1,
          "properties": {"name": {"type": "string"}, "url": {"type": "string"},
                         "avatar": {"type": "string"}}}  # fmt: skip
JSON_FEED_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["version", "title", "items"],
    "properties": {
        "version": {"const": "https://jsonfeed.org/version/1.1"},
        "title": {"type": "string", "minLength": 1},
        "home_page_url": {"type": "string", "format": "uri"},
        "feed_url": {"type": "string", "format": "uri"},
        "description": {"type": "string"},
        "user_comment": {"type": "string"},
        "next_url": {"type": "string"},
        "icon": {"type": "string"},
        "favicon": {"type": "string"},
        "authors": {"type": "array", "items": AUTHOR},
        "language": {"type": "string", "pattern": BCP47.pattern},
        "expired": {"type": "boolean"},
        "hubs": {"type": "array", "items": {"type": "object", "required": ["type", "url"],
                 "properties": {"type": {"type": "string"}, "url": {"type": "string"}}}},
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id"],
                "anyOf": [{"required": ["content_html"]}, {"required": ["content_text"]}],
                "properties": {
                    "id": {"type": "string", "minLength": 1},
                    "url": {"type": "string"},
                    "external_url": {"type": "string"},
                    "title": {"type": "string"},
                    "content_html": {"type": "string"},
                    "content_text": {"type": "string"},
                    "summary": {"type": "string"},
                    "image": {"type": "string"},
                    "banner_image": {"type": "string"},
                    "date_published": DATE,
                    "date_modified": DATE,
                    "authors": {"type": "array", "items": AUTHOR},
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "language": {"type": "string", "pattern": BCP47.pattern},
                    "attachments": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["url", "mime_type"],
                            "properties": {
                                "url": {"type": "string"},
                                "mime_type": {"type": "string", "pattern": r"^\w+/[\w.+-]+$"},
                                "title": {"type": "string"},
                                "size_in_bytes": {"type": "integer", "minimum": 0},
                                "duration_in_seconds": {"type": "number", "minimum": 0},
                            },
                        },
                    },
                },
            },
        },
    },
}  # fmt: skip


@dataclass
class Published:
    root: Path
    config: Path
    google: FakeGoogle
    first: dict[str, tuple[bytes, int]]


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Published]:
    folder = tmp_path_factory.mktemp("site")
    google = FakeGoogle()
    feeds = FeedServer().start()
    try:
        url = feeds.add("/partner.xml", PARTNER_FEED.read_bytes(),
                        headers={"Content-Type": "application/rss+xml"}, etag='"p1"')  # fmt: skip
        config = write_config(
            folder,
            editions=list(EDITIONS),
            sources=[
                {"id": "newsroom", "title": "Newsroom", "articles": "articles", "language": "kk"},
                {"id": "partner", "title": "Partner Desk", "url": url, "rights": "summary"},
            ],
            translation={"chain": ["google"], "providers": {"google": {"base_url": google.url}},
                         "timeout": "5s"},
        )  # fmt: skip
        result = run_cli("once", "--config", str(config))
        assert result.code == 0, result.output
        root = folder / "public"
        yield Published(root, config, google, snapshot(root))
    finally:
        feeds.stop()
        google.stop()
        shutil.rmtree(folder, ignore_errors=True)


def _feed_folders() -> list[str]:
    return [f"{e}/" for e in EDITIONS] + [f"{e}/sources/{s}/" for e in EDITIONS for s in SOURCES]


def _parse_xml(data: bytes) -> etree._Element:
    # Well-formedness: lxml's parser in strict mode (no recovery) raises on any error.
    return etree.fromstring(data, etree.XMLParser(recover=False, resolve_entities=False))


def _check_language(tag: str | None, where: str) -> None:
    assert tag and BCP47.match(tag), f"{where}: {tag!r} is not a BCP 47 tag"
    assert tag.split("-")[0] in KNOWN_LANGUAGES, f"{where}: unknown language {tag!r}"


def _check_html_declared(element: etree._Element, where: str) -> None:
    text = element.text or ""
    if HTML_TAG.search(text):
        assert element.get("type") in ("html", "xhtml"), f"{where}: HTML not declared type=html"


def check_rss(data: bytes, self_url: str, edition: str) -> None:
    """The RSS 2.0 rules of the W3C validator that hold without the network."""
    root = _parse_xml(data)
    assert root.tag == "rss" and root.get("version") == "2.0"
    channel = root.find("channel")
    assert channel is not None
    for name in ("title", "link", "description"):  # RSS 2.0 required channel elements
        assert (channel.findtext(name) or "").strip(), f"channel <{name}> missing"
    assert channel.findtext("link", "").startswith(("http://", "https://"))
    assert channel.findtext("language") == edition
    _check_language(channel.findtext("language"), self_url)
    selfs = [link for link in channel.findall(f"{A}link") if link.get("rel") == "self"]
    assert [link.get("href") for link in selfs] == [self_url]
    assert selfs[0].get("type") == "application/rss+xml"
    assert RFC822.match(channel.findtext("lastBuildDate", "")), channel.findtext("lastBuildDate")
    guids: list[str] = []
    for item in channel.findall("item"):
        where = f"{self_url} item {item.findtext('title')!r}"
        assert item.findtext("title") or item.findtext("description"), where
        guid = item.find("guid")
        assert guid is not None and guid.get("isPermaLink") == "false", where
        assert TAG_URI.match(guid.text or ""), f"{where}: guid {guid.text!r}"
        guids.append(guid.text or "")
        assert RFC822.match(item.findtext("pubDate", "")), f"{where}: {item.findtext('pubDate')}"
        assert item.findtext("link", "").startswith(BASE), where
        for enclosure in item.findall("enclosure"):
            assert enclosure.get("url", "").startswith(("http://", "https://")), where
            assert (enclosure.get("length") or "").isdigit(), where
            assert re.match(r"^\w+/[\w.+-]+$", enclosure.get("type") or ""), where
        if item.find(f"{DC}language") is not None:
            _check_language(item.findtext(f"{DC}language"), where)
            assert item.findtext(f"{DC}language") != edition, f"{where}: redundant dc:language"
        source = item.find("source")
        if source is not None:
            assert source.get("url", "").startswith(("http://", "https://")), where
    assert len(guids) == len(set(guids)), f"{self_url}: duplicate guids"


def check_atom(data: bytes, self_url: str, edition: str) -> None:
    """The Atom 1.0 rules of the W3C validator that hold without the network."""
    root = _parse_xml(data)
    assert root.tag == f"{A}feed"
    assert root.get(XML_LANG) == edition
    _check_language(root.get(XML_LANG), self_url)
    # A tag: URI that does not move with the site's base URL (see item ids).
    assert (root.findtext(f"{A}id") or "").startswith("tag:feeds.example.kz,2025:feed/")
    assert root.findtext(f"{A}title")
    assert RFC3339.match(root.findtext(f"{A}updated", "")), root.findtext(f"{A}updated")
    links = root.findall(f"{A}link")
    assert [link.get("href") for link in links if link.get("rel") == "self"] == [self_url]
    _check_unique_alternates(links, self_url)
    feed_author = root.find(f"{A}author/{A}name") is not None
    ids: list[str] = []
    for entry in root.findall(f"{A}entry"):
        where = f"{self_url} entry {entry.findtext(f'{A}title')!r}"
        entry_id = entry.findtext(f"{A}id") or ""
        assert TAG_URI.match(entry_id), f"{where}: id {entry_id!r}"
        ids.append(entry_id)
        assert entry.findtext(f"{A}title"), where
        assert RFC3339.match(entry.findtext(f"{A}updated", "")), where
        assert RFC3339.match(entry.findtext(f"{A}published", "")), where
        assert feed_author or entry.find(f"{A}author/{A}name") is not None, f"{where}: author"
        entry_links = entry.findall(f"{A}link")
        assert all(link.get("rel") for link in entry_links), f"{where}: a link without rel"
        _check_unique_alternates(entry_links, where)
        own = [
            link
            for link in entry_links
            if link.get("rel") == "alternate" and not link.get("hreflang")
        ]
        assert len(own) == 1 and own[0].get("href", "").startswith(BASE), where
        for link in entry_links:
            if link.get("rel") == "enclosure":
                assert (link.get("length") or "").isdigit() and link.get("type"), where
            if link.get("hreflang"):
                _check_language(link.get("hreflang"), where)
        content = entry.find(f"{A}content")
        if content is not None:
            assert content.get("type") == "html", f"{where}: content type"
            _check_html_declared(content, where)
        if entry.find(f"{A}summary") is not None:
            _check_html_declared(entry.find(f"{A}summary"), where)  # type: ignore[arg-type]
        if content is None:
            assert own, f"{where}: no content and no alternate link"
        if entry.get(XML_LANG):
            _check_language(entry.get(XML_LANG), where)
    assert len(ids) == len(set(ids)), f"{self_url}: duplicate ids"


def _check_unique_alternates(links: list[etree._Element], where: str) -> None:
    # RFC 4287 4.1.1: no two alternate links with the same type and hreflang.
    alternates = [link for link in links if link.get("rel") == "alternate"]
    keys = [(link.get("type"), link.get("hreflang")) for link in alternates]
    assert len(keys) == len(set(keys)), f"{where}: duplicate alternate links {keys}"


def test_every_rss_and_atom_file_follows_the_validator_rules(published: Published) -> None:
    checked = 0
    for folder in _feed_folders():
        edition = folder.split("/")[0]
        rss = published.root / folder / "rss.xml"
        atom = published.root / folder / "atom.xml"
        check_rss(rss.read_bytes(), f"{BASE}{folder}rss.xml", edition)
        check_atom(atom.read_bytes(), f"{BASE}{folder}atom.xml", edition)
        checked += 2
    found = {p.relative_to(published.root).as_posix() for p in published.root.rglob("*.xml")}
    assert checked == len(found) == 2 * len(_feed_folders())


def test_json_feeds_validate_against_the_json_feed_1_1_schema(published: Published) -> None:
    validator = jsonschema.Draft202012Validator(
        JSON_FEED_SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    for folder in _feed_folders():
        data = json.loads((published.root / folder / "feed.json").read_text(encoding="utf-8"))
        errors = [e.message for e in validator.iter_errors(data)]
        assert not errors, (folder, errors)
        assert data["feed_url"] == f"{BASE}{folder}feed.json"
        assert data["language"] == folder.split("/")[0]
        assert data["items"], folder
    # The schema is not a rubber stamp: a JSON Feed 1.0 file or an item without content fails.
    bad = json.loads((published.root / "kk" / "feed.json").read_text(encoding="utf-8"))
    bad["version"] = "https://jsonfeed.org/version/1"
    for key in ("content_html", "content_text"):
        bad["items"][0].pop(key, None)
    assert len(list(validator.iter_errors(bad))) >= 2


def test_feedparser_round_trip_finds_every_item(published: Published) -> None:
    for folder in _feed_folders():
        edition = folder.split("/")[0]
        expected = json.loads((published.root / folder / "feed.json").read_text("utf-8"))
        items = {i["id"]: i for i in expected["items"]}
        for name in ("rss.xml", "atom.xml"):
            parsed = feedparser.parse((published.root / folder / name).read_bytes())
            assert not parsed.bozo, (folder, name, parsed.get("bozo_exception"))
            assert parsed.feed.language == edition
            assert [e.id for e in parsed.entries] == list(items), (folder, name)
            for entry in parsed.entries:
                item = items[entry.id]
                assert entry.link == item["url"], (folder, name, entry.link)
                page = published.root / item["url"].removeprefix(BASE)
                assert page.is_file(), page
                assert entry.published_parsed is not None
                published_at = datetime.fromisoformat(item["date_published"].replace("Z", "+00:00"))
                assert datetime(*entry.published_parsed[:6]) == published_at.replace(tzinfo=None)
                language = entry.get("language") or (
                    entry.title_detail.get("language") if name == "atom.xml" else None
                ) or parsed.feed.language  # fmt: skip
                assert language == item["language"], (folder, name, entry.id)
                versions = {x.hreflang: x.href for x in entry.links if x.get("hreflang")}
                others = item.get("_syndication", {}).get("alternates", {})
                assert versions == {**others, edition: item["url"]}, (folder, name, entry.id)
                assert set(versions) == set(EDITIONS), (folder, name, entry.id)
                if name == "atom.xml":
                    assert entry.updated_parsed is not None
                for enclosure in entry.get("enclosures", []):
                    assert enclosure.get("type") and enclosure.get("length", "").isdigit()
                if name == "atom.xml":
                    # An image must be an enclosure link, never a second "article" link.
                    rels = {link.href: link.rel for link in entry.links}
                    assert all(rels[e.href] == "enclosure" for e in entry.get("enclosures", []))
                if item.get("attachments"):
                    assert [e.href for e in entry.enclosures][:1] == [item["attachments"][0]["url"]]
    # At least one story carries an image, so the enclosure checks above did run.
    kk = feedparser.parse((published.root / "kk" / "atom.xml").read_bytes())
    assert any(e.get("enclosures") for e in kk.entries)


def test_feeds_link_their_sibling_editions_hub_free(published: Published) -> None:
    atom = _parse_xml((published.root / "kk" / "atom.xml").read_bytes())
    siblings = {link.get("hreflang"): link.get("href") for link in atom.findall(f"{A}link")
                if link.get("rel") == "alternate" and link.get("hreflang")}  # fmt: skip
    assert siblings == {e: f"{BASE}{e}/atom.xml" for e in EDITIONS if e != "kk"}
    assert not [link for link in atom.findall(f"{A}link") if link.get("rel") == "hub"]


def test_derived_editions_are_transliterated_not_translated(published: Published) -> None:
    targets = {call.target for call in published.google.calls}
    assert published.google.calls and all(
        "latn" not in t.lower() and "hant" not in t.lower() and "tw" not in t.lower()
        for t in targets
    ), targets
    latin = feedparser.parse((published.root / "kk-Latn" / "atom.xml").read_bytes())
    cyrillic = feedparser.parse((published.root / "kk" / "atom.xml").read_bytes())
    assert len(latin.entries) == len(cyrillic.entries) > 0
    for entry in latin.entries:
        assert not CYRILLIC.search(entry.title + entry.get("summary", "")), entry.title
    assert any(CYRILLIC.search(e.title) for e in cyrillic.entries)
    hans = json.loads((published.root / "zh" / "feed.json").read_text("utf-8"))
    hant = json.loads((published.root / "zh-Hant" / "feed.json").read_text("utf-8"))
    sample = "中哈合拍纪录片《丝路新篇》在阿斯塔纳首映"
    titles = {i["title"] for i in hant["items"]}
    assert sample in {i["title"] for i in hans["items"]}
    assert sample not in titles and "中哈合拍紀錄片《絲路新篇》在阿斯塔納首映" in titles
    assert all(i["language"] == "zh-Hant" for i in hant["items"])
    assert all(HAN.search(i["title"]) for i in hant["items"])


def test_translated_items_carry_attribution_and_provenance(published: Published) -> None:
    feed = json.loads((published.root / "en" / "feed.json").read_text("utf-8"))
    translated = [
        i for i in feed["items"] if i.get("_syndication", {}).get("machine_translated_from")
    ]
    own = [i for i in feed["items"] if not i.get("_syndication", {}).get("machine_translated_from")]
    assert translated and own
    for item in translated:
        origin = item["_syndication"]["machine_translated_from"]
        assert origin != "en" and BCP47.match(origin)
        text = item.get("content_html") or item.get("summary", "")
        assert "Machine-translated" in text, item["id"]
    for item in own:
        assert "Machine-translated" not in json.dumps(item, ensure_ascii=False)
    # Same words in the Atom content and on the article page.
    atom = feedparser.parse((published.root / "en" / "atom.xml").read_bytes())
    full = [e for e in atom.entries if e.get("content")]
    assert any("Machine-translated" in e.content[0].value for e in full)


def test_item_ids_are_stable_and_related_across_editions(published: Published) -> None:
    ids: dict[str, set[str]] = {}
    for edition in EDITIONS:
        feed = json.loads((published.root / edition / "feed.json").read_text("utf-8"))
        ids[edition] = {i["id"] for i in feed["items"]}
        assert all(i.endswith(f"/{edition}") for i in ids[edition])
    stories = {e: {i.rsplit("/", 1)[0] for i in found} for e, found in ids.items()}
    assert all(s == stories["kk"] for s in stories.values()), stories
    # A second cycle (nothing new) leaves every file, and so every id, exactly as it was.
    result = run_cli("once", "--config", str(published.config))
    assert result.code == 0, result.output
    assert snapshot(published.root) == published.first


def test_per_source_feeds_hold_only_their_source(published: Published) -> None:
    for edition in EDITIONS:
        combined = json.loads((published.root / edition / "feed.json").read_text("utf-8"))
        seen: set[str] = set()
        for source in SOURCES:
            feed = json.loads(
                (published.root / edition / "sources" / source / "feed.json").read_text("utf-8")
            )
            ids = {i["id"] for i in feed["items"]}
            assert ids and all(f":{source}:" in i for i in ids), (edition, source)
            seen |= ids
        assert seen == {i["id"] for i in combined["items"]}


def test_every_feed_folder_has_a_page_of_its_stories(published: Published) -> None:
    """The page a browser is shown for a feed: its stories, where to subscribe, its editions."""
    for folder in _feed_folders():
        page = published.root / folder / "index.html"
        document = lxml_html.fromstring(page.read_bytes())
        text = " ".join(document.text_content().split())
        feed = json.loads((published.root / folder / "feed.json").read_text("utf-8"))
        assert document.get("lang") == feed["language"]
        assert feed["title"] in text, folder
        for item in feed["items"]:
            assert item["title"] in text, (folder, item["title"])
        for name in ("rss.xml", "atom.xml", "feed.json"):
            assert f"{BASE}{folder}{name}" in text, (folder, name)
        hrefs = {a.get("href") for a in document.iter("a")}
        assert {item["url"] for item in feed["items"]} <= hrefs, folder
        editions = document.xpath("//nav[@class='editions']/a")
        assert {a.get("hreflang") for a in editions} == set(EDITIONS) - {folder.split("/")[0]}
        for a in editions:
            sibling = (page.parent / a.get("href")).resolve()
            assert sibling.is_file(), sibling
            assert sibling.relative_to(published.root.resolve()).as_posix() == (
                f"{a.get('hreflang')}/{folder.split('/', 1)[1]}index.html"
            )


def test_the_xsl_renders_rss_and_atom_readably(published: Published) -> None:
    transform = etree.XSLT(etree.parse(str(published.root / "feed.xsl")))
    for name in ("rss.xml", "atom.xml"):
        source = etree.parse(str(published.root / "kk" / name))
        page = str(transform(source))
        titles = [t for t in source.xpath("//*[local-name()='item' or local-name()='entry']"
                                          "/*[local-name()='title']/text()")]  # fmt: skip
        assert titles and all(title in page for title in titles), name
        assert page.count("<article") == len(titles) and 'lang="kk"' in page, name
    head = (published.root / "kk" / "sources" / "partner" / "atom.xml").read_bytes()[:200]
    assert b'href="../../../feed.xsl"' in head


# The W3C Feed Validation Service, run offline (../shared/tools/README.md): set up with
# `../shared/tools/setup-feedvalidator.sh GIT_DIR ../fv`, or point this variable at the
# `validate-feed` it makes.
FEEDVALIDATOR = os.environ.get(
    "SYNDICATION_FEEDVALIDATOR", str(REPO.parent / "fv" / "validate-feed")
)


def w3c_validate(root: Path) -> list[dict[str, object]]:
    """The validator's report on every RSS and Atom file under `root`, one dict per file."""
    if not os.access(FEEDVALIDATOR, os.X_OK):
        pytest.skip(
            f"the W3C feed validator is not set up at {FEEDVALIDATOR}: run "
            "../shared/tools/setup-feedvalidator.sh GIT_DIR ../fv (or set "
            "SYNDICATION_FEEDVALIDATOR)"
        )
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.xml")
                   if p.name in ("rss.xml", "atom.xml"))  # fmt: skip
    done = subprocess.run([FEEDVALIDATOR, "--json", *files], cwd=root, capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    assert done.returncode in (0, 1), done.stderr
    reports: list[dict[str, object]] = json.loads(done.stdout)
    assert sorted(str(r["file"]) for r in reports) == files
    return reports


def _problems(reports: list[dict[str, object]]) -> list[str]:
    """Every error, and every MissingSourceElement warning (atom:source without id/updated)."""
    return [
        f"{event['file']}:{event['line']}: {event['level']} {event['type']}: {event['message']}"
        for report in reports
        for event in report["events"]  # type: ignore[attr-defined]
        if event["level"] == "error" or event["type"] == "MissingSourceElement"
    ]


def test_w3c_validator_passes_every_translated_feed(published: Published) -> None:
    reports = w3c_validate(published.root)
    assert len(reports) == 2 * len(_feed_folders())
    # Partner items (with atom:source) are in them, so the source check did run.
    assert b"<source>" in (published.root / "en" / "atom.xml").read_bytes()
    assert _problems(reports) == []


def test_w3c_validator_passes_the_default_configuration(tmp_path: Path) -> None:
    """`once` on the embedded config/syndication.yaml, offline, as `make run` first does."""
    env = {
        "SYNDICATION_STORE": f"sqlite:///{tmp_path}/data/syndication.db",
        "SYNDICATION_OUTPUT": str(tmp_path / "public"),
        # Offline for sure: Google is reached through a proxy that is not there.
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
        "NO_PROXY": "",
    }
    result = run_cli("once", "--config", str(REPO / "config" / "syndication.yaml"), env=env)
    assert result.code in (0, 1), result.output  # 1: translations kept for retry
    reports = w3c_validate(tmp_path / "public")
    assert len(reports) == 30
    assert b"<source>" in (tmp_path / "public" / "en" / "atom.xml").read_bytes()
    assert _problems(reports) == []


def test_archive_documents_and_tombstones_follow_the_validator_rules(tmp_path: Path) -> None:
    """RFC 5005 archive documents (two stories to a document, so every feed has some) and an
    Atom feed carrying an RFC 6721 tombstone pass the checks above and, where it is set up,
    the W3C validator itself."""
    config = write_config(
        tmp_path,
        feeds={"items": 2},
        translation={**OFFLINE_TRANSLATION, "untranslated": "original", "timeout": "2s"},
    )
    assert run_cli("once", "--config", str(config)).code in (0, 1)  # 1: translations kept
    withdrawn = run_cli("withdraw", "newsroom:2025-05-02-astana-book-fair", "--reason",
                        "Legal request", "--config", str(config))  # fmt: skip
    assert withdrawn.code == 0, withdrawn.output
    root = tmp_path / "public"
    archives = sorted(root.glob("*/**/archive/*/atom.xml"))
    assert {p.relative_to(root).parts[0] for p in archives} == {"kk", "zh", "en"}
    for atom in archives:
        folder = atom.parent.relative_to(root).as_posix() + "/"
        edition = folder.split("/")[0]
        check_atom(atom.read_bytes(), f"{BASE}{folder}atom.xml", edition)
        check_rss((atom.parent / "rss.xml").read_bytes(), f"{BASE}{folder}rss.xml", edition)
    assert b"<at:deleted-entry" in (root / "kk" / "atom.xml").read_bytes()
    check_atom((root / "kk" / "atom.xml").read_bytes(), f"{BASE}kk/atom.xml", "kk")
    reports = w3c_validate(root)
    assert len(reports) == 2 * len(list(root.rglob("atom.xml")))
    assert _problems(reports) == []


# The validator reads a few hundred documents: minutes on a slow machine sharing its cores.
@pytest.mark.timeout(600)
def test_w3c_validator_passes_what_every_corpus_feed_publishes(
    tmp_path: Path, shared: Path
) -> None:
    """Every real feed of ../shared/corpus (RSS 0.91 to Atom, media, podcasts, legacy
    encodings, quirks) and every hostile file the ingest accepts (ill-formed XML, wrong
    encodings, script injection), published in two editions, current and archive documents:
    not one validator error, whatever the partners sent (a narrow no-break space or Chinese
    letters in an enclosure's URL, an entity read into a query string, HTML in odd places)."""
    corpus = shared / "corpus"
    files = [p for folder in ("feeds", "hostile") for p in sorted((corpus / folder).iterdir())]
    sources = [
        {
            "id": f"{p.parent.name[0]}{n}-"
            + re.sub(r"[^a-z0-9]+", "-", p.stem.lower())[:40].strip("-"),
            "file": str(p),
        }
        for n, p in enumerate(files)
    ]
    config = write_config(
        tmp_path,
        editions=["en", "zh"],
        sources=sources,
        translation={**OFFLINE_TRANSLATION, "untranslated": "original"},
    )
    result = run_cli("once", "--config", str(config))
    assert result.code in (0, 1), result.output  # 1: the hostile files refused, and says so
    status = json.loads(run_cli("status", "--json", "--config", str(config)).stdout)
    results = {s["id"]: s["result"] for s in status["sources"]}
    assert all(results[s["id"]] == "ok" for s in sources if s["id"].startswith("f")), results
    assert sum(r == "ok" for r in results.values()) > len(results) * 2 // 3, results
    root = tmp_path / "public"
    validator = jsonschema.Draft202012Validator(
        JSON_FEED_SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    for path in root.rglob("feed.json"):
        errors = [e.message for e in validator.iter_errors(json.loads(path.read_bytes()))]
        assert not errors, (path, errors)
    reports = w3c_validate(root)
    assert len(reports) == 2 * len(list(root.rglob("atom.xml"))) > 2 * 2 * len(files)
    assert _problems(reports) == []
    # Warnings that were ours: a partner's feed id as it gives it (`https://www.giantbomb.com`,
    # NonCanonicalURI for every entry carrying it); a plain-text summary with a `<` in an
    # RSS description, which readers parse as HTML (NotHtml).
    ours = [
        f"{report['file']}:{event['line']}: {event['type']}: {event['message']}"
        for report in reports
        for event in report["events"]  # type: ignore[attr-defined]
        if (event["type"] == "NonCanonicalURI" and '"http' in event["message"])
        or event["type"] == "NotHtml"
    ]
    assert ours == []
