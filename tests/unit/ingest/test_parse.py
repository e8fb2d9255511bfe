"""Parsing feed bytes into Articles: links, duplicates, encodings, JSON Feed, refusals.

Owns: tests of syndication.ingest.parse on small hand-written feeds that each pin one
behaviour (the real-world corpus is in test_corpus.py).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from syndication.errors import SourceError
from syndication.ingest.encoding import to_utf8
from syndication.ingest.parse import ParsedFeed, SourceInfo, parse_feed
from tests.feedserver import FeedServer, running


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    yield from running()


SOURCE = SourceInfo("partner", "https://partner.kz/rss.xml")


def parse(body: bytes, content_type: str = "") -> ParsedFeed:
    headers = {"content-type": content_type} if content_type else {}
    return parse_feed(body, headers, SOURCE, 5_000_000)


def rss(items: str, decl: str = '<?xml version="1.0" encoding="utf-8"?>') -> bytes:
    return (
        f'{decl}<rss version="2.0"><channel><title>Partner</title>'
        f"<link>https://partner.kz/</link>{items}</channel></rss>"
    ).encode()


def test_relative_links_resolve_against_the_item_page() -> None:
    feed = rss(
        "<item><title>A</title><link>/news/a.html</link>"
        '<description>&lt;img src="pics/a.jpg"&gt; text</description></item>'
    )
    (article,) = parse(feed).articles
    assert article.link == "https://partner.kz/news/a.html"
    assert 'src="https://partner.kz/news/pics/a.jpg"' in article.content
    assert article.image == "https://partner.kz/news/pics/a.jpg"


def test_xml_base_wins_for_content() -> None:
    feed = b"""<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><id>urn:f</id>
    <entry><id>urn:1</id><title>x</title><link href="https://a.kz/post/1"/>
    <content type="html" xml:base="https://cdn.kz/media/">&lt;img src="p.jpg"&gt;</content>
    </entry></feed>"""
    (article,) = parse(feed).articles
    assert 'src="https://cdn.kz/media/p.jpg"' in article.content


def test_empty_items_skipped_and_true_duplicates_merged() -> None:
    one = "<item><guid>g1</guid><title>Same</title><link>https://p.kz/1</link></item>"
    other = "<item><guid>g1</guid><title>Different story</title><link>https://p.kz/2</link></item>"
    parsed = parse(rss(one + "<item></item>" + one + other))
    assert parsed.entries_found == 4
    assert [a.title for a in parsed.articles] == ["Same", "Different story"]
    assert len({a.id for a in parsed.articles}) == 2
    assert any("empty item" in n for n in parsed.notes)
    assert any("duplicate" in n for n in parsed.notes)


def test_feedburner_original_link_preferred() -> None:
    feed = rss(
        "<item><title>A</title><link>http://feedproxy.google.com/~r/x/~3/abc/</link>"
        "<feedburner:origLink xmlns:feedburner='http://rssnamespace.org/feedburner/ext/1.0'>"
        "https://partner.kz/a</feedburner:origLink></item>"
    )
    assert parse(feed).articles[0].link == "https://partner.kz/a"


def test_undeclared_windows_1251_read_as_cyrillic() -> None:
    feed = rss("<item><title>Новости Казахстана сегодня утром</title></item>", decl="")
    parsed = parse(feed.decode().encode("cp1251"))
    assert parsed.articles[0].title == "Новости Казахстана сегодня утром"


def test_http_charset_counts() -> None:
    feed = rss("<item><title>Привет, мир и все новости</title></item>", decl="")
    parsed = parse(feed.decode().encode("koi8-r"), "application/rss+xml; charset=KOI8-R")
    assert parsed.articles[0].title == "Привет, мир и все новости"
    assert parsed.notes == []


def test_utf8_labelled_latin1_read_as_utf8() -> None:
    feed = rss("<item><title>Euro € and Ünïcode</title></item>", '<?xml version="1.0" '
               'encoding="windows-1252"?>')  # fmt: skip
    parsed = parse(feed)
    assert parsed.articles[0].title == "Euro € and Ünïcode"
    assert any("UTF-8" in n for n in parsed.notes)


def test_to_utf8_drops_a_cut_off_character() -> None:
    body, encoding, note = to_utf8("<rss>新闻".encode()[:-1])
    assert (body, encoding) == ("<rss>新".encode(), "utf-8")
    assert "middle of a UTF-8 character" in note


def test_gzip_bomb_refused() -> None:
    bomb = gzip.compress(b"<rss>" + b" " * 20_000_000)
    with pytest.raises(SourceError, match="inflates past"):
        parse(bomb)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "empty"),
        (b"   \n", "empty"),
        (b"<!DOCTYPE html><html><head><title>Login</title></head></html>", "HTML page ('Login')"),
        (bytes(range(256)) * 4, "not a feed"),
        (b'{"hello": "world"}', "jsonfeed.org"),
        (b"{not json", "invalid JSON"),
    ],
)
def test_not_a_feed(body: bytes, reason: str) -> None:
    with pytest.raises(SourceError) as caught:
        parse(body)
    assert reason in caught.value.message
    assert caught.value.source_id == "partner"


def test_json_feed() -> None:
    body = json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "title": "Partner",
            "home_page_url": "https://partner.kz/",
            "language": "en",
            "items": [
                {
                    "id": "1",
                    "url": "/a",
                    "title": "Rail freight grows",
                    "content_html": '<p onclick="x()">Grain trains reached Khorgos today.</p>'
                    '<script>x()</script><img src="i.jpg">',
                    "date_published": "2025-05-05T10:00:00+05:00",
                },
                "not an object",
            ],
        }
    ).encode()
    parsed = parse(body)
    (article,) = parsed.articles
    assert article.link == "https://partner.kz/a"
    assert article.content == (
        '<p>Grain trains reached Khorgos today.</p><img src="https://partner.kz/i.jpg">'
    )
    assert article.published is not None and article.published.hour == 5
    assert any("not an object" in n for n in parsed.notes)


def test_external_entities_never_resolved(feed_server: FeedServer, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-MARKER")
    dtd_url = feed_server.add("/evil.dtd", b'<!ENTITY remote "REMOTE-MARKER">')
    entity_url = feed_server.add("/entity.txt", b"REMOTE-MARKER")
    body = f"""<?xml version="1.0"?>
<!DOCTYPE rss SYSTEM "{dtd_url}" [
  <!ENTITY file SYSTEM "{secret.as_uri()}">
  <!ENTITY web SYSTEM "{entity_url}">
]>
<rss version="2.0"><channel><title>t &web;</title>
<item><title>Item &file;</title><description>x &web; &file;</description></item>
</channel></rss>""".encode()
    try:
        parsed = parse(body)
    except SourceError:
        parsed = None
    if parsed is not None:
        everything = parsed.title + "".join(a.title + a.content for a in parsed.articles)
        assert "TOP-SECRET-MARKER" not in everything
        assert "REMOTE-MARKER" not in everything
    assert feed_server.log == []  # neither the DTD nor the entity was fetched


def test_items_with_only_an_image_each_keep_their_own_story() -> None:
    # No guid, no link, no title, no text: only the markup tells them apart.
    items = "".join(
        f'<item><description>&lt;img src="https://partner.kz/{name}.jpg"&gt;</description></item>'
        for name in ("a", "b", "c")
    )
    body = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
        f"{items}<item><description>Plain words here.</description></item></channel></rss>"
    ).encode()
    first, again = parse(body), parse(body)
    assert len(first.articles) == 4
    assert len({a.id for a in first.articles}) == 4
    assert [a.id for a in first.articles] == [a.id for a in again.articles]


def test_rfc6721_tombstones_withdraw_entries_feedparser_drops() -> None:
    """`at:deleted-entry` read from the XML itself (feedparser keeps none of it); an entry both
    listed and tombstoned is deleted; an entity in the document is never expanded."""
    feed = b"""<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE feed [<!ENTITY boom "BOOM">]>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:at="http://purl.org/atompub/tombstones/1.0">
<title>Partner</title><id>urn:partner</id><updated>2025-05-01T00:00:00Z</updated>
<entry><id>urn:story:1</id><title>Kept</title><updated>2025-05-01T00:00:00Z</updated>
<summary>Still here.</summary></entry>
<entry><id>urn:story:2</id><title>Listed and deleted</title>
<updated>2025-05-01T00:00:00Z</updated><summary>Gone.</summary></entry>
<at:deleted-entry ref="urn:story:2" when="2025-05-02T10:00:00+05:00">
<at:comment>Withdrawn at the request of &boom; counsel</at:comment></at:deleted-entry>
<at:deleted-entry ref=" urn:story:3 " when="not a date"/>
</feed>"""
    parsed = parse(feed, "application/atom+xml")
    assert [a.guid for a in parsed.articles] == ["urn:story:1"]
    first, second = parsed.withdrawn
    assert first.article_id == "partner:urn:story:2"
    assert first.at is not None and first.at.isoformat() == "2025-05-02T05:00:00+00:00"
    assert "counsel" in first.reason and "BOOM" not in first.reason
    assert second.article_id == "partner:urn:story:3" and second.at is None
    # A feed without the namespace is not parsed a second time and has none.
    assert parse(rss("<item><title>A</title><link>https://p.kz/a</link></item>")).withdrawn == []


def test_bare_ampersands_in_a_sloppy_feed_stay_ampersands() -> None:
    """A query string pasted into <link> with raw `&`s makes the XML ill-formed; read loosely,
    `&lang=` became `〈=` and `&copy=` `©=`. Each `&` that starts no entity is read as
    itself; real entities (`&amp;`, `&#233;`, an HTML one like `&nbsp;`) keep their meaning."""
    link = "https://mp.weixin.qq.com/s?__biz=MjM5&mid=26&idx=2&copy=1&lang=zh_CN#rd"
    feed = rss(
        f"<item><title>Caf&#233; &amp; co</title><link>{link}</link>"
        "<description>&lt;p&gt;A&amp;nbsp;b&lt;/p&gt;</description></item>"
    )
    parsed = parse(feed)
    (article,) = parsed.articles
    assert article.link == link and article.guid == link
    assert article.title == "Café & co"
    assert "A\xa0b" in article.content or "A&nbsp;b" in article.content
    assert any("read as an `&`" in note for note in parsed.notes)
    # In CDATA an `&` is literal already: left as it is.
    cdata = rss(
        f"<item><title><![CDATA[Tom & Jerry &amp; co]]></title><link>{link}</link>"
        '<description><![CDATA[<a href="https://a.kz/?x=1&amp;y=2">A &amp; B</a>]]>'
        "</description></item>"
    )
    (article,) = parse(cdata).articles
    assert article.title == "Tom & Jerry & co" and article.link == link
    assert 'href="https://a.kz/?x=1&amp;y=2"' in article.content and "A &amp; B" in article.content
    # A well-formed feed is read once, as it is.
    escaped = rss(f"<item><title>t</title><link>{link.replace('&', '&amp;')}</link></item>")
    clean = parse(escaped)
    assert clean.articles[0].link == link and clean.notes == []


@pytest.mark.parametrize(
    ("written", "utc"),
    [
        ("Mon, 05 May 2025 10:00:00 ALMT", "2025-05-05 05:00"),  # UTC+5 since March 2024
        ("Fri, 05 May 2023 10:00:00 ALMT", "2023-05-05 04:00"),  # UTC+6 before
        ("Mon, 05 May 2025 10:00 msk", "2025-05-05 07:00"),
        ("Mon, 05 May 2025 10:00:00 BJT", "2025-05-05 02:00"),
        ("Mon, 05 May 2025 10:00:00 +0600", "2025-05-05 04:00"),
        ("Mon, 05 May 2025 10:00:00 GMT", "2025-05-05 10:00"),
        ("Thu, 04 Dec 2025 15:30:00 CET", "2025-12-04 14:30"),
        ("Thu, 04 Dec 2025 15:30:00 CEST", "2025-12-04 13:30"),  # the abbreviation says +2
        ("Thu, 04 Dec 2025 15:30:00 JST", "2025-12-04 06:30"),
        ("Thu, 04 Dec 2025 15:30:00 ACST", "2025-12-04 06:00"),
        ("Thu, 04 Dec 2025 15:30:00 CST", "2025-12-04 21:30"),  # RFC 822's: US Central
        ("Mon, 06 Jul 2026 10:00:00 PT", "2026-07-06 17:00"),  # US Pacific, in summer time
        ("Thu, 04 Dec 2025 15:30:00 UTC+6", "2025-12-04 09:30"),
        ("Thu, 04 Dec 2025 15:30:00 GMT+6", "2025-12-04 09:30"),  # feedparser: no date
        ("Thu, 04 Dec 2025 15:30:00 UTC+05:30", "2025-12-04 10:00"),
        ("Thu, 04 Dec 2025 15:30:00 GMT-3", "2025-12-04 18:30"),
        ("Thu, 04 Dec 2025 15:30:00 -03", "2025-12-04 18:30"),
        ("Thu Dec  4 15:30:00 JST 2025", "2025-12-04 06:30"),  # the Unix `date` form
        ("Thu Dec 04 2025 15:30:00 GMT+0600 (Almaty Time)", "2025-12-04 09:30"),  # JavaScript
        ("2025-12-04 15:30:00 UTC", "2025-12-04 15:30"),
        ("2025-12-04 15:30:00 JST", "2025-12-04 06:30"),
        ("2025-12-04T15:30:00+0530", "2025-12-04 10:00"),  # feedparser: +05:00
        ("2020/1/10 14:33:00 +0800", "2020-01-10 06:33"),
    ],
)
def test_the_regions_time_zones_in_a_pubdate_are_applied(written: str, utc: str) -> None:
    """feedparser reads a zone abbreviation it does not know as UTC: hours off for ALMT, CET,
    JST, UTC+6."""
    (article,) = parse(rss(f"<item><title>t</title><pubDate>{written}</pubDate></item>")).articles
    assert article.published is not None
    assert article.published.strftime("%Y-%m-%d %H:%M") == utc


def test_a_zone_not_known_is_no_date_and_is_noted() -> None:
    """An abbreviation nobody knows, one naming several zones (IST: India, Ireland, Israel;
    BST; AST), a zone name and an offset past a day were read as UTC, silently: now no date,
    and the source's notes name them."""
    written = [
        "Thu, 04 Dec 2025 15:30:00 XYZ",
        "Thu, 04 Dec 2025 15:30:00 IST",
        "Thu, 04 Dec 2025 15:30:00 BST",
        "Thu, 04 Dec 2025 15:30:00 AST",
        "Thu, 04 Dec 2025 15:30:00 Europe/Berlin",
        "Thu, 04 Dec 2025 15:30:00 CET+1",
        "Thu, 04 Dec 2025 15:30:00 UTC+25",
        "2025-12-04T15:30:00 XYZ",
    ]
    items = "".join(
        f"<item><guid>g{i}</guid><title>t{i}</title><pubDate>{date}</pubDate></item>"
        for i, date in enumerate(written)
    )
    parsed = parse(rss(items))
    assert [a.published for a in parsed.articles] == [None] * len(written)
    assert parsed.notes == [
        "8 item(s) with a date that could not be read ('Thu, 04 Dec 2025 15:30:00 XYZ', "
        "'Thu, 04 Dec 2025 15:30:00 IST', 'Thu, 04 Dec 2025 15:30:00 BST', …): "
        "filed when first seen"
    ]


def test_dates_without_a_zone_are_in_the_sources_zone() -> None:
    """A Chinese CMS's `2025-06-01 10:00:00` is Beijing time: with the source's `timezone:`
    every date written without a zone is in it, in RSS and JSON Feed alike; a date that
    writes its zone, or a Unix time, is the moment it names wherever the source is."""
    beijing = replace(SOURCE, zone=ZoneInfo("Asia/Shanghai"))
    cases = [
        ("2025-06-01 10:00:00", "2025-06-01 02:00"),
        ("2025-06-01T10:00:00", "2025-06-01 02:00"),
        ("2025年06月01日 10:00", "2025-06-01 02:00"),
        ("2025/6/1 10:00", "2025-06-01 02:00"),
        ("01.06.2025 10:00", "2025-06-01 02:00"),
        ("Sun, 01 Jun 2025 10:00", "2025-06-01 02:00"),
        ("Sun Jun  1 10:00:00 2025", "2025-06-01 02:00"),
        ("2025-06-01", "2025-05-31 16:00"),
        ("Sun, 01 Jun 2025 10:00:00 +0000", "2025-06-01 10:00"),
        ("Sun, 01 Jun 2025 10:00:00 GMT", "2025-06-01 10:00"),
        ("2025-06-01T10:00:00Z", "2025-06-01 10:00"),
        ("Sun, 01 Jun 2025 10:00:00 ALMT", "2025-06-01 05:00"),
        ("1748772000", "2025-06-01 10:00"),
    ]
    for written, utc in cases:
        for feed in _dated(written):
            (article,) = parse_feed(feed, {}, beijing, 5_000_000).articles
            assert article.published is not None, written
            assert article.published.strftime("%Y-%m-%d %H:%M") == utc, written


def test_json_feed_fields_of_the_wrong_type_are_not_published_as_python() -> None:
    """A JSON Feed whose title is a list or whose content_html is an object: no text, never
    "['a']"; a numeric id is its digits; tags and author names that are not text are left."""
    body = json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "title": "Partner",
            "items": [
                {
                    "id": 7,
                    "title": ["a"],
                    "content_html": {"p": "x"},
                    "content_text": "Plain words of the story.",
                    "summary": None,
                    "tags": ["economy", {"x": 1}, ["y"]],
                    "authors": [{"name": ["n"]}, {"name": "Desk"}],
                    "image": {"url": "https://x/a.jpg"},
                }
            ],
        }
    ).encode()
    (article,) = parse(body, "application/feed+json").articles
    assert article.guid == "7"
    assert article.title == "Plain words of the story"  # its first sentence
    assert "Plain words of the story." in article.content and "{" not in article.content
    assert article.categories == ("economy",)
    assert article.author == "Desk" and article.image == ""


def _dated(written: str) -> tuple[bytes, bytes]:
    """An RSS and a JSON Feed document of one item dated `written`."""
    return (
        rss(f"<item><title>t</title><pubDate>{written}</pubDate></item>"),
        json.dumps(
            {
                "version": "https://jsonfeed.org/version/1.1",
                "items": [{"id": "1", "content_text": "t", "date_published": written}],
            }
        ).encode(),
    )


@pytest.mark.parametrize(
    ("written", "utc"),
    [
        ("2020/1/10 14:33:00", "2020-01-10 14:33"),  # feedparser: 2020-12-01 00:00
        ("2020/01/10", "2020-01-10 00:00"),
        ("2025年6月1日 10:00", "2025-06-01 10:00"),  # feedparser: 2025-12-01 00:00
        ("2025年06月01日10:00:30", "2025-06-01 10:00"),
        ("2025年6月1日", "2025-06-01 00:00"),
        ("01.06.2025 10:00", "2025-06-01 10:00"),
        ("1748772000", "2025-06-01 10:00"),  # feedparser: the year 1748
        ("1748772000123", "2025-06-01 10:00"),
        ("Вс, 01 июн 2025 10:00:00 +0300", "2025-06-01 07:00"),  # feedparser: no date
        ("1 июня 2025 10:00 +0500", "2025-06-01 05:00"),
        ("Пт, 05 Мая 2023 10:00:00 MSK", "2023-05-05 07:00"),
        ("Жс, 01 мау 2025 10:00:00 ALMT", "2025-06-01 05:00"),
        ("01 Маусым 2025 10:00:00 +0500", "2025-06-01 05:00"),
        ("5 қаз 2025 10:00:00 +0500", "2025-10-05 05:00"),
        ("2025-06-01T10:00:00+0600", "2025-06-01 04:00"),
        ("2025-06-01 10:00:00", "2025-06-01 10:00"),
        ("Sun, 01 Jun 25 10:00:00 +0000", "2025-06-01 10:00"),
        ("Sun, 01 Jun 2025 10:00:00 +0500 (ALMT)", "2025-06-01 05:00"),
        ("Sun Jun  1 10:00:00 2025", "2025-06-01 10:00"),
        ("Wes, 18 Aug 2021 17:00:00 +0800", "2021-08-18 09:00"),  # a corpus feed's weekday
    ],
)
def test_dates_feedparser_misreads_are_read_as_written(written: str, utc: str) -> None:
    """feedparser's lenient ISO 8601 handler reads `2020/1/10 14:33:00` as 2020-12-01 and a
    Unix timestamp as the year 1748, and it reads no Russian or Kazakh month; without a zone a
    date is UTC, as feedparser takes it."""
    for feed in _dated(written):
        (article,) = parse(feed).articles
        assert article.published is not None, written
        assert article.published.strftime("%Y-%m-%d %H:%M") == utc
        assert article.published.utcoffset() is not None and not article.published.utcoffset()
        assert parse(feed).notes == []


def test_a_date_that_cannot_be_read_is_no_date_and_is_noted() -> None:
    """An impossible date (month 13, hour 99) was read as the next January by feedparser, a
    Russian one as nothing at all, silently: now no date (the story is filed when first seen)
    and the source's notes name what was written."""
    items = "".join(
        f"<item><guid>g{i}</guid><title>t{i}</title><pubDate>{date}</pubDate></item>"
        for i, date in enumerate(
            ["2025-13-45T99:00:00Z", "2025-13-45T99:00:00Z", "Sun, 31 Feb 2025 10:00:00 +0000",
             "2025/6/1 10:00:00", ""]
        )
    )  # fmt: skip
    parsed = parse(rss(items))
    published = [a.published for a in parsed.articles]
    assert published[:3] == [None, None, None]
    assert published[3] is not None and published[4] is None
    assert parsed.notes == [
        "3 item(s) with a date that could not be read ('2025-13-45T99:00:00Z', "
        "'Sun, 31 Feb 2025 10:00:00 +0000'): filed when first seen"
    ]
    # An entry's readable updated date stands in for an unreadable published one: no note.
    atom = b"""<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><id>urn:f</id>
    <entry><id>urn:1</id><title>x</title><published>2025-13-01T00:00:00Z</published>
    <updated>2025-06-01T10:00:00Z</updated></entry></feed>"""
    parsed = parse(atom)
    assert parsed.articles[0].published == parsed.articles[0].updated
    assert parsed.articles[0].published is not None and parsed.notes == []
    json_feed = json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "items": [{"id": "1", "content_text": "t", "date_published": "2025-13-45T99:00:00Z"}],
        }
    ).encode()
    parsed = parse(json_feed)
    assert parsed.articles[0].published is None
    assert parsed.notes == [
        "1 item(s) with a date that could not be read ('2025-13-45T99:00:00Z'): "
        "filed when first seen"
    ]


def test_spaces_between_chinese_clauses_are_kept_in_titles_and_summaries() -> None:
    """A space typed between two Chinese clauses is the author's; only a line break of the
    source between CJK characters is no space."""
    feed = rss(
        "<item><title>北京举行新闻发布会 介绍经济形势</title>"
        "<description>会见哈萨克斯坦总统\u3000双方就合作交换意见。会谈在\n友好气氛中举行。"
        "</description></item>"
    )
    (article,) = parse(feed).articles
    assert article.title == "北京举行新闻发布会 介绍经济形势"
    assert article.summary in (
        "会见哈萨克斯坦总统\u3000双方就合作交换意见。会谈在友好气氛中举行。",
        "会见哈萨克斯坦总统 双方就合作交换意见。会谈在友好气氛中举行。",
    )


def test_the_sources_language_in_the_yaml_wins_over_what_the_feed_declares() -> None:
    """A feed declaring `es-ES` for English stories, a source the operator declared `en`: the
    YAML's word stands (the feed's sent every story to "no provider translates es→en")."""
    source = replace(SOURCE, language="en", translatable=frozenset({"en", "kk", "zh"}))
    feed = (
        b'<rss version="2.0"><channel><title>P</title><language>es-ES</language>'
        b"<item><title>Storm warning</title><link>https://p.kz/1</link></item>"
        b"</channel></rss>"
    )
    json_feed = json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "title": "P",
            "language": "es-ES",
            "items": [{"id": "1", "title": "Storm warning", "language": "es"}],
        }
    ).encode()
    for body in (feed, json_feed):
        (article,) = parse_feed(body, {}, source, 5_000_000).articles
        assert article.language == "en", body
