"""What a partner's item says about itself besides its text, as `once` publishes it.

Owns: tests that a partner's authors are published by name, never with an e-mail address
(RSS, Atom, JSON Feed); that an Atom entry without an author takes its atom:source's, else
its feed's (RFC 4287), while an RSS item takes none from its channel; that an item with no
title and no text is named by what it carries, in every edition, with no body made up for
it; and that a thumbnail too small to show is not a story's picture when its content has one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lxml import etree

from tests.conftest import OFFLINE_TRANSLATION, write_config
from tests.feedserver import FeedServer
from tests.system.test_partner_input import _once, _partner_config

ATOM = "{http://www.w3.org/2005/Atom}"
DC_CREATOR = "{http://purl.org/dc/elements/1.1/}creator"
MEDIA = "http://search.yahoo.com/mrss/"


def _items(public: Path) -> dict[str, dict[str, Any]]:
    """The en edition's JSON Feed items by their original link (`external_url`, else `url`)."""
    data = json.loads((public / "en" / "feed.json").read_text(encoding="utf-8"))
    return {item.get("external_url", item["url"]): item for item in data["items"]}


def _bylines(public: Path) -> dict[str, tuple[str, str, str]]:
    """Each story's original link → its byline in the edition's RSS (dc:creator), Atom
    (author/name) and JSON Feed (authors[].name); "" where a format has none."""
    rss = etree.fromstring((public / "en" / "rss.xml").read_bytes())
    atom = etree.fromstring((public / "en" / "atom.xml").read_bytes())
    by_rss = {item.findtext("guid"): item.findtext(DC_CREATOR) or "" for item in rss.iter("item")}
    by_atom = {
        entry.findtext(f"{ATOM}id"): entry.findtext(f"{ATOM}author/{ATOM}name")
        for entry in atom.iter(f"{ATOM}entry")
    }
    found: dict[str, tuple[str, str, str]] = {}
    for original, item in _items(public).items():
        names = ", ".join(a["name"] for a in item.get("authors", []))
        found[original] = (by_rss[item["id"]], by_atom[item["id"]], names)
    return found


def test_an_authors_e_mail_address_is_never_published(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """`<author>aigul.reporter@gmail.com (Айгүл Серікқызы)</author>` (RSS's own form) was
    published word for word as dc:creator, Atom's author name, JSON Feed's and on the page,
    and Blogger's `<name>Ерлан</name><email>noreply@blogger.com</email>` as `Ерлан
    (noreply@blogger.com)`: a partner's staff's personal address in public feeds. Now the
    name alone; an address with no name (RSS `<author>desk@…`, a JSON Feed author with only a
    `mailto:` url, a name that is an address) is no author."""
    base = feed_server.url("/")
    rss = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Dala</title>'
        f"<link>{base}</link><description>d</description>"
        + "".join(
            f"<item><guid>{base}r{n}</guid><link>{base}r{n}</link><title>City news {n}</title>"
            f"<description>A tree went up on the city square, day {n}.</description>{author}</item>"
            for n, author in [
                (1, "<author>aigul.reporter@gmail.com (Айгүл Серікқызы)</author>"),
                (2, "<author>desk@example.kz</author>"),
            ]
        )
        + "</channel></rss>"
    ).encode()
    blogger = (
        "<?xml version='1.0' encoding='UTF-8'?><feed xmlns='http://www.w3.org/2005/Atom'>"
        "<id>tag:blogger.com,1999:blog-1</id><updated>2026-12-05T12:00:00Z</updated>"
        "<title type='text'>Дала блогы</title>"
        f"<entry><id>tag:blogger.com,1999:blog-1.post-1</id><link rel='alternate' href='{base}b1'/>"
        "<updated>2026-12-03T11:45:12Z</updated><title type='text'>First snow</title>"
        "<content type='html'>&lt;p&gt;The first snow fell in Almaty.&lt;/p&gt;</content>"
        "<author><name>Ерлан</name><uri>http://www.blogger.com/profile/0987</uri>"
        "<email>noreply@blogger.com</email></author></entry></feed>"
    ).encode()
    items = [
        {"id": "j1", "url": f"{base}j1", "title": "Cinema opens", "content_text": "It opened.",
         "authors": [{"name": "Dana Nur <dana.nur@partner.kz>"}, {"name": "Li Hua"}]},
        {"id": "j2", "url": f"{base}j2", "title": "Rail grows", "content_text": "It grew.",
         "authors": [{"url": "mailto:desk@partner.kz"}, {"name": "news@partner.kz"}]},
    ]  # fmt: skip
    jsonfeed = {"version": "https://jsonfeed.org/version/1.1", "title": "J", "items": items}
    config = _partner_config(
        tmp_path,
        feed_server.add("/dala.xml", rss),
        {"id": "blog", "url": feed_server.add("/blog.xml", blogger), "language": "en"},
        {"id": "j", "url": feed_server.add("/j.json", json.dumps(jsonfeed).encode()),
         "language": "en"},
    )  # fmt: skip
    _once(config)
    public = tmp_path / "public"
    assert _bylines(public) == {
        f"{base}r1": ("Айгүл Серікқызы",) * 3,
        # Atom needs an author: the story's source stands in, as for any story without one.
        f"{base}r2": ("", "Dala", ""),
        f"{base}b1": ("Ерлан",) * 3,
        f"{base}j1": ("Dana Nur, Li Hua",) * 3,
        f"{base}j2": ("", "J", ""),
    }
    published = b"".join(p.read_bytes() for p in public.rglob("*") if p.is_file())
    for address in ("aigul.reporter@gmail.com", "noreply@blogger.com", "desk@", "partner.kz"):
        assert address.encode() not in published, address


def test_an_atom_entry_without_an_author_takes_its_feeds(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """An Atom entry with no <author> of its own was stored with none, and published under
    the source feed's title, though RFC 4287 (4.2.1) makes the feed's <author> its author
    (JSON Feed's top-level `authors` already applied to its items). Now it takes its
    atom:source's authors, else the feed's. An RSS item takes none from its channel: a
    managingEditor is the channel's editorial contact, not every story's byline."""
    base = feed_server.url("/")
    atom = (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        "<title>Team blog</title><id>urn:team</id><updated>2026-12-03T00:00:00Z</updated>"
        "<author><name>Sam Ruby</name></author>"
        + "".join(
            f"<entry><id>urn:team:{n}</id><title>Team note {n}</title>"
            f'<updated>2026-12-03T0{n}:00:00Z</updated><link href="{base}t{n}"/>'
            f"<summary>Notes from the team, part {n}.</summary>{more}</entry>"
            for n, more in [
                (1, ""),
                (2, "<author><name>Ann Lee</name></author>"),
                (
                    3,
                    "<source><id>urn:other</id><title>Other</title>"
                    "<author><name>Ola Berg</name></author></source>",
                ),
            ]
        )
        + "</feed>"
    ).encode()
    rss = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Wire</title>'
        f"<link>{base}</link><description>d</description>"
        "<managingEditor>editor@wire.example (Chief Editor)</managingEditor>"
        f"<item><guid>{base}w1</guid><link>{base}w1</link><title>Wire story</title>"
        "<description>Words of the wire story.</description></item></channel></rss>"
    ).encode()
    config = _partner_config(
        tmp_path,
        feed_server.add("/team.xml", atom),
        {"id": "wire", "url": feed_server.add("/wire.xml", rss), "language": "en"},
    )
    _once(config)
    assert _bylines(tmp_path / "public") == {
        f"{base}t1": ("Sam Ruby",) * 3,
        f"{base}t2": ("Ann Lee",) * 3,
        f"{base}t3": ("Ola Berg",) * 3,
        f"{base}w1": ("", "Wire", ""),
    }


def test_an_item_with_no_title_and_no_text_is_named_by_what_it_carries(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """A podcast episode with only an attachment (JSON Feed, RSS), or an item with only a
    link, was titled "(untitled)", in English in the kk and zh editions too, and JSON Feed
    gave it `content_text: "(untitled)"`. Now it is named by its attachment's own title,
    else its file's name, else its source's title with its date; and it has no body made up
    from its title."""
    base = feed_server.url("/")
    items = [
        {"id": "att-only", "date_published": "2026-12-03T10:00:00+08:00",
         "attachments": [{"url": "media/ep2.mp3", "mime_type": "audio/mpeg"}]},
        {"id": "att-titled", "url": f"{base}ep3",
         "attachments": [{"url": f"{base}ep3.mp3", "mime_type": "audio/mpeg",
                          "title": "Көшпенділер, 3-бөлім"}]},
    ]  # fmt: skip
    jsonfeed = {"version": "https://jsonfeed.org/version/1.1", "title": "JSON Podcast",
                "home_page_url": base, "items": items}  # fmt: skip
    rss = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Дала FM'
        f"</title><link>{base}</link><description>d</description>"
        '<item><guid isPermaLink="false">ep12</guid><enclosure url="'
        f'{base}%D1%8D%D0%BF%D0%B8%D0%B7%D0%BE%D0%B4-12.mp3" length="1234567" '
        'type="audio/mpeg"/><pubDate>Tue, 01 Dec 2026 06:00:00 GMT</pubDate></item>'
        f"<item><link>{base}bare</link><pubDate>Wed, 02 Dec 2026 06:00:00 GMT</pubDate></item>"
        "</channel></rss>"
    ).encode()
    config = write_config(
        tmp_path,
        sources=[
            {"id": "pod", "url": feed_server.add("/pod.json", json.dumps(jsonfeed).encode()),
             "language": "en"},
            {"id": "fm", "url": feed_server.add("/fm.xml", rss), "language": "kk"},
        ],
        translation={**OFFLINE_TRANSLATION, "untranslated": "original"},
    )  # fmt: skip
    _once(config)
    public = tmp_path / "public"
    expected = {
        f"{base}media/ep2.mp3": "ep2.mp3",
        f"{base}ep3": "Көшпенділер, 3-бөлім",
        f"{base}%D1%8D%D0%BF%D0%B8%D0%B7%D0%BE%D0%B4-12.mp3": "эпизод-12.mp3",
        f"{base}bare": "Дала FM, 2026-12-02",
    }
    for edition in ("kk", "zh", "en"):
        data = json.loads((public / edition / "feed.json").read_text(encoding="utf-8"))
        # A story with no link of its own is known here by its attachment's.
        stories = {i.get("external_url") or i["attachments"][0]["url"]: i for i in data["items"]}
        assert {k: i["title"] for k, i in stories.items()} == expected, edition
        assert {i["content_text"] for i in stories.values()} == {""}, edition
        for name in ("rss.xml", "atom.xml"):
            assert b"(untitled)" not in (public / edition / name).read_bytes()


def test_a_bloggers_cropped_thumbnail_is_not_the_story_picture(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """Blogger gives each entry a 72-pixel square crop (`/s72-c/`, width and height 72) as
    its media:thumbnail: that became the story's image (and its enclosure), above the full
    picture in its content. A thumbnail smaller than 200 pixels is now the picture only of a
    story that has no other; a big one still comes first."""
    base = feed_server.url("/")
    full = "https://blogger.googleusercontent.com/img/b/snow.jpg"

    def entry(n: int, thumbnail: str, picture: str) -> str:
        body = f"&lt;p&gt;Snow fell in Almaty, part {n}.&lt;/p&gt;{picture}"
        return (
            f"<entry><id>tag:blogger.com,1999:blog-1.post-{n}</id>"
            f"<link rel='alternate' href='{base}s{n}'/><updated>2026-12-03T0{n}:00:00Z</updated>"
            f"<title>Snow {n}</title><content type='html'>{body}</content>{thumbnail}</entry>"
        )

    picture = f'&lt;img src="{full}" width="320"&gt;'
    cropped = f"<media:thumbnail url='{full.replace('/b/', '/b/s72-c/')}' height='72' width='72'/>"
    atom = (
        "<?xml version='1.0' encoding='UTF-8'?><feed xmlns='http://www.w3.org/2005/Atom' "
        f"xmlns:media='{MEDIA}'><id>tag:blogger.com,1999:blog-1</id><title>Blog</title>"
        "<updated>2026-12-05T12:00:00Z</updated>"
        + entry(1, cropped, picture)
        # Blogger's crop without sizes said: its URL says it.
        + entry(2, f"<media:thumbnail url='{base}img/s72-c/two.jpg'/>", picture)
        + entry(3, cropped, "")
        + entry(4, f"<media:thumbnail url='{base}big.jpg' width='640' height='480'/>", picture)
        + "</feed>"
    ).encode()
    _once(_partner_config(tmp_path, feed_server.add("/blog.xml", atom)))
    public = tmp_path / "public"
    images = {original: item.get("image") for original, item in _items(public).items()}
    assert images == {
        f"{base}s1": full,
        f"{base}s2": full,
        f"{base}s3": full.replace("/b/", "/b/s72-c/"),
        f"{base}s4": f"{base}big.jpg",
    }
    # The image is the item's enclosure in RSS: the crop is not there either.
    rss = etree.fromstring((public / "en" / "rss.xml").read_bytes())
    enclosures = [enclosure.get("url") for enclosure in rss.iter("enclosure")]
    assert sorted(enclosures) == sorted(images.values())
