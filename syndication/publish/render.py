"""Render: the files of the published site as bytes, document by document.

Owns: each feed document's metadata (its title per edition and scope, tag: id, self and home
URLs, the same feed in the other editions and the hub for the current document, the RFC 5005
links between the current document and the archive pages, the tombstones of its withdrawn
stories in Atom, the stylesheet) and its three formats through `syndication.render`; the page
of each document (the current one's is the feed's page, each archive page has its own); a
story's page in an edition, or the notice left where a withdrawn story was (with its copy under
`withdrawn/`); the site around the feeds (index.html, feeds.opml, stylesheets) through `site`.
Pure: no store, no disk.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from syndication.config import Config
from syndication.lang import base_language, derive_text
from syndication.media import WITHDRAWN_COPIES
from syndication.paging import Paging, archive_folder
from syndication.publish.select import FeedDef
from syndication.publish.site import (
    FeedLink,
    Pages,
    Teaser,
    article_page,
    feed_page,
    index_html,
    opml,
    static_files,
    withdrawn_page,
)
from syndication.render import (
    Feed,
    Item,
    Tombstone,
    archive_links,
    feed_urls,
    for_format,
    render_atom,
    render_json,
    render_rss,
)
from syndication.words import site_description, site_title

FEED_FILES = ("rss.xml", "atom.xml", "feed.json")
PAGE = "index.html"  # a document's page, beside its three formats


def document(
    config: Config,
    feed: FeedDef,
    paging: Paging,
    page: int | None,
    items: Sequence[Item],
    authority: str,
    tombstones: Sequence[Tombstone] = (),
) -> dict[str, bytes]:
    """The three formats of one document of `feed`: its current document (`page` None) or
    archive page `page`, by path. Raises when it cannot be rendered."""
    s = config.settings
    base, folder = s.site.base_url, feed.folder
    here = folder if page is None else archive_folder(folder, page)
    links = archive_links(base, folder, paging, page)
    metadata = Feed(
        edition=feed.edition,
        id=f"tag:{authority},2025:feed/{folder}",
        title=title(config, feed),
        description=site_description(config, feed.edition),
        home=f"{base}{feed.edition}/index.html",
        self_urls=feed_urls(base, here),
        items=tuple(items),
        author=site_title(config, feed.edition),
        # A hub and the same feed in the other editions belong to the current document;
        # an archive page has no counterpart of the same stories elsewhere.
        hub=s.site.hub if page is None else None,
        alternates=()
        if page is not None
        else tuple(
            (other, f"{base}{other}/{feed.scope.path}")
            for other in s.editions
            if other != feed.edition
        ),
        xsl="../" * here.count("/") + "feed.xsl",
        archive_links=tuple(links),
        archive=page is not None,
        tombstones=tuple(tombstones) if page is None else (),
    )
    return {
        f"{here}rss.xml": render_rss(for_format(metadata, "rss.xml")),
        f"{here}atom.xml": render_atom(for_format(metadata, "atom.xml")),
        f"{here}feed.json": render_json(metadata),
    }


def document_paths(folder: str, page: int | None) -> list[str]:
    """The files of one document of the feed published in `folder`: its three formats and its
    page (`feed_index`), which come and go together."""
    here = folder if page is None else archive_folder(folder, page)
    return [f"{here}{name}" for name in (*FEED_FILES, PAGE)]


def title(config: Config, feed: FeedDef) -> str:
    """The edition's site title, then the source's or topic's name in the edition."""
    name = site_title(config, feed.edition)
    scope = feed.scope
    if scope.source_ids is not None and scope.path.startswith("sources/"):
        source = config.settings.source(scope.source_ids[0])
        return f"{name}: {source.title or source.id}"
    if scope.topic is not None:
        names, edition = scope.topic.title, feed.edition
        base = base_language(edition)
        topic = names.get(edition) or (derive_text(names[base], edition) if base in names else "")
        return f"{name}: {topic or scope.topic.id}"
    return name


def links(config: Config, feeds: Sequence[FeedDef]) -> list[FeedLink]:
    """Every feed as the index, the OPML and the edition pages list it."""
    return [FeedLink(edition=f.edition, title=title(config, f), folder=f.folder) for f in feeds]


def feed_index(
    config: Config,
    feed: FeedDef,
    paging: Paging,
    page: int | None,
    items: Sequence[Item],
    every: Sequence[FeedLink],
) -> dict[str, bytes]:
    """The page of one document of `feed` (None: the current one), by path: what our server
    answers a browser that opens the document, and what the site links to (an edition's front
    page is its main feed's). Pages lead to one another as the documents do (RFC 5005)."""
    s = config.settings
    per_source = feed.scope.path.startswith("sources/")
    here = feed.folder if page is None else archive_folder(feed.folder, page)
    body = feed_page(
        edition=feed.edition,
        folder=feed.folder,
        base_url=s.site.base_url,
        title=title(config, feed),
        description=site_description(config, feed.edition),
        stories=[
            Teaser(
                title=item.title,
                url=item.link,
                date=item.date,
                summary=item.summary,
                language=item.language,
                source="" if per_source else item.source_title,
            )
            for item in items
        ],
        siblings=[e for e in s.editions if e != feed.edition],
        # The edition's main page lists its other feeds (per source, per topic).
        feeds=[
            link
            for link in every
            if feed.scope.main
            and page is None
            and link.edition == feed.edition
            and link.folder != feed.folder
        ],
        home_title=site_title(config, feed.edition),
        pages=Pages(
            page=page,
            older=paging.prev_archive(page),
            newer=None if page is None else paging.next_archive(page),
        ),
    )
    return {f"{here}{PAGE}": body}


def page_path(edition: str, item_link: str) -> str:
    """A story's page in an edition, under the output ("kk/articles/x.html")."""
    return f"{edition}/articles/{item_link.rsplit('/', 1)[-1]}"


def story_page(config: Config, edition: str, item: Item) -> bytes:
    return article_page(item, edition=edition, feed_title=site_title(config, edition))


def notice_page(config: Config, edition: str, when: datetime, reason: str) -> bytes:
    """What stays at a withdrawn story's page: a notice, no word of the story."""
    return withdrawn_page(
        edition=edition, when=when, reason=reason, home_title=site_title(config, edition)
    )


def notice_copy(path: str) -> str:
    """Where the copy of the notice at a story's page `path` goes ("withdrawn/kk/articles/…")."""
    return f"{WITHDRAWN_COPIES}/{path}"


def notice_files(
    config: Config, path: str, edition: str, when: datetime, reason: str
) -> dict[str, bytes]:
    """The notice at a withdrawn story's page `path`, and its copy (`notice_copy`), by path."""
    page = notice_page(config, edition, when, reason)
    return {path: page, notice_copy(path): page}


def site_files(config: Config, every: list[FeedLink], updated: datetime) -> dict[str, bytes]:
    """index.html and feeds.opml (every feed), and the stylesheets."""
    s = config.settings
    name = site_title(config, s.editions[0])
    return {
        "index.html": index_html(s.site.base_url, list(s.editions), every, name),
        "feeds.opml": opml(s.site.base_url, every, name, updated),
        **static_files(),
    }
