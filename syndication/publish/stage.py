"""The publish stage: from the store to every published file, in five phases.

Owns: the order of the phases (select → items → render → write → announce), the items of
each chosen feed (built by `syndication.items`), the report of a publish, and the time of
the last publish that ran to the end. Each phase is a module of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from syndication import metrics
from syndication.config import Config
from syndication.items import build_item
from syndication.model import utcnow
from syndication.publish.announce import Ping, announce
from syndication.publish.render import FeedItems, render
from syndication.publish.select import Selection, select
from syndication.publish.write import Folder, write
from syndication.store import Store


@dataclass
class PublishReport:
    written: list[str] = field(default_factory=list)
    unchanged: int = 0
    removed: list[str] = field(default_factory=list)
    items: dict[str, int] = field(default_factory=dict)  # edition -> items in its main feed
    errors: list[str] = field(default_factory=list)  # feeds that could not be rendered
    hub_error: str = ""


@metrics.timed_publish
def publish(config: Config, store: Store, *, ping: Ping | None = None) -> PublishReport:
    """Publish every edition from the store; only files whose bytes changed are written.

    Raises OSError when a file could not be written (see `write`).
    """
    selection = select(config, store)
    feeds = items(config, selection)
    # `publish.public: false`: partners only. The site keeps its index, which lists nothing.
    public = feeds if config.settings.publish.public else []
    rendered = render(config, public, selection.authority)
    written = write(Folder(config.output), rendered, store, config.settings.editions)
    hub_error = announce(config, store, written.written, ping=ping)
    # When publishing last ran to the end (status, /healthz and /metrics all mean this).
    store.set_setting("last_publish", utcnow().isoformat())
    return PublishReport(
        written=list(written.written),
        unchanged=written.unchanged,
        removed=list(written.removed),
        items=rendered.items,
        errors=list(rendered.errors),
        hub_error=hub_error,
    )


def items(config: Config, selection: Selection) -> list[FeedItems]:
    """Each chosen story as an item of its edition, linked to its versions in the others."""
    carried_by = selection.carried_by()
    return [
        FeedItems(
            chosen.edition,
            chosen.scope,
            tuple(
                build_item(
                    config,
                    chosen.edition,
                    story,
                    authority=selection.authority,
                    carried_by=carried_by[story.stored.article.id],
                )
                for story in chosen.stories
            ),
        )
        for chosen in selection.feeds
    ]
