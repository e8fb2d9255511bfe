"""The site's pages as a reader in a browser gets them from `syndication serve`.

Owns: a reader reaching every story of a feed from its page (the current page leads to the
newest archive page, each archive page, the page a browser is shown for its `rss.xml`, lists
its stories and leads to the older and newer pages and back to the current one); a story shown
untranslated (`untranslated: original`) on a page in the edition's language with its own words
marked in theirs; a withdrawal reason marked in the language it is written in; and the zh-Hant
edition writing Traditional Chinese in its standard forms (總臺, 觀眾).

One cycle runs once per module (the CLI, offline: every story is shown in its original), then
an operator withdraws a story with a reason in Chinese; `serve` answers the requests.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin

import pytest
from lxml import html as lxml_html

from tests.conftest import OFFLINE_TRANSLATION, run_cli, write_config
from tests.system.test_lifecycle import BASE, Site, _free_port, _slug, _start, _stop

EDITIONS = ["kk", "zh", "en", "zh-Hant"]
BROWSER = {"Sec-Fetch-Dest": "document", "Accept": "text/html,*/*;q=0.8"}
DOCUMENTARY = "newsroom:2025-05-03-silk-road-documentary"  # a Chinese sample story
WITHDRAWN = "newsroom:2025-05-04-weather-advisory"
REASON = "应当事人要求撤回"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Site, Path]]:
    folder = tmp_path_factory.mktemp("site")
    port = _free_port()
    config = write_config(
        folder,
        editions=EDITIONS,
        sources=[{"id": "newsroom", "articles": "articles"}],  # each file says its language
        feeds={"items": 2},  # 4 samples and 5 more: the current page and 4 archive pages
        translation={**OFFLINE_TRANSLATION, "untranslated": "original"},
        serve={"host": "127.0.0.1", "port": port},
    )
    for day in range(10, 15):
        (folder / "articles" / f"2025-05-{day}-extra.md").write_text(
            f"---\ntitle: Extra story of day {day}\ndate: 2025-05-{day} 09:00\nlanguage: en\n"
            f"---\nWhat happened on day {day}.\n",
            encoding="utf-8",
        )
    assert run_cli("once", "--config", str(config)).code in (0, 1)  # 1: translations wait
    done = run_cli("withdraw", WITHDRAWN, "--reason", REASON, "--config", str(config))
    assert done.code == 0, done.output
    assert run_cli("publish", "--config", str(config)).code == 0
    served = _start("serve", config, port)
    try:
        yield served, folder / "public"
    finally:
        _stop(served)


def _page(site: Site, url: str) -> lxml_html.HtmlElement:
    """What our server shows a browser at `url` (a published URL), as HTML."""
    answer = site.get(url, **BROWSER)
    assert answer.status_code == 200, (url, answer.status_code)
    assert answer.headers["content-type"].startswith("text/html"), url
    return lxml_html.fromstring(answer.content)


def _titles(root: Path, folder: str) -> list[str]:
    """The titles of the stories the document in `folder` holds, as its feed.json lists them."""
    feed = json.loads((root / folder / "feed.json").read_text(encoding="utf-8"))
    return [item["title"] for item in feed["items"]]


def _paging(page: lxml_html.HtmlElement, url: str) -> dict[str, str]:
    """The page's links to its older and newer stories, by rel, as absolute URLs."""
    return {
        a.get("rel", "latest"): urljoin(url, a.get("href", ""))
        for a in page.xpath("//nav[@class='pages']/a")
    }


@pytest.mark.parametrize("folder", ["en/", "zh-Hant/", "kk/sources/newsroom/"])
def test_a_reader_reaches_every_story_through_the_pages_of_the_archive(
    site: tuple[Site, Path], folder: str
) -> None:
    served, root = site
    current = f"{BASE}{folder}index.html"
    page = _page(served, f"{BASE}{folder}rss.xml")
    assert page.get("lang") == folder.split("/")[0]
    seen = list(_titles(root, folder))
    url, newer, pages = current, current, 0
    while "prev" in (links := _paging(page, url)):
        older = links["prev"]
        assert older.startswith(f"{BASE}{folder}archive/") and older.endswith("/index.html")
        archive = older.removeprefix(BASE).removesuffix("index.html")
        # What a browser opening the archive document is shown: its page, not the XML.
        page = _page(served, f"{BASE}{archive}rss.xml")
        text = " ".join(page.text_content().split())
        titles = _titles(root, archive)
        assert titles and all(title in text for title in titles), (archive, text)
        links = _paging(page, older)
        assert links["next"] == newer and links.get("latest", current) == current, links
        assert page.get("lang") == folder.split("/")[0]
        seen += titles
        url, newer, pages = older, older, pages + 1
    assert pages == 4 and "archive/1/" in url
    stories = len(list((root.parent / "articles").iterdir()))
    assert len(seen) == len(set(seen)) == stories - 1  # every one but the withdrawn, once


def test_an_untranslated_story_is_on_a_page_of_the_edition_in_its_own_words(
    site: tuple[Site, Path],
) -> None:
    served, _root = site
    page = _page(served, f"{BASE}en/articles/{_slug(DOCUMENTARY)}.html")
    assert page.get("lang") == "en"  # the layout: "Source: newsroom", "— News"
    (heading,) = page.xpath("//article/h1")
    assert heading.get("lang") == "zh" and "纪录片" in heading.text_content()
    (meta,) = page.xpath("//article/p[@class='meta']")
    assert meta.get("lang") is None and "Source:" in meta.text_content()
    body = page.xpath("//article/*[@lang='zh'][.//p]")
    assert body and "观众" in body[0].text_content()


def test_a_withdrawal_reason_is_marked_in_its_language(site: tuple[Site, Path]) -> None:
    served, _root = site
    for edition in EDITIONS:
        answer = served.get(f"{BASE}{edition}/articles/{_slug(WITHDRAWN)}.html", **BROWSER)
        assert answer.status_code == 410
        page = lxml_html.fromstring(answer.content)
        (reason,) = [p for p in page.iter("p") if REASON in p.text_content()]
        assert reason.get("lang") == (None if edition == "zh" else "zh"), edition


def test_the_traditional_edition_writes_the_standard_forms(site: tuple[Site, Path]) -> None:
    served, _root = site
    text = _page(served, f"{BASE}zh-Hant/articles/{_slug(DOCUMENTARY)}.html").text_content()
    # China Media Group is a station (臺), not a table (檯); 眾 is the form Taiwan and Hong
    # Kong print, OpenCC's own 衆 is not.
    assert "中國中央廣播電視總臺" in text and "觀眾" in text
    assert "總檯" not in text and "觀衆" not in text
