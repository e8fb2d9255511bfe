"""What a partner may receive: its editions, which stories, and how much of each.

Owns: a partner's editions (all by default), the scopes its stories are chosen by (its
sources among the configured ones, narrowed by each of its topics' own filter), and the
rights it gets of a story: the stricter of its cap and the story's source's rights. Pure: no
store, no HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass

from syndication.config import Config, PartnerSettings
from syndication.store import TopicScope

# From most to least: a cap never widens what a source allows.
RIGHTS_ORDER = ("full", "summary", "title")


def stricter(first: str, second: str) -> str:
    """The narrower of two rights (`full`, `summary`, `title`)."""
    return max(first, second, key=RIGHTS_ORDER.index)


@dataclass(frozen=True)
class Entitlement:
    """What one partner's contract gives it, resolved against the configuration now."""

    partner: PartnerSettings
    editions: tuple[str, ...]
    scopes: tuple[TopicScope, ...]
    source_rights: dict[str, str]  # configured source id -> its rights

    def rights(self, source_id: str) -> str:
        """What the partner may be shown of a story of `source_id`."""
        own = self.source_rights.get(source_id, "title")
        return stricter(own, self.partner.rights) if self.partner.rights else own


def entitlement(config: Config, partner: PartnerSettings) -> Entitlement:
    s = config.settings
    configured = tuple(source.id for source in s.sources)
    # Stories of a source the YAML no longer lists have no known rights: never given out.
    # No key (None) is every source, any story; a list is exactly those: one that is empty
    # (refused at load) gives nothing, never the whole catalogue.
    wanted = tuple(i for i in configured if partner.sources is None or i in partner.sources)
    if partner.topics is not None:
        topics = {topic.id: topic for topic in s.feeds.topics}
        scopes = tuple(
            TopicScope(
                tuple(i for i in wanted if not topic.sources or i in topic.sources),
                tuple(topic.tags),
                tuple(topic.keywords),
            )
            for topic in (topics[t] for t in partner.topics if t in topics)
        )
    else:
        scopes = (TopicScope(wanted),)
    return Entitlement(
        partner=partner,
        editions=tuple(partner.editions if partner.editions is not None else s.editions),
        scopes=scopes,
        source_rights={source.id: source.rights for source in s.sources},
    )
