"""What every feed format shares when it turns a feed's items into Articles.

Owns: what a parser is told about the source a body came from (`SourceInfo`) and what a parse
gives back (`ParsedFeed`); an item's guid when it has none of its own; plain text as HTML
paragraphs; a title that shows nothing (zero-width characters) taken for none, and the title
of an item without one (the first sentence of its text, else of its summary; with neither, what
it carries or where it comes from); an item's byline (its authors' names, never an e-mail
address); a size field read as a count of bytes; and merging the items of one feed that repeat
a guid (true duplicates once, distinct stories kept apart and listed as sharing it, with the
guids such a story may hold, made from what it says). Which of them keeps the bare guid is
settled against the store (ingest/decide.py); duplicates across sources are not this module's
concern.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, tzinfo
from html import escape
from typing import Any
from urllib.parse import unquote, urlsplit

from syndication.html import (
    first_sentence,
    literal_text,
    plain_text,
    sanitised_text,
    shorten,
    untracked,
)
from syndication.ingest.normalise import content_guid
from syndication.model import Article, Withdrawal, article_id

SUMMARY_CHARS = 400
# What shows nothing on a page: format characters (zero-width space and joiners, BOM, bidi
# marks), spaces and separators, controls, combining marks with no letter to sit on, and the
# blank "letters" of Hangul and Braille.
_INVISIBLE_CATEGORIES = frozenset({"Cf", "Zs", "Zl", "Zp", "Cc", "Mn", "Me"})
_BLANK_LETTERS = frozenset("\u115f\u1160\u2800\u3164\uffa0")
AUTHOR_CHARS = 200
# An e-mail address (`mailto:` or not) as a byline may carry one: RSS's `<author>` is one by
# the spec (`desk@example.kz (Aigul)`), and partners put theirs in a name (`Aigul <a@b.kz>`).
_EMAIL = re.compile(
    r"(?:mailto:)?[^\s<>()\[\]{},;:\"'@]+@[^\s<>()\[\]{},;:\"'@]+\.[^\s<>()\[\]{},;:\"'@]+"
)
# What an address leaves behind: brackets with nothing in them.
_EMPTY_BRACKETS = re.compile(r"\(\s*\)|<\s*>|\[\s*\]")


@dataclass(frozen=True)
class SourceInfo:
    """What the parser needs to know about the source a body came from."""

    id: str
    url: str  # where the body came from; base for relative links
    language: str | None = None
    title: str = ""
    languages: tuple[str, ...] = ()  # extra languages the detector may answer
    # Languages the translation chains take into every edition (None: no fallback to the
    # declared language for a text that reads as another; see choose_language).
    translatable: frozenset[str] | None = None
    secret: bool = False  # `url` carries a secret (a token in its query, a password)
    # The URL the operator configured (before any redirect; "": `url`): the base of a relative
    # guid, which must not follow the feed to where a redirect led (see xmlfeed._names).
    configured_url: str = ""
    # The zone of the dates the feed writes without one (the source's `timezone:`).
    zone: tzinfo = UTC

    @property
    def id_base(self) -> str:
        """What a relative guid is made absolute against: the configured URL, else `url`."""
        return self.configured_url or self.url

    @property
    def public_url(self) -> str:
        """The feed's link and id when it gives none: `url`, unless it carries a secret (the
        store keeps these, and feeds show them): then none."""
        return "" if self.secret else self.url


@dataclass(frozen=True)
class SharedGuid:
    """Distinct stories one feed lists under one guid: `ids` are the ids parsing gave them, in
    feed order (the first has the bare guid, each other one a guid made distinct by what it
    says: `distinct_guids`)."""

    guid: str
    ids: tuple[str, ...]


@dataclass
class ParsedFeed:
    articles: list[Article]
    title: str = ""
    link: str = ""
    notes: list[str] = field(default_factory=list)
    entries_found: int = 0
    # Items the feed says are deleted (RFC 6721 tombstones): withdrawn everywhere.
    withdrawn: list[Withdrawal] = field(default_factory=list)
    # Guids the feed gives to more than one distinct story.
    shared: list[SharedGuid] = field(default_factory=list)


def item_guid(given: str, link: str, raw_title: str, date: str, content: str) -> str:
    """The item's own guid, else its link, else an id made from what it says, stable across
    edits of its text.

    A link is taken without its tracking parameters (`utm_source`, `fbclid` …): FeedBurner and
    many CMSs add them to a story's link later, or change them, and it is the same story.

    Without a link, its title and date identify it: a corrected description must update the
    story, not publish it a second time. Only an item with no title falls back to its text,
    and one with no text either (an image, an embed) to its sanitised markup.
    """
    if given.strip() or link:
        return given.strip() or untracked(link)
    title = plain_text(raw_title)
    if title:
        return content_guid(title, date)
    body_text = sanitised_text(content)
    return content_guid(body_text) if body_text else content_guid(content, date)


def visible(text: str) -> str:
    """`text`, or "" when none of it shows (a title of zero-width spaces is no title)."""
    for char in text:  # nearly always ends at the first character
        if char not in _BLANK_LETTERS and unicodedata.category(char) not in _INVISIBLE_CATEGORIES:
            return text
    return ""


def fallback_title(text: str, summary: str) -> str:
    """The title of an item that has none: the first sentence of its text, else of its summary
    ("" when neither shows anything). A body of an image alone has no text, and one of a
    zero-width space shows none: neither names a story (an invisible title in every feed)."""
    for written in (text, summary):
        if sentence := visible(first_sentence(written)):
            return sentence
    return ""


def untitled_title(
    given: str, files: Iterable[str], source_title: str, date: datetime | None
) -> str:
    """The title of an item with no title and no text (`fallback_title` found none): a podcast
    episode, a photo, a bare link. Named by what it has, never by a word of ours (an English
    "(untitled)" in every edition): its attachment's own title (`given`), else the name of its
    file as the URL ends (`episode-12.mp3`), else the source's title with the item's date (UTC:
    `Дала FM, 2026-12-01`), which is translated with the story."""
    for name in (given, *map(_file_name, files)):
        if title := visible(literal_text(name, 300)):
            return title
    return f"{source_title}, {date:%Y-%m-%d}" if date else source_title


def _file_name(url: str) -> str:
    """The last segment of a URL's path, its escapes decoded (`%D0%B5p.mp3` is `еp.mp3`)."""
    return unquote(urlsplit(url).path.rstrip("/").rpartition("/")[2])


def byline(names: Iterable[str]) -> str:
    """An item's authors as published: each name once, in order, joined by ", ", without any
    e-mail address in it: a partner's staff's personal address is not ours to publish
    (`desk@example.kz (Aigul)` and `Aigul <desk@example.kz>` are `Aigul`; an address alone is
    no name)."""
    kept: dict[str, None] = {}
    for name in names:
        if "@" in name:
            name = _EMPTY_BRACKETS.sub(" ", _EMAIL.sub(" ", name))
            name = " ".join(name.split()).strip(" ,;:-")
            if name.startswith("(") and name.endswith(")") and "(" not in name[1:]:
                name = name[1:-1].strip()  # what `address (Name)` leaves: `(Name)`
        if visible(name):
            kept[name] = None
    return shorten(", ".join(kept), AUTHOR_CHARS)


def paragraphs_html(text: str) -> str:
    """Plain text as HTML: a paragraph for each run of lines between blank lines."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    return "".join(f"<p>{escape(p)}</p>" for p in paragraphs)


def byte_count(value: Any) -> int:
    """A feed's size field (an enclosure's length) as bytes; 0 when absent or not a number."""
    try:
        return max(0, int(str(value).strip()))
    except (TypeError, ValueError):
        return 0


def distinct_guids(guid: str, article: Article) -> tuple[str, str]:
    """The guids a story sharing `guid` with other stories of its feed may hold: one made
    distinct by its title and link, and one by its content too (for stories whose title and
    link are the same). Derived from what the story says, never from where the feed lists it."""
    named = content_guid(article.title, article.link)[7:]
    told = content_guid(article.title, article.link, article.content)[7:]
    return f"{guid}#{named}", f"{guid}#{told}"


def merge_repeated_guids(
    articles: list[Article], notes: list[str]
) -> tuple[list[Article], list[SharedGuid]]:
    """Merge items that repeat a guid: true duplicates once, distinct stories kept apart (and
    listed as sharing it, for the save to settle which one holds the bare guid)."""
    seen: dict[str, Article] = {}
    groups: dict[str, list[str]] = {}
    merged = 0
    for article in articles:
        held = seen.get(article.id)
        if held is None:
            seen[article.id] = article
            continue
        if (held.title, held.link, held.content) == (article.title, article.link, article.content):
            merged += 1
            continue
        # Same guid, different story: keep both, the later one under a guid made distinct by
        # what it says. These ids are what a feed seen for the first time is stored under;
        # at every later poll the save keeps each story under the id the store holds it by
        # (ingest/decide.py, settle_shared_guids), whatever order the feed lists them in.
        for guid in distinct_guids(article.guid, article):
            distinct = replace(article, guid=guid, id=article_id(article.source_id, guid))
            if distinct.id not in seen:
                seen[distinct.id] = distinct
                groups.setdefault(article.guid, [article.id]).append(distinct.id)
                break
        else:  # the very same story a third time: a true duplicate
            merged += 1
            continue
        notes.append(f"guid {article.guid!r} is used by more than one item; kept each story")
    if merged:
        notes.append(f"{merged} duplicate item(s) merged")
    shared = [SharedGuid(guid, tuple(ids)) for guid, ids in groups.items()]
    return list(seen.values()), shared
