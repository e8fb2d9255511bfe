"""A partner's `sources:` and `topics:` as its feeds show them: no key gives every source and
any story, a list exactly those. `load` refuses an empty list (tests/system/test_partner_yaml.py);
settings built past it (in code) must still never read one as everything.

Owns: an empty list giving nothing, through the partners' app on a real store and loopback.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from syndication.config import Config
from syndication.publish import publish
from tests.unit.partners.test_partners import (  # noqa: F401  (site: fixture)
    DESK,
    KHABAR,
    Site,
    _feeds,
    _stories,
    site,
)


def _with(config: Config, partner_id: str, **changes: Any) -> Config:
    """`config` with one partner's settings changed as given, unvalidated."""
    s = config.settings
    partners = [p.model_copy(update=changes) if p.id == partner_id else p for p in s.partners]
    return dataclasses.replace(config, settings=s.model_copy(update={"partners": partners}))


def test_an_empty_list_gives_nothing_and_no_key_everything(site: Site) -> None:  # noqa: F811
    publish(site.config, site.store)
    everything = _stories(_feeds(site, "khabar", KHABAR, "kk"))  # khabar: no sources/topics
    assert {story.split(":")[0] for story in everything} == {"newsroom", "wire", "brief"}
    assert _stories(_feeds(site, "desk", DESK, "kk")) == {f"wire:story-{n}" for n in range(3)}

    site.app.configure(_with(site.config, "desk", sources=[]))
    assert _stories(_feeds(site, "desk", DESK, "kk")) == set()
    site.app.configure(_with(site.config, "khabar", topics=[]))
    assert _stories(_feeds(site, "khabar", KHABAR, "kk")) == set()
    site.app.configure(site.config)
    assert _stories(_feeds(site, "khabar", KHABAR, "kk")) == everything
