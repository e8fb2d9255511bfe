"""The translation stage end to end: a real Store on a temporary SQLite file, the real engine,
and deep-translator's real code talking HTTP to fake providers on 127.0.0.1.

What a partner newsroom sees: every story in every edition, markup intact, names in their
configured form, failures reported honestly and recovered from, nothing paid for twice.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import feedparser
import pytest

from syndication.config import Config, load
from syndication.html import sanitise_html
from syndication.ingest.save import save_articles
from syndication.model import Article, Translation
from syndication.publish import publish
from syndication.store import Store
from syndication.translate.engine import translate_pending
from syndication.translate.providers import MAX_CHARS, MAX_CHARS_HAN
from tests.conftest import write_config
from tests.fakeprovider import FakeGoogle, fake_translate
from tests.loopback import LoopbackServer, send_json

# The store on each backend: SQLite and PostgreSQL (tests/conftest.py, `store_url`).
pytestmark = pytest.mark.usefixtures("store_url")

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
        save_articles(
            store, source, [a for a in articles if a.source_id == source], ["kk", "zh", "en"]
        )


def _translations(store: Store, article_id: str) -> dict[str, Translation]:
    # Every row for the article, whatever its status (translation_work only returns work).
    from sqlalchemy import select

    from syndication.store.schema import translations

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
ZH_TEXT = (
    "<p>中国与哈萨克斯坦合拍的<strong>丝绸之路纪录片</strong>在阿斯塔纳首映，观众反响热烈。</p>"
    '<p>摄制组在<a href="https://example.cn/film">官方网站</a>上公布了拍摄花絮和幕后故事。</p>'
)
RU_TEXT = (
    "<p>Синоптики предупреждают о <strong>сильном ветре</strong> в северных областях страны.</p>"
    '<p>Подробный прогноз опубликован на <a href="https://example.kz/meteo">сайте службы</a>.</p>'
)


# -- every story in every edition, nothing paid for twice -------------------------------


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


def _many_stories(count: int) -> list[Article]:
    return [
        _article("wire", f"s{i}", "kk", f"Астанада {i}-кітап көрмесі ашылды",
                 f"<p>Көрмеге {i} баспа қатысты.</p><p>Келушілер {i} мыңнан асты.</p>")
        for i in range(count)
    ]  # fmt: skip


def test_a_provider_refusing_every_request_is_found_down_within_a_few_requests(
    tmp_path: Path, fake_google: FakeGoogle
) -> None:
    # Halving a refused request must not turn an outage into a request per paragraph.
    fake_google.mode = "500"
    config, store = _setup(tmp_path, fake_google.url)
    stories = _many_stories(8)
    _save(store, *stories)
    report = translate_pending(config, store)
    assert report.translated == 0 and report.failed == 0, report
    assert report.pending == 16, report
    # The request for all 8 stories, then two rounds of halves refused: the breaker is open.
    assert len(fake_google.calls) <= 1 + 2 + 4, len(fake_google.calls)
    assert len({c.target for c in fake_google.calls}) == 1, "asked again for the other edition"
    for story in stories:
        for translation in _translations(store, story.id).values():
            assert translation.status == "pending", translation
            assert translation.error == "google: request failed (HTTP 500)", translation


def test_a_long_retry_after_from_google_keeps_the_worker_away_until_then(
    tmp_path: Path, fake_google: FakeGoogle
) -> None:
    from syndication.translate.engine import build_providers

    fake_google.mode, fake_google.retry_after = "429", "3600"
    config, store = _setup(tmp_path, fake_google.url)
    _save(store, *_many_stories(3))
    waits: list[float] = []
    providers = build_providers(config, sleep=waits.append)  # kept across cycles, as by `run`
    report = translate_pending(config, store, providers=providers)
    assert report.pending == 6 and waits == [], (report, waits)
    assert len(fake_google.calls) == 1, "retried against its Retry-After"
    assert set(report.reasons) == {"google: rate limited (HTTP 429, Retry-After 3600s)"}
    fake_google.mode = "ok"
    report = translate_pending(config, store, providers=providers)
    assert report.pending == 6 and len(fake_google.calls) == 1, "asked before its Retry-After"


# -- an outage costs the same whatever the backlog ------------------------------------------


def _count_row_writes(store: Store) -> None:
    """Count every write to a translation row from now on, same values or not (a trigger in
    the store itself: whatever code writes, through whatever connection)."""
    with store.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE test_row_writes (n INTEGER NOT NULL)")
        conn.exec_driver_sql("INSERT INTO test_row_writes VALUES (0)")
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(
                "CREATE FUNCTION test_count_write() RETURNS trigger AS $$ BEGIN "
                "UPDATE test_row_writes SET n = n + 1; RETURN NULL; END $$ LANGUAGE plpgsql"
            )
            conn.exec_driver_sql(
                "CREATE TRIGGER test_count_writes AFTER INSERT OR UPDATE ON translations "
                "FOR EACH ROW EXECUTE FUNCTION test_count_write()"
            )
            return
        for event in ("INSERT", "UPDATE"):
            conn.exec_driver_sql(
                f"CREATE TRIGGER test_count_{event.lower()} AFTER {event} ON translations "
                "BEGIN UPDATE test_row_writes SET n = n + 1; END"
            )


def _row_writes(store: Store) -> int:
    with store.begin() as conn:
        return int(conn.exec_driver_sql("SELECT n FROM test_row_writes").scalar() or 0)


def _down_setup(tmp_path: Path, fake_google: FakeGoogle, mode: str) -> tuple[Config, Store]:
    if mode == "unreachable":
        url = "http://127.0.0.1:9/m"  # nothing listens on the discard port
    else:
        url = fake_google.url
        fake_google.mode = mode
    return _setup(tmp_path, url)


def _requests(fake_google: FakeGoogle, report: Any, mode: str) -> int:
    # A closed port cannot count what it refused: the guard's own count of what it sent.
    return report.requests if mode == "unreachable" else len(fake_google.calls)


@pytest.mark.parametrize("mode", ["unreachable", "500", "429"])
def test_while_the_provider_is_down_a_cycle_costs_one_probe_and_rewrites_no_row(
    tmp_path: Path, fake_google: FakeGoogle, mode: str
) -> None:
    from syndication.translate.engine import build_providers

    config, store = _down_setup(tmp_path, fake_google, mode)
    stories = _many_stories(40)
    _save(store, *stories)
    _count_row_writes(store)

    def cycle() -> Any:
        # A new process each time (`once` from cron): guards start fresh, no real sleeping.
        fake_google.calls.clear()
        return translate_pending(config, store, providers=build_providers(config, lambda _: None))

    first = cycle()
    assert first.pending == 80 and first.translated == first.failed == 0, first
    # One story's request and its retries (or its halves) find the provider down; the other
    # 79 translations are never sent.
    assert 1 <= _requests(fake_google, first, mode) <= 7, _requests(fake_google, first, mode)
    reason = next(iter(first.reasons))
    assert set(first.reasons) == {reason} and first.reasons[reason] == 80, first.reasons
    for story in stories:
        for translation in _translations(store, story.id).values():
            assert (translation.status, translation.error) == ("pending", reason), translation
            assert translation.attempts == 1, translation
    written = _row_writes(store)
    assert written <= 80, f"{written} writes for 80 rows"

    for _ in range(3):
        again = cycle()
        assert again.pending == 80 and set(again.reasons) == {reason}, again
        # One probe request, tried once: the store remembered the outage.
        assert _requests(fake_google, again, mode) == 1, mode
        assert _row_writes(store) == written, "rows rewritten though nothing about them changed"

    # The backlog does not change what a cycle costs: twice as many stories, the same.
    # (Stories of their own, each at its own link: a new guid on a link whose old guid left
    # the feed is the same story renamed, ingest/decide.py.)
    more_stories = [
        replace(s, id=f"{s.id}-more", guid=f"{s.guid}-more", link=f"{s.link}-more") for s in stories
    ]
    _save(store, *more_stories)
    more = cycle()
    assert more.pending == 160 and _requests(fake_google, more, mode) == 1, more
    assert _row_writes(store) == written + 80 + 80, "only the new rows learnt why they wait"

    # Kept across cycles (`run`), the open breaker sends nothing at all.
    kept = build_providers(config, lambda _: None)
    translate_pending(config, store, providers=kept)
    fake_google.calls.clear()
    writes = _row_writes(store)
    held = translate_pending(config, store, providers=kept)
    assert held.pending == 160 and held.requests == 0 and not fake_google.calls, held
    assert _row_writes(store) == writes

    # The provider is back: the next cycle's probe answers and everything is translated.
    if mode == "unreachable":
        config, _ = _setup(tmp_path, fake_google.url)
    fake_google.mode = "ok"
    recovered = cycle()
    assert recovered.translated == 160 and recovered.pending == 0, recovered


def test_a_retry_after_is_remembered_by_the_next_process(
    tmp_path: Path, fake_google: FakeGoogle
) -> None:
    from syndication.translate.engine import build_providers

    fake_google.mode, fake_google.retry_after = "429", "3600"
    config, store = _setup(tmp_path, fake_google.url)
    _save(store, *_many_stories(5))
    first = translate_pending(config, store, providers=build_providers(config, lambda _: None))
    assert first.pending == 10 and len(fake_google.calls) == 1, first
    fake_google.mode = "ok"
    # A new process (`once`), within the hour the provider asked for: not a single request.
    second = translate_pending(config, store, providers=build_providers(config, lambda _: None))
    assert second.pending == 10 and len(fake_google.calls) == 1, second
    assert set(second.reasons) == {"google: rate limited (HTTP 429, Retry-After 3600s)"}


def test_a_story_version_is_segmented_once(tmp_path: Path, fake_google: FakeGoogle) -> None:
    from syndication.translate.engine import _plan
    from syndication.translate.segment import Glossary

    config, store = _setup(tmp_path, fake_google.url)
    story = _article("wire", "1", "kk", "Астанада кітап көрмесі ашылды", KK_TEXT)
    _save(store, story)
    (stored, pending), *_ = store.translation_work(["en"])
    glossary = Glossary()
    first = _plan(config, glossary, stored, pending)
    again = _plan(config, glossary, stored, pending)
    assert first.content is again.content and first.title is again.title
    edited = replace(stored, article=replace(stored.article, content=KK_TEXT + "<p>Жаңа.</p>"))
    assert _plan(config, glossary, edited, pending).content is not first.content


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


# -- a name that repeats (it does in almost every story) ----------------------------------

NAME = GLOSSARY[0]


def _repeating_stories() -> list[tuple[Article, str]]:
    """Per source language two stories, the first naming the president three times in one
    paragraph and twice across the next two, with code that must stay as written; the second
    names him twice. Returned with the source form of the name."""
    texts = {
        "kk": (
            "Президент {n} <strong>бүгін</strong> Астанада сөйледі. {n} {k} тілшісіне жауап "
            'берді, ал кейін {n} <a href="https://example.kz/s">сұхбатты</a> аяқтады, деп '
            "хабарлады {k}.",
            "{n} сапарын ертең жалғастырады.",
            "Содан кейін {n} Алматыға барады.",
            "Кездесуде {n} {k} тілшілеріне алғыс айтты, {n} жаңа жобаны таныстырды.",
            "{n} Астанада сұхбат берді",
            "{n} Алматыда",
        ),
        "ru": (
            "Президент {n} <strong>сегодня</strong> выступил в Астане. {n} ответил "
            'корреспонденту {k}, а затем {n} <a href="https://example.kz/s">завершил</a> '
            "интервью, сообщает {k}.",
            "{n} продолжит поездку завтра.",
            "После этого {n} посетит Алматы.",
            "На встрече {n} поблагодарил журналистов {k}, {n} представил новый проект.",
            "{n} дал интервью в Астане",
            "{n} в Алматы",
        ),
        "zh": (
            "总统{n}<strong>今天</strong>在阿斯塔纳发表讲话。{n}回答了{k}记者的提问，随后{n}"
            '<a href="https://example.cn/s">结束了采访</a>，{k}报道。',
            "{n}明天将继续访问。",
            "此后{n}将前往阿拉木图。",
            "会见中{n}感谢了{k}记者，{n}介绍了新项目。",
            "{n}在阿斯塔纳接受采访",
            "{n}在阿拉木图",
        ),
        "en": (
            "President {n} <strong>today</strong> spoke in Astana. {n} answered a {k} "
            'reporter, and later {n} <a href="https://example.kz/s">ended the interview</a>, '
            "{k} reported.",
            "{n} continues the visit tomorrow.",
            "After that {n} travels to Almaty.",
            "At the meeting {n} thanked the {k} reporters, {n} presented a new project.",
            "{n} gives an interview in Astana",
            "{n} in Almaty",
        ),
    }
    stories = []
    for lang, (first, second, third, other, title, other_title) in texts.items():
        n, k = NAME[lang], "Kazinform"
        source = "wire" if lang in ("kk", "ru") else "desk"
        code = f'<pre><code>print("{n}")  # {k}\n</code></pre>'
        body = "".join(f"<p>{p.format(n=n, k=k)}</p>" for p in (first, second, third))
        stories.append((_article(source, f"{lang}-1", lang, title.format(n=n), body + code), n))
        stories.append(
            (
                _article(
                    source,
                    f"{lang}-2",
                    lang,
                    other_title.format(n=n),
                    f"<p>{other.format(n=n, k=k)}</p>",
                ),
                n,
            )
        )
    return stories


def _strip_trailing_marker(text: str) -> str:
    # A placeholder that ends a packed unit is dropped (seen from real providers on short
    # fragments): the whole block and its text nodes lose it, the plain text keeps it.
    return re.sub(r"\s*\[\d+\](?=\s*(\n\s*\n|$))", "", text)


REPEAT_MODES = {
    # Blocks translated whole, several stories packed into each request.
    "packed": lambda text, source, target: text,
    # Closing markers lost: blocks with inline tags go node by node.
    "nodes": lambda text, source, target: re.sub(r"\[/\d+\]", "", text),
    # ... and a marker ending a unit lost too: such blocks fall back to plain text.
    "plain": lambda text, source, target: _strip_trailing_marker(re.sub(r"\[/\d+\]", "", text)),
}


@pytest.mark.parametrize("mode", list(REPEAT_MODES))
def test_a_name_repeated_in_a_story_comes_back_in_its_form_every_time(
    tmp_path: Path, mangled_google: MangledGoogle, mode: str
) -> None:
    mangled_google.mangle = REPEAT_MODES[mode]
    config, store = _setup(tmp_path, mangled_google.url, glossary=GLOSSARY, keep=["Kazinform"])
    stories = _repeating_stories()
    _save(store, *(story for story, _ in stories))
    translate_pending(config, store)
    for story, source_form in stories:
        first = story.guid.endswith("-1")
        rows = _translations(store, story.id)
        assert set(rows) == {"kk", "zh", "en"} - {story.language}
        for lang, translation in rows.items():
            where = (mode, story.id, lang)
            assert translation.status == "translated", (*where, translation.error)
            form, content = NAME[lang], translation.content
            assert translation.title.count(form) == 1, (*where, translation.title)
            assert content.count(form) == (5 if first else 2), (*where, content)
            assert content.count("Kazinform") == (3 if first else 1), (*where, content)
            # The code block is never translated: the name stays as written there.
            if first:
                code = f'<pre><code>print("{source_form}")  # Kazinform\n</code></pre>'
                assert code in content, (*where, content)
                assert content.count(source_form) == (1 if form != source_form else 5)
                assert content.count("<p>") == 3, (*where, content)
                if mode == "plain":  # the plain-text fallback drops inline tags by design
                    assert "<strong>" not in content and "<a " not in content, content
                else:
                    assert content.count("<strong>") == content.count("</strong>") == 1
                    assert content.count('<a href="https://example.') == 1, content
                    assert content.count("</a>") == 1, content
            else:
                assert source_form not in content or form == source_form, (*where, content)
    # Several stories went in one request, and each fallback was packed as well.
    units = _units(mangled_google.calls)
    assert any(
        "Астанада" in call.text and "Алматыда" in call.text for call in mangled_google.calls
    ), [c.text for c in mangled_google.calls]
    # (The word in <strong> sent alone: the node fallback; the paragraph without its
    # markers: the plain one. Each into two editions, the Russian one into three.)
    node_units = [u for _, _, u in units if u in ("бүгін", "сегодня", "今天", "today")]
    assert len(node_units) == (0 if mode == "packed" else 9), units
    plain_units = [u for _, _, u in units if re.match(r"Президент \[\d+\] бүгін", u)]
    assert len(plain_units) == (2 if mode == "plain" else 0), units


def test_a_long_chinese_article_repeating_a_glossary_term_is_translated(
    tmp_path: Path, fake_google: FakeGoogle
) -> None:
    config, store = _setup(tmp_path, fake_google.url, glossary=GLOSSARY, keep=["CMG"])
    rng = random.Random(10)
    paragraphs = []
    mentions = 0
    for index in range(8):
        sentences = []
        # Paragraphs over Google's limit for Han text: cut into pieces at sentence ends.
        while sum(map(len, sentences)) < (1_700 if index % 2 else 400):
            words = "".join(rng.choice(_HAN_POOL) for _ in range(rng.randint(15, 30)))
            sentences.append(f"{words[:6]}托卡耶夫{words[6:]}，CMG报道。")
            mentions += 1
        text = "".join(sentences)
        if index == 3:
            text = f'<strong>托卡耶夫</strong>{text}<a href="https://example.cn/t">托卡耶夫</a>'
            mentions += 2
        paragraphs.append(f"<p>{text}</p>")
    story = _article(
        "desk", "zh-long", "zh", "托卡耶夫会见记者，托卡耶夫表示欢迎", "".join(paragraphs)
    )
    _save(store, story)
    report = translate_pending(config, store)
    assert report.translated == 2, report
    assert any(len(c.text) > 1_000 for c in fake_google.calls)
    for lang, translation in _translations(store, story.id).items():
        form = NAME[lang]
        assert translation.title.count(form) == 2, translation.title
        assert translation.content.count(form) == mentions, (lang, translation.content)
        assert translation.content.count("CMG") == mentions - 2
        assert "托卡耶夫" not in translation.content
        assert '<a href="https://example.cn/t" rel="noopener">' in translation.content
        assert translation.content.count("<p>") == 8


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


def test_a_correction_note_is_translated_on_its_own_and_keeps_its_paragraph(
    tmp_path: Path, fake_google: FakeGoogle
) -> None:
    """The note's label is a fixed word of each edition, never sent to a provider; the note
    is, and each translation opens with `<p class="correction">`, the target's label and it."""
    config, store = _setup(tmp_path, fake_google.url)
    note = "Саябақтың ауданы түзетілді."
    body = "<p>Алматыда жаңа саябақ ашылды. Оның ауданы елу гектар.</p>"
    story = replace(
        _article("wire", "park", "kk", "Алматыда жаңа саябақ ашылды", body),
        content=f'<p class="correction"><strong>Түзету:</strong> {note}</p>{body}',
        correction=note,
    )
    _save(store, story)
    assert translate_pending(config, store).translated == 2
    sent = [unit for _, _, unit in _units(fake_google.calls)]
    assert note in sent and not any("Түзету" in unit for unit in sent), sent
    labels = {"en": "Correction:", "zh": "更正："}
    for language, translation in _translations(store, story.id).items():
        opening = f'<p class="correction"><strong>{labels[language]}</strong> '
        assert translation.content.startswith(
            opening + fake_translate(note, "kk", language) + "</p><p>"
        ), translation.content
        assert fake_translate("Оның ауданы елу гектар.", "kk", language) in translation.content


def test_a_story_in_a_language_no_provider_translates_says_what_to_do(
    tmp_path: Path, fake_mymemory: FakeMyMemory
) -> None:
    # MyMemory has no Turkish code: a partner's Turkish story cannot be translated, and the
    # operator reads why and what to change (declare the source's language, or a provider).
    config, store = _setup(
        tmp_path,
        fake_mymemory.url,
        chain=["mymemory"],
        providers={"mymemory": {"base_url": fake_mymemory.url}},
    )
    story = _article("wire", "tr", "tr", "Yeni demiryolu açıldı", "<p>Yolcular memnun.</p>")
    _save(store, story)
    report = translate_pending(config, store)
    assert report.translated == 0 and report.failed == 3, report
    for translation in _translations(store, story.id).values():
        assert translation.status == "failed"
        assert "no provider in the chain translates tr→" in (translation.error or "")
        assert "`language:`" in (translation.error or "")


# -- answers refused: never remembered, never published, each story its own reason ----------

BUDGET = _article(
    "desk", "budget", "en", "Parliament approves 2026 budget & tax code",
    "<p>The Mazhilis approved the <strong>2026 budget</strong> on Tuesday, the president "
    'said in <a href="https://akorda.kz/en/statement-1">a statement</a>.</p>'
    '<p>Read more at <a href="https://example.kz/budget">the ministry site</a>. Kazinform '
    "reported the vote.</p>",
)  # fmt: skip
SCHOOL = _article(
    "wire", "school", "kk", "Астанада жаңа мектеп ашылды",
    "<p>Астана қаласында жаңа мектеп ашылды. Мектепте 900 оқушы білім алады.</p>"
    '<p>Бұл жоба туралы Kazinform ақпараты <a href="https://edu.kz/news/1">мына жерде</a>.</p>',
)  # fmt: skip
ERROR_PAGE = "<html><body>Error 42 <script>alert(1)</script></body></html>"
BAD_ANSWERS = {
    # The provider drops the bracketed markers (and any tag) from its answers.
    "dropmarkup": lambda text, source, target: re.sub(r"\[/?\d+\]|<[^>]+>", "", text),
    # A proxy's error page, served with status 200 in place of the translation.
    "garbage": lambda text, source, target: ERROR_PAGE,
}


def _memory_rows(store: Store) -> list[tuple[str, str]]:
    from sqlalchemy import select

    from syndication.store.schema import memory

    with store.begin() as conn:
        return [(r.source_text, r.target_text) for r in conn.execute(select(memory))]


def _markers(text: str) -> list[str]:
    return sorted(re.findall(r"\[/?\d+\]", text))


@pytest.mark.parametrize("bad", list(BAD_ANSWERS))
def test_a_refused_answer_is_never_remembered_and_the_story_translates_once_healthy(
    tmp_path: Path, mangled_google: MangledGoogle, bad: str
) -> None:
    mangled_google.mangle = BAD_ANSWERS[bad]
    config, store = _setup(tmp_path, mangled_google.url, keep=["Kazinform"])
    _save(store, BUDGET, SCHOOL)
    report = translate_pending(config, store)
    assert report.translated == 0 and report.failed == 4, report
    for text, answer in _memory_rows(store):
        assert "<html" not in answer and "Error 42" not in answer, (text, answer)
        assert _markers(answer) == _markers(text), (text, answer)
    # The provider is healthy again: the operator's `retry --failed` translates every story.
    mangled_google.mangle = lambda text, source, target: text
    report = translate_pending(config, store, retry_all=True)
    assert report.translated == 4 and report.failed == 0, report
    for story in (BUDGET, SCHOOL):
        for lang, translation in _translations(store, story.id).items():
            assert translation.status == "translated", (lang, translation.error)
            assert translation.title == fake_translate(story.title, story.language, lang)
            assert "Error 42" not in translation.content
            assert translation.content.count('<a href="https://') == story.content.count("<a ")


def test_an_answer_remembered_before_the_checks_refused_it_is_dropped_and_asked_again(
    tmp_path: Path, fake_google: FakeGoogle
) -> None:
    # A store written by an earlier version holds bad answers for this story's title (an
    # error page) and first paragraph (its markers lost): they are asked for again.
    from syndication.translate.memory import remember

    config, store = _setup(tmp_path, fake_google.url)
    _save(store, SCHOOL)
    paragraph = "Бұл жоба туралы Kazinform ақпараты [1]мына жерде[/1]."
    remember(store, {SCHOOL.title: ERROR_PAGE, paragraph: "Bul joba turaly mina jerde."},
             "kk", "en", "google")  # fmt: skip
    report = translate_pending(config, store)
    assert report.translated == 2, report
    en = _translations(store, SCHOOL.id)["en"]
    assert en.title == fake_translate(SCHOOL.title, "kk", "en"), en.title
    assert '<a href="https://edu.kz/news/1" rel="noopener">' in en.content, en.content
    sent = {unit for _, _, unit in _units(fake_google.calls)}
    assert {SCHOOL.title, paragraph} <= sent, sent
    remembered = dict(_memory_rows(store))
    assert remembered[SCHOOL.title] != ERROR_PAGE, "the bad answer is still remembered"
    assert _markers(remembered[paragraph]) == _markers(paragraph), remembered[paragraph]
    # Remembered right this time: the next story with the same title costs no request.
    before = len(fake_google.calls)
    _save(store, replace(SCHOOL, id="wire:school-2", guid="school-2", link=SCHOOL.link + "-2"))
    assert translate_pending(config, store).translated == 2
    assert SCHOOL.title not in {u for _, _, u in _units(fake_google.calls[before:])}


def test_an_html_error_page_served_with_status_200_is_never_published(
    tmp_path: Path, mangled_google: MangledGoogle
) -> None:
    mangled_google.mangle = BAD_ANSWERS["garbage"]
    config, store = _setup(tmp_path, mangled_google.url)
    story = _article(
        "wire", "plain", "kk", "Астанада жаңа мектеп ашылды",
        "<p>Астана қаласында жаңа мектеп ашылды. Мектепте 900 оқушы білім алады.</p>",
    )  # fmt: skip
    _save(store, story)
    report = translate_pending(config, store)
    assert report.translated == 0 and report.failed == 2, report
    for translation in _translations(store, story.id).values():
        assert translation.status == "failed" and "HTML" in translation.error, translation
    publish(config, store)
    for edition in ("en", "zh"):
        feed = (tmp_path / "public" / edition / "rss.xml").read_text(encoding="utf-8")
        assert "Error 42" not in feed and "&lt;html" not in feed, feed


PREAMBLES = {"en": "Here is the translation: ", "zh": "以下是翻译：", "kk": "Аударма: "}


def test_an_llm_preamble_before_the_translation_is_refused(
    tmp_path: Path, fake_google: FakeGoogle
) -> None:
    fake_google.preamble = PREAMBLES  # on its chat-completions endpoint
    config, store = _setup(
        tmp_path,
        fake_google.chat_url,
        chain=["openai"],
        providers={"openai": {"base_url": fake_google.chat_url, "model": "m"}},
    )
    _save(store, BUDGET, SCHOOL)
    report = translate_pending(config, store)
    assert report.translated == 0 and report.failed == 4, report
    for story in (BUDGET, SCHOOL):
        for translation in _translations(store, story.id).values():
            assert "preamble" in translation.error, translation
    for text, answer in _memory_rows(store):
        assert not any(p.strip() in answer for p in PREAMBLES.values()), (text, answer)
    fake_google.preamble = {}
    assert translate_pending(config, store, retry_all=True).translated == 4
    for story in (BUDGET, SCHOOL):
        for lang, translation in _translations(store, story.id).items():
            assert translation.title == fake_translate(story.title, story.language, lang)


def test_each_story_is_failed_for_its_own_reason_quoting_no_other_story(
    tmp_path: Path, fake_google: FakeGoogle
) -> None:
    # Google answers a page without a translation: deep-translator's error quotes the text it
    # was sent. Packed with another story's text, a story must not be failed for that text.
    fake_google.mode = "empty"
    config, store = _setup(tmp_path, fake_google.url, keep=["Kazinform"])
    _save(store, BUDGET, SCHOOL)
    translate_pending(config, store)
    texts = {
        story.id: [story.title, *re.split(r"<[^>]+>|\. ", story.content)]
        for story in (BUDGET, SCHOOL)
    }
    for story in (BUDGET, SCHOOL):
        for lang, translation in _translations(store, story.id).items():
            assert translation.status in ("failed", "pending") and translation.error
            for other, pieces in texts.items():
                if other == story.id:
                    continue
                quoted = [p for p in pieces if len(p) > 8 and p.strip() in translation.error]
                assert not quoted, (story.id, lang, translation.error)


def test_no_part_of_a_packed_answer_refused_as_a_whole_is_used_or_remembered(
    tmp_path: Path, mangled_google: MangledGoogle
) -> None:
    # A preamble on a paragraph of its own, and the last paragraph dropped: the answer still
    # splits into as many parts as units were sent, each part the translation of the unit
    # before it. Nothing of it may be taken for any unit.
    def shifted(text: str, source: str, target: str) -> str:
        paragraphs = re.split(r"\n\s*\n", text)
        return "\n\n".join(["Here is the translation:", *paragraphs[:-1]])

    mangled_google.mangle = shifted
    config, store = _setup(tmp_path, mangled_google.url, keep=["Kazinform"])
    _save(store, BUDGET, SCHOOL)
    translate_pending(config, store)
    assert any(len(re.split(r"\n\s*\n", c.text)) > 2 for c in mangled_google.calls)
    for text, answer in _memory_rows(store):
        assert answer in {
            fake_translate(text, s, t) for s in ("en", "kk") for t in ("kk", "zh", "en")
        }, (text, answer)
    for story in (BUDGET, SCHOOL):
        for lang, translation in _translations(store, story.id).items():
            if translation.status == "translated":
                assert translation.title == fake_translate(story.title, story.language, lang)
