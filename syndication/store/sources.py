"""Sources as the store keeps them.

Owns: each source's fetch state (validators, last attempt and success, counts, failures, notes,
a permanent redirect), recorded one by one or a cycle's in one transaction, and when it is
polled next.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select

from syndication.model import SourceState
from syndication.store.base import StoreBase, iso, parse_iso, storable, upsert_many
from syndication.store.schema import sources


class SourcesMixin(StoreBase):
    def set_next_due(self, source_id: str, when: datetime) -> None:
        """When the source is polled next, as its schedule says (status shows it)."""
        with self.begin() as conn:
            conn.execute(
                sources.update().where(sources.c.id == source_id).values(next_due=iso(when))
            )

    def source_state(self, source_id: str) -> SourceState | None:
        with self.begin() as conn:
            row = conn.execute(select(sources).where(sources.c.id == source_id)).first()
        return _source_state(row) if row is not None else None

    def source_states(self) -> list[SourceState]:
        with self.begin() as conn:
            rows = conn.execute(select(sources).order_by(sources.c.id)).all()
        return [_source_state(row) for row in rows]

    def save_source_state(self, state: SourceState) -> None:
        self.save_source_states([state])

    def save_source_states(self, states: Sequence[SourceState]) -> None:
        """Record sources' states in one transaction (a cycle's polls, batched: one commit
        and one compiled statement for many sources rather than one each)."""
        if not states:
            return
        rows = {state.source_id: _values(state) for state in states}  # the last one counts
        with self.begin() as conn:
            upsert_many(
                conn,
                sources,
                [storable({"id": key, **values}) for key, values in rows.items()],
                ["id"],
            )


def _values(state: SourceState) -> dict[str, Any]:
    return {
        "kind": state.kind,
        "location": state.location,
        "etag": state.etag,
        "last_modified": state.last_modified,
        "last_attempt": iso(state.last_attempt),
        "last_success": iso(state.last_success),
        "result": state.result,
        "error": state.error,
        "new_count": state.new,
        "updated_count": state.updated,
        "unchanged_count": state.unchanged,
        "failures": state.failures,
        "next_due": iso(state.next_due),
        "redirect": state.redirect,
        "notes": json.dumps(list(state.notes), ensure_ascii=False),
        "wait_until": iso(state.wait_until),
    }


def _source_state(row: Any) -> SourceState:
    return SourceState(
        source_id=row.id,
        kind=row.kind,
        location=row.location,
        last_attempt=parse_iso(row.last_attempt),
        last_success=parse_iso(row.last_success),
        result=row.result,
        error=row.error,
        new=row.new_count,
        updated=row.updated_count,
        unchanged=row.unchanged_count,
        failures=row.failures,
        next_due=parse_iso(row.next_due),
        etag=row.etag,
        last_modified=row.last_modified,
        redirect=row.redirect,
        notes=tuple(json.loads(row.notes)),
        wait_until=parse_iso(row.wait_until),
    )
