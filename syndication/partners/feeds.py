"""Private feeds: a partner's RSS, Atom and JSON Feed of one edition, rendered from the store.

Owns: which stories a partner's feed of an edition holds and in what order (every story that
entered the edition, by its first version, that the partner's scopes take: the order its RFC
5005 archive pages are cut in by `syndication.paging`, as the public feeds' are), which of them
a document shows (those the edition shows now: never a withdrawn story nor one under embargo,
in a current document only those within `feeds.max_age`), each built as publishing builds it
(`syndication.items`) at the partner's rights and rendered by `syndication.render`, the feed's
own metadata (its tag: id, self and archive links under `partners/`, the partner's other
editions as alternates, RFC 6721 tombstones in the current Atom document for its withdrawn
stories of the last 30 days), and a cache: a feed's ranks are brought up to date (the stories
that entered since; all of them for a feed of topics) only when the store changed (a new
version, a change number) or a minute passed (time moves a feed too: `max_age`, tombstones,
`feeds.archive`), which is looked at no more than once a `FRESH` interval per feed, and each
document is rendered once for them. Nothing is written to disk: a private feed never exists in
the public output folder.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from syndication.config import Config, PartnerSettings
from syndication.items import Story, build_item, id_authority, in_edition, item_id
from syndication.lang import base_language
from syndication.model import utcnow
from syndication.paging import Paging, archive_folder, first_kept
from syndication.partners.entitle import Entitlement, entitlement
from syndication.render import (
    TOMBSTONE_DAYS,
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
from syndication.store import Store
from syndication.store.partners import PartnerEntry
from syndication.words import site_description, site_title

# How long a rendered feed is served before the store is asked whether its stories changed:
# a change reaches partners within this, and a partner polling hard costs two small queries
# per interval, not a rendering per request.
FRESH = 1.0
# Time moves a feed without a change in the store (a story ageing out of `max_age`, a
# tombstone's 30 days, an archive page leaving `feeds.archive`): its stories are read again
# at least this often (seconds). The bytes, and so the ETag, change only if the feed did.
TIME_STEP = 60
GZIP_MIN_SIZE = 1024

FORMATS: dict[str, tuple[Callable[[Feed], bytes], str]] = {
    "rss.xml": (render_rss, "application/rss+xml; charset=utf-8"),
    "atom.xml": (render_atom, "application/atom+xml; charset=utf-8"),
    "feed.json": (render_json, "application/feed+json; charset=utf-8"),
}


@dataclass(frozen=True)
class Body:
    """One answer's bytes, plain and gzip, with their ETags."""

    data: bytes
    gz: bytes | None
    etag: str
    gz_etag: str
    content_type: str


def body(data: bytes, content_type: str) -> Body:
    """`data` ready to send: its ETag from its hash, and a gzip copy when that pays."""
    digest = hashlib.sha256(data).hexdigest()[:32]
    gz = None
    if len(data) > GZIP_MIN_SIZE:
        # mtime=0: the gzip bytes, like the ETag, depend on the content alone.
        packed = gzip.compress(data, compresslevel=6, mtime=0)
        gz = packed if len(packed) < len(data) else None
    return Body(data, gz, f'"{digest}"', f'"{digest}-gz"', content_type)


@dataclass
class _Ranked:
    """A partner's feed of one edition as the store held it at `mark`: its stories by rank,
    its paging, its tombstones, and the documents rendered from them so far."""

    config: Config
    mark: tuple[int, int, int]  # (last version seq, last change number, minute)
    checked: float  # monotonic time the store was last asked
    entries: list[PartnerEntry]
    ranked: frozenset[str]  # the article ids of `entries`
    paging: Paging
    tombstones: tuple[Tombstone, ...]
    now: datetime  # the clock the documents are rendered at
    feeds: dict[int | None, Feed] = field(default_factory=dict)  # page (None: current)
    formats: dict[tuple[int | None, str], Body] = field(default_factory=dict)


class PrivateFeeds:
    """Renders partners' feeds on request and keeps them while their stories hold."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._cache: dict[tuple[str, str], _Ranked] = {}
        self._lock = threading.Lock()

    def fresh(
        self, config: Config, partner_id: str, edition: str, name: str, page: int | None = None
    ) -> Body | None:
        """The document as rendered within `FRESH` under this configuration, else None (then
        call `render`). Cheap: no store, for the event loop."""
        held = self._cache.get((partner_id, edition))
        if held is None or held.config is not config or time.monotonic() - held.checked > FRESH:
            return None
        return held.formats.get((page, name))

    def render(self, config: Config, partner: PartnerSettings, edition: str, name: str) -> Body:
        """The current document in format `name` (rss.xml, atom.xml, feed.json) as the store
        holds it now. Blocking: call it off the event loop."""
        found = self.archive(config, partner, edition, None, name)
        assert found is not None  # a feed always has its current document
        return found

    def archive(
        self, config: Config, partner: PartnerSettings, edition: str, page: int | None, name: str
    ) -> Body | None:
        """Archive page `page` (0 the oldest; None: the current document) in format `name`,
        or None when the feed has no such page kept. Blocking: call it off the event loop."""
        rights = entitlement(config, partner)
        held = self._ranked(config, rights, edition)
        if page is not None and page not in held.paging.kept:
            return None
        found = held.formats.get((page, name))
        if found is not None:
            return found
        feed = held.feeds.get(page)
        if feed is None:
            feed = self._feed(config, rights, edition, held, page)
        render, content_type = FORMATS[name]
        rendered = body(render(for_format(feed, name)), content_type)
        with self._lock:
            held.feeds[page] = feed
            held.formats[(page, name)] = rendered
        return rendered

    def forget(self, partner_ids: set[str]) -> None:
        """Drop what is held for partners no longer configured."""
        with self._lock:
            for key in [k for k in self._cache if k[0] not in partner_ids]:
                del self._cache[key]

    def _ranked(self, config: Config, rights: Entitlement, edition: str) -> _Ranked:
        """The feed's stories by rank as the store holds them now (read again only when the
        store or the minute moved since they were read)."""
        mark = (
            self.store.last_version_seq(),
            self.store.change_mark(),
            int(time.time() // TIME_STEP),
        )
        key = (rights.partner.id, edition)
        with self._lock:
            held = self._cache.get(key)
            if held is not None and held.config is config and held.mark == mark:
                held.checked = time.monotonic()
                return held
        s = config.settings
        now = utcnow()
        language = base_language(edition)
        # Stories only ever join the ranks at the end (the version log is append-only, one
        # publisher at a time), and a scope of sources alone takes a story or not for good: then
        # only the stories that entered since the last read are read. A topic's tags and
        # keywords match a story as it is now, so such a feed is read whole.
        static = all(not (scope.tags or scope.keywords) for scope in rights.scopes)
        if held is not None and held.config is config and static and mark[0] >= held.mark[0]:
            newer = self.store.partner_entries(edition, language, rights.scopes, after=held.mark[0])
            # A story that entered while the last read ran may be in both.
            newer = [entry for entry in newer if entry.article_id not in held.ranked]
            entries = held.entries + newer
            ranked = held.ranked | {entry.article_id for entry in newer}
        else:
            entries = self.store.partner_entries(edition, language, rights.scopes)
            ranked = frozenset(entry.article_id for entry in entries)
        since = now - timedelta(seconds=s.feeds.archive)
        recent = next((rank for rank, e in enumerate(entries) if e.at >= since), None)
        paging = Paging(len(entries), s.feeds.items)
        paging = Paging(paging.total, paging.size, first_kept(paging, recent))
        authority = id_authority(config, self.store.remembered)
        withdrawn = self.store.withdrawn_since(now - timedelta(days=TOMBSTONE_DAYS))
        tombstones = sorted(
            (
                Tombstone(item_id(authority, article_id, edition), when, reason)
                for article_id, (when, reason) in withdrawn.items()
                if article_id in ranked
            ),
            key=lambda t: (t.when, t.ref),
        )
        held = _Ranked(
            config, mark, time.monotonic(), entries, ranked, paging, tuple(tombstones), now
        )
        with self._lock:
            self._cache[key] = held
        return held

    def _feed(
        self, config: Config, rights: Entitlement, edition: str, held: _Ranked, page: int | None
    ) -> Feed:
        """Document `page` of the feed (None: the current one): its metadata, its links to the
        other documents, its items, and in the current one its tombstones."""
        s = config.settings
        partner = rights.partner
        authority = id_authority(config, self.store.remembered)
        base = s.site.base_url
        folder = f"partners/{partner.id}/{edition}/"
        here = folder if page is None else archive_folder(folder, page)
        return Feed(
            edition=edition,
            id=f"tag:{authority},2025:feed/{folder}",
            title=f"{site_title(config, edition)}: {partner.name or partner.id}",
            description=site_description(config, edition),
            home=f"{base}{edition}/index.html" if s.publish.public else base,
            self_urls=feed_urls(base, here),
            items=self._items(config, rights, edition, held, page),
            author=site_title(config, edition),
            # The partner's own feeds in its other editions (for the current document: an
            # archive page has no counterpart of the same stories elsewhere); no hub (a hub
            # is public).
            alternates=()
            if page is not None
            else tuple(
                (other, f"{base}partners/{partner.id}/{other}/")
                for other in rights.editions
                if other != edition
            ),
            archive_links=archive_links(base, folder, held.paging, page),
            archive=page is not None,
            tombstones=held.tombstones if page is None else (),
        )

    def _items(
        self, config: Config, rights: Entitlement, edition: str, held: _Ranked, page: int | None
    ) -> list[Item]:
        """The items of document `page`: its stories the edition shows now (in a current
        document, only those within `feeds.max_age`), at the partner's rights, newest first."""
        s = config.settings
        ranks = held.paging.current if page is None else held.paging.page(page)
        ids = [held.entries[rank].article_id for rank in ranks]
        stories = self.store.stories(ids, base_language(edition))
        authority = id_authority(config, self.store.remembered)
        usable = self.store.usable_languages(ids)
        untranslated = s.translation.untranslated
        fresh_since = held.now - timedelta(seconds=s.feeds.max_age) if s.feeds.max_age else None
        items = []
        for article_id in ids:
            if article_id not in stories:
                continue
            story = Story(*stories[article_id])
            if not in_edition(story, edition, untranslated=untranslated, now=held.now):
                continue  # withdrawn, under embargo, or not in the edition's language now
            if page is None and fresh_since is not None and story.stored.date < fresh_since:
                continue
            article = story.stored.article
            carried_by = [
                e
                for e in rights.editions
                if untranslated == "original"
                or base_language(e) in (article.language, *usable.get(article_id, ()))
            ]
            item = build_item(
                config,
                edition,
                story,
                authority=authority,
                carried_by=carried_by,
                rights=rights.rights(article.source_id),
            )
            items.append(item if s.publish.public else _without_pages(item))
        items.sort(key=lambda item: (-item.date.timestamp(), item.id))
        return items


def _without_pages(item: Item) -> Item:
    """With `publish.public: false` there are no public pages: an item links to the story's
    original (a local article without `link:` keeps the page address it would have)."""
    return replace(item, link=item.original_link or item.link, alternates=())
