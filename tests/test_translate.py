"""The translation stage end to end: a real Store on a temporary SQLite file, the real engine,
and deep-translator's real code talking HTTP to fake providers on 127.0.0.1.

What a partner newsroom sees: every story in every edition, markup intact, names in their
configured form, failures reported honestly and recovered from, nothing paid for twice.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import feedparser
import pytest

from syndication.config import Config, load
from syndication.html import sanitise_html
from syndication.model import Article, Translation, utcnow
from syndication.publish.editions import publish
from syndication.store import Store
from syndication.translate.engine import translate_pending
from syndication.translate.providers import MAX_CHARS, MAX_CHARS_HAN
from tests.conftest import run_cli, write_config
from tests.fakeprovider import FakeGoogle, fake_translate
from tests.loopback import LoopbackServer, send_json

HAN = re.compile(r"[\u4e00-\u9fff]")
CYRILLIC = re.compile(r"[\u0400-\u04ff]")
LATIN = re.compile(r"[A-Za-z]")
SCRIPT = {"kk": CYRILLIC, "zh": HAN, "en": LATIN}

# -- fakes of our own ---------------------------------------------------------------------


class MangledGoogle(FakeGoogle):
    """The fake Google, with its answers passed through `mangle` (a provider's bad habits)."""

    def __init__(self) -> None:
        self.mangle: Any = lambda text, source, target: text
        super().__init__()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        base = super()._handler()
        fake = self

        class Handler(base):  # type: ignore[valid-type, misc]
            def _send(
                self, status: int, body: bytes, headers: dict[str, str] | None = None
            ) -> None:
                marker = b'<div class="result-container">'
                if status == 200 and marker in body:
                    import html

                    query = parse_qs(urlsplit(self.path).query)
                    source = query["sl"][0].split("-")[0]
                    target = query["tl"][0].split("-")[0]
                    inner = body.split(marker, 1)[1].rsplit(b"</div>", 1)[0].decode()
                    answer = fake.mangle(html.unescape(inner), source, target)
                    body = (
                        f"<html><body>{marker.decode()}{html.escape(answer)}</div></body></html>"
                    ).encode()
                super()._send(status, body, headers)

        return Handler


class FakeMyMemory:
    """MyMemory's JSON API (`GET /get?q=..&langpair=kk-KZ|en-GB`) on 127.0.0.1."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []  # (langpair, text)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: object) -> None:
                pass

            def do_GET(self) -> None:
                query = parse_qs(urlsplit(self.path).query)
                pair, text = query["langpair"][0], query["q"][0]
                fake.calls.append((pair, text))
                source, target = (code.split("-")[0] for code in pair.split("|"))
                answer = {"translatedText": fake_translate(text, source, target)}
                send_json(self, 200, {"responseData": answer, "matches": []})

        self._server = LoopbackServer(Handler)

    @property
    def url(self) -> str:
        return self._server.url("/get")

    def stop(self) -> None:
        self._server.stop()


@pytest.fixture
def mangled_google() -> Iterator[MangledGoogle]:
    server = MangledGoogle()
    yield server
    server.stop()


@pytest.fixture
def fake_mymemory() -> Iterator[FakeMyMemory]:
    server = FakeMyMemory()
    yield server
    server.stop()


# -- helpers ------------------------------------------------------------------------------


def _setup(tmp_path: Path, google_url: str, **translation: Any) -> tuple[Config, Store]:
    settings: dict[str, Any] = {
        "chain": ["google"],
        "providers": {"google": {"base_url": google_url}},
        "timeout": "5s",
        "budget": "60s",
    }
    settings.update(translation)
    path = write_config(
        tmp_path,
        sources=[
            {"id": "wire", "articles": "articles", "language": "kk"},
            {"id": "desk", "articles": "articles", "language": "en"},
        ],
        translation=settings,
    )
    config = load(path)
    return config, Store.open(config.store_url)


def _article(
    source: str, guid: str, language: str, title: str, content: str, summary: str = ""
) -> Article:
    return Article(
        id=f"{source}:{guid}",
        source_id=source,
        guid=guid,
        title=title,
        summary=summary,
        content=sanitise_html(content),
        language=language,
        link=f"https://example.kz/{source}/{guid}",
    )


def _save(store: Store, *articles: Article) -> None:
    for source in {a.source_id for a in articles}:
        store.save_articles(
            source, [a for a in articles if a.source_id == source], ["kk", "zh", "en"]
        )


def _translations(store: Store, article_id: str) -> dict[str, Translation]:
    # Every row for the article, whatever its status (translation_work only returns work).
    from sqlalchemy import select

    from syndication.store import translations

    with store.begin() as conn:
        rows = conn.execute(select(translations).where(translations.c.article_id == article_id))
        return {
            r.language: Translation(
                article_id=r.article_id,
                language=r.language,
                status=r.status,
                title=r.title,
                summary=r.summary,
                content=r.content,
                provider=r.provider,
                error=r.error,
                attempts=r.attempts,
            )
            for r in rows
        }


def _units(calls: list[Any]) -> list[tuple[str, str, str]]:
    """(source, target, unit) for every unit packed into every request (blank-line separated)."""
    return [
        (c.source, c.target, unit.strip())
        for c in calls
        for unit in re.split(r"\n\s*\n", c.text)
        if unit.strip()
    ]


KK_TEXT = (
    "<p>Астанада <strong>халықаралық кітап көрмесі</strong> ашылды. Көрмеге Қазақстан, Қытай "
    "және Түркия баспалары қатысты.</p>"
    '<p>Бағдарламамен <a href="https://example.kz/fair">ресми сайтта</a> танысуға болады.</p>'
    "<ul><li>Ашылу салтанаты сағат онда басталады</li><li>Орны: көрме орталығы</li></ul>"
)
EN_TEXT = (
    "<p>Freight trains between Almaty and Urumqi now run <em>twice a day</em>, the operator "
    "said on Monday.</p>"
    '<p>The timetable is published on <a href="https://example.kz/rail">the railway site</a>.'
    "</p>"
)
ZH_TEXT = (
    "<p>中国与哈萨克斯坦合拍的<strong>丝绸之路纪录片</strong>在阿斯塔纳首映，观众反响热烈。</p>"
    '<p>摄制组在<a href="https://example.cn/film">官方网站</a>上公布了拍摄花絮和幕后故事。</p>'
)
RU_TEXT = (
    "<p>Синоптики предупреждают о <strong>сильном ветре</strong> в северных областях страны.</p>"
    '<p>Подробный прогноз опубликован на <a href="https://example.kz/meteo">сайте службы</a>.</p>'
)


# -- every story in every edition, nothing paid for twice -------------------------------


def _write_story(folder: Path, name: str, language: str, title: str, body: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(
        f"---\ntitle: {title}\ndate: 2025-05-0{len(list(folder.iterdir())) + 1}T09:00:00Z\n"
        f"language: {language}\n---\n{body}\n",
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


def test_an_edited_article_retranslates_only_its_changed_paragraph(
    tmp_path: Path, fake_google: FakeGoogle
) -> None:
    config, store = _setup(tmp_path, fake_google.url)
    story = _article("wire", "1", "kk", "Астанада кітап көрмесі ашылды", KK_TEXT)
    _save(store, story)
    assert translate_pending(config, store).translated == 2
    before = len(fake_google.calls)
    edited_paragraph = "Көрме бес күнге созылады, кіру тегін екенін ұйымдастырушылар хабарлады."
    edited = _article(
        "wire", "1", "kk", story.title, KK_TEXT.replace("</ul>", f"</ul><p>{edited_paragraph}</p>")
    )
    _save(store, edited)
    assert {t.status for t in _translations(store, story.id).values()} == {"stale"}
    report = translate_pending(config, store)
    assert report.translated == 2, report
    sent = {unit for _, _, unit in _units(fake_google.calls[before:])}
    assert sent == {edited_paragraph}, sent
    for lang, translation in _translations(store, story.id).items():
        assert translation.status == "translated"
        assert fake_translate(edited_paragraph, "kk", lang) in translation.content


# -- a long Chinese article with markup ---------------------------------------------------

_HAN_POOL = (
    "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动"
    "同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自"
    "二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日"
    "那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变"
    "条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总"
    "次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指"
    "几九区强放决西被干做必战先回则任取据处理世车"
)


def _chinese_article(chars: int) -> tuple[str, list[str]]:
    """~`chars` Han characters of varied sentences, with links, bold, a code block, a table."""
    rng = random.Random(20_000)
    paragraphs: list[str] = []
    links: list[str] = []
    total = 0
    index = 0
    while total < chars:
        index += 1
        sentences = [
            "".join(rng.choice(_HAN_POOL) for _ in range(rng.randint(18, 40))) + "。"
            for _ in range(rng.randint(2, 6))
        ]
        text = "".join(sentences)
        total += len(text)
        if index % 4 == 0:
            href = f"https://example.cn/news/{index}?a=1&b=2"
            links.append(href)
            text = f'{text[:10]}<a href="{href}">{text[10:16]}</a>{text[16:30]}<strong>{text[30:36]}</strong>{text[36:]}'  # noqa: E501
        paragraphs.append(f"<p>{text}</p>")
    paragraphs.insert(
        5, "<pre><code>for i in range(3):\n    print(i &lt; 2)  # 不要翻译\n</code></pre>"
    )
    paragraphs.insert(9, "<p>运行 <code>pip install 哈萨克</code> 命令即可安装。</p>")
    paragraphs.insert(
        12,
        "<table><thead><tr><th>地区</th><th>数量</th></tr></thead><tbody>"
        "<tr><td>北京市</td><td>120</td></tr><tr><td>阿拉木图市</td><td>45</td></tr>"
        "</tbody></table>",
    )
    return "".join(paragraphs), links


def test_a_20000_character_chinese_article_keeps_its_markup_and_the_request_limit(
    tmp_path: Path, fake_google: FakeGoogle
) -> None:
    config, store = _setup(tmp_path, fake_google.url)
    content, links = _chinese_article(21_000)
    story = _article(
        "wire", "zh-long", "zh", "国家发展改革委发布经济数据", content, "今年经济运行总体平稳。"
    )
    assert len(HAN.findall(story.content)) >= 20_000
    _save(store, story)
    report = translate_pending(config, store)
    assert report.translated == 2, report
    limit = MAX_CHARS_HAN["google"]
    for call in fake_google.calls:
        assert call.source == "zh-CN"
        assert len(call.text) <= limit, len(call.text)
        # What Google limits is the URL-encoded query: a Han character costs 9 bytes there.
        assert len(quote(call.text)) <= limit * 9
        assert "print(i" not in call.text and "pip install" not in call.text
        assert "https://" not in call.text
    # Packed, not one request per paragraph: within a few requests of the minimum.
    per_target = len(fake_google.calls) / 2
    assert per_target <= len(story.content) / limit + 8, per_target
    source = story.content
    for lang in ("kk", "en"):
        translated = _translations(store, story.id)[lang]
        assert translated.status == "translated"
        html_out = translated.content
        for href in links:
            assert f'href="{href.replace("&", "&amp;")}"' in html_out, href
        for tag in ("<a ", "</a>", "<strong>", "</strong>", "<p>", "<td>", "<th>", "<tr>"):
            assert html_out.count(tag) == source.count(tag), (lang, tag)
        assert (
            "<pre><code>for i in range(3):\n    print(i &lt; 2)  # 不要翻译\n</code></pre>"
            in html_out
        )
        assert "<code>pip install 哈萨克</code>" in html_out
        assert "<td>120</td>" in html_out and "<td>45</td>" in html_out


# -- failures: honest, contained, recovered from ------------------------------------------


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


# -- glossary -------------------------------------------------------------------------------

GLOSSARY = [{"kk": "Тоқаев", "ru": "Токаев", "zh": "托卡耶夫", "en": "Tokayev"}]


def _glossary_stories() -> list[Article]:
    return [
        _article("wire", "g-kk", "kk", "Тоқаев Kazinform агенттігіне сұхбат берді",
                 "<p>Президент <strong>Тоқаев</strong> Kazinform тілшісіне сұхбат берді.</p>"
                 '<p><a href="https://example.kz/t">Тоқаев сұхбаты</a> толық жарияланды.</p>'),
        _article("wire", "g-ru", "ru", "Токаев дал интервью агентству Kazinform",
                 "<p>Президент <em>Токаев</em> ответил на вопросы корреспондента Kazinform.</p>"),
        _article("desk", "g-zh", "zh", "托卡耶夫接受Kazinform专访",
                 "<p>总统<strong>托卡耶夫</strong>接受了Kazinform记者的专访。</p>"),
        _article("desk", "g-en", "en", "Tokayev gives an interview to Kazinform",
                 "<p>President <strong>Tokayev</strong> answered questions from Kazinform.</p>"),
    ]  # fmt: skip


def _assert_glossary_everywhere(store: Store, stories: list[Article]) -> None:
    for story in stories:
        for lang, translation in _translations(store, story.id).items():
            assert translation.status == "translated", (story.id, lang, translation.error)
            form = GLOSSARY[0][lang]
            for text in (translation.title, translation.content):
                assert form in text, (story.id, lang, text)
                assert "Kazinform" in text, (story.id, lang, text)


def test_glossary_terms_appear_in_their_configured_form_in_every_edition(
    tmp_path: Path, fake_google: FakeGoogle
) -> None:
    config, store = _setup(tmp_path, fake_google.url, glossary=GLOSSARY, keep=["Kazinform"])
    stories = _glossary_stories()
    _save(store, *stories)
    translate_pending(config, store)
    _assert_glossary_everywhere(store, stories)


def test_glossary_holds_when_the_provider_loses_inline_markers(
    tmp_path: Path, mangled_google: MangledGoogle
) -> None:
    # A provider that drops closing markers: blocks with inline tags go to the node-by-node
    # fallback, which must protect glossary terms too.
    mangled_google.mangle = lambda text, source, target: re.sub(r"\[/\d+\]", "", text)
    config, store = _setup(tmp_path, mangled_google.url, glossary=GLOSSARY, keep=["Kazinform"])
    stories = _glossary_stories()
    _save(store, *stories)
    translate_pending(config, store)
    _assert_glossary_everywhere(store, stories)
    kk = _translations(store, "desk:g-en")["kk"].content
    assert "<strong>" in kk and "</strong>" in kk, kk  # inline tags kept by the fallback


def test_packed_answers_with_squeezed_blank_lines_are_still_split(
    tmp_path: Path, mangled_google: MangledGoogle
) -> None:
    # Some providers turn the blank line between packed paragraphs into a single line break.
    mangled_google.mangle = lambda text, source, target: re.sub(r"\n\s*\n", "\n", text)
    config, store = _setup(tmp_path, mangled_google.url)
    _save(store, _article("wire", "1", "kk", "Астанада кітап көрмесі ашылды", KK_TEXT))
    report = translate_pending(config, store)
    assert report.translated == 2, report
    assert report.requests == 2, "fell back to one request per paragraph"


# -- the sanity check ------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["echo", "wrong script"])
def test_an_answer_that_fails_the_sanity_check_is_never_published(
    tmp_path: Path, mangled_google: MangledGoogle, bad: str
) -> None:
    if bad == "echo":
        mangled_google.mode = "echo"
    else:
        # Answers in Latin letters whatever the target language.
        mangled_google.mangle = lambda text, source, target: fake_translate(text, source, "en")
    config, store = _setup(tmp_path, mangled_google.url)
    story = _article("wire", "bad", "kk", "Астанада халықаралық кітап көрмесі ашылды", KK_TEXT)
    _save(store, story)
    report = translate_pending(config, store)
    rows = _translations(store, story.id)
    wrong = ["kk", "zh"] if bad == "wrong script" else ["kk", "zh", "en"]
    for lang in wrong:
        if lang == "kk":
            continue
        assert rows[lang].status == "failed", rows[lang]
        expected = "unchanged" if bad == "echo" else "not in the zh script"
        assert expected in rows[lang].error, rows[lang].error
        assert not rows[lang].content
    assert report.failed >= 1
    publish(config, store)
    zh = feedparser.parse((tmp_path / "public" / "zh" / "atom.xml").read_bytes())
    assert all("bad" not in (e.get("link") or "") for e in zh.entries)
    assert not any(CYRILLIC.search(e.title) or LATIN.search(e.title) for e in zh.entries)


# -- provider chain ---------------------------------------------------------------------------


def test_the_next_provider_in_the_chain_answers_when_the_first_is_down(
    tmp_path: Path, fake_google: FakeGoogle, fake_mymemory: FakeMyMemory
) -> None:
    fake_google.mode = "500"
    config, store = _setup(
        tmp_path,
        fake_google.url,
        chain=["google", "mymemory"],
        providers={"google": {"base_url": fake_google.url},
                   "mymemory": {"base_url": fake_mymemory.url}},
    )  # fmt: skip
    story = _article("wire", "1", "kk", "Астанада кітап көрмесі ашылды", KK_TEXT)
    _save(store, story)
    report = translate_pending(config, store)
    assert report.translated == 2, report
    assert fake_google.calls, "google was not tried first"
    for lang, translation in _translations(store, story.id).items():
        assert translation.status == "translated" and translation.provider == "mymemory"
        assert SCRIPT[lang].search(translation.title), translation.title
        assert 'href="https://example.kz/fair"' in translation.content
    pairs = {pair for pair, _ in fake_mymemory.calls}
    assert pairs == {"kk-KZ|zh-CN", "kk-KZ|en-GB"}, pairs
    assert all(len(text) <= MAX_CHARS["mymemory"] for _, text in fake_mymemory.calls)


# -- configuration ----------------------------------------------------------------------------


def test_check_reports_a_language_pair_no_provider_in_the_chain_translates(
    tmp_path: Path,
) -> None:
    # DeepL has no Kazakh: a Kazakh source cannot reach the zh and en editions.
    config = write_config(tmp_path, translation={"chain": ["deepl"]})
    result = run_cli("check", "--config", str(config))
    assert result.code == 2, result.output
    assert "kk→zh" in result.output and "kk→en" in result.output, result.output
    assert "zh→en" not in result.output
