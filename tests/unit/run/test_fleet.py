"""When a worker decides changes have waited too long for a publish (fleet.PublishWatch): the
store's last change number against the publish mark, over looks a few seconds apart."""

from __future__ import annotations

from syndication.run.fleet import PublishWatch

LONG = 3600.0  # an allowance no test waits out


def test_changes_after_a_mark_that_stays_put_past_the_allowance_are_owed() -> None:
    watch = PublishWatch()
    assert not watch.look(change=7, mark=5, allowance=0.0)  # first seen: the wait starts now
    assert watch.waiting_since is None
    assert watch.look(change=7, mark=5, allowance=0.0)  # the mark did not move meanwhile
    assert watch.waiting_since is not None
    assert watch.look(change=9, mark=5, allowance=0.0)  # more changes: still the same wait


def test_a_publish_moving_the_mark_starts_the_wait_again() -> None:
    watch = PublishWatch()
    watch.look(change=7, mark=5, allowance=0.0)
    assert watch.look(change=7, mark=5, allowance=0.0)
    # Another worker published (the mark moved) and new changes came: theirs to publish.
    assert not watch.look(change=9, mark=7, allowance=0.0)
    assert watch.waiting_since is None


def test_nothing_is_owed_when_every_change_is_published_or_the_wait_is_short() -> None:
    watch = PublishWatch()
    assert not watch.look(change=5, mark=5, allowance=0.0)
    assert not watch.look(change=5, mark=5, allowance=0.0)
    assert not watch.look(change=6, mark=5, allowance=LONG)
    assert not watch.look(change=6, mark=5, allowance=LONG)
    assert watch.waiting_since is None
