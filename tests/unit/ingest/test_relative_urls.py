"""Relative URLs in RSS and Atom feeds: links, enclosures, xml:base, guids.

Owns: tests that a feed's relative URLs come out as they always did (made absolute against
the URL the feed came from, under any xml:base), now that we resolve them rather than
feedparser; and that a guid that is no URL is made absolute against the configured URL, so
that it stays put when the feed is reached elsewhere (a redirect) or its xml:base changes.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from syndication.ingest.parse import ParsedFeed, SourceInfo, parse_feed
from syndication.model import Article

FEED_URL = "https://partner.kz/news/rss.xml"
SOURCE = SourceInfo("partner", FEED_URL)
# The same source, its feed now served from elsewhere (a redirect), its YAML unchanged.
MOVED = replace(SOURCE, url="https://cdn.partner.kz/v2/rss.xml", configured_url=FEED_URL)


def parse(body: str, source: SourceInfo = SOURCE) -> ParsedFeed:
    return parse_feed(body.encode(), {"content-type": "application/xml"}, source, 5_000_000)


def rss(items: str, rss_attrs: str = "", channel: str = "") -> str:
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"{rss_attrs} '
        'xmlns:atom="http://www.w3.org/2005/Atom"><channel><title>Partner</title>'
        f"<link>https://partner.kz/</link>{channel}{items}</channel></rss>"
    )


def atom(entries: str, feed_attrs: str = "", head: str = "") -> str:
    return (
        f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"'
        f"{feed_attrs}><title>Partner</title>{head}{entries}</feed>"
    )


def item(inside: str, title: str = "Story", text: str = "Text.") -> str:
    return f"<item><title>{title}</title>{inside}<description>{text}</description></item>"


def only(parsed: ParsedFeed) -> Article:
    assert len(parsed.articles) == 1, parsed.articles
    return parsed.articles[0]


def test_a_relative_link_is_made_absolute_against_the_feeds_url() -> None:
    text = '&lt;a href="more"&gt;more&lt;/a&gt;'
    story = only(parse(rss(item("<link>story/1.html</link>", text=text))))
    assert story.link == "https://partner.kz/news/story/1.html"
    assert story.guid == story.link
    assert 'href="https://partner.kz/news/story/more"' in story.content


def test_a_root_relative_link_and_a_query_only_link() -> None:
    first, second = parse(
        rss(item("<link>/s/1</link>", "One") + item("<link>?page=2</link>", "Two"))
    ).articles
    assert first.link == "https://partner.kz/s/1"
    assert second.link == "https://partner.kz/news/rss.xml?page=2"


def test_an_rss_enclosure_is_relative_to_its_items_page() -> None:
    story = only(
        parse(
            rss(
                item(
                    "<link>story/1.html</link>"
                    '<enclosure url="media/1.mp3" type="audio/mpeg" length="10"/>'
                )
            )
        )
    )
    assert [e.url for e in story.enclosures] == ["https://partner.kz/news/story/media/1.mp3"]


def test_an_atom_enclosure_link_is_relative_to_the_feeds_url() -> None:
    body = atom(
        '<entry><id>tag:partner.kz,2025:1</id><title>Story</title><link href="posts/1"/>'
        '<link rel="enclosure" href="media/1.mp3" type="audio/mpeg"/>'
        '<updated>2025-12-01T10:00:00Z</updated><content type="html">Text</content></entry>'
    )
    story = only(parse(body))
    assert story.link == "https://partner.kz/news/posts/1"
    assert [e.url for e in story.enclosures] == ["https://partner.kz/news/media/1.mp3"]


def test_an_atom_enclosure_link_in_an_rss_feed_is_relative_to_the_feeds_url() -> None:
    story = only(
        parse(
            rss(
                item(
                    '<link>story/1.html</link><atom:link rel="enclosure" href="media/1.mp3" '
                    'type="audio/mpeg"/>'
                )
            )
        )
    )
    assert [e.url for e in story.enclosures] == ["https://partner.kz/news/media/1.mp3"]


def test_an_absolute_xml_base_wins() -> None:
    body = atom(
        '<entry xml:base="https://cdn.partner.kz/a/"><id>tag:partner.kz,2025:1</id>'
        '<title>Story</title><link href="posts/1"/>'
        '<link rel="enclosure" href="m/1.mp3" type="audio/mpeg"/>'
        '<updated>2025-12-01T10:00:00Z</updated><content type="html">&lt;img src="i.png"&gt;'
        "</content></entry>"
    )
    story = only(parse(body))
    assert story.link == "https://cdn.partner.kz/a/posts/1"
    assert [e.url for e in story.enclosures] == ["https://cdn.partner.kz/a/m/1.mp3"]
    assert story.image == "https://cdn.partner.kz/a/i.png"


def test_a_relative_xml_base_is_relative_to_the_feeds_url_and_nests() -> None:
    body = atom(
        '<entry xml:base="2025/"><id>g-1</id><title>Story</title><link href="posts/1"/>'
        '<link rel="enclosure" href="m/1.mp3" type="audio/mpeg"/>'
        '<updated>2025-12-01T10:00:00Z</updated><content type="html">&lt;img src="i.png"&gt;'
        "</content></entry>",
        feed_attrs=' xml:base="blog/"',
    )
    story = only(parse(body))
    assert story.link == "https://partner.kz/news/blog/2025/posts/1"
    assert [e.url for e in story.enclosures] == ["https://partner.kz/news/blog/2025/m/1.mp3"]
    assert story.image == "https://partner.kz/news/blog/2025/i.png"
    # The id is no place: it follows the configured URL, never an xml:base (README).
    assert story.guid == "https://partner.kz/news/g-1"


def test_an_absolute_xml_base_ends_with_its_element() -> None:
    """Only the content under it has the base: the next entry's relative id is the feed's."""
    body = atom(
        "<entry><id>/t/1</id><title>One</title><updated>2025-12-01T10:00:00Z</updated>"
        '<content type="html" xml:base="https://elsewhere.kz/">Text one</content></entry>'
        "<entry><id>/t/2</id><title>Two</title><updated>2025-12-01T10:00:00Z</updated>"
        '<content type="html">Text two</content></entry>'
    )
    assert [a.guid for a in parse(body).articles] == [
        "https://partner.kz/t/1",
        "https://partner.kz/t/2",
    ]


def test_a_guid_that_is_no_url_is_made_absolute_unless_it_is_no_permalink() -> None:
    """As feedparser always made it (the stored ids of every feed that did not move stay):
    a <guid> whose isPermaLink is not "false" is a URL, relative to the feed's, and with no
    <link>, the item's link too."""
    permalink, plain = parse(
        rss(
            item("<guid>ep-3</guid>", "Three")
            + item('<guid isPermaLink="false">ep-4</guid>', "Four")
        )
    ).articles
    assert (permalink.guid, permalink.link) == ("https://partner.kz/news/ep-3", permalink.guid)
    assert permalink.id == "partner:https://partner.kz/news/ep-3"
    assert (plain.guid, plain.link) == ("ep-4", "")


def test_a_guid_that_is_a_url_is_kept_as_it_is() -> None:
    story = only(parse(rss(item("<guid>https://partner.kz/s/1</guid><link>s/1</link>"))))
    assert story.guid == "https://partner.kz/s/1"
    moved = only(parse(rss(item("<guid>https://partner.kz/s/1</guid><link>s/1</link>")), MOVED))
    assert moved.guid == "https://partner.kz/s/1"


def test_a_moved_feed_keeps_its_guids_and_its_links_follow_it() -> None:
    body = rss(
        item("<guid>ep-3</guid>", "Three")
        + item("<link>story/5</link>", "Five")
        + item("<link>story/6</link><guid>ep-6</guid>", "Six")
    )
    here, moved = parse(body).articles, parse(body, MOVED).articles
    assert [a.id for a in moved] == [a.id for a in here]
    assert [a.guid for a in moved] == [
        "https://partner.kz/news/ep-3",
        "https://partner.kz/news/story/5",
        "https://partner.kz/news/ep-6",
    ]
    assert [a.link for a in moved] == [
        "https://cdn.partner.kz/v2/ep-3",
        "https://cdn.partner.kz/v2/story/5",
        "https://cdn.partner.kz/v2/story/6",
    ]


@pytest.mark.parametrize(
    "items",
    [
        # A link before the guid: feedparser's record does not say the isPermaLink, the
        # document does.
        item("<link>s/1</link><guid>a-1</guid>", "One")
        + item('<link>s/2</link><guid isPermaLink="false">a-2</guid>', "Two"),
        # The same guid text once a permalink and once not: read again, as feedparser reads it.
        item("<link>s/1</link><guid>a-1</guid>", "One")
        + item('<link>s/2</link><guid isPermaLink="false">a-2</guid>', "Two")
        + item('<link>s/3</link><guid isPermaLink="false">a-1</guid>', "Three"),
    ],
)
def test_the_permalink_of_a_guid_after_a_link(items: str) -> None:
    expected = ["https://partner.kz/news/a-1", "a-2", "a-1"]
    for source in (SOURCE, MOVED):
        guids = [a.guid for a in parse(rss(items), source).articles]
        assert guids == expected[: len(guids)]


def test_rss_1_rdf_about_is_kept_as_written_and_links_resolved() -> None:
    body = (
        '<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"'
        ' xmlns="http://purl.org/rss/1.0/"><channel rdf:about="chan"><title>R</title>'
        '<link>home.html</link></channel><item rdf:about="items/1"><title>One</title>'
        "<link>items/1.html</link><description>Text</description></item>"
        "<item><title>Two</title><link>items/2.html</link><description>Text</description>"
        "</item></rdf:RDF>"
    )
    for source in (SOURCE, MOVED):
        one, two = parse(body, source).articles
        assert one.guid == "items/1"
        assert two.guid == "https://partner.kz/news/items/2.html"
    one, two = parse(body).articles
    assert one.link == "https://partner.kz/news/items/1.html"
    assert one.source_url == "https://partner.kz/news/home.html"


def test_atom_relative_ids_and_the_feeds_own_id() -> None:
    body = atom(
        '<entry><id>e-1</id><title>One</title><link href="posts/1"/>'
        '<updated>2025-12-01T10:00:00Z</updated><content type="html">Text</content></entry>',
        head='<id>feed-id</id><link href="/"/>',
    )
    story = only(parse(body))
    assert (story.guid, story.link) == (
        "https://partner.kz/news/e-1",
        "https://partner.kz/news/posts/1",
    )
    assert story.source_feed_id == "https://partner.kz/news/feed-id"
    assert story.source_url == "https://partner.kz/"
    moved = only(parse(body, MOVED))
    assert (moved.guid, moved.source_feed_id) == (story.guid, story.source_feed_id)
    assert moved.link == "https://cdn.partner.kz/v2/posts/1"


def test_a_feed_file_has_no_url_to_resolve_against() -> None:
    """A `file:` source: relative links mean the feed's own <link>, guids stay as written."""
    story = only(parse(rss(item("<guid>ep-3</guid><link>story/1</link>")), SourceInfo("f", "")))
    assert (story.guid, story.link) == ("ep-3", "https://partner.kz/story/1")


def test_media_thumbnails_by_attribute_and_by_text() -> None:
    """feedparser resolved a thumbnail's URL given as text against the feed's URL, and left
    one given as `url=` to us (relative to the item's page)."""
    body = rss(
        item("<link>s/1</link><media:thumbnail url='t/1.jpg'/>", "One")
        + item("<link>s/2</link><media:thumbnail>t/2.jpg</media:thumbnail>", "Two"),
        rss_attrs=' xmlns:media="http://search.yahoo.com/mrss/"',
    )
    one, two = parse(body).articles
    assert one.image == "https://partner.kz/news/s/t/1.jpg"
    assert two.image == "https://partner.kz/news/t/2.jpg"
