"""The publish stage on a real store: rights, minimal writes, crash safety, age limit, WebSub.

Owns: what `publish(config, store)` leaves on disk for stories saved with `save_articles`
(and translations saved with `store.save_translation`): a `rights: title` source never shows
its summary or content anywhere, `rights: summary` never its content; photo credits of local
files and partner items shown as credits in every edition (through the CLI); an unchanged publish
touches nothing; article pages written before the feeds that link to them (wherever the output
folder is); a file that cannot be put in place reported, left out of what is recorded, and
written by the next publish, while every other file is written; a publisher killed with
SIGKILL at random moments never leaves a broken or half-written file where a reader looks;
`feeds.max_age`; stories of sources gone from the YAML; and the WebSub ping to a hub on
loopback only after a change.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from lxml import etree

from syndication.config import Config, load
from syndication.ingest.save import save_articles
from syndication.model import Article, Enclosure, Translation, utcnow
from syndication.publish import publish, stage
from syndication.store import Store
from tests.conftest import snapshot, write_config
from tests.loopback import LoopbackServer

# The store on each backend: SQLite and PostgreSQL (tests/conftest.py, `store_url`).
pytestmark = pytest.mark.usefixtures("store_url")

EDITIONS = ["kk", "zh", "en", "kk-Latn", "zh-Hant"]


def _setup(folder: Path, **overrides: Any) -> tuple[Config, Store]:
    settings: dict[str, Any] = {
        "editions": EDITIONS,
        "sources": [
            {"id": "full", "articles": "articles", "language": "en", "rights": "full"},
            {"id": "brief", "articles": "articles", "language": "en", "rights": "summary"},
            {"id": "heads", "articles": "articles", "language": "en", "rights": "title"},
        ],
        "translation": {"chain": ["google"], "untranslated": "original"},
    }
    settings.update(overrides)
    config = load(write_config(folder, **settings))
    return config, Store.open(config.store_url)


def _article(source: str, n: int, *, days_ago: float = 0, language: str = "en",
             tag: str = "") -> Article:  # fmt: skip
    return Article(
        id=f"{source}:story-{n}",
        source_id=source,
        guid=f"story-{n}",
        title=f"Headline {n} from {source}{tag}",
        link=f"https://{source}.example.org/news/{n}",
        summary=f"SUMMARYMARK-{source}-{n}{tag}",
        content=f"<p>CONTENTMARK-{source}-{n}{tag}</p>",
        author="Desk",
        categories=("culture",),
        image=f"https://{source}.example.org/img/{n}.jpg",
        enclosures=(Enclosure(f"https://{source}.example.org/audio/{n}.mp3", "audio/mpeg", 1234),),
        language=language,
        published=utcnow() - timedelta(days=days_ago, minutes=n),
    )


def _all_text(root: Path) -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in root.rglob("*") if p.is_file())


def test_rights_limit_what_any_published_file_carries(tmp_path: Path) -> None:
    config, store = _setup(tmp_path)
    for source in ("full", "brief", "heads"):
        stories = [_article(source, n) for n in range(3)]
        save_articles(store, source, stories, ["kk", "zh", "en"])
        for story in stories:  # translated versions must obey the same rights
            store.save_translation(
                Translation(story.id, "kk", "translated", title=f"Тақырып {story.title}",
                            summary=f"KK-{story.summary}", content=f"<p>KK-{story.content}</p>"),
                story.text_hash,
            )  # fmt: skip
    publish(config, store)
    text = _all_text(config.output)
    assert "CONTENTMARK-full-0" in text and "SUMMARYMARK-full-0" in text  # the check can see
    assert "SUMMARYMARK-brief-0" in text and "Headline 0 from heads" in text
    assert "CONTENTMARK-brief" not in text
    assert "CONTENTMARK-heads" not in text and "SUMMARYMARK-heads" not in text
    # Every kind of file was searched: feeds of all formats, article pages, per-source feeds.
    names = {p.name for p in config.output.rglob("*")}
    assert {"rss.xml", "atom.xml", "feed.json", "index.html"} <= names
    assert any(p.parent.name == "articles" for p in config.output.rglob("*.html"))


def test_unchanged_publish_touches_no_file(tmp_path: Path) -> None:
    config, store = _setup(tmp_path)
    save_articles(store, "full", [_article("full", n) for n in range(5)], ["kk", "zh", "en"])
    first = publish(config, store)
    assert first.written
    before = snapshot(config.output)
    time.sleep(0.01)  # a rewrite would now show in the nanosecond mtime
    second = publish(config, store)
    assert second.written == [] and second.removed == []
    assert snapshot(config.output) == before
    save_articles(store, "full", [_article("full", 9)], ["kk", "zh", "en"])
    third = publish(config, store)
    assert "en/rss.xml" in third.written and "index.html" not in third.written


def test_pages_are_written_before_the_feeds_wherever_the_output_is(tmp_path: Path) -> None:
    """A reader never follows a new item to a page not written yet: article pages first,
    also when the output folder's own path has a folder named `articles` in it."""
    config, store = _setup(tmp_path, output="press/articles/public")
    save_articles(store, "full", [_article("full", n) for n in range(3)], ["kk", "zh", "en"])
    written = publish(config, store).written
    pages = [n for n, path in enumerate(written) if "/articles/" in path]
    others = [n for n, path in enumerate(written) if "/articles/" not in path]
    assert pages and others and max(pages) < min(others), written[:5]


def test_a_file_that_cannot_be_put_in_place_is_reported_and_written_next_time(
    tmp_path: Path,
) -> None:
    """Files are synced a batch at a time, then renamed into place: a rename that fails (here
    a folder stands where the JSON feed goes) fails that file alone, and it is not recorded as
    published, so the next publish writes it."""
    config, store = _setup(tmp_path, editions=["en"])
    save_articles(store, "full", [_article("full", 1)], ["en"])
    publish(config, store)
    blocked = config.output / "en" / "feed.json"
    blocked.unlink()
    blocked.mkdir()  # os.replace cannot put a file where a folder is
    (blocked / ".held").write_bytes(b"")  # hidden: no sweep removes it, nor so the folder
    save_articles(store, "full", [_article("full", 2)], ["en"])
    with pytest.raises(OSError, match=r"1 file\(s\) not written.*feed\.json"):
        publish(config, store)
    assert "Headline 2" in (config.output / "en" / "rss.xml").read_text(encoding="utf-8")
    assert blocked.is_dir() and not list(blocked.parent.glob(".feed.json.*"))  # no temp left
    (blocked / ".held").unlink()
    blocked.rmdir()
    report = publish(config, store)
    assert "en/feed.json" in report.written
    assert "Headline 2" in blocked.read_text(encoding="utf-8")


def test_a_store_too_big_to_keep_in_memory_publishes_the_same_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full publish keeps the stories it read between its phases only in a store of up to
    `KEPT` stories; a bigger one is read a page at a time in every phase (the pages made
    small here, so the tests' store counts as big): the files are the same either way."""
    config, store = _setup(tmp_path)
    for source in ("full", "brief", "heads"):
        save_articles(store, source, [_article(source, n) for n in range(7)], ["kk", "zh", "en"])
    publish(config, store)

    def everything() -> dict[str, bytes]:
        shutil.rmtree(config.output)
        assert publish(config, store, full=True).written
        return {path: data for path, (data, _) in snapshot(config.output).items()}

    kept = everything()
    monkeypatch.setattr(stage, "KEPT", 5)
    monkeypatch.setattr(stage, "CHUNK", 4)
    paged = everything()
    assert len(kept) > 50 and paged == kept


def test_max_age_and_removed_sources_keep_stories_out(tmp_path: Path) -> None:
    config, store = _setup(tmp_path, feeds={"items": 50, "max_age": "30d"})
    save_articles(
        store,
        "full",
        [_article("full", 1, days_ago=1), _article("full", 2, days_ago=90)],
        ["kk", "zh", "en"],
    )
    save_articles(store, "gone", [_article("gone", 3)], ["kk", "zh", "en"])
    publish(config, store)
    feed = json.loads((config.output / "en" / "feed.json").read_text(encoding="utf-8"))
    assert [i["id"].split(":")[-1] for i in feed["items"]] == ["story-1/en"]
    assert "from gone" not in _all_text(config.output)


class Hub:
    """A WebSub hub on loopback that records publish pings."""

    def __init__(self) -> None:
        self.pings: list[dict[str, list[str]]] = []
        self.agents: list[str] = []
        self.status = 204
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                hub.pings.append(parse_qs(body.decode()))
                hub.agents.append(self.headers.get("User-Agent", ""))
                self.send_response(hub.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        self.server = LoopbackServer(Handler)
        self.url = self.server.url("/hub")

    def stop(self) -> None:
        self.server.stop()


@pytest.fixture
def hub() -> Iterator[Hub]:
    server = Hub()
    yield server
    server.stop()


def test_websub_hub_is_linked_and_pinged_only_after_a_change(tmp_path: Path, hub: Hub) -> None:
    config, store = _setup(tmp_path, site={"base_url": "https://feeds.example.kz/",
                                           "hub": hub.url})  # fmt: skip
    save_articles(store, "full", [_article("full", 1)], ["kk", "zh", "en"])
    assert publish(config, store).hub_error == ""
    assert len(hub.pings) == 1
    assert hub.pings[0]["hub.mode"] == ["publish"]
    topics = set(hub.pings[0]["hub.url"])
    assert "https://feeds.example.kz/kk/rss.xml" in topics
    assert "https://feeds.example.kz/zh-Hant/sources/full/feed.json" in topics
    for name in ("rss.xml", "atom.xml"):
        tree = etree.parse(str(config.output / "kk" / name))
        hubs = tree.xpath("//*[local-name()='link'][@rel='hub']/@href")
        assert hubs == [hub.url], name
    feed = json.loads((config.output / "kk" / "feed.json").read_text(encoding="utf-8"))
    assert feed["hubs"] == [{"type": "WebSub", "url": hub.url}]
    publish(config, store)
    assert len(hub.pings) == 1, "an unchanged publish pinged the hub"
    save_articles(store, "brief", [_article("brief", 2)], ["kk", "zh", "en"])
    hub.status = 500  # a failing hub is reported, never fatal
    report = publish(config, store)
    assert len(hub.pings) == 2 and "500" in report.hub_error
    assert "https://feeds.example.kz/en/sources/brief/atom.xml" in hub.pings[1]["hub.url"]
    assert "https://feeds.example.kz/en/sources/full/atom.xml" not in hub.pings[1]["hub.url"]
    # The topics the failed ping owed go again with the next publish, even an unchanged one.
    hub.status = 204
    report = publish(config, store)
    assert len(hub.pings) == 3 and not report.hub_error
    assert "https://feeds.example.kz/en/sources/brief/atom.xml" in hub.pings[2]["hub.url"]
    publish(config, store)
    assert len(hub.pings) == 3, "a delivered ping was sent again"


def test_the_hub_is_pinged_as_the_operators_user_agent(tmp_path: Path, hub: Hub) -> None:
    """`fetch.user_agent` is the one name our requests go out under, hub pings too."""
    config, store = _setup(
        tmp_path,
        site={"base_url": "https://feeds.example.kz/", "hub": hub.url},
        fetch={"user_agent": "KazNewsSyndication/2.0 (+https://feeds.example.kz/about)"},
    )
    save_articles(store, "full", [_article("full", 1)], ["kk", "zh", "en"])
    assert publish(config, store).hub_error == ""
    assert hub.agents == ["KazNewsSyndication/2.0 (+https://feeds.example.kz/about)"]


def test_a_correction_note_opens_every_edition_with_its_class_and_own_label(
    tmp_path: Path,
) -> None:
    """Translations stored before the note was translated on its own lost its class and got a
    machine-translated label; every edition still opens with `<p class="correction">`, the
    edition's own fixed label and the translated note."""
    from syndication.words import word

    config, store = _setup(tmp_path)
    story = Article(
        id="full:park",
        source_id="full",
        guid="park",
        title="Алматыда жаңа саябақ ашылды",
        summary="Алматыда жаңа саябақ ашылды.",
        content='<p class="correction"><strong>Түзету:</strong> Саябақтың ауданы түзетілді.</p>'
        "<p>Оның ауданы елу гектар.</p>",
        language="kk",
        published=utcnow() - timedelta(hours=1),
        correction="Саябақтың ауданы түзетілді.",
    )
    save_articles(store, "full", [story], EDITIONS)
    notes = {"en": ("Fix:", "The park's area was corrected."), "zh": ("修正：", "公园面积已更正。")}
    for language, (label, note) in notes.items():
        store.save_translation(
            Translation(
                story.id, language, "translated", title=f"{language} title",
                summary=f"{language} summary", provider="google",
                content=f"<p><strong>{label}</strong> {note}</p><p>{language} body</p>",
            ),
            story.text_hash,
        )  # fmt: skip
    publish(config, store)
    expected = {
        "kk": ("Түзету:", "Саябақтың ауданы түзетілді."),
        "kk-Latn": (word("kk-Latn", "correction"), None),
        "en": ("Correction:", notes["en"][1]),
        "zh": ("更正：", notes["zh"][1]),
        "zh-Hant": ("更正：", None),
    }
    for edition, (label, note) in expected.items():
        feed = json.loads((config.output / edition / "feed.json").read_text(encoding="utf-8"))  # type: ignore[operator]
        (item,) = feed["items"]
        first = etree.HTML(item["content_html"]).find(".//p")
        assert first is not None and first.get("class") == "correction", (edition, item)
        assert first.findtext("strong") == label, (edition, item["content_html"])
        if note is not None:
            assert "".join(first.itertext()) == f"{label} {note}", edition
        assert item["content_html"].count('class="correction"') == 1, edition
