"""End to end through the command line: local articles and a partner feed served on loopback
in, three translated editions out, with translation going through deep-translator's real code
to a fake provider on 127.0.0.1."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import feedparser
from lxml import etree
from sqlalchemy import create_engine, inspect, text

from tests.conftest import OFFLINE_TRANSLATION, PARTNER_FEED, run_cli, snapshot, write_config
from tests.fakeprovider import FakeGoogle
from tests.feedserver import FeedServer

HAN = re.compile(r"[\u4e00-\u9fff]")
CYRILLIC = re.compile(r"[\u0400-\u04ff]")
LATIN = re.compile(r"[A-Za-z]")


def _config(tmp_path: Path, feeds: FeedServer, google: FakeGoogle, **extra: object) -> Path:
    url = feeds.add(
        "/partner.xml",
        PARTNER_FEED.read_bytes(),
        headers={"Content-Type": "application/rss+xml; charset=utf-8"},
        etag='"v1"',
    )
    return write_config(
        tmp_path,
        sources=[
            {"id": "newsroom", "articles": "articles", "language": "kk"},
            {"id": "partner", "url": url, "every": "10m"},
        ],
        translation={
            "chain": ["google"],
            "providers": {"google": {"base_url": google.url}},
            "timeout": "5s",
        },
        **extra,
    )


def _script_share(text: str, pattern: re.Pattern[str]) -> float:
    letters = sum(ch.isalpha() for ch in text)
    return len(pattern.findall(text)) / letters if letters else 0.0


def test_once_publishes_three_translated_editions(
    tmp_path: Path, feed_server: FeedServer, fake_google: FakeGoogle, store_url: str
) -> None:
    config = _config(tmp_path, feed_server, fake_google)
    result = run_cli("once", "--config", str(config))
    assert result.code == 0, result.output
    expected = {"kk": CYRILLIC, "zh": HAN, "en": LATIN}
    ids_per_edition = {}
    for edition, script in expected.items():
        for name in ("rss.xml", "atom.xml"):
            parsed = feedparser.parse((tmp_path / "public" / edition / name).read_bytes())
            assert not parsed.bozo, (edition, name, parsed.get("bozo_exception"))
            assert len(parsed.entries) == 7, (edition, name, [e.title for e in parsed.entries])
            for entry in parsed.entries:
                assert _script_share(entry.title, script) > 0.5, (edition, entry.title)
        ids_per_edition[edition] = {
            e.id.rsplit("/", 1)[0]
            for e in feedparser.parse(
                (tmp_path / "public" / edition / "atom.xml").read_bytes()
            ).entries
        }
    # The same story has related ids in every edition.
    assert ids_per_edition["kk"] == ids_per_edition["zh"] == ids_per_edition["en"]
    # Machine translation is marked in the metadata of RSS and Atom, not only in the text.
    atom = etree.fromstring((tmp_path / "public" / "zh" / "atom.xml").read_bytes())
    marks = atom.findall(".//{tag:syndication,2025:ns/translation}translation")
    assert sorted(m.get("from") for m in marks) == ["en", "en", "en", "kk", "ru", "ru"]
    index = (tmp_path / "public" / "index.html").read_text(encoding="utf-8")
    for edition in expected:
        assert f'href="{edition}/rss.xml"' in index and f'href="{edition}/atom.xml"' in index
    # Each edition has a front page in its language, linking every story's page.
    for edition in expected:
        front = (tmp_path / "public" / edition / "index.html").read_text(encoding="utf-8")
        assert f'<html lang="{edition}">' in front
        atom = feedparser.parse((tmp_path / "public" / edition / "atom.xml").read_bytes())
        for entry in atom.entries:
            assert f'href="{entry.link}"' in front, entry.link
    # Same-language pairs are never sent: the Kazakh story is not translated into Kazakh.
    assert all(call.source != call.target.split("-")[0] for call in fake_google.calls)
    assert fake_google.calls, "nothing went through the fake provider"


def test_second_once_changes_nothing(
    tmp_path: Path, feed_server: FeedServer, fake_google: FakeGoogle, store_url: str
) -> None:
    config = _config(tmp_path, feed_server, fake_google)
    assert run_cli("once", "--config", str(config)).code == 0
    calls = len(fake_google.calls)
    before = snapshot(tmp_path / "public")
    rows_before = _row_counts(store_url)
    second = run_cli("once", "--config", str(config))
    assert second.code == 0, second.output
    assert len(fake_google.calls) == calls, "the second run asked the provider again"
    assert _row_counts(store_url) == rows_before
    assert snapshot(tmp_path / "public") == before
    # The partner feed was asked conditionally the second time and answered 304.
    second_request = feed_server.requests_for("/partner.xml")[-1]
    assert second_request.header("If-None-Match") == '"v1"'


def _row_counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                t: int(conn.execute(text(f'SELECT count(*) FROM "{t}"')).scalar() or 0)
                for t in inspect(conn).get_table_names()
                if t != "worker_lock"
            }
    finally:
        engine.dispose()


def test_offline_translation_is_reported_once_and_kept_pending(tmp_path: Path) -> None:
    # A provider nobody answers: translation fails, everything else is published.
    config = write_config(
        tmp_path,
        translation=OFFLINE_TRANSLATION,
    )
    result = run_cli("once", "--config", str(config))
    assert result.code == 1, result.output
    assert "Traceback" not in result.output
    assert result.output.count("unreachable") == 1, result.output
    kk = feedparser.parse((tmp_path / "public" / "kk" / "rss.xml").read_bytes())
    assert len(kk.entries) == 1  # the Kazakh sample, in its own language
    en = feedparser.parse((tmp_path / "public" / "en" / "rss.xml").read_bytes())
    assert len(en.entries) == 2  # the English samples, untranslated ones held back
    with sqlite3.connect(tmp_path / "data" / "test.db") as conn:
        statuses = dict(conn.execute("SELECT status, count(*) FROM translations GROUP BY status"))
    assert statuses == {"pending": 8}, statuses
    status = run_cli("status", "--config", str(config))
    assert status.code == 0
    assert "pending" in status.output and "newsroom" in status.output


def test_check_reports_every_mistake_with_its_line(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(
        "editions: [kk, zh, en]\n"
        "sources:\n"
        "  - id: partner\n"
        "    url: not-a-url\n"
        "    colour: blue\n"
        "feeds:\n"
        "  items: many\n",
        encoding="utf-8",
    )
    result = run_cli("check", "--config", str(config))
    assert result.code == 2, result.output
    assert "bad.yaml:4:" in result.output and "url" in result.output
    assert "bad.yaml:5:" in result.output and "unknown key" in result.output
    assert "bad.yaml:7:" in result.output and "whole number" in result.output


def test_check_accepts_the_default_config() -> None:
    result = run_cli("check")
    assert result.code == 0, result.output


def test_check_never_prints_secrets(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        translation={
            "chain": ["google", "mymemory"],
            "providers": {"mymemory": {"email": "${TEST_SECRET_EMAIL}", "rpm": "fast"}},
        },
    )
    result = run_cli("check", "--config", str(config), env={"TEST_SECRET_EMAIL": "s3cret@x.kz"})
    assert result.code == 2
    assert "s3cret" not in result.output
    assert "rpm" in result.output


def test_edited_file_updates_and_deleted_file_withdraws(
    tmp_path: Path, fake_google: FakeGoogle, store_url: str
) -> None:
    config = write_config(
        tmp_path,
        translation={"chain": ["google"], "providers": {"google": {"base_url": fake_google.url}}},
    )
    assert run_cli("once", "--config", str(config)).code == 0
    weather = tmp_path / "articles" / "2025-05-04-weather-advisory.md"
    text = weather.read_text(encoding="utf-8")
    weather.write_text(text.replace("unstable structures", "loose scaffolding"), encoding="utf-8")
    (tmp_path / "articles" / "2025-05-03-silk-road-documentary.md").unlink()
    before = len(fake_google.calls)
    result = run_cli("once", "--config", str(config))
    assert result.code == 0, result.output
    sent = fake_google.texts()[before:]
    # Only the edited paragraph (and the summary that quotes it) went out again.
    assert sent and all("scaffolding" in text for text in sent), sent
    for edition in ("kk", "zh", "en"):
        feed = feedparser.parse((tmp_path / "public" / edition / "atom.xml").read_bytes())
        ids = [e.id for e in feed.entries]
        assert len(ids) == 3 and not any("silk-road" in i for i in ids), ids
        pages = list((tmp_path / "public" / edition / "articles").glob("*.html"))
        # The withdrawn story's page stays as a notice (our server answers it 410 Gone) with
        # no word of the story; the three others are stories.
        notices = [p for p in pages if b'content="withdrawn"' in p.read_bytes()]
        assert len(pages) - len(notices) == 3 and len(notices) == 1
        assert "丝路" not in notices[0].read_text(encoding="utf-8")
    en = feedparser.parse((tmp_path / "public" / "en" / "atom.xml").read_bytes())
    weather_entry = next(e for e in en.entries if "weather" in e.id)
    assert "loose scaffolding" in weather_entry.content[0].value


def test_an_emptied_articles_folder_withdraws_nothing(tmp_path: Path) -> None:
    """An unmounted share or a folder moved away reads as empty: every story of the source
    withdrawn at once is never what the newsroom meant. The source fails, naming the folder
    and what to do; the stories stay published; files coming back change nothing."""
    config = write_config(tmp_path, translation=OFFLINE_TRANSLATION)
    assert run_cli("once", "--config", str(config)).code in (0, 1)
    before = {
        edition: (tmp_path / "public" / edition / "atom.xml").read_bytes()
        for edition in ("kk", "zh", "en")
    }
    articles = tmp_path / "articles"
    held = tmp_path / "held"
    articles.rename(held)
    articles.mkdir()  # the mount point, with the share gone
    result = run_cli("once", "--config", str(config))
    assert result.code == 1, result.output
    said = " ".join(result.output.split())
    assert "holds no article files, but 4 of its stories are published: none withdrawn" in said
    for edition, atom in before.items():  # not a story withdrawn: the feeds as they were
        assert (tmp_path / "public" / edition / "atom.xml").read_bytes() == atom
    articles.rmdir()
    held.rename(articles)
    back = run_cli("once", "--config", str(config))
    assert back.code in (0, 1) and "withdrawn" not in back.output.split("translation:")[0]


def test_withdraw_takes_the_id_a_feed_shows(tmp_path: Path) -> None:
    """The operator pastes a story's id from a feed: `tag:…:SOURCE:GUID/EDITION`, its guid
    percent-encoded (`a%231`), or SOURCE:GUID as `status` shows it; each names the story."""
    (tmp_path / "p.xml").write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>P</title>'
        "<link>https://partner.example.org/</link><language>en</language>"
        "<item><title>Hash guid</title><link>https://partner.example.org/1</link>"
        '<guid isPermaLink="false">a#1</guid><description>Text one.</description></item>'
        "</channel></rss>",
        encoding="utf-8",
    )
    config = write_config(
        tmp_path,
        sources=[{"id": "p", "file": "p.xml"}],
        translation={**OFFLINE_TRANSLATION, "untranslated": "original"},
    )
    assert run_cli("once", "--config", str(config)).code in (0, 1)
    atom = feedparser.parse((tmp_path / "public" / "en" / "atom.xml").read_bytes())
    (item_id,) = [e.id for e in atom.entries]
    assert item_id.endswith(":p:a%231/en")
    for given, command in ((item_id, "withdraw"), ("p:a%231", "restore"), ("p:a#1", "withdraw")):
        result = run_cli(command, given, "--config", str(config))
        assert result.code == 0, (given, result.output)
        assert "p:a#1" in result.output
    unknown = run_cli("withdraw", "tag:feeds.example.kz,2025:p:nope/en", "--config", str(config))
    assert unknown.code == 2 and "no story" in unknown.output
