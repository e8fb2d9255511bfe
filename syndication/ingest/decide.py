"""What a parsed batch changes in the store: decided here, with no I/O, from what the store holds.

<<<<<<< HEAD
Owns: the canonical link (the key the same story from two sources is recognised by, tracking
parameters ignored; a store written before they were holds such a story under its whole link),
the cross-source dedupe (a story already held live from another source is kept once, this source
recorded beside it), new / changed / unchanged (a story's dates or its link's tracking
parameters moving alone are no change), and the translations that follow (a new
=======
Owns: the canonical link (the key the same story from two sources is recognised by), the
cross-source dedupe (a story already held live from another source is kept once, this source
recorded beside it), new / changed / unchanged (dates or whitespace alone moving is no
change), and the translations that follow (a new
>>>>>>> fix-decide
story: one pending per other language; changed text: the old ones stale until redone). A story
the operator withdrew stays withdrawn whatever its source sends; one its source withdrew comes
back when the source sends it again. And which id a story its feed lists under a guid that
other stories share keeps: the one the store holds it under, whatever the feed's order; and
one whose guid its partner changed (the old guid gone from the feed, a new one with the same
link): the id it was published under.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from syndication.html import untracked
from syndication.ingest.entries import SharedGuid, distinct_guids
from syndication.model import Article, article_id
from syndication.store import BY_OPERATOR, ArticleWrite, HeldArticle, LiveStory


@dataclass
class BatchPlan:
    """The writes one batch needs, and the counts a poll reports."""

    inserts: list[ArticleWrite] = field(default_factory=list)
    updates: list[ArticleWrite] = field(default_factory=list)
    also_from: list[str] = field(default_factory=list)  # held stories this source brought too
    new: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def counts(self) -> tuple[int, int, int]:
        return self.new, self.updated, self.unchanged


def canonical_link(link: str) -> str:
    """The key under which the same story from two sources is recognised: its link without
    scheme, `www.`, fragment, trailing slash and tracking parameters, in lower case."""
    return _key(untracked(link))


def _keys(link: str) -> tuple[str, ...]:
    """The keys a story with `link` may be stored under: its canonical link, and (for a link
    with tracking parameters) the whole link's key, which a store written before tracking
    parameters were ignored holds it by; its stories keep their ids, found by that key."""
    key, whole = canonical_link(link), _key(link)
    return (key,) if whole == key else (key, whole)


def _key(link: str) -> str:
    if not link:
        return ""
    link = link.strip().split("#", 1)[0]
    for prefix in ("https://", "http://"):
        if link.startswith(prefix):
            link = link[len(prefix) :]
    link = link.removeprefix("www.")
    return link.rstrip("/").lower()


def one_per_id(batch: Sequence[Article]) -> list[Article]:
    """The batch with each id once (its first copy): one id twice must never abort a batch."""
    return list({a.id: a for a in reversed(batch)}.values())[::-1]


def _groups(
    batch: Sequence[Article], shared: Sequence[SharedGuid]
) -> list[tuple[str, list[Article], bool]]:
    """The batch by the guid its feed gave: (guid, its stories in feed order, whether the feed
    gave it to more than one story)."""
    by_id = {a.id: a for a in batch}
    grouped: set[str] = set()
    groups: list[tuple[str, list[Article], bool]] = []
    for group in shared:
        stories = [by_id[i] for i in group.ids if i in by_id]
        if stories:
            groups.append((group.guid, stories, True))
            grouped.update(a.id for a in stories)
    groups.extend((a.guid, [a], False) for a in batch if a.id not in grouped)
    return groups


def shared_ids_to_look_up(
    batch: Sequence[Article], shared: Sequence[SharedGuid], held: Mapping[str, HeldArticle]
) -> list[str]:
    """The ids, besides the batch's own, whose stored stories settle which story keeps which
    id: every one a story sharing its guid may hold, and the distinct ones of a story alone
    under a guid the store holds another story by (its sibling that had the bare guid left
    the feed)."""
    wanted: list[str] = []
    for guid, stories, is_shared in _groups(batch, shared):
        for story in stories:
            bare = held.get(article_id(story.source_id, guid))
            if is_shared or (
                bare is not None
                and bare.content_hash != story.content_hash
                and (bare.title, bare.link) != (story.title, story.link)
            ):
                options = (guid, *distinct_guids(guid, story))
                wanted.extend(article_id(story.source_id, g) for g in options)
    return sorted(set(wanted) - set(held))


def settle_shared_guids(
    batch: Sequence[Article], shared: Sequence[SharedGuid], held: Mapping[str, HeldArticle]
) -> list[Article]:
    """The batch with each story under the id it is published by (`held` answers for every id
    `shared_ids_to_look_up` named).

    Among stories sharing a guid, who a story is is what it says, never where the feed lists
    it: a story the store holds unchanged keeps that id; one whose text was edited, the id of
    the stored story with its title and link. The rest are new: at a guid's first sight the
    first of them takes the bare guid (what was always published), later each takes the guid
    made distinct by its own title and link (a story with no sibling in the store is not
    another's correction). A story alone under its guid is that guid's story, unless the store
    holds it under a distinct guid from when it had siblings.
    """
    settled: dict[str, Article] = {}
    for guid, stories, is_shared in _groups(batch, shared):
        ids = [a.id for a in stories]
        settled.update(zip(ids, _settle(guid, stories, is_shared, held), strict=True))
    return [settled.get(a.id, a) for a in batch]  # in the feed's order, as before


def _settle(
    guid: str, stories: list[Article], is_shared: bool, held: Mapping[str, HeldArticle]
) -> list[Article]:
    """The stories a feed lists under `guid`, each under the id it keeps."""
    bare = article_id(stories[0].source_id, guid)
    options = [(guid, *distinct_guids(guid, story)) for story in stories]
    chosen: dict[int, str] = {}
    taken: set[str] = set()

    def under(index: int, new_guid: str) -> Article:
        story = stories[index]
        if new_guid == story.guid:
            return story
        return replace(story, guid=new_guid, id=article_id(story.source_id, new_guid))

    def unchanged(index: int, option: str, found: HeldArticle) -> bool:
        return found.content_hash == under(index, option).content_hash

    def edited(index: int, option: str, found: HeldArticle) -> bool:
        return (found.title, found.link) == (stories[index].title, stories[index].link)

    for same in (unchanged, edited):
        for index in range(len(stories)):
            for option in options[index]:
                found = held.get(article_id(stories[index].source_id, option))
                if index in chosen or found is None or found.id in taken:
                    continue
                if same(index, option, found):
                    chosen[index] = option
                    taken.add(found.id)
    for index, story in enumerate(stories):
        if index in chosen:
            continue
        if not is_shared or (bare not in held and bare not in taken):
            option = guid
        else:
            free = [g for g in options[index][1:] if article_id(story.source_id, g) not in taken]
            option = free[0] if free else story.guid
        chosen[index] = option
        taken.add(article_id(story.source_id, option))
    return [under(i, chosen[i]) for i in range(len(stories))]


def renamed_guids(
    batch: Sequence[Article],
    held: Mapping[str, HeldArticle],
    own: Mapping[str, Sequence[HeldArticle]],
    listed: Collection[str] = (),
) -> tuple[list[Article], dict[str, str]]:
    """The batch with each story whose guid its partner changed under the id it was published
    by, and which ids those were (the batch's id → the stored one).

    A story new by its id is the source's stored story with its canonical link (`own`: the
    source's stories under the keys `links_to_match` gives) whose id is not in the batch: its
    old guid left the feed as the new one came (another guid style, http:// become https://,
    a guid made absolute against a moved feed's URL; a link-made guid stored with tracking
    parameters before they were dropped from it). Two items the feed lists at once stay
    two stories, whatever link they share; an item with no link is never another. A link the
    source gave more than one story (a section page, a live blog) is no name: under it a story
    is only one unchanged or with the same title (else a new story on a section page would
    overwrite the one that left the feed); under a story's own link, edited text is a
    correction too. Unchanged ones are paired first, then by title. `listed`: the ids the
    source names beside the batch (its tombstones, its unreadable files): still there, so
    never another's old name.
    """
    in_feed = {a.id for a in batch} | set(listed)
    fresh = [a for a in batch if a.id not in held and canonical_link(a.link)]
    chosen: dict[str, HeldArticle] = {}
    taken: set[str] = set()

    def under(story: Article, found: HeldArticle) -> Article:
        return replace(story, id=found.id, guid=found.guid)

    def unchanged(story: Article, found: HeldArticle) -> bool:
        return found.content_hash == under(story, found).content_hash

    def titled(story: Article, found: HeldArticle) -> bool:
        return found.title == story.title

    def stored(story: Article) -> list[HeldArticle]:
        return [found for key in _keys(story.link) for found in own.get(key, ())]

    def alone(story: Article, found: HeldArticle) -> bool:
        key = canonical_link(story.link)
        return len(stored(story)) == 1 and sum(canonical_link(a.link) == key for a in fresh) == 1

    for same in (unchanged, titled, alone):
        for story in fresh:
            if story.id in chosen:
                continue
            for found in stored(story):
                if found.id in in_feed or found.id in taken or not same(story, found):
                    continue
                chosen[story.id] = found
                taken.add(found.id)
                break
    renamed = [under(a, chosen[a.id]) if a.id in chosen else a for a in batch]
    return renamed, {story_id: found.id for story_id, found in chosen.items()}


def links_to_match(batch: Sequence[Article], held: Mapping[str, HeldArticle]) -> list[str]:
    """The keys of the batch's new stories (`_keys`): where another source's copy, or this
    source's story under an id it no longer gives, may be."""
    return sorted({key for a in batch if a.id not in held for key in _keys(a.link)} - {""})


def plan_batch(
    source_id: str,
    batch: Sequence[Article],
    languages: Sequence[str],
    held: Mapping[str, HeldArticle],
    elsewhere: Mapping[str, LiveStory],
    now: datetime,
    dates_by_hand: bool = False,
) -> BatchPlan:
    """Decide each article of `batch` (one per id) against what is `held` of it and the live
    stories of other sources under its canonical key (`elsewhere`). `dates_by_hand`: the
    source's dates are written by people (article files), so a date moved alone is an edit."""
    plan = BatchPlan()
    for article in batch:
        canonical = canonical_link(article.link)
        before = held.get(article.id)
        if before is None:
            duplicate = next((elsewhere[k] for k in _keys(article.link) if k in elsewhere), None)
            if duplicate is not None:
                if source_id not in duplicate.sources and duplicate.id not in plan.also_from:
                    plan.also_from.append(duplicate.id)
                plan.unchanged += 1
                continue
            others = tuple(lang for lang in languages if lang != article.language)
            plan.inserts.append(ArticleWrite(article, canonical, now, translate_into=others))
            plan.new += 1
        elif _same_story(before, article, dates_by_hand) and (
            not before.withdrawn or before.withdrawn_by == BY_OPERATOR
        ):
            plan.unchanged += 1
        else:
            # Changed text is translated again; the old translations stay published (stale)
            # until then, so a story never drops out of an edition.
            stale = before.text_hash != article.text_hash
            others = tuple(lang for lang in languages if lang != article.language)
            plan.updates.append(
                ArticleWrite(
                    article,
                    canonical,
                    before.first_seen,
                    translate_into=others if stale else (),
                    stale=stale,
                    # A correction: its `updated` moves in every edition.
                    revised=before.content_hash != article.content_hash,
                    keep_withdrawn=before.withdrawn and before.withdrawn_by == BY_OPERATOR,
                )
            )
            plan.updated += 1
    return plan


def _same_story(before: HeldArticle, article: Article, dates_by_hand: bool) -> bool:
    """Whether `article` is the story stored, but for what a feed moves while the story stays:
    its dates, unless people write them (`dates_by_hand`): a feed that stamps every item with
    the time it was fetched (a `pubDate` of "now") must not make a new version of each story at
    every poll, for the same text; and its link's tracking parameters (FeedBurner adding
    `?utm_source=feedburner`, a campaign name changed), which are no correction. The stored
    dates and link stay; and its text re-wrapped (`_rewrapped`)."""
    if before.content_hash == article.content_hash:
        return True
    same = article
    dates = (article.published, article.updated)
    if not dates_by_hand and (before.published, before.updated) != dates:
        same = replace(same, published=before.published, updated=before.updated)
    if before.link != article.link and untracked(before.link) == untracked(article.link):
        same = replace(same, link=before.link)
    if _rewrapped(before, article):
        same = replace(same, title=before.title, summary=before.summary, content=before.content)
    return same is not article and same.content_hash == before.content_hash


# A run of whitespace (spaces, tabs, newlines, the ideographic space among them): the same
# text however a partner's CMS re-wraps or re-indents it.
_WHITESPACE = re.compile(r"\s+")


def _squeezed(text: str) -> str:
    return _WHITESPACE.sub(" ", text).strip()


def _rewrapped(before: HeldArticle, article: Article) -> bool:
    """Whether the title, summary and body differ from those stored in whitespace alone:
    re-wrapped text is no correction and no new translation. Compared against what is
    stored, whose hash stays as it was (hashing squeezed text instead would make every story
    stored before look changed at once). A <pre> block's whitespace is its text: there, a
    change of it is a change."""
    texts = (
        (before.title, article.title),
        (before.summary, article.summary),
        (before.content, article.content),
    )
    changed = [(old, new) for old, new in texts if old != new]
    return bool(changed) and all(
        "<pre" not in old.lower() and _squeezed(old) == _squeezed(new) for old, new in changed
    )
