"""Every real-world feed in ../shared/corpus, served over loopback HTTP, fetched and parsed.

Owns: the corpus-wide promises of ingestion: every story in a well-formed feed arrives once,
with readable non-ASCII text, absolute links and safe HTML; a hostile body gives clean
articles or a clear SourceError, within seconds, without resolving external entities or
expanding entity bombs. The corpus is read where it lies and never copied into the project.
"""

from __future__ import annotations

import asyncio
import threading
import tracemalloc
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import feedparser
import pytest

from syndication.config import FetchSettings
from syndication.errors import SourceError
from syndication.ingest.fetch import Fetcher
from syndication.ingest.parse import ParsedFeed, SourceInfo, parse_feed
from syndication.model import Article
from tests.conftest import shared_names
from tests.feedserver import FeedServer, running


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    yield from running()


MAX_BYTES = 10 * 1024 * 1024
DEADLINE = 5.0  # seconds one hostile body may take, fetch and parse together
# Byte sequences that decoding with the wrong table leaves in text (UTF-8 read as Latin-1 or
# windows-1252, KOI8-R read as Latin-1) and the replacement character.
MOJIBAKE = ("Ð", "Ã", "â€", "Â", "\ufffd")
# What the XXE files try to pull in: a Windows boot.ini, and w3schools' note.xml.
LEAKS = ("[boot loader]", "multi(0)", "Tove", "Jani", "Don't forget me this weekend")


# Names only, listed at collection (none in a fresh clone); each test reads its file through
# the `shared` fixture, which skips where ../shared is absent.
FEEDS = shared_names("corpus/feeds")
HOSTILE = shared_names("corpus/hostile")


@pytest.fixture
def corpus(shared: Path) -> Path:
    return shared / "corpus"


def _fetch_and_parse(server: FeedServer, path: Path) -> ParsedFeed:
    """Serve the file's bytes as-is, fetch them with our Fetcher, parse with parse_feed."""
    url = server.add("/" + path.name, path.read_bytes())

    async def run() -> ParsedFeed:
        async with Fetcher(FetchSettings(timeout=DEADLINE)) as fetcher:
            result = await fetcher.fetch("corpus", url)
        return parse_feed(result.body, result.headers, SourceInfo("corpus", result.url), MAX_BYTES)

    return asyncio.run(run())


def _within_deadline(server: FeedServer, path: Path) -> ParsedFeed | SourceError:
    """Run fetch+parse in a thread and fail the test if it takes longer than DEADLINE."""
    outcome: list[ParsedFeed | BaseException] = []

    def work() -> None:
        try:
            outcome.append(_fetch_and_parse(server, path))
        except BaseException as exc:  # handed to the test thread to judge
            outcome.append(exc)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    thread.join(DEADLINE)
    if thread.is_alive():
        pytest.fail(f"{path.name}: still running after {DEADLINE:.0f}s (a hang)")
    result = outcome[0]
    if isinstance(result, SourceError):
        return result
    if isinstance(result, BaseException):
        raise result  # a crash: any other exception fails the test with its traceback
    return result


class _Html(HTMLParser):
    """Every tag and attribute of a fragment, as a browser would see them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def assert_safe_html(fragment: str, where: str) -> None:
    parser = _Html()
    parser.feed(fragment)
    parser.close()
    for tag, attrs in parser.tags:
        assert tag not in ("script", "style", "iframe", "object", "embed"), f"{where}: <{tag}>"
        for name, value in attrs:
            assert not name.startswith("on"), f"{where}: <{tag} {name}=…>"
            assert name != "style", f"{where}: <{tag} style=…> (overlays, clickjacking)"
            if name in ("href", "src", "cite") and value is not None:
                scheme = urlsplit(value.strip()).scheme.lower()
                assert scheme in ("http", "https", "mailto"), f"{where}: {name}={value!r}"


def assert_clean_article(article: Article, hostile: bool = False) -> None:
    where = f"{article.id}"
    for name in ("title", "summary", "content", "author", "source_title"):
        text = getattr(article, name)
        found = [m for m in MOJIBAKE if m in text]
        assert not found, f"{where}: mojibake {found} in {name}: {text[:120]!r}"
        if hostile:  # "Jani" is also a name in an honest podcast feed
            assert not any(leak in text for leak in LEAKS), f"{where}: leaked text in {name}"
    for url in (article.link, article.image, *(e.url for e in article.enclosures)):
        if url:
            assert urlsplit(url).scheme in ("http", "https"), f"{where}: not absolute: {url!r}"
    assert_safe_html(article.content, where)
    assert article.published is None or article.published.utcoffset() is not None


def expected_stories(body: bytes) -> int:
    """feedparser's own entry count, less true duplicates and empty entries.

    A true duplicate repeats another entry's id, link, title and text exactly; an empty entry
    (a stray `<item />`) has nothing to publish.
    """
    parsed = feedparser.parse(body, sanitize_html=False, resolve_relative_uris=False)
    seen: set[tuple[str, ...]] = set()
    for entry in parsed.entries:
        content = "".join(c.get("value", "") for c in entry.get("content", []))
        key = (
            entry.get("id", ""),
            entry.get("link", ""),
            entry.get("title", ""),
            content or entry.get("summary", ""),
        )
        if any(key) or entry.get("enclosures"):
            seen.add(key)
    return len(seen)


@pytest.mark.parametrize("name", FEEDS)
def test_feed_arrives_whole_and_clean(feed_server: FeedServer, corpus: Path, name: str) -> None:
    path = corpus / "feeds" / name
    parsed = _within_deadline(feed_server, path)
    assert not isinstance(parsed, SourceError), f"a well-formed feed was refused: {parsed}"
    assert len(parsed.articles) == expected_stories(path.read_bytes())
    assert len({a.id for a in parsed.articles}) == len(parsed.articles), "ids must be unique"
    assert not any(m in parsed.title for m in MOJIBAKE), parsed.title
    for article in parsed.articles:
        assert_clean_article(article)
    # Serving without Content-Type is what a file source looks like: not worth a note.
    assert not any("NonXMLContentType" in note for note in parsed.notes), parsed.notes


# The legacy-encoded feeds must come out in their own script, not merely free of markers.
SCRIPTS = {
    "ibash-org-ru_rss2_windows-1251.xml": "Цитата",
    "xakep-ru_rss2_windows-1251.xml": "Сноуде",
    "example-ru_rss2_koi8-r.xml": "Первая новость",
    "kc0011-forum_rss2_gb2312_onload-attrs.rss": "建国35周年纪念",
    "liberal-gr_rss2_iso-8859-7.xml": "καραντίνας",
    "davidbau-com_rss1-rdf_iso-8859-1.xml": "The Art of Wanting",
    "undeclared-koi8-r_rss.xml": "Как пережить новогоднюю ночь",
    "tmioe_rss2_zh_truncated-mid-utf8.xml": "杂铺",
    "dailymail-home_rss2_iso-8859-1_media-dupes.xml": "Black Dahlia",
}


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_legacy_encodings_read_right(feed_server: FeedServer, corpus: Path, name: str) -> None:
    path = next(
        (p for p in (corpus / "feeds" / name, corpus / "hostile" / name) if p.is_file()), None
    )
    if path is None:
        pytest.skip(f"{name} is not in ../shared/corpus")
    parsed = _within_deadline(feed_server, path)
    assert not isinstance(parsed, SourceError), str(parsed)
    text = parsed.title + " ".join(a.title for a in parsed.articles)
    assert SCRIPTS[name] in text, text[:200]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_body_is_clean_or_refused(feed_server: FeedServer, corpus: Path, name: str) -> None:
    path = corpus / "hostile" / name
    small = path.stat().st_size < 16 * 1024
    if small:  # entity bombs are tiny; measuring the big files would only slow the run
        tracemalloc.start()
    try:
        outcome = _within_deadline(feed_server, path)
        peak = tracemalloc.get_traced_memory()[1] if small else 0
    finally:
        if small:
            tracemalloc.stop()
    assert peak < 64 * 1024 * 1024, f"{path.name}: {peak:,} bytes at peak (entity expansion?)"
    if isinstance(outcome, SourceError):
        assert outcome.source_id == "corpus"
        assert outcome.message.strip(), "a refusal must say why"
        assert not any(leak in str(outcome) for leak in LEAKS)
        return
    assert not any(m in outcome.title for m in MOJIBAKE), outcome.title
    assert not any(leak in outcome.title for leak in LEAKS)
    for article in outcome.articles:
        assert_clean_article(article, hostile=True)
    # Only the feed itself was requested: no external DTD or entity was fetched through us.
    assert {r.path for r in feed_server.log} == {"/" + path.name}


HOSTILE_EXPECTED = {
    # file: (articles, or None for a SourceError whose message contains the text)
    "empty-0-bytes_a.xml": "empty",
    "html-page-not-a-feed.html": "HTML page",
    "maodoupi_html-account-suspended.xml": "HTML page",
    "marketwatch_html-document-moved.rss": "HTML page",
    "wappblog_html-parked-domain-ru.xml": "HTML page",
    "billion-laughs-nested-entities.xml": "not a feed",
    "recursive-cyclic-entities.xml": "not a feed",
    "xxe-external-http-entity.xml": "not a feed",
    "comment-only-document.xml": "not a feed",
}


@pytest.mark.parametrize("name", sorted(HOSTILE_EXPECTED))
def test_not_a_feed_is_refused_clearly(feed_server: FeedServer, corpus: Path, name: str) -> None:
    path = corpus / "hostile" / name
    if not path.is_file():
        pytest.skip(f"{name} is not in ../shared/corpus")
    outcome = _within_deadline(feed_server, path)
    assert isinstance(outcome, SourceError), f"{name}: parsed as a feed"
    assert HOSTILE_EXPECTED[name] in outcome.message


def test_gzip_bytes_without_content_encoding_are_inflated(
    feed_server: FeedServer, corpus: Path
) -> None:
    path = corpus / "hostile" / "gzip-compressed-807KB-feed-invalid-chars.xml"
    if not path.is_file():
        pytest.skip(f"{path.name} is not in ../shared/corpus")
    parsed = _within_deadline(feed_server, path)
    assert not isinstance(parsed, SourceError), str(parsed)
    assert len(parsed.articles) == 25
    for article in parsed.articles:
        assert_clean_article(article)


def test_script_and_handlers_removed_from_hostile_content(
    feed_server: FeedServer, corpus: Path
) -> None:
    cases = {
        "xss-img-onerror-content-encoded_rss2.xml": "location.href",
        "xss-script-in-cdata_atom03.xml": "alert",
        "css-platypus-fullpage-overlay_atom.xml": "position:absolute",
    }
    for name, payload in cases.items():
        path = corpus / "hostile" / name
        if not path.is_file():
            pytest.skip(f"{name} is not in ../shared/corpus")
        parsed = _within_deadline(feed_server, path)
        assert not isinstance(parsed, SourceError), str(parsed)
        assert parsed.articles, name
        for article in parsed.articles:
            assert payload not in article.content, f"{name}: {article.content!r}"


def test_a_bare_ampersand_in_a_link_keeps_the_link_whole(
    feed_server: FeedServer, corpus: Path
) -> None:
    """OSCHINA's feed pastes a WeChat link with its raw `&`s (`…&token=…&lang=zh_CN#rd`): not
    well-formed, so feedparser reads it loosely, and took `&lang` for the entity 〈. The link
    and the guid must be the ones the feed meant."""
    path = corpus / "hostile" / "oschina-news_rss2_zh_unescaped-ampersand-in-link.xml"
    if not path.is_file():
        pytest.skip(f"{path.name} is not in ../shared/corpus")
    parsed = _within_deadline(feed_server, path)
    assert not isinstance(parsed, SourceError), str(parsed)
    (wechat,) = [a for a in parsed.articles if "mp.weixin.qq.com" in a.link]
    assert wechat.link.endswith("&token=1682840778&lang=zh_CN#rd"), wechat.link
    assert wechat.guid == wechat.link
    assert not any("\u2329" in a.link + a.guid for a in parsed.articles)
    assert any("read as an `&`" in note for note in parsed.notes), parsed.notes
