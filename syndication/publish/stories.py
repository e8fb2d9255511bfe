"""Stories: the stories one publish reads, and each as an item of an edition.

Owns: loading stories by id from the store (with their translation into an edition's
language), whether a story is shown in an edition now (`syndication.items.in_edition`, and its
source still in the YAML) and in a current document (`feeds.max_age`), and its item in an
edition, built once per publish (`syndication.items.build_item`) with its links to the editions
that carry it added when it is rendered. A full publish reads the store a page at a time; it
keeps what it read for its later phases in a store of up to `KEPT` stories, and in a bigger one
forgets it between pages (`forget`), so memory does not grow with the store.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import replace
from datetime import datetime, timedelta

from syndication.config import Config
from syndication.items import Story, alternates, build_item, in_edition
from syndication.lang import base_language
from syndication.render import Item
from syndication.store import Store

# The most stories a full publish keeps between its phases. Each story is needed by four of
# them (its versions, its page, its edition's feed, its source's feed): kept, it is read and
# built once (a third of a first publish's time was reading and building the same stories
# again). 10,000 stories with their items in one edition hold 57 MB (bench/bench_once.py's).
# A bigger store is read a page at a time in every phase and nothing is kept: the phases walk
# it from its oldest story, so whatever part of it were kept would be the part read last,
# never asked for again before being dropped, and memory stays flat however big the store.
KEPT = 20_000


class Stories:
    """The stories of one publish at `now`, read from the store as they are asked for."""

    def __init__(self, config: Config, store: Store, authority: str, now: datetime) -> None:
        self.config = config
        self.store = store
        self.authority = authority
        self.now = now
        s = config.settings
        self.configured = frozenset(source.id for source in s.sources)
        self.untranslated = s.translation.untranslated
        self.fresh_since = now - timedelta(seconds=s.feeds.max_age) if s.feeds.max_age else None
        self._loaded: dict[str, dict[str, Story]] = {}  # base language -> id -> story
        self._items: dict[tuple[str, str], Item] = {}  # (id, edition) -> item, no alternates
        self.keep = False  # keep what was read between the pages of a full publish

    def load(self, ids: Iterable[str], edition: str) -> dict[str, Story]:
        """The stories with these ids (those in the store), read for `edition`."""
        language = base_language(edition)
        held = self._loaded.setdefault(language, {})
        wanted = [i for i in dict.fromkeys(ids) if i not in held]
        if wanted:
            for article_id, (stored, translation) in self.store.stories(wanted, language).items():
                held[article_id] = Story(stored, translation)
        return {i: held[i] for i in ids if i in held}

    def forget(self) -> None:
        """Between pages of a full publish: drop what was read (unless it is all kept)."""
        if not self.keep:
            self._loaded.clear()
            self._items.clear()

    def shown(self, story: Story, edition: str) -> bool:
        """Whether `edition` shows `story` now (anywhere: current or archive documents)."""
        return story.stored.article.source_id in self.configured and in_edition(
            story, edition, untranslated=self.untranslated, now=self.now
        )

    def fresh(self, story: Story) -> bool:
        """Whether `story` is recent enough for a current document (`feeds.max_age`)."""
        return self.fresh_since is None or story.stored.date >= self.fresh_since

    def item(self, story: Story, edition: str, carried_by: Collection[str] = ()) -> Item:
        """`story` as an item of `edition`, linked to its pages in `carried_by`."""
        key = (story.stored.article.id, edition)
        item = self._items.get(key)
        if item is None:
            item = build_item(self.config, edition, story, authority=self.authority, carried_by=())
            self._items[key] = item
        if not carried_by:
            return item
        links = alternates(self.config, edition, story.stored.article.id, carried_by)
        return replace(item, alternates=links) if links else item
