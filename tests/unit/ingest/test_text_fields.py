"""Titles, summaries and bodies read as the format says they are written.

Owns: tests that Atom `type="text"` and JSON Feed's title and summary are plain text kept word
for word (and RSS's titles still read as HTML), that Atom content which is not text or HTML is
not taken for a story's body, that JSON Feed items with nothing to publish are skipped and
title-less ones named by their first sentence as RSS items are, that a title of invisible
characters counts as none, and that a JSON Feed tag given as a string is kept; down to the
feeds `syndication once` publishes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import feedparser
from lxml import html as lxml_html

from syndication.ingest.parse import ParsedFeed, SourceInfo, parse_feed
from tests.conftest import OFFLINE_TRANSLATION, run_cli, write_config
from tests.feedserver import FeedServer

SOURCE = SourceInfo("partner", "https://partner.kz/feed")
JSON_FEED = "https://jsonfeed.org/version/1.1"
SCRIPT_TITLE = "Use the <script> tag carefully, developers say"


def parse(body: bytes) -> ParsedFeed:
    return parse_feed(body, {}, SOURCE, 5_000_000)


def atom(entries: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>Partner</title><id>urn:partner</id><updated>2025-06-01T10:00:00Z</updated>"
        f"{entries}</feed>"
    ).encode()


def entry(n: int, inner: str) -> str:
    return (
        f"<entry><id>urn:e:{n}</id><link href='https://partner.kz/{n}'/>"
        f"<updated>2025-06-01T0{n}:00:00Z</updated>{inner}</entry>"
    )


def json_feed(*items: dict[str, Any]) -> bytes:
    return json.dumps({"version": JSON_FEED, "title": "Partner", "items": list(items)}).encode()


def rss(items: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Partner'
        f"</title><link>https://partner.kz/</link><description>d</description>{items}"
        "</channel></rss>"
    ).encode()


# -- 1. plain text is plain text ------------------------------------------------------------


def test_atom_text_title_and_summary_are_kept_word_for_word() -> None:
    feed = atom(
        entry(1, '<title type="text">Use the &lt;script&gt; tag carefully, developers say</title>'
                 "<content type='text'>In HTML, write &lt;p&gt; for a paragraph.</content>")
        + entry(2, '<title type="text">Study: 5 &lt; 7 and rates &lt;b&gt; rising</title>'
                   '<summary type="text">The &lt;iframe&gt; element lets pages embed other'
                   " pages, experts said.</summary>")
        # No type is type="text"; an entity escaped twice is an entity as written; runs of
        # whitespace are collapsed as plain_text does.
        + entry(3, "<title>AT&amp;amp;T  says\n  hi</title>"
                   "<summary>Tom &amp;amp; Jerry</summary>")
    )  # fmt: skip
    first, second, third = parse(feed).articles
    assert first.title == SCRIPT_TITLE
    assert first.summary == "In HTML, write <p> for a paragraph."
    assert first.content == "<p>In HTML, write &lt;p&gt; for a paragraph.</p>"
    assert second.title == "Study: 5 < 7 and rates <b> rising"
    assert second.summary == "The <iframe> element lets pages embed other pages, experts said."
    assert third.title == "AT&amp;T says hi"
    assert third.summary == "Tom &amp; Jerry"


def test_atom_html_titles_and_rss_titles_are_still_read_as_html() -> None:
    feed = atom(
        entry(1, '<title type="html">&lt;b&gt;Bold&lt;/b&gt; news &amp;amp; more</title>'
                 '<summary type="html">&lt;p&gt;An &lt;em&gt;HTML&lt;/em&gt; summary&lt;/p&gt;'
                 "</summary>")
        + entry(2, '<title type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">XHTML'
                   " <em>title</em> &amp; more</div></title>")
    )  # fmt: skip
    html_entry, xhtml_entry = parse(feed).articles
    assert html_entry.title == "Bold news & more"
    assert html_entry.summary == "An HTML summary"
    assert xhtml_entry.title == "XHTML title & more"
    (item,) = parse(
        rss("<item><title>&lt;b&gt;Bold&lt;/b&gt; headline</title><link>https://p.kz/1</link>"
            "<description>Text.</description></item>")
    ).articles  # fmt: skip
    assert item.title == "Bold headline"


def test_json_feed_title_and_summary_are_plain_text_and_content_text_is_escaped() -> None:
    feed = json_feed(
        {"id": "x1", "url": "https://partner.kz/x1", "title": SCRIPT_TITLE,
         "content_text": "In HTML, write <p> for a paragraph.\n\nThe <iframe> & co."},
        {"id": "x2", "url": "https://partner.kz/x2", "title": "Tom &amp; Jerry\u0007 <3  fans",
         "summary": "Fans <3 the show & its <music>.", "content_text": "Fans gathered."},
    )  # fmt: skip
    parsed = parse(feed)
    first, second = parsed.articles
    assert first.title == SCRIPT_TITLE
    assert first.content == (
        "<p>In HTML, write &lt;p&gt; for a paragraph.</p><p>The &lt;iframe&gt; &amp; co.</p>"
    )
    assert first.summary == "In HTML, write <p> for a paragraph. The <iframe> & co."
    assert second.title == "Tom &amp; Jerry <3 fans"
    assert second.summary == "Fans <3 the show & its <music>."


# -- 2. Atom content that is not a body -----------------------------------------------------


def test_atom_content_that_is_not_text_falls_back_to_the_summary() -> None:
    feed = atom(
        entry(1, "<title>Report</title><summary>The ministry published a report.</summary>"
                 '<content type="application/pdf">JVBERi0xLjQKJcfsj6IK</content>')
        + entry(2, "<title>Railway</title><summary>A new line opened.</summary>"
                   '<content type="text/html" src="https://partner.kz/2.html">'
                   "&lt;p&gt;Not here&lt;/p&gt;</content>")
        + entry(3, '<title>Pdf only</title><content type="application/pdf">JVBERi0x</content>')
        + entry(4, "<title>Data</title><summary>A dataset.</summary>"
                   '<content type="application/xml"><data xmlns="urn:x"><row>r</row></data>'
                   "</content>")
        # feedparser copies an HTML content into a missing summary, even one kept elsewhere.
        + entry(5, '<title>Elsewhere</title><content type="html" src="https://partner.kz/5">'
                   "&lt;p&gt;A stale copy&lt;/p&gt;</content>")
    )  # fmt: skip
    report, railway, pdf_only, data, elsewhere = parse(feed).articles
    assert report.content == "<p>The ministry published a report.</p>"
    assert report.summary == "The ministry published a report."
    assert railway.content == "<p>A new line opened.</p>"
    assert (pdf_only.content, pdf_only.summary) == ("", "")
    assert data.content == "<p>A dataset.</p>"
    assert (elsewhere.content, elsewhere.summary) == ("", "")


# -- 3. empty and title-less items ----------------------------------------------------------


def test_json_feed_items_with_nothing_to_publish_are_skipped_with_a_note() -> None:
    parsed = parse(
        json_feed(
            {"id": "e1"},
            {"id": "e2", "title": "\u200b\u200b", "tags": ["x"]},
            {"id": "e3", "title": "Kept", "content_text": "Body."},
        )
    )
    assert [a.title for a in parsed.articles] == ["Kept"]
    assert parsed.entries_found == 3
    assert "2 empty item(s) skipped" in parsed.notes


def test_title_less_items_are_named_by_their_first_sentence() -> None:
    parsed = parse(
        json_feed(
            {"id": "s", "title": None, "summary": "Only a summary here. Second one."},
            {"id": "t", "content_text": "Only a text here. More of it."},
            {"id": "z", "title": "\u200b\u2060\ufeff", "summary": "Invisible title. More."},
        )
    )
    assert [a.title for a in parsed.articles] == [
        "Only a summary here",
        "Only a text here",
        "Invisible title",
    ]
    # RSS does the same (a title-less item is named by its description's first sentence), and
    # a title of zero-width spaces is no title there either.
    (item,) = parse(
        rss("<item><title>\u200b\u200b</title><link>https://p.kz/1</link>"
            "<description>The library opened. Many came.</description></item>")
    ).articles  # fmt: skip
    assert item.title == "The library opened"


# -- 4. a tag as a string -------------------------------------------------------------------


def test_json_feed_tags_given_as_a_string_are_one_tag() -> None:
    one, listed, other = parse(
        json_feed(
            {"id": "1", "title": "A", "content_text": "a", "tags": "cinema"},
            {"id": "2", "title": "B", "content_text": "b", "tags": ["cinema", "music", "", 7]},
            {"id": "3", "title": "C", "content_text": "c", "tags": {"a": 1}},
        )
    ).articles
    assert one.categories == ("cinema",)
    assert listed.categories == ("cinema", "music", "7")
    assert other.categories == ()


# -- through the published feeds ------------------------------------------------------------


def test_published_feeds_show_plain_text_markup_as_text(tmp_path: Path) -> None:
    server = FeedServer().start()
    try:
        atom_url = server.add(
            "/atom.xml",
            atom(entry(1, '<title type="text">Use the &lt;script&gt; tag carefully, developers'
                          ' say</title><summary type="text">The &lt;iframe&gt; element lets'
                          " pages embed other pages, experts said.</summary>")),
            headers={"Content-Type": "application/atom+xml"},
        )  # fmt: skip
        json_url = server.add(
            "/feed.json",
            json_feed({"id": "j0", "title": "\u200b"},  # nothing to publish
                      {"id": "j1", "url": "https://partner.kz/j1", "title": "Fans <3 the show",
                       "summary": "Fans <3 the show & its <music>.",
                       "content_text": "Fans of the cartoon gathered at the cinema."}),
            headers={"Content-Type": "application/feed+json"},
        )  # fmt: skip
        config = write_config(
            tmp_path,
            editions=["en"],
            sources=[
                {"id": "atom", "url": atom_url, "language": "en"},
                {"id": "json", "url": json_url, "language": "en"},
            ],
            translation=OFFLINE_TRANSLATION,
        )
        result = run_cli("once", "--config", str(config))
    finally:
        server.stop()
    assert result.code == 0, result.output
    assert "1 empty item(s) skipped" in result.output
    public = tmp_path / "public" / "en"
    expected = {
        SCRIPT_TITLE: "The <iframe> element lets pages embed other pages, experts said.",
        "Fans <3 the show": "Fans <3 the show & its <music>.",
    }
    for name in ("rss.xml", "atom.xml"):
        parsed = feedparser.parse((public / name).read_bytes())
        titles = {e.title: e for e in parsed.entries}
        assert set(titles) == set(expected), name
        for title, summary in expected.items():
            detail = titles[title].summary_detail
            # RSS's description is HTML (its text is escaped in it), Atom's summary text.
            if detail.type == "text/html":
                assert lxml_html.fromstring(detail.value).text_content() == summary, name
            else:
                assert detail.value == summary, name
    items = json.loads((public / "feed.json").read_text(encoding="utf-8"))["items"]
    assert {i["title"]: i["summary"] for i in items} == expected
    for item in items:
        # As HTML the page and content_html hold the markup as text, escaped.
        assert "<script>" not in item.get("content_html", "")
        assert "<iframe>" not in item.get("content_html", "")
    (page,) = (public / "articles").glob("atom-*.html")
    document = lxml_html.fromstring(page.read_bytes())
    assert document.findtext(".//h1") == SCRIPT_TITLE
    assert not document.findall(".//script") and not document.findall(".//iframe")
    assert expected[SCRIPT_TITLE] in document.text_content()
