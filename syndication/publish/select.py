"""Select: the feeds there are, and which stories enter each.

Owns: the scopes of an edition's feeds (the edition's main feed, one per configured source,
one per topic in `feeds.topics`), each feed's key (its folder, "kk/sources/x/") and the digest
of what decides its membership, whether a story belongs in a feed (its source among the
feed's, any of a topic's tags or keywords, the same rule as the store's `articles_for_edition`),
and the id authority kept in the store.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from syndication import items
from syndication.config import Config, TopicFeed
from syndication.items import Story
from syndication.store import Store

# The database's LIKE folds ASCII letters only; matching here must agree with it.
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


@dataclass(frozen=True)
class Scope:
    """Which stories one feed of an edition holds, and where it is published."""

    path: str  # under the edition folder: "", "sources/{id}/" or "feeds/{id}/"
    source_ids: tuple[str, ...] | None
    tags: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    topic: TopicFeed | None = field(default=None, compare=False)
    # `source_ids` as a set: asked of every item of every document a publish renders (a main
    # feed's tuple is every configured source).
    allowed: frozenset[str] | None = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        ids = None if self.source_ids is None else frozenset(self.source_ids)
        object.__setattr__(self, "allowed", ids)

    @property
    def main(self) -> bool:
        """The edition's main feed (its front page), not a per-source or topic feed."""
        return self.path == ""


@dataclass(frozen=True)
class FeedDef:
    """One feed of one edition."""

    edition: str
    scope: Scope

    @property
    def folder(self) -> str:
        """The feed's folder under the output, e.g. "kk/" or "kk/sources/newsroom/"; also its
        key in the store's `feed_entries`."""
        return f"{self.edition}/{self.scope.path}"

    @property
    def membership(self) -> str:
        """A digest of what decides which stories enter the feed: when it changes, the feed's
        entries are worked out again."""
        scope = self.scope
        blob = json.dumps(
            [self.edition, scope.source_ids, scope.tags, scope.keywords], ensure_ascii=False
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def open_to(self, source_id: str) -> bool:
        """Whether stories of `source_id` may enter this feed (`takes` then decides)."""
        return self.scope.source_ids is None or source_id in self.scope.source_ids

    def takes(self, story: Story) -> bool:
        """Whether `story` belongs in this feed (its edition aside)."""
        return matches(self.scope, story)


def feeds(config: Config) -> list[FeedDef]:
    """Every feed of every configured edition."""
    found = scopes(config)
    return [FeedDef(edition, scope) for edition in config.settings.editions for scope in found]


def scopes(config: Config) -> list[Scope]:
    """An edition's feeds: its main feed, one per source, one per topic."""
    # Stories of a source no longer in the YAML stay in the store, but their rights are
    # unknown now: every feed carries only the sources the operator still lists.
    configured = tuple(source.id for source in config.settings.sources)
    found = [Scope("", configured)]
    found += [Scope(f"sources/{sid}/", (sid,)) for sid in configured]
    found += [
        Scope(
            f"feeds/{topic.id}/",
            tuple(topic.sources) if topic.sources else configured,
            tuple(topic.tags),
            tuple(topic.keywords),
            topic,
        )
        for topic in config.settings.feeds.topics
    ]
    return found


def matches(scope: Scope, story: Story) -> bool:
    """A story of one of the scope's sources, with any of its tags or keywords (if it names
    any): a tag is a whole category, a keyword any part of the title or summary, original or
    translated, in the spellings `articles_for_edition` matches (as written, lower-case,
    capitalised, upper-case; ASCII letters in any case)."""
    article = story.stored.article
    if scope.allowed is not None and article.source_id not in scope.allowed:
        return False
    if not (scope.tags or scope.keywords):
        return True
    categories = {_fold(c) for c in article.categories}
    if any(_fold(tag) in categories for tag in scope.tags):
        return True
    fields = [article.title, article.summary]
    if story.translation is not None:
        fields += [story.translation.title, story.translation.summary]
    folded = [_fold(text) for text in fields if text]
    return any(
        _fold(form) in text
        for word in scope.keywords
        for form in dict.fromkeys((word, word.lower(), word.capitalize(), word.upper()))
        for text in folded
    )


def _fold(text: str) -> str:
    return text.translate(_ASCII_LOWER)


def id_authority(config: Config, store: Store) -> str:
    """The host named in item ids (the rule is the items leaf's: partner feeds share it)."""
    return items.id_authority(config, store.remembered)
