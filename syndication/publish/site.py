"""The human side of the published site: index.html, feeds.opml, article and feed pages.

Owns: the HTML and OPML a reader or partner opens in a browser (autodiscovery links, hreflang
alternates, the per-article page in each edition with a link to the original and the story's
own language marked where it is not the edition's, photo credits set apart from the story,
its enclosures (a player for audio and video, a link to each file, a picture shown once),
each feed's page and each of its archive pages' (linked older to newer), the short notice left
where a withdrawn story's page was, a reason given as written marked with its language), and
the stylesheets shipped with the package (`feed.xsl` renders RSS and Atom readably, in the
feed's edition's words, `style.css`). The words come from `syndication.words`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from importlib.resources import files as package_files
from mimetypes import guess_type
from urllib.parse import unquote, urlsplit

from syndication.lang import (
    EDITIONS,
    HAN,
    KAZAKH,
    SCRIPTS,
    base_language,
    is_traditional,
    kazakh_latin_letters,
    script_of,
)
from syndication.media import WITHDRAWN_MARK
from syndication.paging import archive_folder
from syndication.render import Item, credit_html
from syndication.words import EDITION_NAMES, withdrawal_reason, word

FORMATS = (
    ("rss", "rss.xml", "application/rss+xml", "RSS"),
    ("atom", "atom.xml", "application/atom+xml", "Atom"),
    ("json", "feed.json", "application/feed+json", "JSON Feed"),
)


@dataclass(frozen=True)
class FeedLink:
    edition: str
    title: str
    folder: str  # relative URL of the feed's folder, e.g. "kk/" or "kk/sources/newsroom/"


def index_html(base_url: str, editions: list[str], feeds: list[FeedLink], title: str) -> bytes:
    head = []
    # Autodiscovery names the main feed of each edition only: readers offer every link
    # they find, and per-source and topic feeds are listed in the page body and the OPML.
    for feed in (f for f in feeds if f.folder == f"{f.edition}/"):
        for _key, name, media, label in FORMATS:
            href = escape(base_url + feed.folder + name)
            head.append(
                f'<link rel="alternate" type="{media}" hreflang="{escape(feed.edition)}" '
                f'title="{escape(feed.title)} ({label})" href="{href}">'
            )
    sections = []
    for edition in editions:
        rows = []
        for feed in (f for f in feeds if f.edition == edition):
            links = " · ".join(
                f'<a href="{escape(feed.folder + name)}" type="{media}">{label}</a>'
                for _key, name, media, label in FORMATS
            )
            rows.append(f"<li>{escape(feed.title)}: {links}</li>")
        sections.append(
            f'<section lang="{escape(edition)}" id="{escape(edition)}">'
            f'<h2><a href="{escape(edition)}/index.html">'
            f"{escape(EDITION_NAMES.get(edition, edition))}</a></h2>"
            f"<ul>{''.join(rows)}</ul></section>"
        )
    body = (
        f"<header><h1>{escape(title)}</h1>\n"
        '<p><a href="feeds.opml">OPML</a></p></header>\n'
        f"<main>\n{chr(10).join(sections)}\n</main>"
    )
    return _page(editions[0] if editions else "en", title, head, "style.css", body)


@dataclass(frozen=True)
class Teaser:
    """One story as a feed's page lists it."""

    title: str
    url: str  # the story's page in this edition
    date: datetime
    summary: str
    language: str
    source: str = ""


# From an archive page's folder ("kk/archive/3/") up to its feed's ("kk/").
_TO_FEED = "../" * archive_folder("", 0).count("/")


@dataclass(frozen=True)
class Pages:
    """Where a feed's page stands among the feed's documents (RFC 5005, as a reader browses
    them): archive pages by their index (0 the oldest, published as `archive/1/`)."""

    page: int | None = None  # this page's archive page (None: the feed's current document)
    older: int | None = None  # the archive page before it, if one is kept
    newer: int | None = None  # the archive page after it (None: the current document is next)


def feed_page(
    *,
    edition: str,
    folder: str,
    base_url: str,
    title: str,
    description: str,
    stories: Sequence[Teaser],
    siblings: Sequence[str],
    feeds: Sequence[FeedLink] = (),
    home_title: str = "",
    pages: Pages | None = None,
) -> bytes:
    """`{folder}index.html`: the page of one feed, what a person sees who opens the feed; or
    `{folder}archive/{n}/index.html`, the page of one of its archive pages (`pages.page`).

    Our server answers a browser that opens `rss.xml`, `atom.xml` or `feed.json` with this
    page (the feed readers get the feed), so it says what the feed is, lists its stories in
    the edition's language, gives the addresses to copy into a feed reader (the current
    feed's, from an archive page too: that is the one to follow), links the same feed in the
    other editions, and leads to the older stories: the current page to the newest archive
    page, an archive page to the one before and after it and to the current page. `folder` is
    the feed's folder ("kk/", "kk/sources/x/"); links within the site are relative to the
    page, the addresses to copy are absolute.
    """
    pages = pages or Pages()
    archived = pages.page is not None
    here = folder if pages.page is None else archive_folder(folder, pages.page)
    up = "../" * here.count("/")  # from this folder to the site's root
    to_feed = _TO_FEED if archived else ""  # from this page's folder to the feed's
    subpath = folder.split("/", 1)[1]  # the feed's place inside its edition: "", "sources/x/"
    heading = title  # the feed's title names the feed to follow; the page's, which page
    if pages.page is not None:
        heading = f"{title} — {word(edition, 'archive', number=str(pages.page + 1))}"
    head = [
        f'<link rel="alternate" type="{media}" title="{escape(title)} ({label})" '
        f'href="{to_feed}{name}">'
        for _key, name, media, label in FORMATS
    ]
    # An archive page has no counterpart of the same stories in the other editions.
    head += [
        f'<link rel="alternate" hreflang="{escape(e)}" '
        f'href="{up}{escape(e)}/{escape(subpath)}index.html">'
        for e in ([] if archived else siblings)
    ]
    addresses = "".join(
        f'<li>{label}: <a href="{to_feed}{name}" type="{media}"><code>'
        f"{escape(base_url + folder + name)}</code></a></li>"
        for _key, name, media, label in FORMATS
    )
    subscribe = (
        f'<section class="subscribe"><p>{escape(word(edition, "subscribe"))}</p>'
        f"<ul>{addresses}</ul></section>"
    )
    # The edition's other feeds (per source, per topic), from the edition's main page.
    more = "".join(
        f'<li><a href="{escape(feed.folder.split("/", 1)[1])}index.html">{escape(feed.title)}'
        "</a></li>"
        for feed in feeds
    )
    if more:
        more = f"<p>{escape(word(edition, 'feeds'))}:</p><ul>{more}</ul>\n"
    home = ""
    if subpath:
        home = f'<p><a href="{up}{escape(edition)}/index.html">{escape(home_title)}</a></p>\n'
    others = " · ".join(
        f'<a href="{up}{escape(e)}/{escape(subpath)}index.html" hreflang="{escape(e)}" '
        f'lang="{escape(e)}">{escape(EDITION_NAMES.get(e, e))}</a>'
        for e in siblings
    )
    items = "\n".join(
        f'<article lang="{escape(story.language)}"><h2><a href="{escape(story.url)}">'
        f"{escape(story.title)}</a></h2>"
        f'<p class="meta">{story.date.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")}'
        + (f" · {escape(story.source)}" if story.source else "")
        + "</p>"
        + (f"<p>{escape(story.summary)}</p>" if story.summary else "")
        + "</article>"
        for story in stories
    )
    body = (
        f"<header>{home}<h1>{escape(heading)}</h1>\n<p>{escape(description)}</p>\n"
        f"{subscribe}\n{more}"
        f'<nav class="editions">{others}</nav></header>\n'
        f"<main>\n{items}\n</main>{_paging_links(edition, pages)}"
    )
    return _page(edition, heading, head, f"{up}style.css", body)


def _paging_links(edition: str, pages: Pages) -> str:
    """The links from a feed's page to its older and newer stories ("" when there are none),
    as the RFC 5005 documents link each other: relative to the page, like every site link."""
    to_feed = "" if pages.page is None else _TO_FEED
    links: list[tuple[str, str, str]] = []  # (href, rel, word)
    if pages.older is not None:
        links.append((f"{to_feed}{archive_folder('', pages.older)}index.html", "prev", "older"))
    if pages.page is not None:
        if pages.newer is not None:
            links.append((f"{to_feed}{archive_folder('', pages.newer)}index.html", "next", "newer"))
        # The newest archive page's next is the current page.
        links.append((f"{to_feed}index.html", "next" if pages.newer is None else "", "latest"))
    shown = " · ".join(
        f'<a href="{escape(href)}"' + (f' rel="{rel}"' if rel else "") + ">"
        f"{escape(word(edition, key))}</a>"
        for href, rel, key in links
    )
    return f'\n<nav class="pages">{shown}</nav>' if shown else ""


def opml(base_url: str, feeds: list[FeedLink], title: str, updated: datetime) -> bytes:
    outlines = []
    for feed in feeds:
        outlines.append(
            f'    <outline type="rss" text="{escape(feed.title)}" title="{escape(feed.title)}" '
            f'language="{escape(feed.edition)}" xmlUrl="{escape(base_url + feed.folder)}rss.xml" '
            f'htmlUrl="{escape(base_url)}index.html#{escape(feed.edition)}"/>'
        )
    stamp = updated.astimezone(UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")
    text = f"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head>
    <title>{escape(title)}</title>
    <dateModified>{stamp}</dateModified>
  </head>
  <body>
{chr(10).join(outlines)}
  </body>
</opml>
"""
    return text.encode("utf-8")


def article_page(item: Item, *, edition: str, feed_title: str) -> bytes:
    """`{edition}/articles/{slug}.html`: the story as the edition shows it, with its credits,
    its enclosures, a link to the original and to the same story in the other editions."""
    credits = [line for line, _ in item.credits]
    head = [f'<link rel="canonical" href="{escape(item.link)}">']
    head.extend(
        f'<link rel="alternate" hreflang="{escape(e)}" href="{escape(url)}">'
        for e, url in item.alternates
    )
    # The page is in the edition's language, as its layout is (the labels, the title's suffix);
    # a story shown in its own language (`untranslated: original`) says so on its words.
    own = "" if item.language == base_language(edition) else f' lang="{escape(item.language)}"'
    meta = [item.date.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")]
    if item.author:
        meta.append(f"<span{own}>{escape(item.author)}</span>" if own else escape(item.author))
    if item.source_title:
        meta.append(f"{escape(word(edition, 'source'))}: {escape(item.source_title)}")
    body = item.content or (f"<p>{escape(item.summary)}</p>" if item.summary else "")
    if item.image and not _shows(body, item.image):
        # The story's picture, its credits as the caption.
        caption = "<br>".join(escape(line) for line in credits)
        figure = f'<figure><img src="{escape(item.image)}" alt="">' + (
            f'<figcaption class="credit"><small>{caption}</small></figcaption>' if caption else ""
        )
        body = figure + "</figure>\n" + body
    elif credits:
        body += credit_html(credits)
    original, link = "", escape(item.original_link)
    # A translated body already ends with the attribution line and its link to the original.
    if link and f'href="{link}"' not in body:
        original = (
            f'<p><a href="{link}" hreflang="{escape(item.original_language)}">'
            f"{escape(word(edition, 'original'))}</a></p>"
        )
    others = " · ".join(
        f'<a href="{escape(url)}" hreflang="{escape(e)}" lang="{escape(e)}">'
        f"{escape(EDITION_NAMES.get(e, e))}</a>"
        for e, url in item.alternates
    )
    media = _enclosures_html(item, edition, body)
    if own:
        body = f"<div{own}>\n{body}\n</div>"
    content = (
        f'<article>\n<h1{own}>{escape(item.title)}</h1>\n<p class="meta">{" · ".join(meta)}</p>\n'
        f"{body}\n{media}{original}\n</article>\n<nav>{others}</nav>"
    )
    return _page(edition, f"{item.title} — {feed_title}", head, "../../style.css", content)


def _shows(body: str, url: str) -> bool:
    """Whether the story's HTML already shows the picture at `url` (as the sanitiser writes
    an attribute, the way `escape` does for the URLs we publish)."""
    return f'src="{escape(url)}"' in body


def _enclosures_html(item: Item, edition: str, body: str) -> str:
    """The story's enclosures as its page shows them, after its text: a player for audio and
    video with a plain link to the file beside it (for a reader whose browser cannot play it,
    or who wants it kept), a picture the page does not show yet, any other file as a link
    named by its file name, with its size. Their URLs are http(s) only (`items.build_item`)."""
    shown: list[str] = []
    seen = {item.image}  # the story's picture is shown above its text, or in it
    for enclosure in item.enclosures:
        if enclosure.url in seen:
            continue
        seen.add(enclosure.url)
        url = escape(enclosure.url)
        # Not every partner writes an enclosure's type (a JSON Feed attachment's, an RSS
        # enclosure's are required, yet left empty): the file's name tells then (its path's:
        # `guess_type` reads a query's `?v=2` as the extension).
        guessed = guess_type(urlsplit(enclosure.url).path)[0]
        kind = (enclosure.type or guessed or "").split("/", 1)[0].lower()
        name, size = escape(_file_name(enclosure.url)), escape(_size(enclosure.length))
        if kind in ("audio", "video"):
            label = escape(word(edition, "listen" if kind == "audio" else "watch"))
            about = f"{name} · {size}" if size else name
            # The player's title names what it does in the edition's words, as its tooltip
            # and (having no text of its own) its accessible name.
            shown.append(
                f'<figure class="enclosure"><{kind} controls src="{url}" title="{label}">'
                f'</{kind}><figcaption><a href="{url}">{escape(word(edition, "download"))}</a> '
                f"<small>{about}</small></figcaption></figure>"
            )
        elif kind == "image":
            # Substack and others put the body's own picture in the enclosure too: a page
            # shows a picture once.
            if not _shows(body, enclosure.url):
                shown.append(f'<figure class="enclosure"><img src="{url}" alt=""></figure>')
        else:
            about = f" <small>({size})</small>" if size else ""
            shown.append(f'<p class="enclosure"><a href="{url}">{name}</a>{about}</p>')
    return "".join(f"{part}\n" for part in shown)


def _file_name(url: str) -> str:
    """A file's name as a reader knows it ("ep5.mp3", "Подкаст.mp3"): the last part of its
    URL's path, decoded, unless that gives control characters or broken UTF-8 (then as the
    URL has it); the host's name when the path names no file."""
    parts = urlsplit(url)
    name = parts.path.rsplit("/", 1)[-1]
    readable = unquote(name)
    if readable.isprintable() and "\ufffd" not in readable:
        name = readable
    return name or parts.hostname or url


def _size(length: int) -> str:
    """A file's size as the feed gave it, in decimal units ("40.5 MB"); "" when not given."""
    if length <= 0:
        return ""
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if length >= scale:
            return f"{length / scale:.1f} {unit}"
    return f"{length} B"


def withdrawn_page(*, edition: str, when: datetime, reason: str, home_title: str) -> bytes:
    """What is left at a withdrawn story's page: a notice, when, why; no word of the story."""
    notice = escape(word(edition, "withdrawn"))
    stamp = when.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    shown = withdrawal_reason(edition, reason)
    language = None if shown != reason else _language_of(reason, edition)
    said = "" if language is None else f' lang="{escape(language)}"'
    why = f"<p{said}>{escape(shown)}</p>\n" if reason else ""
    head = ['<meta name="robots" content="noindex">', WITHDRAWN_MARK]
    body = (
        f'<article>\n<h1>{notice}</h1>\n<p class="meta">{stamp}</p>\n{why}</article>\n'
        f'<nav><a href="../index.html">{escape(home_title)}</a></nav>'
    )
    return _page(edition, notice, head, "../../style.css", body)


def _language_of(text: str, edition: str) -> str | None:
    """The language of `text` (a reason shown as written) where it is not the page's: what its
    letters tell (Chinese, and Traditional; Kazakh in either script), else "" (unknown, in
    HTML's words) when it is written in another script than the edition's; None when it may be
    in the page's language."""
    if HAN.search(text):
        language = "zh-Hant" if is_traditional(text) else "zh"
    elif KAZAKH.search(text):
        language = "kk"
    elif kazakh_latin_letters(text):
        language = "kk-Latn"
    else:
        counts = script_of(text)
        script = max(counts, key=lambda name: counts[name]) if any(counts.values()) else ""
        ours = "latin" if edition == "kk-Latn" else SCRIPTS.get(base_language(edition), "")
        return None if script in ("", ours) else ""
    return None if language == edition else language


def _page(language: str, title: str, head: list[str], stylesheet: str, body: str) -> bytes:
    """One HTML page of the site, in `language`; `body` is trusted, already escaped markup."""
    page = f"""<!DOCTYPE html>
<html lang="{escape(language)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
{chr(10).join(head)}
<link rel="stylesheet" href="{stylesheet}">
</head>
<body>
{body}
</body>
</html>
"""
    return page.encode("utf-8")


def static_files() -> dict[str, bytes]:
    """The stylesheets shipped with the package, by published file name: `feed.xsl` with
    every edition's words filled in."""
    here = package_files("syndication.publish")
    found = {name: here.joinpath(name).read_bytes() for name in ("feed.xsl", "style.css")}
    found["feed.xsl"] = found["feed.xsl"].replace(_XSL_WORDS, _xsl_words().encode("utf-8"), 1)
    return found


# Where feed.xsl takes its words (a comment: the file is well-formed XML as shipped).
_XSL_WORDS = (
    b"<!-- WORDS: each edition's words, filled in from syndication.words when published -->"
)
# The words feed.xsl shows, as the built-in pages word them: `word`'s keys, its variables.
_XSL_KEYS = ("subscribe", "older", "latest", "original")


def _xsl_words() -> str:
    """XSLT for feed.xsl: a variable per word, chosen by the feed's language (`$lang`, one of
    our editions; English for any other), and the `edition-name` template naming an edition as
    the built-in pages do. Browsers' XSLT is 1.0: no maps, so one `choose` each."""

    def choose(test: str, texts: dict[str, str], otherwise: str) -> str:
        cases = "".join(
            f"<xsl:when test=\"{test} = '{tag}'\">{escape(text, quote=False)}</xsl:when>"
            for tag, text in texts.items()
        )
        return f"<xsl:choose>{cases}<xsl:otherwise>{otherwise}</xsl:otherwise></xsl:choose>"

    parts = [
        f'<xsl:variable name="{key}">'
        + choose("$lang", {e: word(e, key) for e in EDITIONS}, escape(word("en", key), quote=False))
        + "</xsl:variable>"
        for key in _XSL_KEYS
    ]
    names = choose(
        "$tag", {e: EDITION_NAMES.get(e, e) for e in EDITIONS}, '<xsl:value-of select="$tag"/>'
    )
    parts.append(f'<xsl:template name="edition-name"><xsl:param name="tag"/>{names}</xsl:template>')
    return "\n  ".join(parts)
