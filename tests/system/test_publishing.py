"""Publishing end to end: a publisher killed mid-write, and photo credits from article files through
the command line to every edition's pages and feeds.
"""

from __future__ import annotations

import json
import os
import random
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

from lxml import etree
from lxml import html as lxml_html

from syndication.ingest.save import save_articles
from syndication.publish import publish
from tests.conftest import REPO, run_cli, write_config
from tests.fakeprovider import FakeGoogle
from tests.feedserver import FeedServer
from tests.unit.publish.test_publish import (
    EDITIONS,
    _article,
    _setup,
)

CHILD = """
import signal, sys
if sys.argv[2:] == ["fsize"]:  # Python ignores SIGXFSZ by default; let the kernel kill us
    signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
from syndication.config import load
from syndication.publish import publish
from syndication.store import Store
config = load(__import__("pathlib").Path(sys.argv[1]))
store = Store.open(config.store_url)
print("start", flush=True)
publish(config, store)
print("done", flush=True)
"""


def _feed_size_limit() -> None:
    # Article pages (a few KB) fit under the limit; every combined feed (150 items) does not.
    resource.setrlimit(resource.RLIMIT_FSIZE, (40_000, 40_000))


def _assert_complete(root: Path) -> int:
    """Every file a reader can ask for is whole; only hidden temp files may be partial."""
    checked = 0
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        if path.name.endswith(".tmp"):
            assert path.name.startswith("."), path  # hidden: never served, never a feed name
            continue
        data = path.read_bytes()
        if path.suffix == ".xml":
            root_element = etree.fromstring(data, etree.XMLParser(recover=False))
            assert root_element.tag in ("rss", "{http://www.w3.org/2005/Atom}feed"), path
        elif path.suffix == ".json":
            assert json.loads(data)["version"] == "https://jsonfeed.org/version/1.1"
        elif path.suffix == ".html":
            assert data.rstrip().endswith(b"</html>"), path
        checked += 1
    return checked


MRSS = "{http://search.yahoo.com/mrss/}"


ATOM = "{http://www.w3.org/2005/Atom}"


CONTENT = "{http://purl.org/rss/1.0/modules/content/}"


CREDITED_TXT = """date 2025-05-05 Trains carrying grain reached the Khorgos dry port. It is
the first of twelve.

Officials expect the journey to the border to be two days shorter.

Photo credit: Railway press service
"""


CREDITED_MD = """---
title: Астанада кітап көрмесі ашылды
date: 2025-05-02T09:30:00+05:00
language: kk
image: https://example.kz/media/fair.jpg
---
Елордада халықаралық кітап көрмесі жұмысын бастады.

*Фото: Ақорда*
"""


CREDITED_RSS = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel>
<title>Wire</title><link>https://wire.example.org/</link><description>d</description>
<language>en</language>
<item><title>Robotics team wins in Seoul</title><link>https://wire.example.org/robots</link>
<guid isPermaLink="false">wire-1</guid><pubDate>Tue, 29 Apr 2025 16:40:00 +0500</pubDate>
<description>A team of students took first place.</description>
<media:content url="https://wire.example.org/robots.jpg" medium="image" type="image/jpeg">
<media:credit role="photographer">Reuters</media:credit></media:content></item>
</channel></rss>
"""


def _credit_name(edition: str, story: str) -> str:
    """The credited name each story carries, as a reader of this edition sees it."""
    if story == "fair":
        return "Aqorda" if edition == "kk-Latn" else "Ақорда"
    return {"grain": "Railway press service", "wire": "Reuters"}[story]


def _story(item_id: str) -> str:
    return next(s for s in ("grain", "fair", "wire") if s in item_id)


def _assert_credit_not_body(markup: str, name: str, where: str) -> None:
    """`name` is shown in a credit element (class="credit") and in no paragraph of the body."""
    tree = lxml_html.fragment_fromstring(markup, create_parent="div")
    credits = [" ".join(e.text_content().split()) for e in tree.find_class("credit")]
    assert any(name in c for c in credits), (where, credits, markup)
    for paragraph in tree.iter("p", "h1", "h2", "li"):
        inside = any("credit" in (a.get("class") or "") for a in paragraph.iterancestors())
        if "credit" in (paragraph.get("class") or "") or inside:
            continue
        if paragraph.find_class("credit"):
            continue
        assert name not in paragraph.text_content(), (where, lxml_html.tostring(paragraph))


def test_killed_publisher_never_leaves_a_broken_file(tmp_path: Path) -> None:
    config, store = _setup(tmp_path, feeds={"items": 150})
    languages = ["kk", "zh", "en"]
    rng = random.Random(5)
    killed_mid_run = 0
    # A first, complete publish: the store then holds its one-time facts (the id
    # authority), so the only writes left in the child are the published files.
    publish(config, store)
    # Round 0 is stopped by the kernel itself in the middle of writing a feed: a file-size
    # limit below a feed's size makes the write that crosses it kill the process (SIGXFSZ).
    # The other rounds are SIGKILLed at random moments, wherever the publisher happens to be.
    for round_ in range(5):
        # Every story changes each round, so every file is rewritten over its old version.
        for source in ("full", "brief", "heads"):
            save_articles(
                store,
                source,
                [_article(source, n, tag=f" r{round_}") for n in range(150)],
                languages,
            )
        limit = _feed_size_limit if round_ == 0 else None
        mode = "fsize" if round_ == 0 else "kill"
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(config.path), mode], cwd=REPO,
                                 stdout=subprocess.PIPE, text=True, preexec_fn=limit)  # fmt: skip
        assert child.stdout is not None and child.stdout.readline().strip() == "start"
        if round_ == 0:
            assert child.wait(timeout=60) == -signal.SIGXFSZ, "the write limit was not hit"
            _assert_complete(config.output)
            assert list(config.output.rglob(".*.tmp")), "no write was cut short"
        time.sleep(rng.uniform(0.05, 0.8))
        if child.poll() is None:
            killed_mid_run += 1
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        child.stdout.close()
        _assert_complete(config.output)
    assert killed_mid_run >= 2, "the publisher finished before it could be interrupted"
    # A publish right after the kill (a restart within the minute) spares the killed one's
    # temporary files as too young to be sure of, and keeps the mark that says to look.
    young = list(config.output.rglob(".*.tmp"))
    assert young, "no temporary file left to sweep"
    publish(config, store)
    assert (config.output / ".publishing").exists()
    # Once they are clearly orphaned, the next publish sweeps them, even one with nothing
    # to write (they stayed for good when that publish had cleared the mark).
    for temp in config.output.rglob(".*.tmp"):
        os.utime(temp, (time.time() - 3600, time.time() - 3600))
    assert publish(config, store).rendered == 0
    assert not list(config.output.rglob("*.tmp"))
    assert not (config.output / ".publishing").exists()
    assert _assert_complete(config.output) > 0
    feed = json.loads((config.output / "en" / "feed.json").read_text(encoding="utf-8"))
    assert len(feed["items"]) == 150 and all(" r4" in i["title"] for i in feed["items"])


def test_photo_credits_are_published_as_credits_in_every_edition(
    tmp_path: Path, fake_google: FakeGoogle, feed_server: FeedServer
) -> None:
    articles = tmp_path / "articles"
    articles.mkdir()
    (articles / "grain.txt").write_text(CREDITED_TXT, encoding="utf-8")
    (articles / "fair.md").write_text(CREDITED_MD, encoding="utf-8")
    wire = feed_server.add("/wire.xml", CREDITED_RSS,
                           headers={"Content-Type": "application/rss+xml"})  # fmt: skip
    config = write_config(
        tmp_path,
        editions=EDITIONS,
        sources=[
            {"id": "newsroom", "articles": "articles", "language": "en"},
            {"id": "wire", "url": wire, "language": "en"},
        ],
        translation={"chain": ["google"], "providers": {"google": {"base_url": fake_google.url}},
                     "timeout": "5s"},
    )  # fmt: skip
    result = run_cli("once", "--config", str(config))
    assert result.code == 0, result.output
    root = tmp_path / "public"
    for edition in EDITIONS:
        feed = json.loads((root / edition / "feed.json").read_text(encoding="utf-8"))
        assert {_story(i["id"]) for i in feed["items"]} == {"grain", "fair", "wire"}, edition
        for item in feed["items"]:
            story = _story(item["id"])
            name = _credit_name(edition, story)
            where = f"{edition} {story}"
            assert name not in item["title"] and name not in item.get("summary", ""), where
            _assert_credit_not_body(item["content_html"], name, f"{where} feed.json")
            assert any(name in c for c in item["_syndication"]["credits"]), where
            page = root / item["url"].removeprefix("https://feeds.example.kz/")
            article = lxml_html.fromstring(page.read_bytes()).find(".//article")
            assert article is not None, page
            _assert_credit_not_body(
                lxml_html.tostring(article, encoding="unicode"), name, page.name
            )
        rss = etree.parse(str(root / edition / "rss.xml"))
        for item in rss.iter("item"):
            story = _story(item.findtext("guid") or "")
            name = _credit_name(edition, story)
            _assert_credit_not_body(
                item.findtext(f"{CONTENT}encoded") or "", name, f"{edition} rss"
            )
            assert name not in (item.findtext("description") or ""), f"{edition} rss {story}"
            assert [name in c.text for c in item.iter(f"{MRSS}credit")] == [True], edition
        atom = etree.parse(str(root / edition / "atom.xml"))
        for entry in atom.iter(f"{ATOM}entry"):
            story = _story(entry.findtext(f"{ATOM}id") or "")
            name = _credit_name(edition, story)
            _assert_credit_not_body(entry.findtext(f"{ATOM}content") or "", name, f"{edition} atom")
            assert name not in (entry.findtext(f"{ATOM}summary") or ""), f"{edition} atom {story}"
            assert [name in c.text for c in entry.iter(f"{MRSS}credit")] == [True], edition
