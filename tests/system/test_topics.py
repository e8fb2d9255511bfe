"""Further feeds defined in YAML by filter (`feeds.topics`): published in every edition under
`{edition}/feeds/{id}/`, holding only the stories that match."""

from __future__ import annotations

import json
from pathlib import Path

import feedparser

from tests.conftest import run_cli, write_config
from tests.fakeprovider import FakeGoogle


def test_topic_feeds_by_tag_and_keyword(tmp_path: Path, fake_google: FakeGoogle) -> None:
    config = write_config(
        tmp_path,
        feeds={
            "items": 50,
            "topics": [
                {
                    "id": "culture",
                    "title": {"en": "Culture", "kk": "Мәдениет"},
                    "tags": ["мәдениет", "文化"],
                },
                {"id": "storms", "keywords": ["storm"]},
                # A tag or a keyword: the book fair by its tag, the storm by a word spelt
                # with a capital in the story ("Storm warning").
                {"id": "either", "tags": ["мәдениет"], "keywords": ["storm"]},
            ],
        },
        translation={"chain": ["google"], "providers": {"google": {"base_url": fake_google.url}}},
    )
    result = run_cli("once", "--config", str(config))
    assert result.code == 0, result.output
    public = tmp_path / "public"
    for edition in ("kk", "zh", "en"):
        culture = feedparser.parse(
            (public / edition / "feeds" / "culture" / "rss.xml").read_bytes()
        )
        ids = sorted(e.id.split(":")[-1].rsplit("/", 1)[0] for e in culture.entries)
        assert ids == ["2025-05-02-astana-book-fair", "2025-05-03-silk-road-documentary"], ids
        storms = feedparser.parse((public / edition / "feeds" / "storms" / "atom.xml").read_bytes())
        assert [e.id.split(":")[-1].rsplit("/", 1)[0] for e in storms.entries] == [
            "2025-05-04-weather-advisory"
        ]
    items = json.loads((public / "en" / "feeds" / "either" / "feed.json").read_text())["items"]
    assert sorted(i["id"].split(":")[-1].rsplit("/", 1)[0] for i in items) == [
        "2025-05-02-astana-book-fair",
        "2025-05-04-weather-advisory",
    ]
    en = feedparser.parse((public / "en" / "feeds" / "culture" / "rss.xml").read_bytes())
    assert en.feed.title.endswith(": Culture")
    index = (public / "index.html").read_text(encoding="utf-8")
    assert 'href="kk/feeds/culture/rss.xml"' in index
    opml = (public / "feeds.opml").read_text(encoding="utf-8")
    assert "zh/feeds/storms/rss.xml" in opml


def test_topic_with_unknown_source_is_a_check_error(tmp_path: Path) -> None:
    config = write_config(tmp_path, feeds={"topics": [{"id": "x", "sources": ["nope"]}]})
    result = run_cli("check", "--config", str(config))
    assert result.code == 2
    assert "unknown source" in result.output and "nope" in result.output
