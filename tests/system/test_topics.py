"""Further feeds defined in YAML by filter (`feeds.topics`): published in every edition under
`{edition}/feeds/{id}/`, holding only the stories that match (as they are now: a re-tagged
story moves from one to another)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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


def test_a_retagged_story_moves_between_topic_feeds(tmp_path: Path) -> None:
    """Topic feeds follow a story's tags as they are now: re-tagged, it leaves the topic it no
    longer matches (its rank stays, empty) and enters the one it now matches at the next
    rank; tagged back, it shows again at its old rank. The main feed keeps both throughout.
    (Membership was fixed when a story was first published: the old topic kept showing it.)"""
    articles = tmp_path / "articles"
    articles.mkdir()

    def tag(name: str, title: str, day: int, tags: str) -> None:
        (articles / f"{name}.md").write_text(
            f"---\ntitle: {title}\ndate: 2025-05-0{day}\nlanguage: en\ntags: [{tags}]\n---\n"
            f"The {title} story. Yes.\n",
            encoding="utf-8",
        )

    def titles(feed: str) -> list[str]:
        data = json.loads((tmp_path / "public" / "en" / feed / "feed.json").read_text())
        return sorted(item["title"] for item in data["items"])

    def once() -> str:
        done = run_cli("once", "--config", str(config))
        assert done.code == 0, done.output
        return done.stdout

    tag("rail", "Rail", 5, "culture")
    tag("gala", "Gala", 6, "transport")
    settings: dict[str, Any] = {
        "editions": ["en"],
        "sources": [{"id": "newsroom", "articles": "articles", "language": "en"}],
        # One story a document: the archive pages show each story's rank.
        "feeds": {"items": 1, "topics": [{"id": "culture", "tags": ["culture"]}]},
    }
    config = write_config(tmp_path, **settings)
    once()
    assert titles("feeds/culture") == ["Rail"]

    tag("rail", "Rail", 5, "transport")
    tag("gala", "Gala", 6, "culture")
    once()
    assert titles("feeds/culture") == ["Gala"]  # rank 1, the current document
    assert titles("feeds/culture/archive/1") == []  # rank 0: Rail's, left empty
    atom = (tmp_path / "public" / "en" / "feeds" / "culture" / "atom.xml").read_text()
    assert "Gala" in atom and "Rail" not in atom

    tag("rail", "Rail", 5, "culture")
    tag("fair", "Fair", 7, "transport")
    once()
    assert titles("feeds/culture") == ["Gala"]
    assert titles("feeds/culture/archive/1") == ["Rail"]  # back at its own rank
    # The main feed's membership never depended on tags: all, in the order they came.
    assert [titles(f) for f in ("", "archive/2", "archive/1")] == [["Fair"], ["Gala"], ["Rail"]]

    # Re-tagged while the configuration changes too: a publish of every file, the same.
    tag("fair", "Fair", 7, "culture")
    config = write_config(tmp_path, **settings, site={"base_url": "https://news.example.kz/"})
    assert "published every file" in once()
    shown = [titles(f"feeds/culture/{page}") for page in ("", "archive/2", "archive/1")]
    assert shown == [["Fair"], ["Gala"], ["Rail"]]
