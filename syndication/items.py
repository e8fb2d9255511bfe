"""A stored story as an item of one edition: what every feed of that edition carries of it.

Owns: the item's stable id (a tag: URI) and its page's URL, which text an edition shows (the
translation when there is a usable one, else the original), what a source's rights allow (full
text, summary, headline), the machine-translation attribution, the kk-Latn / zh-Hant script of
derived editions (a Chinese byline's too in zh-Hant; and a Traditional Chinese original shown
Simplified in `zh`, as written in `zh-Hant`), credits as each edition words them, a correction
note's paragraph (its class and the edition's own label, whatever a translator made of them),
the links to the same story in the other editions (hreflang), `updated` from stored times only
(a correction moves it), and atom:source (the partner feed's id, title and updated; never a URL
carrying a secret, nor a credential in its query: `?access_token=…` and the like are dropped).
Also whether a story is in an edition at all (`in_edition`: not withdrawn, not under embargo,
in the edition's language or translated, or the policy shows originals) and the digest of what
a reader of an edition sees of it (`digest`: a new digest is a new version).
A leaf: publishing builds its items here, and partner feeds will build the same ones.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from datetime import datetime
from html import escape
from urllib.parse import quote, urlsplit, urlunsplit

from syndication.config import Config
from syndication.html import (
    CORRECTION_OPEN,
    correction_note,
    opening_note,
    web_url,
    without_parameters,
    xml_safe,
)
from syndication.lang import (
    DERIVED,
    base_language,
    convert_html,
    derive_byline,
    derive_html,
    derive_text,
    is_traditional,
    simplified_chinese,
)
from syndication.model import (
    FUTURE_TOLERANCE,
    SHOWN_STATUSES,
    Article,
    StoredArticle,
    Translation,
    utcnow,
)
from syndication.render import Item
from syndication.words import language_name, word

RIGHTS_TEXT = {
    "full": "",
    "summary": "Summary only: read the full story at the original link.",
    "title": "Headline only: read the story at the original link.",
}
_IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s<>\"{}|\\^`]+$")
# What an atom:id of these schemes must look like (else readers and validators reject the
# document): RFC 2141's `urn:NID:NSS` (a UUID in its 8-4-4-4-12 form), RFC 4151's
# `tag:authority,date:specific`, and a web address with a host.
_URN = re.compile(r"^urn:[a-z0-9][a-z0-9-]{1,31}:([a-z0-9()+,.:=@;$_!*'-]|%[0-9a-f]{2})+$", re.I)
_UUID = re.compile(r"^urn:uuid:[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$", re.I)
_TAG = re.compile(r"^tag:([a-z0-9._-]+@)?[a-z0-9.-]+,\d{4}(-\d{2}(-\d{2})?)?:\S*$")
_WEB = re.compile(r"^(https?|ftp)://[^/]", re.I)


@dataclass(frozen=True)
class Story:
    """A stored story and its translation into an edition's language (None: none yet)."""

    stored: StoredArticle
    translation: Translation | None


@dataclass(frozen=True)
class _Text:
    """What an edition shows of a story, after rights, attribution and script."""

    title: str
    summary: str
    content: str
    credits: tuple[str, ...]
    author: str
    language: str
    translated: bool


def in_edition(story: Story, edition: str, *, untranslated: str, now: datetime) -> bool:
    """Whether `story` is in `edition` now: live, its embargo (if any) over, and in the
    edition's language, translated into it (a stale translation still counts), or shown in its
    original language under `untranslated: original`."""
    stored, translation = story.stored, story.translation
    embargo = stored.article.embargo
    if stored.withdrawn or (embargo is not None and embargo > now):
        return False
    language = base_language(edition)
    if stored.article.language == language or untranslated == "original":
        return True
    return (
        translation is not None and translation.status in SHOWN_STATUSES and bool(translation.title)
    )


def digest(item: Item) -> str:
    """What a reader of the item's edition sees of the story (its text, credits, rights,
    media, dates given by the source), not its links to other editions nor `updated`: the
    same digest is the same version."""
    seen = (
        item.title,
        item.summary,
        item.content,
        item.author,
        list(item.categories),
        item.image,
        [[e.url, e.type, e.length] for e in item.enclosures],
        item.language,
        item.date.isoformat(),
        item.rights,
        [line for line, _ in item.credits],
        item.original_link,
        item.source_title,
    )
    blob = json.dumps(seen, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


def id_authority(config: Config, remembered: Callable[[str, str], str]) -> str:
    """The host named in item ids: the site's host at the first publish, kept for good
    (`remembered`: the store's, which records a value the first time and returns it ever
    after).

    Ids must never change once published, so a later move to another domain (a new
    `site.base_url`) keeps the ids partners already hold.
    """
    host = urlsplit(config.settings.site.base_url).hostname or "localhost"
    return remembered("id_authority", host)


def item_id(authority: str, article_id: str, edition: str) -> str:
    """A tag: URI (RFC 4151) per story and edition; the story part is shared by all editions."""
    return f"tag:{authority},2025:{quote(article_id, safe=':/-._~@')}/{edition}"


def slug(article_id: str) -> str:
    source, _, _ = article_id.partition(":")
    return f"{source}-{hashlib.sha256(article_id.encode()).hexdigest()[:12]}"


def page_url(base_url: str, edition: str, article_id: str) -> str:
    """The story's page in an edition."""
    return f"{base_url}{edition}/articles/{slug(article_id)}.html"


def attribution(edition: str, language: str, original: str) -> str:
    """The line that ends every machine-translated item: source language and the original."""
    text = escape(word(edition, "translated", language=language_name(edition, language)))
    link = ""
    if original:
        label = escape(word(edition, "original"))
        link = f' <a href="{escape(original)}" hreflang="{escape(language)}">{label}</a>'
    return f"<p><small><em>{text}</em>{link}</small></p>"


def credit_line(edition: str, credit: str) -> tuple[str, str]:
    """(the line a reader sees, the credited name) for one stored credit.

    A newsroom's line keeps its own words ("Фото: Ақорда"); a bare name (a partner's
    media:credit) gets the edition's word for it ("Photo: Reuters").
    """
    label, colon, name = credit.partition(":")
    if not colon:
        label, colon, name = credit.partition("：")
    if colon and name.strip() and len(label) <= 40:
        return credit, name.strip()
    separator = "：" if base_language(edition) == "zh" else ": "
    return f"{word(edition, 'photo')}{separator}{credit}", credit


def build_item(
    config: Config,
    edition: str,
    story: Story,
    *,
    authority: str,
    carried_by: Collection[str],
    rights: str | None = None,
) -> Item:
    """`story` as an item of `edition`; `carried_by` are the editions that carry the story
    (their pages are its hreflang alternates), `authority` the host named in item ids,
    `rights` what may be shown of it (default: its source's rights)."""
    s = config.settings
    article = story.stored.article
    now = utcnow() + FUTURE_TOLERANCE
    rights = rights or s.rights(article.source_id)
    text = _text(config, edition, story, rights)
    date = story.stored.date
    updated = _updated(story, text.translated, now)
    source = s.find_source(article.source_id)
    source_title = (
        article.source_title or source.title or article.source_id
        if source is not None
        else article.source_title
    )
    source_feed = _public(config, source.url or "") if source is not None else ""
    # The partner feed's `updated` when the story was taken; a time in the future is a wrong
    # clock, and without one the story's own time is the latest the feed is known to have.
    feed_updated = article.source_feed_updated
    return Item(
        id=item_id(authority, article.id, edition),
        title=xml_safe(text.title),
        link=page_url(s.site.base_url, edition, article.id),
        date=date,
        updated=updated,
        language=text.language,
        summary=xml_safe(text.summary),
        content=xml_safe(text.content),
        author=xml_safe(text.author),
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
        source_url=_public(config, article.source_url),
        source_feed=source_feed,
        source_id=_source_feed_id(config, article, edition, authority)
        if source_feed or source_title
        else "",
        source_updated=feed_updated if feed_updated and feed_updated <= now else updated,
        rights=RIGHTS_TEXT.get(rights, ""),
        machine_translated_from=article.language if text.translated else "",
        alternates=alternates(config, edition, article.id, carried_by),
        credits=tuple(credit_line(edition, xml_safe(credit)) for credit in text.credits),
    )


def alternates(
    config: Config, edition: str, article_id: str, carried_by: Collection[str]
) -> tuple[tuple[str, str], ...]:
    """The story's pages in the other editions that carry it (its hreflang alternates)."""
    base = config.settings.site.base_url
    return tuple(
        (other, page_url(base, other, article_id))
        for other in config.settings.editions
        if other != edition and other in carried_by
    )


def _text(config: Config, edition: str, story: Story, rights: str) -> _Text:
    """The translation when it is usable, else the original; cut to `rights`, marked as a
    machine translation, and in the script of a derived edition."""
    article, translation = story.stored.article, story.translation
    language = base_language(edition)
    translated = (
        article.language != language
        and translation is not None
        and translation.status in SHOWN_STATUSES
        and bool(translation.title)
    )
    if translated and translation is not None:
        title, summary, content = translation.title, translation.summary, translation.content
        item_language = language
    else:
        title, summary, content = article.title, article.summary, article.content
        item_language = article.language
    # A Chinese original may be Traditional: `zh` is the Simplified edition, so it is shown
    # there converted (OpenCC t2s), and `zh-Hant` shows it as written rather than through
    # the s2t round trip, which would lose its own spelling (臺灣 -> 台湾 -> 台灣).
    traditional = (
        not translated
        and item_language == "zh" == language
        and is_traditional(f"{title} {summary}"[:200])
    )
    if rights != "full":
        content = ""
    if rights == "title":
        summary = ""
    if translated and content:
        content += attribution(edition, article.language, article.link)
    elif translated and rights != "full" and summary:
        summary += " " + word(
            edition, "translated", language=language_name(edition, article.language)
        )
    credits = article.credits
    # The byline is the original's, never translated: a Chinese one is written in zh-Hant's
    # characters as the text is, unless the story is a Traditional original shown as written.
    author = article.author if traditional else derive_byline(article.author, edition)
    if traditional and edition == "zh":
        title, summary = simplified_chinese(title), simplified_chinese(summary)
        content = convert_html(content, simplified_chinese)
        credits = tuple(simplified_chinese(credit) for credit in credits)
    elif traditional:
        item_language = edition
    elif edition in DERIVED and item_language == language:
        title = derive_text(title, edition)
        summary = derive_text(summary, edition)
        content = derive_html(content, edition)
        credits = tuple(derive_text(credit, edition) for credit in credits)
        item_language = edition
    if content and article.correction:
        # A translation made before the note had a paragraph of its own lost the class (and
        # got a translated label); one of the story's current text still opens with it.
        legacy = translated and translation is not None and translation.status == "translated"
        content = _with_note(content, item_language, legacy=legacy and _opens_with_note(article))
    return _Text(title, summary, content, credits, author, item_language, translated)


def _opens_with_note(article: Article) -> bool:
    return bool(article.correction) and article.content.startswith(CORRECTION_OPEN)


def _with_note(content: str, language: str, *, legacy: bool) -> str:
    """`content` opening with its correction note as every edition shows it: the paragraph
    with class `correction` and the fixed label of the text's `language`, whatever label a
    translation made of it (`legacy`: the opening paragraph is the note though it lost its
    class)."""
    if not (content.startswith(CORRECTION_OPEN) or legacy):
        return content
    opening = opening_note(content)
    if opening is None or not opening[1]:
        return content
    _, note, rest = opening
    return correction_note(word(language, "correction"), note) + rest


def _updated(story: Story, translated: bool, now: datetime) -> datetime:
    """When a reader would see something new: the partner's own update time, the moment its
    text was corrected, or the moment the translation shown was (re)made. All are stored, so an
    unchanged story keeps the same value from run to run. A partner's update time in the
    future (a wrong clock, a typo) is ignored, like a future publication date, so it never
    becomes the feed's `updated`."""
    article, date = story.stored.article, story.stored.date
    translation = story.translation
    if translated and translation is not None and translation.status != "translated":
        # The edition still shows the translation of the text before a correction (kept so
        # the story never drops out): nothing new for its readers until the new one lands.
        return max(date, translation.updated_at or date)
    partner_updated = article.updated if article.updated and article.updated <= now else None
    updated = max(date, partner_updated or date)
    # A correction at the source (its text changed after we first stored it) is news too.
    revised = story.stored.revised_at
    if revised is not None and revised <= now:
        updated = max(updated, revised)
    if translated and translation is not None and translation.updated_at is not None:
        updated = max(updated, translation.updated_at)
    return updated


def _source_feed_id(config: Config, article: Article, edition: str, authority: str) -> str:
    """atom:source/id: the partner feed's own id; else its page or the URL we read it from;
    for a story of our own (a local article), the id of its source's feed in this edition."""
    for candidate in (article.source_feed_id, article.source_url):
        candidate = _without_credentials(xml_safe(candidate))
        if candidate and _well_formed_id(candidate) and not _secret(config, candidate):
            return _normal_form(candidate)
    return f"tag:{authority},2025:feed/{edition}/sources/{article.source_id}/"


def _well_formed_id(candidate: str) -> bool:
    """Whether a partner's feed id may stand as our atom:source/id: an IRI, and for urn:,
    tag: and web ids, one of the shape their RFCs give (a partner's `urn:tomb` is not)."""
    if not _IRI.match(candidate):
        return False
    scheme = candidate.split(":", 1)[0].lower()
    if scheme == "urn":
        uuid = candidate.lower().startswith("urn:uuid:")
        return bool(_UUID.match(candidate) if uuid else _URN.match(candidate))
    if scheme == "tag":
        return bool(_TAG.match(candidate))
    if scheme in ("http", "https", "ftp"):
        return bool(_WEB.match(candidate))
    return True


def _normal_form(uri: str) -> str:
    """An http(s) id as RFC 3986 (6.2.2, 6.2.3) writes it: scheme and host in lower case, no
    default port, an empty path as "/". Partners give `https://www.giantbomb.com`; the W3C
    validator warns of every entry carrying it (NonCanonicalURI). Others are left as given."""
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.netloc:
        return uri
    user, at, host = parts.netloc.rpartition("@")
    host = host.lower().removesuffix(":80" if scheme == "http" else ":443")
    path = parts.path or "/"
    return urlunsplit((scheme, f"{user}{at}{host}", path, parts.query, parts.fragment))


def _public(config: Config, url: str) -> str:
    """A partner URL fit to publish: without the credentials its query may carry, and never one
    carrying a secret from the environment."""
    url = _without_credentials(url)
    return "" if not url or _secret(config, url) else web_url(url)


# Query parameters that carry a credential, by name in lower case without `-` and `_`
# (`api_key`, `api-key` and `apiKey` are one): an operator may write a partner's token into a
# source's URL itself, where no `${VAR}` marks it as a secret, and it must not reach the feeds.
_CREDENTIAL_NAMES = frozenset(
    {"key", "apikey", "auth", "sig", "pass", "passwd", "pwd", "session", "sessionid", "jwt"}
)
_CREDENTIAL_ENDINGS = ("token", "secret", "password", "signature", "credential", "credentials")


def _without_credentials(url: str) -> str:
    """`url` without the query parameters that carry a credential (`access_token`, `token`,
    `api_key`, `key`, `auth`, `signature`, `sig`, `secret`, `password`, `client_secret`,
    `X-Amz-Signature` …, in any case): the rest of it, as written, may be published."""
    return without_parameters(url, _is_credential)


def _is_credential(name: str) -> bool:
    name = name.replace("-", "").replace("_", "")
    return name in _CREDENTIAL_NAMES or name.endswith(_CREDENTIAL_ENDINGS)


# Whether a text carries a secret, by (the configuration's secrets, text): every story of a
# source asks it of the same few URLs (its feed's, its page's), and the answer costs a pass
# per secret and a regex. `Config.is_secret` depends on the secrets alone, so a configuration
# with other secrets asks again. Bounded: emptied when full.
_SECRET: dict[tuple[frozenset[str], str], bool] = {}
_SECRET_MAX = 4096


def _secret(config: Config, text: str) -> bool:
    key = (config.secrets, text)
    found = _SECRET.get(key)
    if found is None:
        if len(_SECRET) >= _SECRET_MAX:
            _SECRET.clear()
        found = _SECRET[key] = config.is_secret(text)
    return found
