"""Odd but real partner input through the command line: what `once` stores and publishes.

Owns: tests that a partner feed served over loopback HTTP is read as README says where the
feed does something unusual: relative Atom ids under an xml:base (the stories' ids, and a
tombstone naming one as the partner wrote it); a tombstone's comment, which is text; the
title of an item without one (Atom and JSON Feed); a JSON Feed's relative URLs; the language
of an undeclared story whose text holds a URL, or is a short title alone; dates read but out
of range, said on the source's row.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from lxml import etree

from syndication.ingest.xmlfeed import TOMBSTONES_NS
from syndication.items import slug
from tests.conftest import OFFLINE_TRANSLATION, Result, run_cli, write_config
from tests.feedserver import FeedServer

AT = f"{{{TOMBSTONES_NS}}}"


def _atom(base: str, entries: str, tombstones: str = "") -> bytes:
    """A partner's Atom feed whose entries' ids are relative, under an xml:base."""
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom" '
        f'xmlns:at="{TOMBSTONES_NS}" xml:base="{base}">'
        "<title>Partner</title><id>urn:partner</id><updated>2025-06-01T10:00:00Z</updated>"
        f"{entries}{tombstones}</feed>"
    ).encode()


def _entry(n: int, words: str) -> str:
    return (
        f'<entry><id>entry-{n}</id><title>{words} report {n}</title><link href="e{n}.html"/>'
        f"<updated>2025-06-0{n}T10:00:00Z</updated>"
        f"<summary>The {words} affair, day {n}: officials met.</summary></entry>"
    )


def _once(config: Path) -> Result:
    done = run_cli("once", "--config", str(config))
    assert "Traceback" not in done.output, done.output
    return done


def _stories(tmp_path: Path, source: str) -> dict[str, tuple[str, int]]:
    """The source's stories in the store: id → (link, withdrawn)."""
    with sqlite3.connect(tmp_path / "data" / "test.db") as conn:
        rows = conn.execute(
            "SELECT id, link, withdrawn FROM articles WHERE source_id = ?", (source,)
        ).fetchall()
    return {story: (link, withdrawn) for story, link, withdrawn in rows}


def _partner_config(tmp_path: Path, url: str, *others: dict[str, str]) -> Path:
    """An English edition of the partner `p` at `url` (and of `others`), nothing translated."""
    return write_config(
        tmp_path,
        editions=["en"],
        sources=[{"id": "p", "url": url, "language": "en"}, *others],
        translation=OFFLINE_TRANSLATION,
    )


def test_a_partner_moving_its_xml_base_keeps_its_stories(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """Relative ids followed the feed's xml:base, not the YAML's url: as README says: the
    partner moving it from /base/dir/ to /base/v2/ published every story a second time. The
    ids now stay; the links follow the xml:base (they say where the story is)."""
    entries = _entry(1, "Zelvorin") + _entry(2, "Zelvorin")
    url = feed_server.add("/feed.xml", _atom(feed_server.url("/base/dir/"), entries))
    config = _partner_config(tmp_path, url)
    _once(config)
    before = _stories(tmp_path, "p")
    feed_server.add("/feed.xml", _atom(feed_server.url("/base/v2/"), entries))
    _once(config)
    after = _stories(tmp_path, "p")
    assert sorted(after) == sorted(before)
    assert sorted(after) == [f"p:{feed_server.url(f'/entry-{n}')}" for n in (1, 2)]
    assert {link for link, _ in after.values()} == {
        feed_server.url(f"/base/v2/e{n}.html") for n in (1, 2)
    }
    published = (tmp_path / "public" / "en" / "feed.json").read_text(encoding="utf-8")
    assert published.count("Zelvorin report 1") == 1


def test_a_tombstone_naming_an_entry_by_its_relative_id_withdraws_it(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """`<at:deleted-entry ref="entry-2">`, the id as the partner wrote it (`<id>entry-2</id>`
    under an xml:base), withdrew nothing, silently: only our resolved guid did. The ref is now
    read as the entry's id is. A ref naming another source's story still withdraws nothing."""
    base = feed_server.url("/base/dir/")
    url = feed_server.add("/feed.xml", _atom(base, _entry(1, "Quorvane") + _entry(2, "Quorvane")))
    other = feed_server.add(
        "/other.xml",
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>Other</title>'
        b"<item><guid>entry-3</guid><title>Other story</title>"
        b"<description>Officials of the other partner met.</description></item>"
        b"</channel></rss>",
    )
    config = _partner_config(tmp_path, url, {"id": "o", "url": other, "language": "en"})
    _once(config)
    stones = (
        '<at:deleted-entry ref="entry-2" when="2025-06-05T10:00:00Z"/>'
        '<at:deleted-entry ref="entry-3" when="2025-06-05T10:00:00Z"/>'
        f'<at:deleted-entry ref="o:{feed_server.url("/entry-3")}" when="2025-06-05T10:00:00Z"/>'
    )
    feed_server.add("/feed.xml", _atom(base, _entry(1, "Quorvane"), stones))
    _once(config)
    stories = _stories(tmp_path, "p")
    assert stories[f"p:{feed_server.url('/entry-2')}"][1] == 1
    assert stories[f"p:{feed_server.url('/entry-1')}"][1] == 0
    assert [withdrawn for _, withdrawn in _stories(tmp_path, "o").values()] == [0]
    published = (tmp_path / "public" / "en" / "feed.json").read_text(encoding="utf-8")
    assert "Quorvane report 2" not in published
    assert "Quorvane report 1" in published and "Other story" in published


def test_a_partners_tombstone_comment_is_text_shown_as_written(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """`<at:comment>Legal &lt;b&gt;review&lt;/b&gt;</at:comment>` was published as "Legal
    review": the comment was read as HTML. It is text, shown as written (escaped) in each
    Atom tombstone, on the story's page and in `status`."""
    base = feed_server.url("/base/dir/")
    url = feed_server.add("/feed.xml", _atom(base, _entry(1, "Quorvane") + _entry(2, "Quorvane")))
    config = _partner_config(tmp_path, url)
    _once(config)
    stone = (
        '<at:deleted-entry ref="entry-2" when="2025-06-05T10:00:00Z">'
        "<at:comment>Legal &lt;b&gt;review&lt;/b&gt; &amp; more</at:comment></at:deleted-entry>"
    )
    feed_server.add("/feed.xml", _atom(base, _entry(1, "Quorvane"), stone))
    _once(config)
    reason = "Legal <b>review</b> & more"
    story = f"p:{feed_server.url('/entry-2')}"
    public = tmp_path / "public" / "en"
    atom = etree.fromstring((public / "atom.xml").read_bytes())
    assert [t.findtext(f"{AT}comment") for t in atom.iter(f"{AT}deleted-entry")] == [reason]
    page = (public / "articles" / f"{slug(story)}.html").read_text(encoding="utf-8")
    assert "Legal &lt;b&gt;review&lt;/b&gt; &amp; more" in page
    status = run_cli("status", "--json", "--config", str(config))
    assert {w["article"]: w["reason"] for w in json.loads(status.stdout)["withdrawn"]} == {
        story: reason
    }


def test_an_item_without_a_title_is_named_by_its_texts_or_its_summarys_first_sentence(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """An Atom entry whose body is only an image was "(untitled)" though it had a summary, and
    a body of `<p>&#x200B;</p>` (Atom, or a JSON Feed item's `content_html`) made a title of a
    lone zero-width space, invisible in every feed and page. Now each is named by its summary's
    first sentence (README: "its text, else its summary")."""
    atom = (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        "<title>No titles</title><id>urn:nt</id><updated>2025-06-01T10:00:00Z</updated>"
        + "".join(
            f'<entry><id>urn:nt:{n}</id><link href="{feed_server.url(f"/nt/{n}")}"/>'
            f"<updated>2025-06-01T1{n}:00:00Z</updated><summary>{summary}</summary>"
            f'<content type="html">{body}</content></entry>'
            for n, summary, body in [
                (
                    1,
                    "Wheat harvest ends early. More.",
                    '&lt;p&gt;&lt;img src="p.png"&gt;&lt;/p&gt;',
                ),
                (2, "Rail freight grows. More.", "&lt;p&gt;&#x200B;&lt;/p&gt;"),
            ]
        )
        + "</feed>"
    ).encode()
    items = [
        {"id": "r2", "url": feed_server.url("/s/2"), "title": None,
         "content_html": "<p>\u200b</p>", "summary": "Summary only here. Second."},
    ]  # fmt: skip
    feed = {"version": "https://jsonfeed.org/version/1.1", "title": "J", "items": items}
    config = _partner_config(
        tmp_path,
        feed_server.add("/nt.xml", atom),
        {"id": "j", "url": feed_server.add("/j.json", json.dumps(feed).encode()),
         "language": "en"},
    )  # fmt: skip
    _once(config)
    public = tmp_path / "public" / "en"
    titles = {i["title"] for i in json.loads((public / "feed.json").read_text("utf-8"))["items"]}
    assert titles == {"Wheat harvest ends early", "Rail freight grows", "Summary only here"}
    for name in ("rss.xml", "atom.xml"):
        root = etree.fromstring((public / name).read_bytes())
        shown = [t.text or "" for t in root.iter("title", "{http://www.w3.org/2005/Atom}title")]
        assert set(shown) >= titles and not [t for t in shown if not t.strip("\u200b")]


def test_a_json_feeds_relative_urls_are_read_against_where_it_came_from(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """A JSON Feed item's relative `url`, `image` and attachment were made absolute against
    the feed's `home_page_url` (`/site/stories/r1.html`): README (and RFC 3986) say against
    the URL the feed came from, after redirects. Its HTML stays relative to its own page."""
    item = {"id": "r1", "url": "stories/r1.html", "title": "Trade talks resume",
            "content_html": "<p>Talks resumed. <img src='i.png'></p>", "image": "img/top.jpg",
            "attachments": [{"url": "a/b.mp3", "mime_type": "audio/mpeg"}]}  # fmt: skip
    feed = {"version": "https://jsonfeed.org/version/1.1", "title": "J",
            "home_page_url": feed_server.url("/site/"), "items": [item]}  # fmt: skip
    feed_server.add("/feeds/j.json", json.dumps(feed).encode())
    moved = feed_server.add("/old/j.json", status=302, headers={"Location": "/feeds/j.json"})
    _once(_partner_config(tmp_path, moved))
    (published,) = json.loads((tmp_path / "public" / "en" / "feed.json").read_text("utf-8"))[
        "items"
    ]
    assert published["external_url"] == feed_server.url("/feeds/stories/r1.html")
    assert published["image"] == feed_server.url("/feeds/img/top.jpg")
    assert [a["url"] for a in published["attachments"]] == [feed_server.url("/feeds/a/b.mp3")]
    assert f'src="{feed_server.url("/feeds/stories/i.png")}"' in published["content_html"]


def test_an_undeclared_storys_language_is_read_from_its_words(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """A Chinese story whose description adds a Markdown image's URL was read as Portuguese
    (the URL's letters outvoted the Han), and a JSON Feed item titled `Relative json` as
    French: neither reached an edition (no provider of the chain translates pt or fr). URLs
    and Markdown link targets no longer vote, and a title that short is taken for one of our
    own languages unless lingua is sure."""
    image = (  # as the partner wrote it
        "https://img.hacpai.com/file/2020/02/%E6%88%AA%E5%9B%BE%E4%B8%93%E7%94%A8-ef21ef12.png"
        "?imageView2/2/interlace/1/format/jpg"
    )
    rss = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Z</title>'
        f"<link>{feed_server.url('/')}</link><item><title>网站外的文件如何上传？</title>"
        f"<guid>zu1</guid><description>网站外的文件如何上传？ []({image})</description>"
        "</item></channel></rss>"
    ).encode()
    items = [{"id": "s1", "url": feed_server.url("/sh/1"), "title": "Relative json"}]
    jsonfeed = {"version": "https://jsonfeed.org/version/1.1", "title": "S", "items": items}
    config = write_config(
        tmp_path,
        sources=[
            {"id": "zhurl", "url": feed_server.add("/zh.xml", rss)},
            {"id": "short", "url": feed_server.add("/s.json", json.dumps(jsonfeed).encode())},
        ],
        translation=OFFLINE_TRANSLATION,
    )
    _once(config)
    with sqlite3.connect(tmp_path / "data" / "test.db") as conn:
        languages = dict(conn.execute("SELECT source_id, language FROM articles"))
    assert languages == {"zhurl": "zh", "short": "en"}
    public = tmp_path / "public"
    assert "网站外的文件如何上传？" in (public / "zh" / "feed.json").read_text("utf-8")
    assert "Relative json" in (public / "en" / "feed.json").read_text("utf-8")


def test_a_date_out_of_range_is_said_on_the_sources_row(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """Items dated 2099 and 1900 (a partner's clock, a typo) were filed when first seen, as
    they should be, but silently: an unreadable date got a note, these none. Now the source's
    row in `once` names them as it names dates it cannot read."""
    dates = [("g1", "Sun, 01 Jun 2025 10:00:00 +0500"), ("g3", "Sat, 01 Jan 2099 10:00:00 +0000"),
             ("g4", "Mon, 01 Jan 1900 10:00:00 +0000")]  # fmt: skip
    rss = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>B</title>'
        + "".join(
            f'<item><guid isPermaLink="false">{guid}</guid><title>Story {guid}</title>'
            f"<description>Words of story {guid}.</description><pubDate>{date}</pubDate></item>"
            for guid, date in dates
        )
        + "</channel></rss>"
    ).encode()
    said = " ".join(_once(_partner_config(tmp_path, feed_server.add("/b.xml", rss))).output.split())
    assert (
        "2 item(s) dated more than a day ahead or before 1971 ('Sat, 01 Jan 2099 10:00:00 +0000',"
        " 'Mon, 01 Jan 1900 10:00:00 +0000'): filed when first seen"
    ) in said
