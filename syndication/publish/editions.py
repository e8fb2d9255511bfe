"""The publish stage: from the store to every published file, written only when it changed.

Owns: which stories enter each edition (translation policy, rights per source, item count and
age), the per-edition and per-source feeds, stable item ids, the links between the language
versions of a story, the site files, atomic minimal writes, and the WebSub ping after a change.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote, urlsplit

from syndication import http, metrics
from syndication.config import Config, TopicFeed
from syndication.files import digest, remove_orphans, remove_stale, write_if_changed
from syndication.html import web_url, xml_safe
from syndication.lang import BASE_LANGUAGES, DERIVED, base_language, derive_html, derive_text
from syndication.model import FUTURE_TOLERANCE, Article, StoredArticle, Translation, utcnow
from syndication.publish import site
from syndication.publish.feeds import EPOCH, Feed, Item, render_atom, render_json, render_rss
from syndication.store import Store

log = logging.getLogger(__name__)

RIGHTS_TEXT = {
    "full": "",
    "summary": "Summary only: read the full story at the original link.",
    "title": "Headline only: read the story at the original link.",
}


@dataclass
class PublishReport:
    written: list[str] = field(default_factory=list)
    unchanged: int = 0
    removed: list[str] = field(default_factory=list)
    items: dict[str, int] = field(default_factory=dict)  # edition -> items in its main feed
    errors: list[str] = field(default_factory=list)  # feeds that could not be rendered
    hub_error: str = ""


@dataclass(frozen=True)
class _Scope:
    """Which stories one feed of an edition holds, and where it is published."""

    path: str  # under the edition folder: "", "sources/{id}/" or "feeds/{id}/"
    source_ids: tuple[str, ...] | None
    tags: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    topic: TopicFeed | None = field(default=None, compare=False)


def _scopes(config: Config) -> list[_Scope]:
    # Stories of a source no longer in the YAML stay in the store, but their rights are
    # unknown now: every feed carries only the sources the operator still lists.
    configured = tuple(source.id for source in config.settings.sources)
    scopes = [_Scope("", configured)]
    scopes += [_Scope(f"sources/{sid}/", (sid,)) for sid in configured]
    scopes += [
        _Scope(
            f"feeds/{topic.id}/",
            tuple(topic.sources) if topic.sources else configured,
            tuple(topic.tags),
            tuple(topic.keywords),
            topic,
        )
        for topic in config.settings.feeds.topics
    ]
    return scopes


def item_id(authority: str, article_id: str, edition: str) -> str:
    """A tag: URI (RFC 4151) per story and edition; the story part is shared by all editions."""
    return f"tag:{authority},2025:{quote(article_id, safe=':/-._~@')}/{edition}"


def id_authority(config: Config, store: Store) -> str:
    """The host named in item ids: the site's host at the first publish, kept for good.

    Ids must never change once published, so a later move to another domain (a new
    `site.base_url`) keeps the ids partners already hold.
    """
    host = urlsplit(config.settings.site.base_url).hostname or "localhost"
    return store.remembered("id_authority", host)


def slug(article_id: str) -> str:
    source, _, _ = article_id.partition(":")
    return f"{source}-{hashlib.sha256(article_id.encode()).hexdigest()[:12]}"


@dataclass(frozen=True)
class _Entry:
    stored: StoredArticle
    translation: Translation | None


@metrics.timed_publish
def publish(
    config: Config,
    store: Store,
    *,
    ping: Callable[[str, list[str]], None] | None = None,
) -> PublishReport:
    s = config.settings
    base = s.site.base_url
    out = config.output
    report = PublishReport()
    files: dict[Path, bytes] = {}
    remove_orphans(out)
    authority = id_authority(config, store)
    keep_as_is: set[Path] = set()  # files whose last good version stays on disk
    since = utcnow() - timedelta(seconds=s.feeds.max_age) if s.feeds.max_age else None

    def select(edition: str, scope: _Scope) -> list[_Entry]:
        language = base_language(edition)
        rows = store.articles_for_edition(
            language,
            limit=s.feeds.items,
            include_untranslated=s.translation.untranslated == "original",
            source_ids=scope.source_ids,
            since=since,
            tags=scope.tags,
            keywords=scope.keywords,
        )
        return [_Entry(stored, translation) for stored, translation in rows]

    chosen: dict[tuple[str, _Scope], list[_Entry]] = {}
    for edition in s.editions:
        for scope in _scopes(config):
            chosen[(edition, scope)] = select(edition, scope)
    # Which edition carries which story: the basis of hreflang links between versions.
    present: dict[str, set[str]] = {e: set() for e in s.editions}
    for (edition, _), entries in chosen.items():
        present[edition].update(e.stored.article.id for e in entries)

    links: list[site.FeedLink] = []
    pages: dict[tuple[str, str], Item] = {}
    feed_pages: list[tuple[str, _Scope, str, list[Item]]] = []
    for (edition, scope), entries in chosen.items():
        folder = f"{edition}/{scope.path}"
        title = _feed_title(config, edition, scope)
        items = [_item(config, edition, entry, present, authority) for entry in entries]
        for item, entry in zip(items, entries, strict=True):
            pages[(edition, entry.stored.article.id)] = item
        feed = Feed(
            edition=edition,
            id=f"tag:{authority},2025:feed/{folder}",
            title=title,
            description=_description(config, edition),
            home=f"{base}{edition}/index.html",
            self_urls={
                "rss": f"{base}{folder}rss.xml",
                "atom": f"{base}{folder}atom.xml",
                "json": f"{base}{folder}feed.json",
            },
            items=items,
            author=_site_title(config, edition),
            hub=s.site.hub,
            alternates=tuple(
                (other, f"{base}{other}/{scope.path}") for other in s.editions if other != edition
            ),
            xsl="../" * folder.count("/") + "feed.xsl",
        )
        try:
            rendered = {
                "rss.xml": render_rss(_with_alternates(feed, "rss.xml")),
                "atom.xml": render_atom(_with_alternates(feed, "atom.xml")),
                "feed.json": render_json(feed),
            }
        except Exception as exc:
            # One feed that cannot be rendered keeps its last good files; the rest publish.
            log.exception("cannot render %s", folder, extra={"edition": edition})
            report.errors.append(f"{folder}: {type(exc).__name__}: {exc}")
            for name in ("rss.xml", "atom.xml", "feed.json", "index.html"):
                files.setdefault(out / folder / name, b"")
                keep_as_is.add(out / folder / name)
            continue
        for name, data in rendered.items():
            files[out / folder / name] = data
        links.append(site.FeedLink(edition=edition, title=title, folder=folder))
        feed_pages.append((edition, scope, title, items))
        if scope.path == "":
            report.items[edition] = len(items)

    for (edition, _article_id), item in pages.items():
        files[out / edition / "articles" / (item.link.rsplit("/", 1)[-1])] = site.article_page(
            edition=edition,
            title=item.title,
            body_html=item.content,
            summary=item.summary,
            date=item.date,
            author=item.author,
            original_link=item.original_link,
            original_language=item.original_language,
            source_title=item.source_title,
            language=item.language,
            alternates=list(item.alternates),
            self_url=item.link,
            feed_title=_site_title(config, edition),
            credits=[line for line, _ in item.credits],
            image=item.image,
        )

    # Every feed's folder gets a page (an edition's front page is its main feed's): what our
    # server answers a browser that opens the feed, and what the site links to.
    for edition, scope, title, items in feed_pages:
        folder = f"{edition}/{scope.path}"
        files[out / folder / "index.html"] = site.feed_page(
            edition=edition,
            folder=folder,
            base_url=base,
            title=title,
            description=_description(config, edition),
            stories=[
                site.Teaser(
                    title=item.title,
                    url=item.link,
                    date=item.date,
                    summary=item.summary,
                    language=item.language,
                    source="" if scope.path.startswith("sources/") else item.source_title,
                )
                for item in items
            ],
            siblings=[e for e in s.editions if e != edition],
            feeds=[
                link
                for link in links
                if scope.path == "" and link.edition == edition and link.folder != folder
            ],
            home_title=_site_title(config, edition),
        )

    title = _site_title(config, s.editions[0])
    updated = max((i.updated for i in pages.values()), default=EPOCH)
    files[out / "index.html"] = site.index_html(base, list(s.editions), links, title)
    files[out / "feeds.opml"] = site.opml(base, links, title, updated)
    for name, data in site.static_files().items():
        files[out / name] = data

    changed: list[tuple[str, str, int]] = []
    failed: list[OSError] = []
    # Pages before the feeds and indexes that link to them, so a reader never follows a new
    # item to a page not written yet; one path that cannot be written stops no other.
    for path, data in sorted(files.items(), key=lambda f: "/articles/" not in f[0].as_posix()):
        if path in keep_as_is:
            continue
        try:
            written = write_if_changed(path, data)
        except OSError as exc:
            failed.append(exc)
            continue
        if written:
            relative = path.relative_to(out).as_posix()
            report.written.append(relative)
            changed.append((relative, digest(data), len(data)))
        else:
            report.unchanged += 1
    if changed:
        store.record_published(changed)
    if failed:
        # The caller says so (exit 3, /healthz 503) and tries again; what was written stays.
        raise OSError(f"{len(failed)} file(s) not written, the first: {failed[0]}")
    keep = set(files)
    # Every folder an edition could have, configured or not: an edition dropped from the
    # YAML must not stay published, frozen. Other folders in the output are not ours.
    for edition in dict.fromkeys([*s.editions, *BASE_LANGUAGES, *DERIVED]):
        for stale in remove_stale(out, keep, out / edition):
            report.removed.append(stale.relative_to(out).as_posix())
    feeds_changed = [f"{base}{p}" for p in report.written if p.endswith((".xml", ".json"))]
    if s.site.hub:
        # Topics a failed ping left behind go with this one, so subscribers miss no change.
        owed = json.loads(store.setting("websub_owed") or "[]")
        topics = list(dict.fromkeys([*owed, *feeds_changed]))
        if topics:
            try:
                (ping or websub_ping)(s.site.hub, topics)
                store.set_setting("websub_owed", "[]")
            except Exception as exc:  # a hub outage never fails a publish
                report.hub_error = f"WebSub hub {s.site.hub}: {exc} (will ping again next time)"
                log.warning("%s", report.hub_error)
                store.set_setting("websub_owed", json.dumps(topics))
    # When publishing last ran to the end (status, /healthz and /metrics all mean this).
    store.set_setting("last_publish", utcnow().isoformat())
    return report


def websub_ping(hub: str, urls: list[str]) -> None:
    """Tell the hub these topics changed (WebSub publish ping; hubs accept `hub.url` lists)."""
    data = {"hub.mode": "publish", "hub.url": urls}  # a list value repeats the field
    response = http.post(hub, data=data, timeout=10.0)
    if response.status_code >= 300:
        raise RuntimeError(f"HTTP {response.status_code}")


def _with_alternates(feed: Feed, name: str) -> Feed:
    return Feed(**{**feed.__dict__, "alternates": tuple((e, u + name) for e, u in feed.alternates)})


def _site_title(config: Config, edition: str) -> str:
    titles = config.settings.site.title
    base = base_language(edition)
    if edition in titles:
        return titles[edition]
    if base in titles:
        return derive_text(titles[base], edition)
    return site.word(edition, "news")


def _description(config: Config, edition: str) -> str:
    descriptions = config.settings.site.description
    base = base_language(edition)
    if edition in descriptions:
        return descriptions[edition]
    if base in descriptions:
        return derive_text(descriptions[base], edition)
    return _site_title(config, edition)


def _feed_title(config: Config, edition: str, scope: _Scope) -> str:
    title = _site_title(config, edition)
    if scope.source_ids is not None and scope.path.startswith("sources/"):
        source = config.settings.source(scope.source_ids[0])
        return f"{title}: {source.title or source.id}"
    if scope.topic is not None:
        names = scope.topic.title
        base = base_language(edition)
        name = names.get(edition) or (derive_text(names[base], edition) if base in names else "")
        return f"{title}: {name or scope.topic.id}"
    return title


def _item(
    config: Config, edition: str, entry: _Entry, present: dict[str, set[str]], authority: str
) -> Item:
    s = config.settings
    base_url = s.site.base_url
    article = entry.stored.article
    now = utcnow() + FUTURE_TOLERANCE
    language = base_language(edition)
    translation = entry.translation
    translated = (
        article.language != language
        and translation is not None
        and translation.status in ("translated", "stale")
        and bool(translation.title)
    )
    if translated and translation is not None:
        title, summary, content = translation.title, translation.summary, translation.content
        item_language = language
    else:
        title, summary, content = article.title, article.summary, article.content
        item_language = article.language
    source = s.find_source(article.source_id)
    rights = s.rights(article.source_id)
    if rights != "full":
        content = ""
    if rights == "title":
        summary = ""
    if translated and content:
        content += site.attribution(edition, article.language, article.link)
    elif translated and rights != "full" and summary:
        summary += " " + site.word(
            edition, "translated", language=site.language_name(edition, article.language)
        )
    credits = list(article.credits)
    if edition in DERIVED and item_language == language:
        title = derive_text(title, edition)
        summary = derive_text(summary, edition)
        content = derive_html(content, edition)
        credits = [derive_text(credit, edition) for credit in credits]
        item_language = edition
    page = f"{base_url}{edition}/articles/{slug(article.id)}.html"
    alternates = tuple(
        (other, f"{base_url}{other}/articles/{slug(article.id)}.html")
        for other in s.editions
        if other != edition and article.id in present[other]
    )
    date = entry.stored.date
    # `updated` moves when a reader would see something new: the partner's own update time,
    # or the moment the translation shown here was (re)made. Both are stored, so an
    # unchanged story keeps the same value from run to run.
    # A partner's update time in the future (a wrong clock, a typo) is ignored, like a
    # future publication date, so it never becomes the feed's `updated`.
    partner_updated = article.updated if article.updated and article.updated <= now else None
    updated = max(date, partner_updated or date)
    if translated and translation is not None and translation.updated_at is not None:
        updated = max(updated, translation.updated_at)
    source_title = (
        article.source_title or source.title or article.source_id
        if source is not None
        else article.source_title
    )
    source_url = _public(config, article.source_url)
    source_feed = _public(config, source.url or "") if source is not None else ""
    # The partner feed's `updated` when the story was taken; a time in the future is a wrong
    # clock, and without one the story's own time is the latest the feed is known to have.
    feed_updated = article.source_feed_updated
    partner_feed_updated = feed_updated if feed_updated and feed_updated <= now else updated
    return Item(
        id=item_id(authority, article.id, edition),
        title=xml_safe(title),
        link=page,
        date=date,
        updated=updated,
        language=item_language,
        summary=xml_safe(summary),
        content=xml_safe(content),
        author=xml_safe(article.author),
        categories=tuple(xml_safe(c) for c in article.categories),
        image=web_url(article.image),
        enclosures=tuple(
            replace(e, url=web_url(e.url), type=xml_safe(e.type))
            for e in article.enclosures
            if web_url(e.url)
        ),
        original_language=article.language,
        original_link=web_url(article.link),
        source_title=source_title,
        source_url=source_url,
        source_feed=source_feed,
        source_id=_source_feed_id(config, article, edition, authority)
        if source_feed or source_title
        else "",
        source_updated=partner_feed_updated,
        rights=RIGHTS_TEXT.get(rights, ""),
        machine_translated_from=article.language if translated else "",
        alternates=alternates,
        credits=tuple(site.credit_line(edition, xml_safe(credit)) for credit in credits),
    )


_IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s<>\"{}|\\^`]+$")


def _source_feed_id(config: Config, article: Article, edition: str, authority: str) -> str:
    """atom:source/id: the partner feed's own id; else its page or the URL we read it from;
    for a story of our own (a local article), the id of its source's feed in this edition."""
    for candidate in (article.source_feed_id, article.source_url):
        candidate = xml_safe(candidate)
        if candidate and _IRI.match(candidate) and not config.is_secret(candidate):
            return candidate
    return f"tag:{authority},2025:feed/{edition}/sources/{article.source_id}/"


def _public(config: Config, url: str) -> str:
    """A partner URL fit to publish: never one carrying a secret from the environment."""
    return "" if not url or config.is_secret(url) else web_url(url)
