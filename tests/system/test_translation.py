"""Translation end to end: the command line and real time against fake providers on 127.0.0.1.

What an operator sees from `once` and `status` when providers fail or refuse a story, and what
every edition holds afterwards; the unit tests of the stage are in tests/unit/translate/.
"""

from __future__ import annotations

import json
import re
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import feedparser
import pytest

from syndication.model import utcnow
from syndication.translate.engine import translate_pending
from tests.conftest import OFFLINE_TRANSLATION, run_cli, start_cli, write_config
from tests.fakeprovider import FakeGoogle
from tests.feedserver import FeedServer
from tests.unit.translate.test_engine import (
    CYRILLIC,
    KK_TEXT,
    SCRIPT,
    _article,
    _save,
    _setup,
    _translations,
    _units,
)

EN_TEXT = (
    "<p>Freight trains between Almaty and Urumqi now run <em>twice a day</em>, the operator "
    "said on Monday.</p>"
    '<p>The timetable is published on <a href="https://example.kz/rail">the railway site</a>.'
    "</p>"
)


def _write_story(
    folder: Path, name: str, language: str, title: str, body: str, author: str = ""
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    byline = f"author: {author}\n" if author else ""
    (folder / name).write_text(
        f"---\ntitle: {title}\ndate: 2025-05-0{len(list(folder.iterdir())) + 1}T09:00:00Z\n"
        f"language: {language}\n{byline}---\n{body}\n",
        encoding="utf-8",
    )


def test_stories_in_four_languages_reach_all_three_editions_once(
    tmp_path: Path, fake_google: FakeGoogle
) -> None:
    stories = tmp_path / "stories"
    _write_story(stories, "kk.md", "kk", "Астанада кітап көрмесі ашылды",
                 "Елордада халықаралық кітап көрмесі жұмысын бастады. Көрмеге Қазақстан, Қытай "
                 "және Түркия баспалары қатысып, жаңа басылымдарын ұсынды.")  # fmt: skip
    _write_story(stories, "zh.md", "zh", "丝绸之路纪录片在阿斯塔纳首映",
                 "中国与哈萨克斯坦合拍的纪录片在阿斯塔纳首映，观众反响热烈。"
                 "摄制组介绍了拍摄过程。")  # fmt: skip
    _write_story(stories, "en.md", "en", "Freight trains between Almaty and Urumqi",
                 "Freight trains between Almaty and Urumqi now run twice a day, the operator "
                 "said on Monday. The new timetable starts next week.")  # fmt: skip
    _write_story(stories, "ru.md", "ru", "Синоптики предупреждают о сильном ветре",
                 "Синоптики предупреждают о сильном ветре в северных областях страны. Подробный "
                 "прогноз опубликован на сайте службы погоды.")  # fmt: skip
    config = write_config(
        tmp_path,
        sources=[{"id": "newsroom", "articles": "stories"}],
        translation={
            "chain": ["google"],
            "providers": {"google": {"base_url": fake_google.url}},
            "timeout": "5s",
        },
    )
    first = run_cli("once", "--config", str(config))
    assert first.code == 0, first.output
    for edition, script in SCRIPT.items():
        parsed = feedparser.parse((tmp_path / "public" / edition / "atom.xml").read_bytes())
        assert len(parsed.entries) == 4, (edition, [e.title for e in parsed.entries])
        for entry in parsed.entries:
            letters = sum(ch.isalpha() for ch in entry.title)
            assert len(script.findall(entry.title)) / letters > 0.5, (edition, entry.title)
    calls_after_first = len(fake_google.calls)
    assert calls_after_first > 0
    second = run_cli("once", "--config", str(config))
    assert second.code == 0, second.output
    assert len(fake_google.calls) == calls_after_first, "the second run asked the provider again"
    # No request for a same-language pair, and no segment sent twice for the same pair.
    assert all(c.source.split("-")[0] != c.target.split("-")[0] for c in fake_google.calls)
    units = _units(fake_google.calls)
    assert len(units) == len(set(units)), [u for u in units if units.count(u) > 1]
    # Russian goes into all three editions; the others into the two that are not their own.
    pairs = {(c.source.split("-")[0], c.target.split("-")[0]) for c in fake_google.calls}
    assert {("ru", "kk"), ("ru", "zh"), ("ru", "en")} <= pairs
    assert ("kk", "kk") not in pairs and ("en", "en") not in pairs


@pytest.mark.parametrize("mode", ["429", "500", "hang", "empty"])
def test_a_failing_provider_is_contained_and_recovered_from(
    tmp_path: Path, fake_google: FakeGoogle, mode: str
) -> None:
    config, store = _setup(
        tmp_path,
        fake_google.url,
        providers={"google": {"base_url": fake_google.url, "timeout": "2s"}},
    )
    done = _article("desk", "done", "en", "Freight trains run twice a day", EN_TEXT)
    _save(store, done)
    assert translate_pending(config, store).translated == 2
    kept = _translations(store, done.id)
    fake_google.mode = mode
    fake_google.hang_seconds = 60
    fresh = _article("wire", "fresh", "kk", "Астанада кітап көрмесі ашылды", KK_TEXT)
    _save(store, fresh)
    started = time.monotonic()
    report = translate_pending(config, store)
    elapsed = time.monotonic() - started
    assert elapsed < 30, f"the cycle hung for {elapsed:.0f}s"
    assert report.translated == 0 and report.failed + report.pending == 2, report
    for translation in _translations(store, fresh.id).values():
        assert translation.status in ("failed", "pending"), translation
        assert translation.error and translation.attempts == 1, translation
        assert not translation.content
    assert _translations(store, done.id) == kept, "a translated story was touched"
    # The provider recovers; the next cycle (failed ones are due within their back-off)
    # translates everything.
    fake_google.mode = "ok"
    report = translate_pending(config, store, now=utcnow() + timedelta(hours=7))
    assert report.translated == 2, report
    assert {t.status for t in _translations(store, fresh.id).values()} == {"translated"}


def test_one_story_the_provider_refuses_holds_back_no_other_story(
    tmp_path: Path, fake_google: FakeGoogle
) -> None:
    # The provider answers 500 to every request carrying one paragraph of one story, and
    # every other request as usual: it is not down.
    stories = tmp_path / "stories"
    _write_story(stories, "fair.md", "kk", "Астанада кітап көрмесі ашылды",
                 "Елордада халықаралық кітап көрмесі жұмысын бастады.\n\nКөрмеге Қазақстан, "
                 "Қытай және Түркия баспалары қатысып, жаңа басылымдарын ұсынды.")  # fmt: skip
    _write_story(stories, "mine.md", "kk", "Ұлытауда жаңа кен орны ашылды",
                 "Геологтар облыста мыс кенін тапты.\n\nҰлытау өңірінде барлау жұмыстары "
                 "жалғасуда, деп хабарлады әкімдік.")  # fmt: skip
    _write_story(stories, "rail.md", "kk", "Алматы мен Үрімжі арасында пойыз қатынайды",
                 "Жүк пойыздары енді күніне екі рет жүреді.\n\nЖаңа кесте келесі аптадан "
                 "басталады.")  # fmt: skip
    fake_google.poison = {"барлау жұмыстары"}
    config = write_config(
        tmp_path,
        sources=[{"id": "newsroom", "articles": "stories", "language": "kk"}],
        translation={
            "chain": ["google"],
            "providers": {"google": {"base_url": fake_google.url}},
            "timeout": "5s",
        },
    )
    first = run_cli("once", "--config", str(config))
    assert first.code == 1, first.output
    # Named, per edition, as failed (not as a provider outage).
    for lang in ("zh", "en"):
        assert re.search(rf"failed newsroom:mine → {lang}: google: .*HTTP 500", first.output), (
            first.output
        )
    assert "0 pending, 2 failed" in first.output, first.output
    for edition in ("zh", "en"):
        parsed = feedparser.parse((tmp_path / "public" / edition / "atom.xml").read_bytes())
        titles = [e.title for e in parsed.entries]
        assert len(titles) == 2, (edition, titles)
        for title in titles:
            assert SCRIPT[edition].search(title) and not CYRILLIC.search(title), (edition, title)
    kk = feedparser.parse((tmp_path / "public" / "kk" / "atom.xml").read_bytes())
    assert len(kk.entries) == 3
    poisoned = [c for c in fake_google.calls if "барлау жұмыстары" in c.text]
    assert poisoned, "the refused paragraph was never sent"
    # Isolated: the refused paragraph was finally sent alone, once per edition (with retries).
    alone = {c.target for c in poisoned if c.text.startswith("Ұлытау өңірінде")}
    assert alone == {"zh-CN", "en"}, [c.text for c in poisoned]
    status = run_cli("status", "--json", "--config", str(config))
    failed = json.loads(status.stdout)["failed"]
    assert {(f["article"], f["language"]) for f in failed} == {
        ("newsroom:mine", "zh"),
        ("newsroom:mine", "en"),
    }, failed
    # Next cycles: the refused story waits for its retry time; nothing is sent at all.
    sent = len(fake_google.calls)
    for _ in range(2):
        again = run_cli("once", "--config", str(config))
        assert again.code == 0, again.output
    assert len(fake_google.calls) == sent, fake_google.texts()[sent:]


def test_check_reports_a_language_pair_no_provider_in_the_chain_translates(
    tmp_path: Path,
) -> None:
    # DeepL has no Kazakh: a Kazakh source cannot reach the zh and en editions.
    config = write_config(tmp_path, translation={"chain": ["deepl"]})
    result = run_cli("check", "--config", str(config))
    assert result.code == 2, result.output
    assert "kk→zh" in result.output and "kk→en" in result.output, result.output
    assert "zh→en" not in result.output


MIXED_RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Mixed</title><link>{base}/</link><description>mixed</description>
<item><guid>m3</guid><title>臺灣的鐵路建設取得新進展</title><link>{base}/m3</link>
<description>臺灣南部開通了新的鐵路線，乘客們非常高興。這條鐵路將大大縮短旅行時間。</description>
<pubDate>Thu, 03 Dec 2026 12:00:00 +0800</pubDate></item>
<item><guid>m5</guid><title>Qazaqstanda jańa temirjol salyndy</title><link>{base}/m5</link>
<description>Qazaqstannyń ońtústiginde jańa temirjol jelisi paıdalanýǵa berildi. Jolaýshylar
qýanyshty.</description><pubDate>Thu, 03 Dec 2026 14:00:00 +0500</pubDate></item>
<item><guid>m7</guid><title>上海举行新年音乐会</title><link>{base}/m7</link>
<description>上海举行了盛大的新年音乐会，数千名观众到场观看演出。</description>
<pubDate>Thu, 03 Dec 2026 15:00:00 +0800</pubDate></item>
</channel></rss>"""

KAZAKH_ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="kk"><title>Kazakh Atom</title>
<id>urn:kz:feed</id><updated>2026-12-01T00:00:00Z</updated>
<entry><id>urn:kz:3</id><title>Qazaqstan latyn jazuy: Astanada jańa kitaphana</title>
<updated>2026-11-30T00:00:00Z</updated><link href="{base}/story3.html"/>
<summary>Astanada jańa kitaphana ashyldy, oqyrmandar qýanyshty.</summary></entry>
</feed>"""


def test_latin_kazakh_and_traditional_chinese_originals_reach_every_edition_right(
    tmp_path: Path, fake_google: FakeGoogle, feed_server: FeedServer
) -> None:
    mixed = feed_server.add("/mixed.xml", MIXED_RSS.format(base=feed_server.base).encode())
    atom = feed_server.add("/kk.xml", KAZAKH_ATOM.format(base=feed_server.base).encode())
    config = write_config(
        tmp_path,
        editions=["kk", "zh", "en", "kk-Latn", "zh-Hant"],
        sources=[{"id": "mixed", "url": mixed}, {"id": "kazakh", "url": atom}],
        translation={
            "chain": ["google"],
            "providers": {"google": {"base_url": fake_google.url}},
            "timeout": "5s",
        },
    )
    done = run_cli("once", "--config", str(config))
    assert done.code == 0, done.output

    def items(edition: str) -> dict[str, dict[str, Any]]:
        feed = json.loads((tmp_path / "public" / edition / "feed.json").read_text("utf-8"))
        return {item["external_url"].rsplit("/", 1)[1]: item for item in feed["items"]}

    # Latin Kazakh is Kazakh (it was read as Turkish, or as English when the feed said kk):
    # translated from kk, shown as written in the Kazakh editions.
    sent_as = {
        c.source for c in fake_google.calls if "Qazaqstan" in c.text or "kitaphana" in c.text
    }
    assert sent_as == {"kk"}, sent_as
    for edition in ("kk", "kk-Latn"):
        found = items(edition)
        assert found["m5"]["title"] == "Qazaqstanda jańa temirjol salyndy", edition
        assert found["story3.html"]["language"] == edition
    english = items("en")
    titles = {
        "m5": "Qazaqstanda jańa temirjol salyndy",
        "story3.html": "Qazaqstan latyn jazuy: Astanada jańa kitaphana",
    }
    for story, original in titles.items():  # machine-translated, not shown as written
        assert english[story]["title"] != original, english[story]
        assert english[story]["language"] == "en", english[story]

    # A Traditional original is Simplified in zh, and as written in zh-Hant.
    simplified, traditional = items("zh"), items("zh-Hant")
    assert simplified["m3"]["title"] == "台湾的铁路建设取得新进展"
    assert "臺灣" not in json.dumps(simplified["m3"], ensure_ascii=False)
    assert "这条铁路" in simplified["m3"]["content_html"]
    assert simplified["m3"]["language"] == "zh"
    assert traditional["m3"]["title"] == "臺灣的鐵路建設取得新進展"
    assert traditional["m3"]["language"] == "zh-Hant"
    # A Simplified original is untouched in zh and converted in zh-Hant, as before.
    assert simplified["m7"]["title"] == "上海举行新年音乐会"
    assert traditional["m7"]["title"] == "上海舉行新年音樂會"
    # Chinese originals are never sent to be translated into Chinese.
    assert not [c for c in fake_google.calls if c.target.startswith("zh") and "臺灣" in c.text]


def test_a_chinese_byline_is_in_traditional_characters_in_zh_hant(tmp_path: Path) -> None:
    """The zh-Hant edition converted a story's text but not its author: a Simplified byline
    stayed Simplified in its RSS, Atom, JSON Feed and page. A name in Latin letters is kept."""
    stories = tmp_path / "stories"
    _write_story(stories, "concert.md", "zh", "上海举行新年音乐会",
                 "上海交响乐团昨晚举行新年音乐会。", author="新华社记者 张晓东")  # fmt: skip
    _write_story(stories, "metro.md", "zh", "阿拉木图地铁新站开通",
                 "阿拉木图地铁新站今天开通。", author="Li Wei")  # fmt: skip
    config = write_config(
        tmp_path,
        editions=["zh", "zh-Hant"],
        sources=[{"id": "newsroom", "articles": "stories"}],
        translation=OFFLINE_TRANSLATION,
    )
    done = run_cli("once", "--config", str(config))
    assert done.code == 0, done.output
    public = tmp_path / "public"

    def bylines(edition: str) -> dict[str, set[str]]:
        """Each format's (and the pages') authors of the edition's stories."""
        folder = public / edition
        feed = json.loads((folder / "feed.json").read_text("utf-8"))
        pages = [
            public / item["url"].removeprefix("https://feeds.example.kz/") for item in feed["items"]
        ]
        return {
            "feed.json": {a["name"] for item in feed["items"] for a in item["authors"]},
            **{
                name: {e.author for e in feedparser.parse((folder / name).read_bytes()).entries}
                for name in ("rss.xml", "atom.xml")
            },
            "pages": {
                byline
                for page in pages
                for byline in ("新華社記者 張曉東", "新华社记者 张晓东", "Li Wei")
                if byline in page.read_text("utf-8")
            },
        }

    for where, found in bylines("zh-Hant").items():
        assert found == {"新華社記者 張曉東", "Li Wei"}, where
    for where, found in bylines("zh").items():
        assert found == {"新华社记者 张晓东", "Li Wei"}, where


def test_once_publishes_the_originals_while_the_provider_has_not_answered(
    tmp_path: Path, fake_google: FakeGoogle
) -> None:
    """The originals (`untranslated: original`) go out while the translation is still waiting
    for the provider; its answers are published when they come, by the same `once`."""
    stories = tmp_path / "stories"
    _write_story(stories, "kk.md", "kk", "Астанада кітап көрмесі ашылды",
                 "Елордада халықаралық кітап көрмесі жұмысын бастады.")  # fmt: skip
    config = write_config(
        tmp_path,
        editions=["en"],
        sources=[{"id": "newsroom", "articles": "stories"}],
        translation={
            "chain": ["google"],
            "providers": {"google": {"base_url": fake_google.url}},
            "timeout": "60s",
            "untranslated": "original",
        },
    )
    fake_google.gate = threading.Event()
    feed = tmp_path / "public" / "en" / "atom.xml"
    once = start_cli("once", "--config", str(config))
    try:
        deadline = time.monotonic() + 60
        while not feed.exists() and once.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        # Published while the provider holds every request, the `once` still running.
        assert feed.exists() and once.poll() is None, "not published before the answers"
        assert fake_google.texts(), "the provider was never asked"
        assert "Астанада кітап көрмесі ашылды" in feed.read_text(encoding="utf-8")
    finally:
        fake_google.gate.set()
        output = once.communicate(timeout=120)[0]
    assert once.returncode == 0, output
    title = feedparser.parse(feed.read_bytes()).entries[0].title
    assert not CYRILLIC.search(title), title  # the translation, published by the same once
