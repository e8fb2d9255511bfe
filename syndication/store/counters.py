"""The change counter: one number per write that changes how a story looks.

Owns: handing out the next number inside the transaction that uses it (`UPDATE counters SET
value = value + 1 ... RETURNING value`), and reading the last one handed out. On PostgreSQL the
counter row's lock orders the writers, so numbers are committed in the order they were taken:
a reader that has seen everything up to N never misses a later commit with a smaller number.
"""

from __future__ import annotations

from sqlalchemy import Connection, select

from syndication.store.schema import counters

CHANGE = "change_seq"


def next_change(conn: Connection) -> int:
    """The next change number, taken in `conn`'s transaction."""
    taken = conn.execute(
        counters.update()
        .where(counters.c.name == CHANGE)
        .values(value=counters.c.value + 1)
        .returning(counters.c.value)
    ).scalar()
    if taken is None:  # a store whose row went missing: start it again
        conn.execute(counters.insert().values(name=CHANGE, value=1))
        return 1
    return int(taken)


def current_change(conn: Connection) -> int:
    """The last change number handed out (committed or not yet)."""
    value = conn.execute(select(counters.c.value).where(counters.c.name == CHANGE)).scalar()
    return int(value or 0)
