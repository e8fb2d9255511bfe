"""Rendering one feed in three formats: RSS 2.0 and Atom 1.0 (feedgen), JSON Feed 1.1.

Owns: the feed and item records a feed is rendered from (`Feed`, `Item`), and the bytes of
`rss.xml`, `atom.xml` and `feed.json` for them: language tags, self/alternate/hub links,
stable ids, dates taken from the content (never the clock, so an unchanged feed is
byte-identical), photo credits (after the HTML content, and as Media RSS `media:credit`), and
what feedgen cannot write (Atom entry links with rel/type/hreflang/length, atom:source with
the partner feed's id, title and updated, the XSL stylesheet instruction), added to its lxml
tree, as are an RSS item's Dublin Core elements (creator, language, rights); RFC 5005
archive links (`current`, `prev-archive`, `next-archive`; atom:link in RSS) and `fh:archive`
in archive documents, `next_url` paging in JSON Feed, and RFC 6721 tombstones
(`at:deleted-entry`) in Atom. A leaf: publishing and partner feeds render through it alike.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from html import escape

from feedgen.ext.base import BaseExtension
from feedgen.feed import FeedGenerator
from lxml import etree

from syndication import __version__
from syndication.model import Enclosure
from syndication.paging import Paging, archive_folder
from syndication.words import withdrawal_reason

ATOM_NS = "http://www.w3.org/2005/Atom"
# Our own small vocabulary for what RSS and Atom have no element for: that an item is a
# machine translation, and from which language. The URI is a name, never fetched.
SYN_NS = "tag:syndication,2025:ns/translation"
# Media RSS: its `media:credit` is what feed readers know for a picture's credit, in RSS and
# (as YouTube's feeds use it) in Atom entries.
MEDIA_NS = "http://search.yahoo.com/mrss/"
# RFC 5005 (feed history) and RFC 6721 (tombstones).
HISTORY_NS = "http://purl.org/syndication/history/1.0"
TOMBSTONES_NS = "http://purl.org/atompub/tombstones/1.0"
# Dublin Core: an RSS item's creator, language (when not the feed's) and rights.
DC_NS = "http://purl.org/dc/elements/1.1/"
DC_CREATOR = f"{{{DC_NS}}}creator"
DC_LANGUAGE = f"{{{DC_NS}}}language"
DC_RIGHTS = f"{{{DC_NS}}}rights"
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_ATOM_LINK = f"{{{ATOM_NS}}}link"
_ATOM_SOURCE = f"{{{ATOM_NS}}}source"
_ATOM_ID = f"{{{ATOM_NS}}}id"
_ATOM_TITLE = f"{{{ATOM_NS}}}title"
_ATOM_UPDATED = f"{{{ATOM_NS}}}updated"
ARCHIVE_RELS = ("current", "prev-archive", "next-archive")


def credit_html(lines: Sequence[str]) -> str:
    """Credits as they follow a story's body: set apart from it, never a paragraph of it."""
    return "".join(f'<p class="credit"><small>{escape(line)}</small></p>' for line in lines)


@dataclass(frozen=True)
class Item:
    """One story as a feed of one edition carries it, ready to render."""

    id: str  # a tag: URI, stable for the story in this edition
    title: str
    link: str  # the story's page in this edition
    date: datetime
    updated: datetime
    language: str
    summary: str = ""
    content: str = ""  # sanitised HTML; empty when rights forbid it
    author: str = ""
    categories: tuple[str, ...] = ()
    image: str = ""
    enclosures: tuple[Enclosure, ...] = ()
    original_link: str = ""
    original_language: str = ""
    source_title: str = ""
    source_url: str = ""
    source_feed: str = ""
    source_id: str = ""  # atom:source/id: the partner feed's own id
    source_updated: datetime | None = None  # atom:source/updated
    rights: str = ""
    machine_translated_from: str = ""
    alternates: tuple[tuple[str, str], ...] = ()  # (edition, url) of the same story
    credits: tuple[tuple[str, str], ...] = ()  # (line as shown, the credited name)

    @property
    def content_html(self) -> str:
        """The HTML body as feeds carry it: the story, then its credits (never without a body:
        a summary-only item keeps its credits in `media:credit`)."""
        if not self.content or not self.credits:
            return self.content
        return self.content + credit_html(tuple(line for line, _ in self.credits))


# How long a withdrawn story's RFC 6721 tombstone stays in every Atom feed it was in (the
# public feeds' and the partners' alike).
TOMBSTONE_DAYS = 30


@dataclass(frozen=True)
class Tombstone:
    """An item this feed no longer carries (RFC 6721 `at:deleted-entry`)."""

    ref: str  # the id the item had in this feed
    when: datetime
    comment: str = ""


@dataclass(frozen=True)
class Feed:
    """One feed document: its metadata and its items, rendered alike in every format."""

    edition: str  # BCP 47 tag of the feed's language
    id: str
    title: str
    description: str
    home: str  # the site page this feed belongs to
    self_urls: dict[str, str]  # format -> public URL
    items: Sequence[Item]
    author: str = ""
    hub: str | None = None
    alternates: tuple[tuple[str, str], ...] = ()  # (edition, url) of sibling feeds, same format
    xsl: str = ""  # URL of the stylesheet that renders the feed in a browser
    # RFC 5005: (rel, {format: url}) with rel in ARCHIVE_RELS; `archive` marks an archive
    # document (fh:archive), whose self URL is its own.
    archive_links: tuple[tuple[str, dict[str, str]], ...] = ()
    archive: bool = False
    tombstones: tuple[Tombstone, ...] = ()  # written in Atom only

    def archive_link(self, rel: str, kind: str) -> str:
        """The URL of the `rel` archive link in format `kind` ("" when there is none)."""
        return next((urls[kind] for r, urls in self.archive_links if r == rel), "")

    @property
    def updated(self) -> datetime:
        return max((i.updated for i in self.items), default=EPOCH)


def render_rss(feed: Feed) -> bytes:
    fg = _generator(feed)
    fg.link(href=feed.self_urls["rss"], rel="self", type="application/rss+xml")
    fg.link(href=feed.home, rel="alternate")  # RSS <link> comes from the last link given
    fg.description(feed.description or feed.title)
    fg.lastBuildDate(feed.updated)
    # Dublin Core's prefix on the root; its elements are written below, with ours.
    fg.register_extension("syndication_dc", _DublinCore, atom=False, rss=True)
    for item in feed.items:
        fe = fg.add_entry(order="append")
        fe.guid(item.id, permalink=False)
        fe.title(item.title)
        fe.link(href=item.link)
        fe.published(item.date)
        if item.summary:
            # An RSS description is HTML to every reader; the summary is plain text, so a
            # `<` or `&` in it is escaped as HTML (a summary quoting `ssh -L 8888:<HOST>:22`
            # lost `<HOST>` to the reader's HTML parser and drew the validator's NotHtml).
            fe.description(escape(item.summary, quote=False))
        if item.content:
            # As text, escaped (no CDATA): what readers have always had, since the tree used
            # to be parsed back from feedgen's output and the parse turned CDATA into text.
            fe.content(item.content_html)
        for term in item.categories:
            fe.category(term=term)
        enclosure = _first_enclosure(item)
        if enclosure is not None:
            fe.enclosure(enclosure.url, str(enclosure.length), enclosure.type or "image/jpeg")
        if item.source_feed:
            fe.source(url=item.source_feed, title=item.source_title or item.source_feed)
    tree = _rss_tree(fg)
    channel = tree.find("channel")
    assert channel is not None
    if feed.hub:
        _atom_link(channel, feed.hub, "hub", position=0)
    for edition, url in feed.alternates:
        _atom_link(channel, url, "alternate", type_="application/rss+xml", hreflang=edition)
    for rel in ARCHIVE_RELS:
        href = feed.archive_link(rel, "rss")
        if href:
            _atom_link(channel, href, rel, type_="application/rss+xml")
    if feed.archive:
        _before_items(channel, etree.Element(f"{{{HISTORY_NS}}}archive"))
    for element, item in zip(channel.iter("item"), feed.items, strict=True):
        # What feedgen's dc extension wrote, in its order, last of what feedgen writes: the
        # extension cost a tenth of the RSS (an object per item, fifteen fields read each).
        if item.author:
            etree.SubElement(element, DC_CREATOR).text = item.author
        if item.language != feed.edition:
            etree.SubElement(element, DC_LANGUAGE).text = item.language
        if item.rights:
            etree.SubElement(element, DC_RIGHTS).text = item.rights
        # The same story in the other editions, as in Atom (see _language_versions).
        for edition, url in _language_versions(item, feed.edition):
            link = etree.SubElement(element, f"{{{ATOM_NS}}}link")
            link.set("rel", "alternate")
            link.set("href", url)
            link.set("type", "text/html")
            link.set("hreflang", edition)
        _media_credits(element, item)
        _mark_translation(element, item)
    return _serialise(tree, feed.xsl, _vocabularies(feed, atom=False))


def render_atom(feed: Feed) -> bytes:
    fg = _generator(feed)
    fg.link(href=feed.self_urls["atom"], rel="self", type="application/atom+xml")
    fg.link(href=feed.home, rel="alternate", type="text/html")
    if feed.description:
        fg.subtitle(feed.description)
    fg.updated(feed.updated)
    for item in feed.items:
        fe = fg.add_entry(order="append")
        fe.id(item.id)
        fe.title(item.title)
        fe.published(item.date)
        fe.updated(item.updated)
        fe.author({"name": item.author or item.source_title or feed.author or feed.title})
        # feedgen refuses an entry without content unless it has an alternate link, then
        # writes that link without its rel/type (python-feedgen#135): give it one where it
        # asks for it, replaced with complete links in the tree below (as every entry gets).
        if not item.content:
            fe.link(href=item.link, rel="alternate")
        if item.summary:
            fe.summary(item.summary)
        if item.content:
            fe.content(item.content_html, type="html")
        for term in item.categories:
            fe.category(term=term)
        if item.rights:
            fe.rights(item.rights)
    # Parsed again, not kept as built (as RSS is): feedgen gives the Atom root an attribute
    # that reads `xmlns`, not a namespace, so only the parsed document has Atom's elements.
    tree = etree.fromstring(fg.atom_str(pretty=False, xml_declaration=False))
    tree.set(XML_LANG, feed.edition)
    if feed.hub:
        _link(tree, feed.hub, "hub", position=_after_links(tree))
    for edition, url in feed.alternates:
        _link(
            tree,
            url,
            "alternate",
            type_="application/atom+xml",
            hreflang=edition,
            position=_after_links(tree),
        )
    for rel in ARCHIVE_RELS:
        href = feed.archive_link(rel, "atom")
        if href:
            _link(tree, href, rel, type_="application/atom+xml", position=_after_links(tree))
    if feed.archive:
        tree.insert(_after_links(tree), etree.Element(f"{{{HISTORY_NS}}}archive"))
    for entry, item in zip(tree.iter(f"{{{ATOM_NS}}}entry"), feed.items, strict=True):
        _complete_entry(entry, item, feed.edition)
    for tombstone in feed.tombstones:
        _deleted_entry(tree, tombstone, feed.edition)
    return _serialise(tree, feed.xsl, _vocabularies(feed, atom=True))


def _deleted_entry(tree: etree._Element, tombstone: Tombstone, edition: str) -> None:
    """RFC 6721: `<at:deleted-entry ref when><at:comment>` after the entries (a reason the
    program itself gave, in the feed's language)."""
    element = etree.SubElement(tree, f"{{{TOMBSTONES_NS}}}deleted-entry")
    element.set("ref", tombstone.ref)
    element.set("when", tombstone.when.astimezone(UTC).isoformat())
    if tombstone.comment:
        comment = withdrawal_reason(edition, tombstone.comment)
        etree.SubElement(element, f"{{{TOMBSTONES_NS}}}comment").text = comment


def _complete_entry(entry: etree._Element, item: Item, edition: str) -> None:
    """What feedgen cannot write into an Atom entry: complete links, atom:source, credits.

    feedgen drops rel/type/hreflang/length from entry links (python-feedgen#135): they are
    written here, in the order feed readers expect, right after the title.
    """
    if not item.content:  # the link feedgen was given (see render_atom): replaced below
        for bare in entry.iterchildren(_ATOM_LINK):
            entry.remove(bare)
            break
    position = _child_index(entry, "title") + 1
    if item.language != edition:
        entry.set(XML_LANG, item.language)
    # Made in place at the end (SubElement: no document of their own to merge), then moved
    # after the title together.
    links = [_link(entry, item.link, "alternate", type_="text/html")]
    for other, url in _language_versions(item, edition):
        links.append(_link(entry, url, "alternate", type_="text/html", hreflang=other))
    if item.original_link and item.original_link != item.link:
        links.append(_link(entry, item.original_link, "via", type_="text/html"))
    for enclosure in _enclosures(item):
        # length is always written: 0 when unknown, as the RSS Best Practices Profile
        # advises for enclosures, so strict parsers find the attribute they require.
        links.append(
            _link(
                entry,
                enclosure.url,
                "enclosure",
                type_=enclosure.type or "image/jpeg",
                length=str(enclosure.length),
            )
        )
    entry[position:position] = links
    if item.source_id:
        _atom_source(entry, item)
    _media_credits(entry, item)
    _mark_translation(entry, item)


def _atom_source(entry: etree._Element, item: Item) -> None:
    """RFC 4287 4.2.11: the feed the entry was taken from keeps its id, title and updated
    (the W3C validator warns MissingSourceElement without them)."""
    source = etree.SubElement(entry, _ATOM_SOURCE)
    etree.SubElement(source, _ATOM_ID).text = item.source_id
    etree.SubElement(source, _ATOM_TITLE).text = item.source_title
    etree.SubElement(source, _ATOM_UPDATED).text = (
        (item.source_updated or item.updated).astimezone(UTC).isoformat()
    )
    if item.source_url:
        _link(source, item.source_url, "alternate", type_="text/html")
    if item.source_feed:
        _link(source, item.source_feed, "self")


def render_json(feed: Feed) -> bytes:
    data: dict[str, object] = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": feed.title,
        "home_page_url": feed.home,
        "feed_url": feed.self_urls["json"],
        "language": feed.edition,
    }
    if feed.description:
        data["description"] = feed.description
    if feed.hub:
        data["hubs"] = [{"type": "WebSub", "url": feed.hub}]
    if feed.author:
        data["authors"] = [{"name": feed.author}]
    # JSON Feed pages with `next_url` (the older stories); RFC 5005's links in our extension.
    older = feed.archive_link("prev-archive", "json")
    if older:
        data["next_url"] = older
    links = {
        rel.replace("-", "_") + "_url": urls["json"]
        for rel, urls in feed.archive_links
        if urls.get("json")
    }
    if feed.archive or links:
        data["_syndication"] = {"archive": feed.archive, **links}
    data["items"] = [_json_item(item) for item in feed.items]
    # Compact on purpose: with `indent` the json module falls back to its pure-Python
    # encoder, which made JSON the slowest of the three formats.
    return (json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def _json_item(item: Item) -> dict[str, object]:
    entry: dict[str, object] = {
        "id": item.id,
        "url": item.link,
        "title": item.title,
        "date_published": _rfc3339(item.date),
        "date_modified": _rfc3339(item.updated),
        "language": item.language,
    }
    if item.original_link and item.original_link != item.link:
        entry["external_url"] = item.original_link
    if item.content:
        entry["content_html"] = item.content_html
    else:
        # JSON Feed 1.1 wants one of the two present; a story with no body and no summary (a
        # podcast episode, a title-rights story) has an empty one, not its title told twice.
        entry["content_text"] = item.summary
    if item.summary:
        entry["summary"] = item.summary
    if item.image:
        entry["image"] = item.image
    if item.author:
        entry["authors"] = [{"name": item.author}]
    if item.categories:
        entry["tags"] = list(item.categories)
    attachments = [
        {
            "url": e.url,
            "mime_type": e.type or "application/octet-stream",
            **({"size_in_bytes": e.length} if e.length else {}),
        }
        for e in item.enclosures
    ]
    if attachments:
        entry["attachments"] = attachments
    extension = _json_extension(item)
    if extension:
        entry["_syndication"] = extension
    return entry


def _json_extension(item: Item) -> dict[str, object]:
    """What JSON Feed has no field for, under our `_syndication` extension."""
    extension: dict[str, object] = {}
    if item.alternates:
        extension["alternates"] = {edition: url for edition, url in item.alternates}
    if item.machine_translated_from:
        extension["machine_translated_from"] = item.machine_translated_from
    if item.source_title or item.source_url:
        source = {"title": item.source_title, "url": item.source_url}
        extension["source"] = {key: value for key, value in source.items() if value}
    if item.rights:
        extension["rights"] = item.rights
    if item.credits:
        # JSON Feed has no credit field: the lines as shown, in our extension.
        extension["credits"] = [line for line, _ in item.credits]
    return extension


class _DublinCore(BaseExtension):
    """The `dc` prefix declared on the RSS root, where feedgen's dc extension declared it."""

    def extend_ns(self) -> dict[str, str]:
        return {"dc": DC_NS}


class _Keep(BaseExtension):
    """A feedgen extension that keeps the document feedgen builds (its root element)."""

    root: etree._Element | None = None

    def extend_rss(self, feed: etree._Element) -> etree._Element:
        self.root = feed
        return feed


def _rss_tree(fg: FeedGenerator) -> etree._Element:
    """The RSS document feedgen builds, to complete with what feedgen cannot write.

    feedgen's public calls build the lxml tree and write it out at once; a feed extension (its
    public way to add to the tree) is handed the root element before the items are appended to
    it, so the whole tree is kept from there instead of parsing what feedgen wrote (parsing
    cost twice the writing). It is the very tree feedgen wrote out: written again, with what is
    added to it, it gives the bytes the parsed copy gave.
    """
    fg.register_extension("syndication_keep", _Keep, atom=False, rss=True)
    keep: _Keep = fg.syndication_keep
    fg.rss_str(pretty=False, xml_declaration=False)  # builds the tree; the bytes are not used
    assert keep.root is not None
    return keep.root


def _generator(feed: Feed) -> FeedGenerator:
    fg = FeedGenerator()
    fg.id(feed.id)
    fg.title(feed.title)
    fg.language(feed.edition)
    fg.author({"name": feed.author or feed.title})
    fg.generator("syndication", version=__version__)
    return fg


def _language_versions(item: Item, edition: str) -> list[tuple[str, str]]:
    """hreflang alternates of an item: every other edition's page, then this edition's own.

    Feed readers disagree on which `rel="alternate"` link is the article: most take the first,
    feedparser (and what is built on it) the last. The item's own page therefore comes first
    without hreflang (written by the caller) and again last with its hreflang: a distinct
    (type, hreflang) pair, so RFC 4287's no-duplicate-alternates rule still holds.
    """
    if not item.alternates:
        return []
    return [*item.alternates, (edition, item.link)]


def _first_enclosure(item: Item) -> Enclosure | None:
    """`_enclosures(item)[0]` (None: none), without making the others."""
    if item.enclosures:
        return item.enclosures[0]
    return Enclosure(url=item.image, type=_image_type(item.image)) if item.image else None


def _enclosures(item: Item) -> list[Enclosure]:
    found = list(item.enclosures)
    if item.image and all(e.url != item.image for e in found):
        found.append(Enclosure(url=item.image, type=_image_type(item.image)))
    return found


def _image_type(url: str) -> str:
    lower = url.lower().split("?", 1)[0]
    for suffix, kind in (
        (".png", "image/png"),
        (".gif", "image/gif"),
        (".webp", "image/webp"),
        (".svg", "image/svg+xml"),
    ):
        if lower.endswith(suffix):
            return kind
    return "image/jpeg"


def _rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _child_index(parent: etree._Element, local: str) -> int:
    tag = f"{{{ATOM_NS}}}{local}"
    for index, child in enumerate(parent):
        if child.tag == tag:
            return index
    return len(parent) - 1


def _after_links(tree: etree._Element) -> int:
    last = -1
    for index, child in enumerate(tree):
        if child.tag == _ATOM_LINK:
            last = index
    return last + 1 if last >= 0 else len(tree)


def _link(
    parent: etree._Element,
    href: str,
    rel: str,
    *,
    type_: str = "",
    hreflang: str = "",
    length: str = "",
    position: int | None = None,
) -> etree._Element:
    """An atom:link, appended to `parent` or inserted at `position`; attributes in the order
    rel, href, type, hreflang, length (the bytes of every feed depend on it)."""
    # SubElement: made inside the document (an Element would be a document of its own, then
    # merged); attributes set one by one (an attrib dict is slower in lxml).
    element = etree.SubElement(parent, _ATOM_LINK)
    element.set("rel", rel)
    element.set("href", href)
    if type_:
        element.set("type", type_)
    if hreflang:
        element.set("hreflang", hreflang)
    if length:
        element.set("length", length)
    if position is not None:
        parent.insert(position, element)
    return element


def _atom_link(
    channel: etree._Element,
    href: str,
    rel: str,
    *,
    type_: str = "",
    hreflang: str = "",
    position: int | None = None,
) -> None:
    element = etree.Element(f"{{{ATOM_NS}}}link", nsmap={"atom": ATOM_NS})
    element.set("href", href)
    element.set("rel", rel)
    if type_:
        element.set("type", type_)
    if hreflang:
        element.set("hreflang", hreflang)
    # Keep channel metadata before the items, where validators look for it.
    first_item = channel.find("item")
    index = list(channel).index(first_item) if first_item is not None else len(channel)
    channel.insert(index if position is None else position, element)


def _before_items(channel: etree._Element, element: etree._Element) -> None:
    first_item = channel.find("item")
    index = list(channel).index(first_item) if first_item is not None else len(channel)
    channel.insert(index, element)


def _media_credits(element: etree._Element, item: Item) -> None:
    for _line, name in item.credits:
        etree.SubElement(element, f"{{{MEDIA_NS}}}credit").text = name


def _mark_translation(element: etree._Element, item: Item) -> None:
    if item.machine_translated_from:
        mark = etree.SubElement(element, f"{{{SYN_NS}}}translation")
        mark.set("from", item.machine_translated_from)
        mark.set("machine", "true")


def _vocabularies(feed: Feed, *, atom: bool) -> dict[str, str]:
    """The prefixes of our vocabularies the document's elements use, by what the feed holds
    (the elements are written exactly then): cheaper than searching the finished tree."""
    used = (
        ("syn", SYN_NS, any(item.machine_translated_from for item in feed.items)),
        ("media", MEDIA_NS, any(item.credits for item in feed.items)),
        ("fh", HISTORY_NS, feed.archive),
        ("at", TOMBSTONES_NS, atom and bool(feed.tombstones)),
    )
    return {prefix: uri for prefix, uri, found in used if found}


def _serialise(tree: etree._Element, xsl: str, used: dict[str, str]) -> bytes:
    # Declare each prefix once on the root instead of on every item.
    if used:
        etree.cleanup_namespaces(tree, top_nsmap=used)
    body = etree.tostring(tree, encoding="UTF-8", xml_declaration=False, pretty_print=True)
    head = b'<?xml version="1.0" encoding="UTF-8"?>\n'
    if xsl:
        head += f'<?xml-stylesheet type="text/xsl" href="{xsl}"?>\n'.encode()
    return head + body


# The three formats of every feed document, by the link kind that names each.
FEED_KINDS = (("rss", "rss.xml"), ("atom", "atom.xml"), ("json", "feed.json"))


def feed_urls(base: str, folder: str) -> dict[str, str]:
    """The URL of each format of the document published in `folder`, by kind."""
    return {kind: f"{base}{folder}{name}" for kind, name in FEED_KINDS}


def archive_links(
    base: str, folder: str, paging: Paging, page: int | None
) -> tuple[tuple[str, dict[str, str]], ...]:
    """RFC 5005's links of document `page` (None: the current one) of the feed in `folder`:
    `current` from an archive page, `prev-archive` to the page before, `next-archive` to the
    page after. Public and partner feeds link theirs alike."""
    links: list[tuple[str, dict[str, str]]] = []
    if page is not None:
        links.append(("current", feed_urls(base, folder)))
    before = paging.prev_archive(page)
    if before is not None:
        links.append(("prev-archive", feed_urls(base, archive_folder(folder, before))))
    after = paging.next_archive(page) if page is not None else None
    if after is not None:
        links.append(("next-archive", feed_urls(base, archive_folder(folder, after))))
    return tuple(links)


def for_format(feed: Feed, name: str) -> Feed:
    """The feed with its sibling feeds' URLs pointing at the file of one format."""
    return replace(feed, alternates=tuple((e, url + name) for e, url in feed.alternates))
