"""Publishing follows change, and a story's life as the publisher records it (a real store).

Owns: a publish with nothing changed renders nothing; one new story renders only the feeds it
is in (its source's, its editions', its topics') and its pages; `full` (and a configuration or
output format the store has not published under) renders every file and walks the output for
files no longer produced, which a publish that follows change never does; a withdrawal writes a
canceled version, a tombstone in every Atom feed the story was in and pings the hub, and a
restore a usable one; a correction a new version; a story aging out of `feeds.max_age` and
archive pages leaving `feeds.archive` are found with nothing else changed.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from syndication.config import Config, load
from syndication.ingest.save import save_articles
from syndication.model import utcnow
from syndication.publish import publish
from syndication.store import Store
from tests.conftest import write_config
from tests.unit.publish.test_publish import EDITIONS, Hub, _article, hub  # noqa: F401

LANGS = ["kk", "zh", "en"]
ATOM = "{http://www.w3.org/2005/Atom}"
AT = "{http://purl.org/atompub/tombstones/1.0}"


def _setup(folder: Path, **overrides: Any) -> tuple[Config, Store]:
    settings: dict[str, Any] = {
        "editions": EDITIONS,
        "sources": [
            {"id": "full", "articles": "articles", "language": "en"},
            {"id": "brief", "articles": "articles", "language": "en"},
        ],
        "feeds": {"items": 10, "topics": [{"id": "late", "keywords": ["late"]}]},
        "translation": {"chain": ["google"], "untranslated": "original"},
    }
    settings.update(overrides)
    config = load(write_config(folder, **settings))
    return config, Store.open(config.store_url)


def _folders(paths: list[str]) -> set[str]:
    """The feed folders of the feed files among `paths`."""
    return {
        path.rsplit("/", 1)[0] + "/"
        for path in paths
        if path.endswith(("rss.xml", "atom.xml", "feed.json"))
    }


def test_nothing_changed_renders_nothing_and_one_story_only_its_feeds(tmp_path: Path) -> None:
    config, store = _setup(tmp_path)
    save_articles(store, "full", [_article("full", n) for n in range(3)], LANGS)
    save_articles(store, "brief", [_article("brief", n) for n in range(3)], LANGS)
    first = publish(config, store)
    assert first.full and first.why == "first publish"
    # Every edition: main, two sources, one topic, each a current document.
    assert first.rendered == len(EDITIONS) * 4
    idle = publish(config, store)
    assert (idle.rendered, idle.written, idle.full) == (0, [], False)
    # One new story from one source: its source's feed and the main feed of every edition,
    # the topic it matches, its pages and the indexes; nothing of the other source.
    save_articles(store, "brief", [_article("brief", 9, tag=" late edition")], LANGS)
    one = publish(config, store)
    assert not one.full and one.rendered == len(EDITIONS) * 3
    assert _folders(one.written) == {
        f"{e}/{path}" for e in EDITIONS for path in ("", "sources/brief/", "feeds/late/")
    }
    pages = [p for p in one.written if "/articles/" in p]
    assert len(pages) == len(EDITIONS)
    assert not [p for p in one.written if "/sources/full/" in p]
    # ... recorded like every other written file.
    assert set(one.written) <= set(store.published())
    # A correction: a new version in every edition, the same feeds.
    save_articles(store, "brief", [_article("brief", 9, tag=" late edition, corrected")], LANGS)
    fixed = publish(config, store)
    assert _folders(fixed.written) == _folders(one.written)
    latest = store.latest_versions(["brief:story-9"])
    assert {key[1]: v.version for key, v in latest.items()} == dict.fromkeys(EDITIONS, 2)


def test_full_publish_renders_everything_and_only_it_walks_the_output(tmp_path: Path) -> None:
    config, store = _setup(tmp_path)
    save_articles(store, "full", [_article("full", n) for n in range(3)], LANGS)
    publish(config, store)
    stray = config.output / "kk" / "stray.html"
    stray.write_text("not ours any more", encoding="utf-8")
    save_articles(store, "full", [_article("full", 7)], LANGS)
    assert publish(config, store).removed == []
    assert stray.exists()  # a publish that follows change never walks the output
    every = publish(config, store, full=True)
    assert every.full and every.why == "asked (--all)" and every.rendered == len(EDITIONS) * 4
    assert every.written == [] and every.removed == ["kk/stray.html"]
    # A store published under another release's output format: the next publish is full.
    store.set_setting("publish_shape", "written by an older release")
    upgraded = publish(config, store)
    assert upgraded.full and upgraded.why == "configuration or output format changed"
    assert upgraded.written == []  # same stories, same bytes
    # A configuration change that shows: every file, with the new title.
    config, store = _setup(tmp_path, site={"base_url": "https://feeds.example.kz/",
                                           "title": {"en": "Renamed"}})  # fmt: skip
    renamed = publish(config, store)
    assert renamed.full and "en/rss.xml" in renamed.written
    assert b"Renamed" in (config.output / "en" / "rss.xml").read_bytes()


def test_withdrawal_tombstones_every_feed_pings_the_hub_and_restore_returns(
    tmp_path: Path,
    hub: Hub,  # noqa: F811
) -> None:
    config, store = _setup(tmp_path, site={"base_url": "https://feeds.example.kz/",
                                           "hub": hub.url})  # fmt: skip
    story = _article("brief", 1, tag=" late")
    save_articles(store, "brief", [story, _article("full", 2)], LANGS)
    publish(config, store)
    pings = len(hub.pings)
    store.withdraw(story.id, "Legal request")
    gone = publish(config, store)
    assert len(hub.pings) == pings + 1
    assert "https://feeds.example.kz/kk/atom.xml" in hub.pings[-1]["hub.url"]
    for edition in EDITIONS:
        for folder in ("", "sources/brief/", "feeds/late/"):
            atom = etree.parse(str(config.output / edition / folder / "atom.xml"))
            refs = [t.get("ref") for t in atom.iter(f"{AT}deleted-entry")]
            assert refs == [f"tag:feeds.example.kz,2025:{story.id}/{edition}"], (edition, folder)
            comment = atom.find(f".//{AT}comment")
            assert comment is not None and comment.text == "Legal request"
            assert not [e for e in atom.iter(f"{ATOM}entry") if story.id in (e.findtext(
                f"{ATOM}id") or "")]  # fmt: skip
        # The full source's feed never carried it: no tombstone there, not even rendered.
        assert f"{edition}/sources/full/atom.xml" not in gone.written
    latest = store.latest_versions([story.id])
    assert {v.status for v in latest.values()} == {"canceled"}
    assert [v.status for v in store.versions_after("en", 0, 10)] == [
        "usable", "usable", "canceled"]  # fmt: skip
    store.restore(story.id)
    publish(config, store)
    assert {v.status for v in store.latest_versions([story.id]).values()} == {"usable"}
    atom = etree.parse(str(config.output / "en" / "atom.xml"))
    assert not list(atom.iter(f"{AT}deleted-entry"))
    assert [e.findtext(f"{ATOM}id") for e in atom.iter(f"{ATOM}entry")].count(
        f"tag:feeds.example.kz,2025:{story.id}/en"
    ) == 1


def test_time_alone_moves_stories_out_of_max_age_and_pages_out_of_the_archive(
    tmp_path: Path,
) -> None:
    config, store = _setup(tmp_path, feeds={"items": 2, "max_age": "30d", "archive": "2s"})
    save_articles(store, "full", [_article("full", n) for n in (1, 2, 3)], LANGS)
    publish(config, store)
    # Dated just inside max_age: it enters the current documents now, and ages out in seconds.
    aging = replace(_article("full", 4), published=utcnow() - timedelta(days=30, seconds=-3))
    save_articles(store, "full", [aging], LANGS)
    publish(config, store)
    feed = json.loads((config.output / "en" / "feed.json").read_text(encoding="utf-8"))
    assert [i["id"].rsplit(":", 1)[1] for i in feed["items"]] == ["story-1/en", "story-4/en"]
    archive = config.output / "en" / "archive"
    assert [p.name for p in archive.iterdir()] == ["1"]
    assert feed["next_url"] == "https://feeds.example.kz/en/archive/1/feed.json"
    time.sleep(4)
    later = publish(config, store)  # nothing changed in the store: only time passed
    assert not later.full and later.rendered > 0
    feed = json.loads((config.output / "en" / "feed.json").read_text(encoding="utf-8"))
    assert [i["id"].rsplit(":", 1)[1] for i in feed["items"]] == ["story-1/en"]
    # The archive page's stories entered more than 2 s ago: it is gone, and no link leads to it.
    assert not archive.exists() and "next_url" not in feed


def test_an_emptied_output_is_written_whole_again(tmp_path: Path) -> None:
    config, store = _setup(tmp_path)
    save_articles(store, "full", [_article("full", n) for n in range(3)], LANGS)
    first = publish(config, store)
    shutil.rmtree(config.output)
    again = publish(config, store)  # nothing changed in the store
    assert again.full and again.why == "the output has no index.html"
    assert sorted(again.written) == sorted(first.written)


def test_an_edition_removed_by_hand_is_written_again_though_nothing_changed(
    tmp_path: Path,
) -> None:
    """An idle publish renders nothing, but still notices an edition's feeds gone: an operator
    who removes a folder (or a disk that lost it) gets it back, and a folder that cannot be
    written fails the publish (the worker's health says so) instead of passing unnoticed."""
    config, store = _setup(tmp_path)
    save_articles(store, "full", [_article("full", n) for n in range(3)], LANGS)
    publish(config, store)
    assert publish(config, store).rendered == 0  # idle
    kk = config.output / "kk"
    before = {p: p.read_bytes() for p in kk.rglob("*") if p.is_file()}
    shutil.rmtree(kk)
    kk.write_text("a file where the kk folder should be\n", encoding="utf-8")
    with pytest.raises(OSError):
        publish(config, store)
    kk.unlink()
    again = publish(config, store)
    assert again.full and again.why == "the output has no kk/rss.xml"
    assert {p: p.read_bytes() for p in kk.rglob("*") if p.is_file()} == before
    assert publish(config, store).rendered == 0  # and idle again


def test_a_page_removed_by_hand_is_written_again_though_nothing_changed(tmp_path: Path) -> None:
    """Every file the store records as published is looked for (a stat each, in a folder):
    an archive page or a story's page removed by hand makes the next publish render every
    file, and write only the missing ones (a feed must not link a page that is gone)."""
    config, store = _setup(tmp_path, feeds={"items": 2})
    save_articles(store, "full", [_article("full", n) for n in range(5)], LANGS)
    publish(config, store)
    archive = config.output / "en" / "archive" / "1"
    page = sorted((config.output / "en" / "articles").iterdir())[0]
    gone = sorted(
        [page.relative_to(config.output).as_posix()]
        + [p.relative_to(config.output).as_posix() for p in archive.iterdir()]
    )
    shutil.rmtree(archive)
    page.unlink()
    again = publish(config, store, look=True)  # as `syndication publish` (else: publish.every)
    more = len(gone) - 1  # the archive page's three formats and its page, the story's page
    assert again.full and again.why == f"the output has no {gone[0]} and {more} more file(s) it had"
    assert sorted(again.written) == gone
    assert publish(config, store, look=True).rendered == 0  # idle again


def test_a_recorded_file_no_longer_published_is_looked_for_once(tmp_path: Path) -> None:
    """A path the store recorded that no publish produces now (an earlier release's file, gone
    from the folder) makes one publish render every file, which forgets it."""
    config, store = _setup(tmp_path)
    save_articles(store, "full", [_article("full", n) for n in range(3)], LANGS)
    publish(config, store)
    store.record_published([("en/retired.html", "0" * 64, 1)])
    again = publish(config, store, look=True)
    assert again.full and again.why == "the output has no en/retired.html"
    assert "en/retired.html" not in store.published()
    assert publish(config, store, look=True).rendered == 0


def test_the_output_is_looked_at_once_per_publish_every_or_when_the_operator_asks(
    tmp_path: Path,
) -> None:
    """A publish following one new story into a big output must not list all of it: the
    recorded files are looked for once per `publish.every`, and at once when asked (`look`,
    the operator's `syndication publish`)."""
    config, store = _setup(tmp_path, publish={"every": "1h"})
    save_articles(store, "full", [_article("full", n) for n in range(3)], LANGS)
    publish(config, store)
    assert publish(config, store).rendered == 0  # looked: nothing missing
    page = sorted((config.output / "en" / "articles").iterdir())[0]
    page.unlink()
    assert not publish(config, store).full  # looked at less than an hour ago
    assert not page.exists()
    again = publish(config, store, look=True)
    assert again.full and page.exists()
