"""The published site as a person sees it in a real browser (headless Chromium).

Owns: after `syndication once` on the embedded default configuration (offline) and with
`syndication serve` running, what Chromium shows for the index, an edition's page, its
`atom.xml` and `rss.xml` (a readable page listing the items, with the addresses to copy into
a feed reader, not raw XML), an article page (its text, its photo credit set apart), and
that the links between editions lead to the other edition's page. Chromium runs with XSLT
switched off, as browsers are removing it, so none of that depends on `feed.xsl`. Feed
readers asking for the same URLs still get the feed bytes. And the output served as plain
files (a static host, S3, a CDN), where a browser with XSLT renders the feeds through
`feed.xsl`: in the feed's edition's words, other editions by their names, a source named once.

Skipped when no Chromium is installed (CI installs Debian's `chromium`).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest
from lxml import html as lxml_html

from syndication.words import EDITION_NAMES, word
from tests.conftest import REPO, run_cli, unavailable
from tests.loopback import LoopbackServer

CHROMIUM = next(
    (found for name in ("chromium", "chromium-browser") if (found := shutil.which(name))), None
)


@pytest.fixture(autouse=True)
def _chromium() -> None:
    if CHROMIUM is None:
        unavailable("no Chromium to test with: apt-get install -y chromium")


CONFIG = REPO / "config" / "syndication.yaml"
TITLES = {"kk": "Жаңалықтар алмасуы", "en": "News Exchange", "zh": "新闻交换"}


@dataclass
class Site:
    base: str  # http://127.0.0.1:PORT/
    root: Path  # the output folder
    profile: Path  # Chromium's user data folder

    def items(self, folder: str) -> list[dict[str, str]]:
        """The items of a published feed, as its feed.json lists them."""
        feed = json.loads((self.root / folder / "feed.json").read_text(encoding="utf-8"))
        items: list[dict[str, str]] = feed["items"]
        return items


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("browser")
    port = _free_port()
    base = f"http://127.0.0.1:{port}/"
    env = {
        "SYNDICATION_STORE": f"sqlite:///{folder}/data/syndication.db",
        "SYNDICATION_OUTPUT": str(folder / "public"),
        "SYNDICATION_BASE_URL": base,
        "SYNDICATION_PORT": str(port),
        # Offline for sure: Google is reached through a proxy that is not there.
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
        "NO_PROXY": "127.0.0.1,localhost",
    }
    result = run_cli("once", "--config", str(CONFIG), env=env)
    assert result.code in (0, 1), result.output  # 1: translations kept for retry
    server = subprocess.Popen(
        [sys.executable, "-m", "syndication", "--config", str(CONFIG), "serve"],
        cwd=REPO,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            try:
                if httpx.get(f"{base}healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "syndication serve did not start"
            time.sleep(0.1)
        yield Site(base, folder / "public", folder / "chromium")
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        finally:
            if server.poll() is None:
                server.kill()
            if server.stderr is not None:
                server.stderr.close()


def browse(site: Site, url: str, *, xslt: bool = False) -> lxml_html.HtmlElement:
    """The document Chromium builds for `url` (scripts run, stylesheets applied; XSLT
    stylesheets only when `xslt`)."""
    assert CHROMIUM is not None
    # The browser of tomorrow: XSLT gone, so a feed must not need feed.xsl to be read.
    features = [] if xslt else ["--disable-features=XSLT"]
    done = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",  # CI and containers run as root
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-proxy-server",
            *features,
            f"--user-data-dir={site.profile}",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    assert done.stdout.strip(), f"Chromium showed nothing for {url}"
    return lxml_html.fromstring(done.stdout)


def shown_text(document: lxml_html.HtmlElement) -> str:
    """The words a person sees: the body's text, whitespace collapsed."""
    body = document.find("body")
    assert body is not None
    for hidden in body.xpath(".//script|.//style|.//template|.//*[@hidden]"):
        hidden.drop_tree()
    return " ".join(body.text_content().split())


def assert_readable(document: lxml_html.HtmlElement, url: str) -> str:
    """A page rendered as HTML, not a feed's source shown as text or as an XML tree."""
    text = shown_text(document)
    for raw in ("<?xml", "<feed", "<rss", "<entry", "<item>", '"version":'):
        assert raw not in text, f"{url} shows the feed's source ({raw!r})"
    assert document.xpath("//*[@id='xml-viewer-style']") == [], f"{url} shows an XML tree"
    return text


def test_the_home_page_lists_the_editions(site: Site) -> None:
    document = browse(site, site.base)
    text = assert_readable(document, site.base)
    assert TITLES["kk"] in text
    for name in ("Қазақша", "中文", "English", "Qazaqşa", "繁體中文"):
        assert name in text
    editions = {a.get("href") for a in document.iter("a")}
    assert {"kk/index.html", "en/index.html", "zh/index.html"} <= editions


@pytest.mark.parametrize("name", ["index.html", "atom.xml", "rss.xml", "feed.json"])
def test_an_edition_and_its_feeds_read_as_pages_of_its_stories(site: Site, name: str) -> None:
    url = f"{site.base}en/{name}"
    document = browse(site, url)
    text = assert_readable(document, url)
    assert document.get("lang") == "en"
    assert TITLES["en"] in text
    items = site.items("en/")
    assert len(items) >= 3  # the English stories of the sample, untranslated offline
    for item in items:
        assert item["title"] in text, (url, item["title"])
    # Where to subscribe: the feed addresses, as text a person can copy.
    for feed in ("rss.xml", "atom.xml", "feed.json"):
        assert f"{site.base}en/{feed}" in text, url
    # Each story links to its page in this edition.
    hrefs = {urljoin(url, a.get("href", "")) for a in document.iter("a")}
    assert {item["url"] for item in items} <= hrefs


def test_a_sources_feed_reads_as_a_page_too(site: Site) -> None:
    url = f"{site.base}kk/sources/newsroom/atom.xml"
    text = assert_readable(browse(site, url), url)
    items = site.items("kk/sources/newsroom/")
    assert items and all(item["title"] in text for item in items)
    assert url in text


def test_links_between_editions_lead_to_the_other_edition(site: Site) -> None:
    start = f"{site.base}en/atom.xml"
    document = browse(site, start)
    links = {a.get("hreflang"): urljoin(start, a.get("href", "")) for a in
             document.xpath("//nav[contains(@class, 'editions')]//a[@hreflang]")}  # fmt: skip
    assert set(links) == {"kk", "zh", "kk-Latn", "zh-Hant"}
    for edition in ("kk", "zh"):
        target = browse(site, links[edition])
        text = assert_readable(target, links[edition])
        assert target.get("lang") == edition
        assert TITLES[edition] in text
        items = site.items(f"{edition}/")
        assert items and all(item["title"] in text for item in items), edition
        # ... and back again.
        back = {a.get("hreflang"): urljoin(links[edition], a.get("href", "")) for a in
                target.xpath("//nav[contains(@class, 'editions')]//a[@hreflang]")}  # fmt: skip
        assert back["en"] == f"{site.base}en/index.html"


def test_an_article_page_shows_the_story_and_its_credit(site: Site) -> None:
    (item,) = [i for i in site.items("en/") if "rail-freight" in i["id"]]
    document = browse(site, item["url"])
    text = assert_readable(document, item["url"])
    assert item["title"] in text
    assert "Exporters welcomed the change." in text
    credits = [" ".join(e.text_content().split()) for e in document.find_class("credit")]
    assert credits == ["Photo credit: Railway press service"]
    paragraphs = [p for p in document.iter("p") if not p.xpath("ancestor-or-self::*[@class]")]
    assert all("Railway press service" not in p.text_content() for p in paragraphs)


@pytest.mark.parametrize(
    "accept", ["application/atom+xml, application/rss+xml;q=0.9, */*;q=0.1", "*/*", None]
)
def test_feed_readers_still_get_the_feed(site: Site, accept: str | None) -> None:
    headers = {"Accept": accept} if accept else {}
    for name in ("atom.xml", "rss.xml"):
        r = httpx.get(f"{site.base}en/{name}", headers=headers)
        assert r.status_code == 200
        assert r.content == (site.root / "en" / name).read_bytes()
        again = httpx.get(
            f"{site.base}en/{name}", headers={**headers, "If-None-Match": r.headers["etag"]}
        )
        assert again.status_code == 304


@pytest.fixture(scope="module")
def static_host(site: Site) -> Iterator[str]:
    """The output served as plain files, as a static host, S3 or a CDN serves it: a browser
    opening a feed gets the feed, never its folder's page."""
    root = str(site.root)

    class Files(SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=root, **kwargs)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = LoopbackServer(Files)
    try:
        yield server.url()
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("edition", "name"), [("zh", "atom.xml"), ("kk", "rss.xml"), ("en", "atom.xml")]
)
def test_a_feed_from_a_static_host_reads_in_its_editions_words(
    site: Site, static_host: str, edition: str, name: str
) -> None:
    url = f"{static_host}{edition}/{name}"
    document = browse(site, url, xslt=True)
    if document.xpath("//*[@id='xml-viewer-style']"):
        unavailable("this Chromium renders no XSLT")
    text = assert_readable(document, url)
    assert document.get("lang") == edition
    assert word(edition, "subscribe") in text, text
    if edition != "en":
        assert word("en", "subscribe") not in text
    names = {a.get("hreflang"): " ".join(a.text_content().split()) for a in
             document.xpath("//nav[contains(@class, 'editions')]//a[@hreflang]")}  # fmt: skip
    assert names == {e: n for e, n in EDITION_NAMES.items() if e != edition}
    items = site.items(f"{edition}/")
    assert all(item["title"] in text for item in items), url
    # Date, author, source: each named once (an entry with no author names its source as one).
    metas = [[part.strip() for part in meta.text_content().split("·")]
             for meta in document.find_class("meta")]  # fmt: skip
    assert len(metas) == len(items) and all(len(m) == len(set(m)) for m in metas), metas
