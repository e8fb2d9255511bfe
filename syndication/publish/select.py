"""Select: the feeds there are and which stories enter each, read from the store.

Owns: the scopes of an edition's feeds (the edition's main feed, one per configured source,
one per topic in `feeds.topics`), which stories enter each (the translation policy, the item
count, `feeds.max_age`, only sources the YAML still lists), and the id authority kept in the
store. The publish stage's only reads of the store are here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from syndication import items
from syndication.config import Config, TopicFeed
from syndication.items import Story
from syndication.lang import base_language
from syndication.model import utcnow
from syndication.store import Store


@dataclass(frozen=True)
class Scope:
    """Which stories one feed of an edition holds, and where it is published."""

    path: str  # under the edition folder: "", "sources/{id}/" or "feeds/{id}/"
    source_ids: tuple[str, ...] | None
    tags: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    topic: TopicFeed | None = field(default=None, compare=False)

    @property
    def main(self) -> bool:
        """The edition's main feed (its front page), not a per-source or topic feed."""
        return self.path == ""


@dataclass(frozen=True)
class Chosen:
    """One feed of one edition and the stories it carries, newest first."""

    edition: str
    scope: Scope
    stories: tuple[Story, ...]

    @property
    def folder(self) -> str:
        """The feed's folder under the output, e.g. "kk/" or "kk/sources/newsroom/"."""
        return f"{self.edition}/{self.scope.path}"


@dataclass(frozen=True)
class Selection:
    """Every feed of every edition with its stories, and the host named in item ids."""

    authority: str
    feeds: tuple[Chosen, ...]

    def carried_by(self) -> Mapping[str, frozenset[str]]:
        """Which editions carry each story (by article id): its hreflang alternates."""
        editions: dict[str, set[str]] = {}
        for chosen in self.feeds:
            for story in chosen.stories:
                editions.setdefault(story.stored.article.id, set()).add(chosen.edition)
        return {article_id: frozenset(found) for article_id, found in editions.items()}


def select(config: Config, store: Store) -> Selection:
    """The stories of every feed of every configured edition."""
    authority = id_authority(config, store)
    max_age = config.settings.feeds.max_age
    since = utcnow() - timedelta(seconds=max_age) if max_age else None
    feeds = tuple(
        Chosen(edition, scope, _stories(config, store, edition, scope, since))
        for edition in config.settings.editions
        for scope in scopes(config)
    )
    return Selection(authority, feeds)


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


def id_authority(config: Config, store: Store) -> str:
    """The host named in item ids (the rule is the items leaf's: partner feeds share it)."""
    return items.id_authority(config, store.remembered)


def _stories(
    config: Config, store: Store, edition: str, scope: Scope, since: datetime | None
) -> tuple[Story, ...]:
    rows = store.articles_for_edition(
        base_language(edition),
        limit=config.settings.feeds.items,
        include_untranslated=config.settings.translation.untranslated == "original",
        source_ids=scope.source_ids,
        since=since,
        tags=scope.tags,
        keywords=scope.keywords,
    )
    return tuple(Story(stored, translation) for stored, translation in rows)
