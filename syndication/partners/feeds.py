"""Private feeds: a partner's RSS, Atom and JSON Feed of one edition, rendered from the store.

Owns: which stories a partner's feed of an edition holds (its scopes, the edition's
translation policy, `feeds.items`, `feeds.max_age`), each built as publishing builds it
(`syndication.items`) at the partner's rights and rendered by `syndication.render`, the
feed's own metadata (its tag: id, self links under `partners/`, the partner's other editions
as alternates), and a cache: a feed is rendered again only when its stories as stored (or the
configuration) changed, which is looked at no more than once a `FRESH` interval per feed.
Nothing is written to disk: a private feed never exists in the public output folder.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta

from syndication.config import Config, PartnerSettings
from syndication.items import Story, build_item, id_authority
from syndication.lang import base_language
from syndication.model import StoredArticle, Translation, utcnow
from syndication.partners.entitle import Entitlement, entitlement
from syndication.render import Feed, Item, render_atom, render_json, render_rss
from syndication.store import Store
from syndication.words import site_description, site_title

# How long a rendered feed is served before the store is asked whether its stories changed:
# a change reaches partners within this, and a partner polling hard costs one query per
# interval, not one per request.
FRESH = 1.0
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
class _Rendered:
    """A partner's feed of one edition: what its stories were, and its formats so far."""

    config: Config
    stories: str  # digest of the stories as stored when rendered
    checked: float  # monotonic time the store was last asked
    formats: dict[str, Body] = field(default_factory=dict)


class PrivateFeeds:
    """Renders partners' feeds on request and keeps them while their stories hold."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._cache: dict[tuple[str, str], _Rendered] = {}
        self._lock = threading.Lock()

    def fresh(self, config: Config, partner_id: str, edition: str, name: str) -> Body | None:
        """The feed as rendered within `FRESH` under this configuration, else None (then
        call `render`). Cheap: no store, for the event loop."""
        held = self._cache.get((partner_id, edition))
        if held is None or held.config is not config or time.monotonic() - held.checked > FRESH:
            return None
        return held.formats.get(name)

    def render(self, config: Config, partner: PartnerSettings, edition: str, name: str) -> Body:
        """The feed in format `name` (rss.xml, atom.xml, feed.json) as the store holds it now;
        rendered again only if its stories changed. Blocking: call it off the event loop."""
        rights = entitlement(config, partner)
        stories = self._stories(config, rights, edition)
        digest = _digest(stories)
        key = (partner.id, edition)
        with self._lock:
            held = self._cache.get(key)
            if held is None or held.config is not config or held.stories != digest:
                held = _Rendered(config, digest, time.monotonic())
                self._cache[key] = held
            held.checked = time.monotonic()
            found = held.formats.get(name)
        if found is not None:
            return found
        feed = self._feed(config, rights, edition, stories)
        render, content_type = FORMATS[name]
        rendered = body(render(_for_format(feed, name)), content_type)
        with self._lock:
            if self._cache.get(key) is held:
                held.formats[name] = rendered
        return rendered

    def forget(self, partner_ids: set[str]) -> None:
        """Drop what is held for partners no longer configured."""
        with self._lock:
            for key in [k for k in self._cache if k[0] not in partner_ids]:
                del self._cache[key]

    def _stories(
        self, config: Config, rights: Entitlement, edition: str
    ) -> list[tuple[StoredArticle, Translation | None]]:
        s = config.settings
        since = utcnow() - timedelta(seconds=s.feeds.max_age) if s.feeds.max_age else None
        return self.store.stories_in_topics(
            base_language(edition),
            rights.scopes,
            limit=s.feeds.items,
            include_untranslated=s.translation.untranslated == "original",
            since=since,
        )

    def _feed(
        self,
        config: Config,
        rights: Entitlement,
        edition: str,
        stories: Sequence[tuple[StoredArticle, Translation | None]],
    ) -> Feed:
        s = config.settings
        partner = rights.partner
        authority = id_authority(config, self.store.remembered)
        usable = self.store.usable_languages([stored.article.id for stored, _ in stories])
        include_untranslated = s.translation.untranslated == "original"
        items = []
        for stored, translation in stories:
            article = stored.article
            carried_by = [
                e
                for e in rights.editions
                if include_untranslated
                or base_language(e) in (article.language, *usable.get(article.id, ()))
            ]
            item = build_item(
                config,
                edition,
                Story(stored, translation),
                authority=authority,
                carried_by=carried_by,
                rights=rights.rights(article.source_id),
            )
            items.append(item if s.publish.public else _without_pages(item))
        base = s.site.base_url
        folder = f"partners/{partner.id}/{edition}/"
        return Feed(
            edition=edition,
            id=f"tag:{authority},2025:feed/{folder}",
            title=f"{site_title(config, edition)}: {partner.name or partner.id}",
            description=site_description(config, edition),
            home=f"{base}{edition}/index.html" if s.publish.public else base,
            self_urls={
                "rss": f"{base}{folder}rss.xml",
                "atom": f"{base}{folder}atom.xml",
                "json": f"{base}{folder}feed.json",
            },
            items=items,
            author=site_title(config, edition),
            # The partner's own feeds in its other editions; no hub (a hub is public).
            alternates=tuple(
                (other, f"{base}partners/{partner.id}/{other}/")
                for other in rights.editions
                if other != edition
            ),
        )


def _for_format(feed: Feed, name: str) -> Feed:
    """The feed with its sibling feeds' URLs pointing at the file of one format."""
    return replace(feed, alternates=tuple((e, url + name) for e, url in feed.alternates))


def _without_pages(item: Item) -> Item:
    """With `publish.public: false` there are no public pages: an item links to the story's
    original (a local article without `link:` keeps the page address it would have)."""
    return replace(item, link=item.original_link or item.link, alternates=())


def _digest(stories: Sequence[tuple[StoredArticle, Translation | None]]) -> str:
    """What a feed's bytes depend on in the store: each story's stored state and the
    translation shown, in order."""
    hashed = hashlib.sha256()
    for stored, translation in stories:
        article = stored.article
        parts: tuple[object, ...] = (
            article.id,
            article.content_hash,
            stored.first_seen,
            stored.sources,
            article.source_feed_id,
            article.source_feed_updated,
        )
        if translation is not None:
            parts += (
                translation.status,
                translation.updated_at,
                translation.title,
                translation.summary,
                translation.content,
            )
        hashed.update(repr(parts).encode("utf-8", "surrogateescape"))
        hashed.update(b"\x00")
    return hashed.hexdigest()
