"""A folder of local articles through the command line, as a newsroom runs it.

Owns: a misspelt or miscased front-matter key (`embrago:`), an empty `embargo:` and a plain-text
file's `embargo`/`status` header (with or without a colon) holding its story back with the
file's line in `once`'s output, a CMS's own keys published with a note; a stored story whose
file turns bad kept as it was (not withdrawn, not changed), under its path's id or its own
`id:`; a symlink to another article of the folder not a second story in the feeds; every
skipped file counted and named by `once` and `status` (the source's health `warning`);
`articles:` naming a file rather than a folder; and a story without a title named by a
sentence that shows.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from tests.conftest import run_cli, write_config

EN = {"language": "en"}


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _story(title: str, *keys: str) -> str:
    front = "".join(f"{key}\n" for key in keys)
    return f"---\ntitle: {title}\nlanguage: en\n{front}---\nThe {title} story happened. Yes.\n"


def _feed(tmp_path: Path) -> dict[str, str]:
    """The English feed's stories: id → title."""
    feed = json.loads((tmp_path / "public" / "en" / "feed.json").read_text(encoding="utf-8"))
    return {item["id"]: item["title"] for item in feed["items"]}


def test_a_folder_of_articles_end_to_end(tmp_path: Path) -> None:
    articles = tmp_path / "articles"
    _write(articles / "a1.md", _story("Alpha"))
    _write(articles / "x.md", _story("Ex", "id: story-x"))
    _write(articles / "cms.md", _story("Exported", "slug: exported", "layout: post"))
    _write(articles / "held.md", _story("Held", "embrago: 2030-01-01T00:00:00Z"))
    (articles / "sub").mkdir()
    (articles / "sub" / "link-to-a1.md").symlink_to("../a1.md")
    config = write_config(
        tmp_path, editions=["en"], sources=[{"id": "newsroom", "articles": "articles", **EN}]
    )

    done = run_cli("once", "--verbose", "--config", str(config))
    assert done.code == 1, done.output  # a file could not be read: the cycle says so
    said = " ".join(done.output.split())
    assert f"{articles / 'held.md'}:4: unknown key 'embrago' (did you mean 'embargo'?)" in said
    # The notes (the story goes out all the same), in the log `--verbose` (or `run`) shows.
    assert f"{articles / 'cms.md'}: line 4: unknown key 'slug' ignored" in said
    assert f"{articles / 'cms.md'}: line 5: unknown key 'layout' ignored" in said
    link = articles / "sub" / "link-to-a1.md"
    assert f"{link}: a link to {articles / 'a1.md'}, an article of this folder" in said
    feed = _feed(tmp_path)
    assert sorted(feed.values()) == ["Alpha", "Ex", "Exported"]
    assert not [i for i in feed if "link-to-a1" in i or "held" in i]

    # The stored stories' files turn bad: each stays as published, neither withdrawn nor
    # changed (the one with `id: story-x` too, whose id is not its path: it was withdrawn).
    _write(articles / "a1.md", _story("Alpha changed", "Embargo: 2030-01-01"))
    _write(articles / "x.md", _story("Ex changed", "id: story-x", "status: draft"))
    _write(articles / "cms.md", _story("Exported changed", "stauts: withdrawn"))
    done = run_cli("once", "--config", str(config))
    assert done.code == 1, done.output
    assert feed == _feed(tmp_path)
    status = run_cli("status", "--json", "--config", str(config))
    assert status.code == 0, status.output
    assert json.loads(status.stdout)["withdrawn"] == []


def test_a_story_held_back_in_plain_text_or_by_an_empty_embargo_is_not_published(
    tmp_path: Path,
) -> None:
    """`embargo 2030-01-01` or `status withdrawn` (no colon) among a plain-text file's headers,
    and an `embargo:` left empty, published the story at once (the first as a story titled
    "embargo 2030-01-01 title …"); each file is now skipped and named, as `embargo:` is."""
    articles = tmp_path / "articles"
    _write(articles / "fine.txt", "title Fine\ndate 2025-05-06\n\nA fine story. Yes.\n")
    _write(articles / "a.txt", "embargo 2030-01-01\ntitle Plain embargo\ndate 2025-05-06\n\nA.\n")
    _write(
        articles / "b.txt", "date 2025-05-06 title Bare embargo second\nembargo 2030-01-01\n\nB.\n"
    )
    _write(articles / "c.txt", "title: Status bare\nstatus withdrawn\n\nC.\n")
    _write(articles / "d.md", _story("Empty embargo", "embargo:"))
    config = write_config(
        tmp_path, editions=["en"], sources=[{"id": "newsroom", "articles": "articles", **EN}]
    )
    done = run_cli("once", "--config", str(config))
    assert done.code == 1, done.output
    said = " ".join(done.output.split())
    not_a_header = "is not a header of a plain-text article"
    for where, key in (("a.txt:1", "embargo"), ("b.txt:2", "embargo"), ("c.txt:2", "status")):
        assert f"{articles / where}: {key!r} {not_a_header}" in said
    assert f"{articles / 'd.md'}:4: embargo has no date" in said
    assert list(_feed(tmp_path).values()) == ["Fine"]


def test_every_skipped_file_is_counted_and_named_and_the_source_is_in_warning(
    tmp_path: Path,
) -> None:
    """A folder with 25 files it cannot read: `status` named 3 of them in its error, with no
    count of the rest, and called the source `ok`; `once`'s row showed the first two, cut
    short. Now the error counts them, `once` and `status` name each, and health is `warning`
    (exit codes as before: `once` 1, `status` 0)."""
    articles = tmp_path / "articles"
    _write(articles / "fine.md", _story("Fine"))
    bad = [articles / f"bad-{n:02}.md" for n in range(25)]
    for path in bad:
        _write(path, _story("Bad", "date: 2025-13-45"))
    config = write_config(
        tmp_path, editions=["en"], sources=[{"id": "newsroom", "articles": "articles", **EN}]
    )
    done = run_cli("once", "--config", str(config))
    assert done.code == 1, done.output
    (row,) = [line for line in done.stdout.splitlines() if line.lstrip().startswith("newsroom")]
    assert row.split()[-4:] == ["25", "article", "files", "skipped"], row
    said = " ".join(done.output.split())
    for path in bad:
        assert f"{path}:4: front matter: bad date" in said

    status = run_cli("status", "--json", "--config", str(config))
    assert status.code == 0, status.output
    (source,) = json.loads(status.stdout)["sources"]
    assert source["health"] == "warning" and source["result"] == "ok", source
    assert source["error"] == "25 article files skipped"
    assert [note.split(":")[0] for note in source["notes"]] == [str(path) for path in bad]
    table = run_cli("status", "--config", str(config))
    assert table.code == 0, table.output
    shown = " ".join(table.stdout.split())
    assert "│ newsroom │ warning │" in shown
    assert f"{bad[9]}:4: front matter: bad date" in shown and str(bad[10]) not in shown
    assert "… and 15 more (status --json)" in shown


def test_articles_naming_a_file_says_so(tmp_path: Path) -> None:
    _write(tmp_path / "p.xml", "<rss version='2.0'><channel></channel></rss>")
    config = write_config(
        tmp_path, editions=["en"], sources=[{"id": "newsroom", "articles": "p.xml", **EN}]
    )
    done = run_cli("once", "--config", str(config))
    assert done.code == 1, done.output
    message = f"{tmp_path / 'p.xml'}: is a file, not a folder (use file: for a feed file)"
    assert message in " ".join(done.output.split())


def test_times_without_a_zone_are_the_newsrooms_own(tmp_path: Path) -> None:
    """`timezone: Asia/Almaty` on the folder: an embargo written as Almaty's wall clock ends
    at that moment, not hours later as UTC, and a zone-less `date:` is that moment too."""
    almaty = ZoneInfo("Asia/Almaty")
    now = datetime.now(UTC)
    # Two hours ahead on the wall clock of UTC, yet past in Almaty (UTC+5).
    written = (now + timedelta(hours=2)).strftime("%Y-%m-%d %H:%M:%S")
    dated = "2025-06-10 09:00:00"
    articles = tmp_path / "articles"
    _write(articles / "due.md", _story("Due", f"embargo: '{written}'", f"date: '{dated}'"))
    source = {"id": "newsroom", "articles": "articles", **EN}
    config = write_config(tmp_path, editions=["en"], sources=[source])
    done = run_cli("once", "--config", str(config))
    assert done.code == 0, done.output
    assert list(_feed(tmp_path).values()) == []  # read as UTC: two hours to go

    config = write_config(
        tmp_path, editions=["en"], sources=[{**source, "timezone": "Asia/Almaty"}]
    )
    done = run_cli("once", "--config", str(config))
    assert done.code == 0, done.output
    feed = json.loads((tmp_path / "public" / "en" / "feed.json").read_text(encoding="utf-8"))
    (item,) = feed["items"]
    assert item["title"] == "Due"
    published = datetime.fromisoformat(item["date_published"])
    assert published == datetime(2025, 6, 10, 9, 0, tzinfo=almaty)


def test_a_timezone_is_checked(tmp_path: Path) -> None:
    """An unknown zone is named at its line, on a folder or a feed; a feed's `timezone:` is
    no mistake (its dates written without a zone are in it: tests/system/test_feed_dates.py)."""
    _write(tmp_path / "articles" / "a.md", _story("A"))
    sources = [
        {"id": "newsroom", "articles": "articles", "timezone": "Asia/Almaati"},
        {"id": "feed", "file": "p.xml", "timezone": "Asia/Shanghia"},
        {"id": "partner", "url": "https://partner.example.cn/rss", "timezone": "Asia/Shanghai"},
    ]
    config = write_config(tmp_path, editions=["en"], sources=sources)
    lines = config.read_text(encoding="utf-8").splitlines()
    done = run_cli("check", "--config", str(config))
    assert done.code == 2, done.output
    said = " ".join(done.output.split())
    for index, zone in enumerate(("Asia/Almaati", "Asia/Shanghia")):
        line = next(n for n, text in enumerate(lines, 1) if zone in text)
        where = f"{config.name}:{line}: sources.{index}.timezone"
        assert f"{where}: unknown time zone '{zone}'" in said
    assert "partner" not in said and "articles: folder" not in said


def test_a_date_edited_alone_in_a_file_is_published(tmp_path: Path) -> None:
    """An editor fixing a story's `date:` (a typo of the year) is a correction, although a
    feed's dates moving alone (stamped with the fetch time) are no new version."""
    articles = tmp_path / "articles"
    _write(articles / "a.md", _story("Alpha", "date: 2052-06-10T09:00:00Z"))
    config = write_config(
        tmp_path, editions=["en"], sources=[{"id": "newsroom", "articles": "articles", **EN}]
    )
    assert run_cli("once", "--config", str(config)).code == 0
    _write(articles / "a.md", _story("Alpha", "date: 2025-06-10T09:00:00Z"))
    done = run_cli("once", "--config", str(config))
    assert done.code == 0, done.output
    feed = json.loads((tmp_path / "public" / "en" / "feed.json").read_text(encoding="utf-8"))
    (item,) = feed["items"]
    assert item["date_published"].startswith("2025-06-10T09:00:00")


def test_a_story_without_a_title_is_named_by_a_sentence_that_shows(tmp_path: Path) -> None:
    """A file without `title:` was named by its body's first sentence even when that showed
    nothing (a body opening with a lone `&#x200B;`: an invisible title in every feed), and a
    body of an image alone by the file's name beside its `summary:`; a partner's item got the
    first visible sentence of its text, else of its summary."""
    articles = tmp_path / "articles"
    front = "---\nlanguage: en\ndate: 2025-06-0{}T09:00:00Z\nsummary: {}\n---\n"
    _write(articles / "blank.md", front.format(1, "The bridge reopened. Traffic resumed.")
           + "&#x200B;\n")  # fmt: skip
    _write(articles / "photo.md", front.format(2, "Crowds filled the square. More later.")
           + "![](https://example.kz/parade.jpg)\n")  # fmt: skip
    config = write_config(
        tmp_path, editions=["en"], sources=[{"id": "newsroom", "articles": "articles", **EN}]
    )
    done = run_cli("once", "--config", str(config))
    assert done.code == 0, done.output
    assert sorted(_feed(tmp_path).values()) == ["Crowds filled the square", "The bridge reopened"]
