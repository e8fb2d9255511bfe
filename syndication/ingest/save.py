"""Saving a source's parsed batch: read what the store holds, decide, write, in one transaction.

Owns: the order of the three, in one transaction (a killed process leaves all or none of a
batch behind, and what is written was decided on what that transaction read); the decisions
themselves are decide.py's.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from syndication.ingest.decide import (
    links_to_match,
    one_per_id,
    plan_batch,
    renamed_guids,
    settle_shared_guids,
    shared_ids_to_look_up,
)
from syndication.ingest.entries import SharedGuid
from syndication.model import Article, utcnow
from syndication.store import Store


def save_articles(
    store: Store,
    source_id: str,
    batch: Sequence[Article],
    languages: Sequence[str],
    now: datetime | None = None,
    *,
    live_sources: Collection[str] | None = None,
    shared: Sequence[SharedGuid] = (),
    listed: Collection[str] = (),
    renamed: dict[str, str] | None = None,
    dates_by_hand: bool = False,
) -> tuple[int, int, int]:
    """Store a source's articles; return (new, updated, unchanged).

    Only a live story of one of `live_sources` (the configured ones, when given) counts as
    the same story held from another source, so a source removed or renamed in the YAML
    never keeps another's stories out of every feed. `shared`: the guids the feed gave to
    more than one story (ParsedFeed.shared); each such story keeps the id the store holds it
    by, whatever the feed's order. A story whose guid its partner changed keeps the id it was
    published under; `renamed`, when given, is told each (the batch's id → the stored one),
    so the caller does not take the stored one for gone. `listed`: the ids the source names
    beside the batch (tombstones, unreadable files), which no other item is a new name of.
    `dates_by_hand`: as in plan_batch.
    """
    now = now or utcnow()
    batch = one_per_id(batch)
    with store.article_batch(now) as stored:
        held = stored.held([a.id for a in batch])
        more = shared_ids_to_look_up(batch, shared, held)
        if more:
            held = {**held, **stored.held(more)}
        if more or shared:
            batch = one_per_id(settle_shared_guids(batch, shared, held))
        own = stored.own_by_canonical(links_to_match(batch, held), source_id)
        if own:
            batch, kept = renamed_guids(batch, held, own, listed)
            held = {**held, **{h.id: h for stories in own.values() for h in stories}}
            if renamed is not None:
                renamed.update(kept)
        elsewhere = stored.live_by_canonical(
            links_to_match(batch, held), other_than=source_id, sources=live_sources
        )
        plan = plan_batch(source_id, batch, languages, held, elsewhere, now, dates_by_hand)
        for article_id in plan.also_from:
            stored.add_source(article_id, source_id)
        stored.update(plan.updates)
        stored.insert(plan.inserts)
    return plan.counts
