"""Render: every file of the published site as bytes, from the items of every feed.

Owns: each feed's metadata (its title per edition and scope, tag: id, self and home URLs,
the same feed in the other editions, hub, stylesheet), its three formats through
`syndication.render`, a feed that cannot be rendered keeping its last good files while the
rest publish, and the site around the feeds (article pages, each feed's page, index.html,
feeds.opml, stylesheets) through `site`. Pure: no store, no disk.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from syndication.config import Config
from syndication.lang import base_language, derive_text
from syndication.publish.select import Scope
from syndication.publish.site import (
    FeedLink,
    Teaser,
    article_page,
    feed_page,
    index_html,
    opml,
    static_files,
)
from syndication.render import EPOCH, Feed, Item, render_atom, render_json, render_rss
from syndication.words import site_description, site_title

log = logging.getLogger(__name__)

FEED_FILES = ("rss.xml", "atom.xml", "feed.json")


@dataclass(frozen=True)
class FeedItems:
    """One feed of one edition with its items, newest first."""

    edition: str
    scope: Scope
    items: tuple[Item, ...]

    @property
    def folder(self) -> str:
        return f"{self.edition}/{self.scope.path}"


@dataclass(frozen=True)
class Rendered:
    """The site as files by path under the output ("kk/rss.xml"), in the order rendered."""

    files: dict[str, bytes]
    # Files of feeds that could not be rendered: their last good version stays as it is.
    kept: frozenset[str] = frozenset()
    items: dict[str, int] = field(default_factory=dict)  # edition -> items in its main feed
    errors: tuple[str, ...] = ()  # feeds that could not be rendered, with the reason


def render(config: Config, feeds: Sequence[FeedItems], authority: str) -> Rendered:
    """Every feed in its three formats, then the pages and site files that link to them."""
    files: dict[str, bytes] = {}
    kept: set[str] = set()
    errors: list[str] = []
    done: list[FeedItems] = []
    for feed in feeds:
        metadata = _feed(config, feed, authority)
        try:
            files.update(_formats(metadata, feed.folder))
        except Exception as exc:
            # One feed that cannot be rendered keeps its last good files; the rest publish.
            log.exception("cannot render %s", feed.folder, extra={"edition": feed.edition})
            errors.append(f"{feed.folder}: {type(exc).__name__}: {exc}")
            kept.update(f"{feed.folder}{name}" for name in (*FEED_FILES, "index.html"))
            continue
        done.append(feed)
    links = [FeedLink(edition=f.edition, title=_title(config, f), folder=f.folder) for f in done]
    # A story in several feeds of an edition has one page there.
    pages = {item.id: (feed.edition, item) for feed in feeds for item in feed.items}
    for edition, item in pages.values():
        name = item.link.rsplit("/", 1)[-1]
        page = article_page(item, edition=edition, feed_title=site_title(config, edition))
        files[f"{edition}/articles/{name}"] = page
    for feed in done:
        files[f"{feed.folder}index.html"] = _feed_page(config, feed, links)
    updated = max((item.updated for _, item in pages.values()), default=EPOCH)
    files.update(_site_files(config, links, updated))
    items = {f.edition: len(f.items) for f in done if f.scope.main}
    return Rendered(files, frozenset(kept), items, tuple(errors))


def _feed(config: Config, feed: FeedItems, authority: str) -> Feed:
    """The feed as the renderer takes it: its metadata in the edition, and its items."""
    s = config.settings
    base, folder, path = s.site.base_url, feed.folder, feed.scope.path
    return Feed(
        edition=feed.edition,
        id=f"tag:{authority},2025:feed/{folder}",
        title=_title(config, feed),
        description=site_description(config, feed.edition),
        home=f"{base}{feed.edition}/index.html",
        self_urls={
            "rss": f"{base}{folder}rss.xml",
            "atom": f"{base}{folder}atom.xml",
            "json": f"{base}{folder}feed.json",
        },
        items=feed.items,
        author=site_title(config, feed.edition),
        hub=s.site.hub,
        alternates=tuple(
            (other, f"{base}{other}/{path}") for other in s.editions if other != feed.edition
        ),
        xsl="../" * folder.count("/") + "feed.xsl",
    )


def _formats(feed: Feed, folder: str) -> dict[str, bytes]:
    """rss.xml, atom.xml and feed.json of one feed; raises when it cannot be rendered."""
    return {
        f"{folder}rss.xml": render_rss(_with_alternates(feed, "rss.xml")),
        f"{folder}atom.xml": render_atom(_with_alternates(feed, "atom.xml")),
        f"{folder}feed.json": render_json(feed),
    }


def _with_alternates(feed: Feed, name: str) -> Feed:
    """The feed with its sibling feeds' URLs pointing at the file of one format."""
    return replace(feed, alternates=tuple((e, url + name) for e, url in feed.alternates))


def _title(config: Config, feed: FeedItems) -> str:
    """The edition's site title, then the source's or topic's name in the edition."""
    title = site_title(config, feed.edition)
    scope = feed.scope
    if scope.source_ids is not None and scope.path.startswith("sources/"):
        source = config.settings.source(scope.source_ids[0])
        return f"{title}: {source.title or source.id}"
    if scope.topic is not None:
        names, edition = scope.topic.title, feed.edition
        base = base_language(edition)
        name = names.get(edition) or (derive_text(names[base], edition) if base in names else "")
        return f"{title}: {name or scope.topic.id}"
    return title


def _feed_page(config: Config, feed: FeedItems, links: Sequence[FeedLink]) -> bytes:
    """The feed's folder's page (an edition's front page is its main feed's): what our server
    answers a browser that opens the feed, and what the site links to."""
    s = config.settings
    per_source = feed.scope.path.startswith("sources/")
    return feed_page(
        edition=feed.edition,
        folder=feed.folder,
        base_url=s.site.base_url,
        title=_title(config, feed),
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
            for item in feed.items
        ],
        siblings=[e for e in s.editions if e != feed.edition],
        # The edition's main page lists its other feeds (per source, per topic).
        feeds=[
            link
            for link in links
            if feed.scope.main and link.edition == feed.edition and link.folder != feed.folder
        ],
        home_title=site_title(config, feed.edition),
    )


def _site_files(config: Config, links: list[FeedLink], updated: datetime) -> dict[str, bytes]:
    """index.html and feeds.opml (every feed), and the stylesheets."""
    s = config.settings
    title = site_title(config, s.editions[0])
    return {
        "index.html": index_html(s.site.base_url, list(s.editions), links, title),
        "feeds.opml": opml(s.site.base_url, links, title, updated),
        **static_files(),
    }
