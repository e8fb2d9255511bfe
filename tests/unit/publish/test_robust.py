"""What partners send that must never break or poison a published feed: characters XML
cannot carry, non-web URLs, dates in the future, a domain move, an id given twice."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import pytest
from lxml import etree

from syndication.config import load
from syndication.ingest.save import save_articles
from syndication.model import Article, Enclosure, utcnow
from syndication.publish import publish
from syndication.store import Store
from tests.conftest import run_cli, write_config

# The store on each backend: SQLite and PostgreSQL (tests/conftest.py, `store_url`).
pytestmark = pytest.mark.usefixtures("store_url")

LANGS = ["kk", "zh", "en"]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # what feeds send for "no date"


def _setup(folder: Path, base_url: str = "https://feeds.example.kz/") -> tuple[Path, Store]:
    path = write_config(
        folder,
        site={"base_url": base_url},
        sources=[{"id": "p", "file": "p.xml", "language": "en"}],
        translation={"chain": ["google"], "untranslated": "original"},
    )
    config = load(path)
    return path, Store.open(config.store_url)


def _story(n: int, **changes: object) -> Article:
    base = Article(
        id=f"p:{n}",
        source_id="p",
        guid=str(n),
        title=f"Story {n}",
        link=f"https://partner.example.org/{n}",
        summary="Summary.",
        content="<p>Body.</p>",
        language="en",
        published=utcnow() - timedelta(hours=n),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_control_characters_never_break_a_feed(tmp_path: Path) -> None:
    path, store = _setup(tmp_path)
    save_articles(
        store,
        "p",
        [
            _story(
                1,
                title="Bad\x08title\x1f here",
                summary="x\x0by",
                content="<p>a\x00b\x08c</p>",
                image="https://partner.example.org/2019/\x08pic.jpg",
            )
        ],
        LANGS,
    )
    report = publish(load(path), store)
    assert not report.errors
    for name in ("rss.xml", "atom.xml"):
        tree = etree.parse(str(tmp_path / "public" / "en" / name))  # strict parser
        assert "Badtitle here" in etree.tostring(tree, encoding="unicode")


def test_only_web_urls_are_published(tmp_path: Path) -> None:
    path, store = _setup(tmp_path)
    story = _story(
        1,
        link="javascript:alert(1)",
        image="javascript:alert(2)",
        enclosures=(Enclosure("data:text/html,x", "text/html"), Enclosure("https://ok/a.mp3")),
    )
    save_articles(store, "p", [story], LANGS)
    publish(load(path), store)
    text = "".join(p.read_text(encoding="utf-8") for p in (tmp_path / "public").rglob("*.*"))
    assert "javascript:" not in text and "data:text/html" not in text
    assert "https://ok/a.mp3" in text


def test_urls_with_characters_no_uri_may_hold_are_published_escaped(tmp_path: Path) -> None:
    """A real feed (TIME's) names an image file with a narrow no-break space in it (as macOS
    names screenshots); a URL may hold plain spaces, Chinese letters, a host in Cyrillic, or a
    `%` that escapes nothing. As they are, they make an invalid RSS enclosure or Atom link
    (the W3C validator: InvalidURLAttribute, InvalidUriChar): they go out as URIs, as a
    browser would ask for them, and the same everywhere."""
    path, store = _setup(tmp_path)
    shot = "https://partner.example.org/uploads/Screenshot at 2.27.01\u202fPM.png"
    story = _story(
        1,
        link="https://partner.example.org/news/a {b}|c",
        image="https://partner.example.org/img/100%.jpg",
        enclosures=(
            Enclosure(shot, "image/png"),
            Enclosure("https://мысал.қаз/суреттер/划词翻译.gif", "image/gif"),
        ),
    )
    save_articles(store, "p", [story], LANGS)
    publish(load(path), store)
    escaped = "https://partner.example.org/uploads/Screenshot%20at%202.27.01%E2%80%AFPM.png"
    root = tmp_path / "public" / "en"
    rss = etree.parse(str(root / "rss.xml"))
    assert rss.find(".//item/enclosure").get("url") == escaped
    atom = feedparser.parse((root / "atom.xml").read_bytes()).entries[0]
    assert escaped in [link.href for link in atom.links if link.rel == "enclosure"]
    text = "".join(p.read_text(encoding="utf-8") for p in root.rglob("*.*"))
    assert "https://partner.example.org/img/100%25.jpg" in text
    # A path in another script in UTF-8 escapes, a host in another script in IDNA.
    gif = "https://xn--80awbu3c.xn--80ao21a/%D1%81%D1%83%D1%80%D0%B5%D1%82%D1%82%D0%B5%D1%80/"
    assert f'href="{gif}%E5%88%92%E8%AF%8D%E7%BF%BB%E8%AF%91.gif"' in text
    assert "https://partner.example.org/news/a%20%7Bb%7D%7Cc" in text
    assert " at 2.27" not in text and "\u202fPM" not in text
    assert "100%." not in text and "a {b}" not in text


def test_a_summary_reads_the_same_in_a_feed_reader(tmp_path: Path) -> None:
    """The summary is plain text; an RSS description is HTML to every reader. A summary that
    quotes `<HOST>` or says `AT&T` must reach the reader as written, not as a tag it drops."""
    path, store = _setup(tmp_path)
    summary = "Tunnel with ssh -L 8888:<HOST>:22 via AT&T &amp; co."
    save_articles(store, "p", [_story(1, summary=summary, content="")], LANGS)
    publish(load(path), store)
    root = tmp_path / "public" / "en"
    rss = feedparser.parse((root / "rss.xml").read_bytes()).entries[0]
    assert rss.summary == "Tunnel with ssh -L 8888:&lt;HOST&gt;:22 via AT&amp;T &amp;amp; co."
    atom = feedparser.parse((root / "atom.xml").read_bytes()).entries[0]
    assert atom.summary == summary  # Atom says its summary is text
    feed = json.loads((root / "feed.json").read_text(encoding="utf-8"))
    assert feed["items"][0]["summary"] == summary


def test_a_story_dated_in_the_future_is_filed_when_first_seen(tmp_path: Path) -> None:
    path, store = _setup(tmp_path)
    future = utcnow().replace(year=2099)
    save_articles(
        store, "p", [_story(1, published=future), _story(2), _story(3, updated=future)], LANGS
    )
    publish(load(path), store)
    feed = feedparser.parse((tmp_path / "public" / "en" / "atom.xml").read_bytes())
    assert feed.feed.updated_parsed.tm_year < 2099
    assert all(e.published_parsed.tm_year < 2099 for e in feed.entries)
    assert all(e.updated_parsed.tm_year < 2099 for e in feed.entries)


def test_a_story_dated_before_any_news_is_filed_when_first_seen(tmp_path: Path) -> None:
    """`0001-01-01`, a year of three digits (a typo) or the Unix epoch are no dates: such a
    story is dated when first seen, as one from the future is, and the store reads them
    back (a year before 1000 was once stored as `1-01-01`, which stopped every publish)."""
    path, store = _setup(tmp_path)
    dates = [datetime(1, 1, 1, tzinfo=UTC), datetime(999, 5, 1, tzinfo=UTC), EPOCH]
    stories = [_story(n, published=when) for n, when in enumerate(dates, 1)]
    save_articles(store, "p", stories, LANGS)
    publish(load(path), store)
    assert publish(load(path), store, full=True).full  # read back from the store, whole
    feed = feedparser.parse((tmp_path / "public" / "en" / "atom.xml").read_bytes())
    assert len(feed.entries) == 3
    assert all(e.published_parsed.tm_year >= 2026 for e in feed.entries)


def test_a_feed_dated_in_year_one_is_published_by_once(tmp_path: Path) -> None:
    """The same through the command line: a partner item with `pubDate` in year 1."""
    path, _ = _setup(tmp_path)
    (tmp_path / "p.xml").write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>P</title>'
        "<link>https://partner.example.org/</link><item><title>Old clock</title>"
        "<link>https://partner.example.org/1</link><guid>1</guid>"
        "<pubDate>Mon, 01 Jan 0001 00:00:00 GMT</pubDate><description>Text.</description>"
        "</item></channel></rss>",
        encoding="utf-8",
    )
    for _ in range(2):  # the second cycle reads the stored date back
        result = run_cli("once", "--config", str(path))
        assert result.code in (0, 1) and "internal error" not in result.output, result.output
    assert "Old clock" in (tmp_path / "public" / "en" / "rss.xml").read_text(encoding="utf-8")


def test_item_ids_survive_a_move_to_another_domain(tmp_path: Path) -> None:
    path, store = _setup(tmp_path)
    save_articles(store, "p", [_story(1)], LANGS)
    publish(load(path), store)
    before = [
        e.id
        for e in feedparser.parse((tmp_path / "public" / "en" / "atom.xml").read_bytes()).entries
    ]
    moved, store = _setup(tmp_path, base_url="https://news.example.com/")
    publish(load(moved), store)
    feed = feedparser.parse((tmp_path / "public" / "en" / "atom.xml").read_bytes())
    assert [e.id for e in feed.entries] == before
    assert before[0].startswith("tag:feeds.example.kz,")
    assert feed.entries[0].link.startswith("https://news.example.com/")


def test_an_id_given_twice_in_one_batch_is_stored_once(tmp_path: Path) -> None:
    _path, store = _setup(tmp_path)
    assert save_articles(store, "p", [_story(1), _story(1, title="Again"), _story(2)], LANGS) == (
        2,
        0,
        0,
    )
    held = store.get_article("p:1")
    assert held is not None and held.article.title == "Story 1"


def test_an_edition_dropped_from_the_yaml_is_unpublished(tmp_path: Path) -> None:
    path, store = _setup(tmp_path)
    save_articles(store, "p", [_story(1)], LANGS)
    publish(load(path), store)
    assert (tmp_path / "public" / "en" / "rss.xml").exists()
    text = path.read_text(encoding="utf-8").replace("- en\n", "")
    path.write_text(text, encoding="utf-8")
    publish(load(path), store)
    assert not (tmp_path / "public" / "en").exists()
    assert (tmp_path / "public" / "kk" / "rss.xml").exists()


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("urn:tomb", False),  # no namespace id: not a URN
        ("urn:uuid:not-a-uuid", False),
        ("tag:partner.kz:feed", False),  # no date
        ("http:/partner.kz", False),  # no host
        ("urn:uuid:60a76c80-d399-11d9-b93c-0003939e0af6", True),
        ("urn:isbn:0451450523", True),
        ("tag:partner.kz,2025:feed", True),
        ("https://partner.kz/feed", True),
    ],
)
def test_a_partners_feed_id_is_kept_as_atom_source_id_only_when_well_formed(
    tmp_path: Path, given: str, kept: bool
) -> None:
    """A partner's `<id>urn:tomb</id>` copied into atom:source made our Atom invalid (the W3C
    validator: "id is not a valid URN"); such an id gives way to the feed's link."""
    path, store = _setup(tmp_path)
    story = _story(1, source_feed_id=given, source_url="https://partner.kz/")
    save_articles(store, "p", [story], LANGS)
    publish(load(path), store)
    atom = etree.parse(str(tmp_path / "public" / "en" / "atom.xml"))
    ns = {"a": "http://www.w3.org/2005/Atom"}
    source_id = atom.find(".//a:entry/a:source/a:id", ns).text
    assert source_id == (given if kept else "https://partner.kz/")
