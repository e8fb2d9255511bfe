"""Versions: what each edition carries of each story, and the order stories entered each feed.

Owns: a story's item in an edition compared with its last version (a new digest or a change of
status is a new version: `usable`, `canceled` for a withdrawn story, or `withheld` for one put
under embargo after it was published, its digest the embargo's end), a story entering an
edition (its first version; not when it is already older than `feeds.max_age`) and, in that
order, every feed of the edition it belongs in (the next rank there), a story of the edition
entering a topic feed its tags or keywords take it into now (the next rank there, unless it
has one), the entries of a feed worked out again from the versions when what decides its
membership changed, and which feeds and ranks a publish touched. All of it stays in a `Ledger`
until the publish records it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from syndication.items import Story, digest
from syndication.publish.select import FeedDef
from syndication.publish.stories import Stories
from syndication.store import CANCELED, USABLE, WITHHELD, Entry, Store, Version
from syndication.store.base import chunks, iso


@dataclass
class Ledger:
    """What a publish adds to the store, and what it touched."""

    now: datetime
    full: bool = False  # every document is rendered: which ones a change touched is moot
    latest: dict[tuple[str, str], Version] = field(default_factory=dict)  # after this publish
    versions: list[Version] = field(default_factory=list)  # to append (in this order)
    entries: list[Entry] = field(default_factory=list)  # rows to append
    before: dict[str, int] = field(default_factory=dict)  # feed -> stories before
    sizes: dict[str, int] = field(default_factory=dict)  # feed -> stories after
    touched: dict[str, set[int]] = field(default_factory=dict)  # feed -> ranks changed
    rebuilt: set[str] = field(default_factory=set)  # feeds whose entries were worked out again

    def carried_by(self, article_id: str, editions: Iterable[str]) -> frozenset[str]:
        """The editions whose latest version of the story is usable: where its pages are."""
        return frozenset(
            edition
            for edition in editions
            if (held := self.latest.get((article_id, edition))) is not None
            and held.status == USABLE
        )

    def size(self, store: Store, feed: str) -> int:
        if feed not in self.sizes:
            self.sizes[feed] = self.before[feed] = store.feed_size(feed)
        return self.sizes[feed]

    def _add_version(self, article_id: str, edition: str, status: str, seen: str) -> None:
        held = self.latest.get((article_id, edition))
        number = held.version + 1 if held is not None else 1
        version = Version(article_id, edition, number, status, seen, 0, self.now)
        self.versions.append(version)
        self.latest[(article_id, edition)] = version


def account(
    ledger: Ledger,
    store: Store,
    stories: Stories,
    feeds: Sequence[FeedDef],
    ids: Sequence[str],
    editions: Sequence[str],
) -> None:
    """Bring the versions of these stories up to date in every edition, and enter the ones new
    to an edition into its feeds (oldest story first, so ranks follow their dates within one
    publish). `ids` of a full publish come a chunk at a time, oldest first."""
    ledger.latest.update(store.latest_versions(ids))
    entered: dict[str, list[Entry]] = {}
    if not ledger.full:  # a full publish renders every document anyway
        entered = store.entries_of(ids)
        for found in entered.values():
            for entry in found:
                ledger.touched.setdefault(entry.feed, set()).add(entry.rank)
    topical = [feed for feed in feeds if _topical(feed)]
    for edition in editions:
        newcomers: list[Story] = []
        known: list[Story] = []  # in the edition already: a topic feed may take them now
        for article_id, story in stories.load(ids, edition).items():
            held = ledger.latest.get((article_id, edition))
            if stories.shown(story, edition):
                if held is None:
                    # A story already past `max_age` never enters: it would only take a
                    # place in the current documents without being shown there.
                    if stories.fresh(story):
                        newcomers.append(story)
                    continue
                seen = digest(stories.item(story, edition))
                renewed = held.status != USABLE or held.digest != seen
                if renewed:
                    ledger._add_version(article_id, edition, USABLE, seen)
                # What a topic matches (tags, title, summary, translation) is in the digest:
                # of all the stories of a full publish, only one with a new version may have
                # moved (asking each topic about each story would cost seconds at 100,000).
                if topical and stories.fresh(story) and (renewed or not ledger.full):
                    known.append(story)
            elif held is None:
                continue  # never published in this edition: nothing to take back
            elif story.stored.withdrawn:
                if held.status != CANCELED:
                    ledger._add_version(article_id, edition, CANCELED, "")
            elif (until := _embargo_end(story, stories.now)) is not None and (
                held.status != WITHHELD or held.digest != until
            ):
                # Put under embargo after it was published: partners following the log learn
                # it (and a new end) from a version of its own; the earlier ones keep theirs.
                ledger._add_version(article_id, edition, WITHHELD, until)
        newcomers.sort(key=lambda story: (story.stored.date, story.stored.article.id))
        own = [feed for feed in feeds if feed.edition == edition]
        # The feeds a source's stories may enter, worked out once per source: asking each of
        # an edition's 500 source feeds about each of 10,000 new stories took a second.
        open_to: dict[str, list[FeedDef]] = {}
        for story in newcomers:
            article_id = story.stored.article.id
            ledger._add_version(article_id, edition, USABLE, digest(stories.item(story, edition)))
            source_id = story.stored.article.source_id
            if source_id not in open_to:
                open_to[source_id] = [feed for feed in own if feed.open_to(source_id)]
            for feed in open_to[source_id]:
                if feed.takes(story):
                    _enter(ledger, store, feed, article_id)
        if known:
            own_topical = [feed for feed in topical if feed.edition == edition]
            if ledger.full:
                entered = store.entries_of([story.stored.article.id for story in known])
            _retagged(ledger, store, own_topical, known, entered)


def _retagged(
    ledger: Ledger,
    store: Store,
    topical: Sequence[FeedDef],
    known: list[Story],
    entered: dict[str, list[Entry]],
) -> None:
    """Stories of the edition already (re-tagged, or their title or translation now matching
    a keyword) entering the topic feeds they belong in now: at the next rank, unless they have
    one there. A feed a story left keeps its rank (the stage's `_items` no longer shows it
    there, and shows it again should it come back); a rebuilt feed took it already."""
    known.sort(key=lambda story: (story.stored.date, story.stored.article.id))
    for story in known:
        article = story.stored.article
        already = {entry.feed for entry in entered.get(article.id, ())}
        for feed in topical:
            if (
                feed.folder not in already
                and feed.folder not in ledger.rebuilt
                and feed.open_to(article.source_id)
                and feed.takes(story)
            ):
                _enter(ledger, store, feed, article.id)


def _topical(feed: FeedDef) -> bool:
    """Whether the feed takes stories by their tags or keywords (which an edit may change),
    not by their source alone (which a story keeps)."""
    return bool(feed.scope.tags or feed.scope.keywords)


def _enter(ledger: Ledger, store: Store, feed: FeedDef, article_id: str) -> None:
    """The story enters `feed` at its next rank."""
    rank = ledger.size(store, feed.folder)
    ledger.entries.append(Entry(feed.folder, rank, article_id, ledger.now))
    ledger.sizes[feed.folder] = rank + 1
    if not ledger.full:
        ledger.touched.setdefault(feed.folder, set()).add(rank)


def _embargo_end(story: Story, now: datetime) -> str | None:
    """When the story's embargo ends (as a withheld version records it), if it is under one."""
    embargo = story.stored.article.embargo
    return iso(embargo) if embargo is not None and embargo > now else None


def rebuild(ledger: Ledger, store: Store, stories: Stories, feed: FeedDef) -> None:
    """Work out the entries of `feed` again from the versions of its edition: every story that
    ever entered the edition and belongs in the feed, in the order it entered."""
    entered = store.first_versions(feed.edition)
    rank = 0
    for chunk in chunks(entered, 2000):
        found = stories.load([article_id for article_id, _, _ in chunk], feed.edition)
        for article_id, _seq, at in chunk:
            story = found.get(article_id)
            if story is not None and feed.takes(story):
                ledger.entries.append(Entry(feed.folder, rank, article_id, at))
                rank += 1
        stories.forget()
    ledger.rebuilt.add(feed.folder)
    ledger.before[feed.folder] = ledger.sizes[feed.folder] = rank
