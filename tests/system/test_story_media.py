"""A story's enclosures (a podcast's audio, a video, a file, a picture) on its page.

Owns: what a reader sees on a story's page of each edition for the media a partner feed
attaches to it (RSS enclosures, JSON Feed attachments): a player for audio and video with a
plain link to the file beside it, labelled in the edition's words; any other file as a link
named by its file name, with its size; a picture shown once, also when the body shows it
already; only web links; the link to the original whenever the story has one.

One cycle runs once per module (the CLI, offline: every story is shown in its original) on
two partner feeds served over loopback HTTP; the pages are read as published.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import html as lxml_html

from tests.conftest import OFFLINE_TRANSLATION, run_cli, write_config
from tests.feedserver import FeedServer, running

EDITIONS = ["kk", "zh", "en"]
BASE = "https://feeds.example.kz/"  # write_config's site.base_url
# What each edition calls the player of a sound, of a video, the link to the file, and the
# link to the original story.
LISTEN = {"kk": "Тыңдау", "zh": "收听", "en": "Listen"}
WATCH = {"kk": "Көру", "zh": "观看", "en": "Watch"}
DOWNLOAD = {"kk": "Жүктеп алу", "zh": "下载", "en": "Download"}
ORIGINAL = {"kk": "Түпнұсқа", "zh": "原文", "en": "Original"}

POD = "https://pod.example.kz/"
EPISODE = f"{POD}ep12.mp3?from=rss&id=12"  # an episode with no link and no text
LINKED = f"{POD}ep13.mp3"  # an episode whose link is its file
VIDEO = f"{POD}field.mp4"
PAPER = f"{POD}docs/%D0%B1%D1%8E%D0%B4%D0%B6%D0%B5%D1%82.pdf"  # бюджет.pdf
PICTURE = "https://cdn.example.kz/caspian.jpeg"  # in the body and the enclosure (Substack)
PODCAST = f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>
<title>Dala podcast</title><link>{POD}</link><description>d</description>
<item><title>Episode 12</title><guid isPermaLink="false">ep12</guid>
<enclosure url="{EPISODE.replace("&", "&amp;")}" length="1234567" type="audio/mpeg"/>
<pubDate>Tue, 01 Dec 2026 06:00:00 GMT</pubDate></item>
<item><title>Episode 13</title><link>{LINKED}</link><guid isPermaLink="false">ep13</guid>
<enclosure url="{LINKED}" length="0" type="audio/mpeg"/>
<pubDate>Tue, 01 Dec 2026 07:00:00 GMT</pubDate></item>
<item><title>Field recording</title><link>{POD}field</link>
<description>Shepherds at the summer pasture.</description>
<enclosure url="{VIDEO}" length="0" type="video/mp4"/>
<pubDate>Tue, 01 Dec 2026 08:00:00 GMT</pubDate></item>
<item><title>Budget paper</title><link>{POD}budget</link>
<enclosure url="{PAPER}" length="2345678" type="application/pdf"/>
<pubDate>Tue, 01 Dec 2026 09:00:00 GMT</pubDate></item>
<item><title>Why the Caspian matters</title><link>{POD}caspian</link>
<enclosure url="{PICTURE}" length="0" type="image/jpeg"/>
<content:encoded><![CDATA[<figure><img src="{PICTURE}" alt=""></figure>
<p>Pipelines, ports and politics.</p>]]></content:encoded>
<pubDate>Tue, 01 Dec 2026 10:00:00 GMT</pubDate></item>
</channel></rss>
""".encode()

J = "https://json.example.kz/"
ATTACHED = f"{J}ep2.mp3"  # an item that is nothing but its attachment
CLIP = f"{J}clip.mp4?v=2"  # no type given: its file name tells
SHOWN, EXTRA = f"{J}map.png", f"{J}steppe.jpeg"  # a picture in the body, one only attached
NOTES = f"{J}files/%3Cb%3Enotes.txt"  # a file whose name is markup
JSON_FEED = {
    "version": "https://jsonfeed.org/version/1.1",
    "title": "J",
    "items": [
        {"id": "att-only", "date_published": "2026-12-03T10:00:00+08:00",
         "attachments": [{"url": ATTACHED, "mime_type": "audio/mpeg"}]},
        {"id": "gallery", "url": f"{J}gallery", "title": "Steppe in pictures",
         "date_published": "2026-12-03T11:00:00+08:00",
         "content_html": f'<p>The route.</p><p><img src="{SHOWN}" alt=""></p>',
         "attachments": [
             {"url": SHOWN, "mime_type": "image/png"},
             {"url": EXTRA, "mime_type": "image/jpeg"},
             {"url": CLIP},
             {"url": NOTES, "mime_type": "text/plain", "size_in_bytes": 512},
             {"url": "javascript:alert(1)", "mime_type": "audio/mpeg"},
         ]},
    ],
}  # fmt: skip


@pytest.fixture(scope="module")
def partner() -> Iterator[FeedServer]:
    """The partners' server for the module's one cycle."""
    yield from running()


@pytest.fixture(scope="module")
def public(tmp_path_factory: pytest.TempPathFactory, partner: FeedServer) -> Path:
    folder = tmp_path_factory.mktemp("media")
    feeds = {"pod": partner.add("/pod.xml", PODCAST),
             "j": partner.add("/j.json", json.dumps(JSON_FEED).encode())}  # fmt: skip
    config = write_config(
        folder,
        editions=EDITIONS,
        sources=[{"id": key, "url": url, "language": "en"} for key, url in feeds.items()],
        translation={**OFFLINE_TRANSLATION, "untranslated": "original"},
    )
    done = run_cli("once", "--config", str(config))
    assert done.code in (0, 1) and "Traceback" not in done.output, done.output
    return folder / "public"


def _page(public: Path, edition: str, attached: str) -> lxml_html.HtmlElement:
    """The page, in `edition`, of the story that has the file `attached` (found through the
    edition's feed.json, which lists each story's attachments and page)."""
    feed = json.loads((public / edition / "feed.json").read_text(encoding="utf-8"))
    (url,) = [
        item["url"]
        for item in feed["items"]
        if attached in [a["url"] for a in item.get("attachments", [])]
    ]
    page = (public / url.removeprefix(BASE)).read_bytes()
    return lxml_html.fromstring(page)


def _links(page: lxml_html.HtmlElement, href: str) -> list[str]:
    """The words of the story's links to `href`."""
    return [a.text_content() for a in page.xpath("//article//a") if a.get("href") == href]


@pytest.mark.parametrize("edition", EDITIONS)
def test_an_episode_with_nothing_but_its_sound_is_played_and_linked(
    public: Path, edition: str
) -> None:
    """An enclosure-only podcast item's page was empty (its RSS, Atom and JSON carried the
    file): no player, no link to the file."""
    for attached, about in [(EPISODE, "ep12.mp3 · 1.2 MB"), (ATTACHED, "ep2.mp3")]:
        page = _page(public, edition, attached)
        (player,) = page.xpath("//article//audio")
        assert player.get("src") == attached and player.get("controls") is not None
        assert player.get("title") == LISTEN[edition]
        assert _links(page, attached) == [DOWNLOAD[edition]]
        (caption,) = player.xpath("../figcaption")
        assert about in caption.text_content()


@pytest.mark.parametrize("edition", EDITIONS)
def test_a_video_is_played_and_any_other_file_named_with_its_size(
    public: Path, edition: str
) -> None:
    page = _page(public, edition, VIDEO)
    (player,) = page.xpath("//article//video")
    assert player.get("src") == VIDEO and player.get("title") == WATCH[edition]
    assert _links(page, VIDEO) == [DOWNLOAD[edition]]
    page = _page(public, edition, PAPER)
    (paper,) = page.xpath("//article//p[@class='enclosure']")
    assert _links(page, PAPER) == ["бюджет.pdf"] and "(2.3 MB)" in paper.text_content()
    page = _page(public, edition, NOTES)
    # A video whose feed gave no type, and a file whose name is markup, shown as text.
    (player,) = page.xpath("//article//video")
    assert player.get("src") == CLIP
    assert _links(page, NOTES) == ["<b>notes.txt"] and not page.xpath("//article//b")
    # Only web links reach a page (a `javascript:` attachment was left out when read).
    assert "javascript:" not in lxml_html.tostring(page, encoding="unicode")


@pytest.mark.parametrize("edition", EDITIONS)
def test_a_picture_is_shown_once(public: Path, edition: str) -> None:
    """Substack attaches the body's own picture: a page shows it once, and shows a picture
    only attached."""
    for attached, pictures in [(PICTURE, [PICTURE]), (SHOWN, [SHOWN, EXTRA])]:
        page = _page(public, edition, attached)
        shown = [img.get("src") for img in page.xpath("//article//img")]
        assert sorted(shown) == sorted(pictures), shown


@pytest.mark.parametrize("edition", EDITIONS)
def test_a_story_with_a_link_links_its_original_whatever_it_attaches(
    public: Path, edition: str
) -> None:
    """The link to the original is there whenever the story has one: also when the story is
    only its file, and when the link is that file."""
    assert _links(_page(public, edition, LINKED), LINKED) == [DOWNLOAD[edition], ORIGINAL[edition]]
    assert ORIGINAL[edition] in _links(_page(public, edition, VIDEO), f"{POD}field")
    assert ORIGINAL[edition] not in [
        a.text_content() for a in _page(public, edition, EPISODE).xpath("//article//a")
    ]
