"""What a parsed batch changes in the store: decided here, with no I/O, from what the store holds.

Owns: the canonical link (the key the same story from two sources is recognised by), the
cross-source dedupe (a story already held live from another source is kept once, this source
recorded beside it), new / changed / unchanged, and the translations that follow (a new
story: one pending per other language; changed text: the old ones stale until redone). A story
the operator withdrew stays withdrawn whatever its source sends; one its source withdrew comes
back when the source sends it again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from syndication.model import Article
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
    """The key under which the same story from two sources is recognised."""
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


def links_to_match(batch: Sequence[Article], held: Mapping[str, HeldArticle]) -> list[str]:
    """The canonical keys of the batch's new stories: where another source's copy may be."""
    return sorted({canonical_link(a.link) for a in batch if a.id not in held} - {""})


def plan_batch(
    source_id: str,
    batch: Sequence[Article],
    languages: Sequence[str],
    held: Mapping[str, HeldArticle],
    elsewhere: Mapping[str, LiveStory],
    now: datetime,
) -> BatchPlan:
    """Decide each article of `batch` (one per id) against what is `held` of it and the live
    stories of other sources under its canonical key (`elsewhere`)."""
    plan = BatchPlan()
    for article in batch:
        canonical = canonical_link(article.link)
        before = held.get(article.id)
        if before is None:
            duplicate = elsewhere.get(canonical) if canonical else None
            if duplicate is not None:
                if source_id not in duplicate.sources and duplicate.id not in plan.also_from:
                    plan.also_from.append(duplicate.id)
                plan.unchanged += 1
                continue
            others = tuple(lang for lang in languages if lang != article.language)
            plan.inserts.append(ArticleWrite(article, canonical, now, translate_into=others))
            plan.new += 1
        elif before.content_hash == article.content_hash and (
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
