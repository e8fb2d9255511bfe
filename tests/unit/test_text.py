"""Normalising: sanitised HTML, absolute URLs, UTC dates, titles, ids and language.

Owns: tests of syndication.html, syndication.lang and syndication.ingest.normalise, each a
behaviour a partner or reader can see.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone

import pytest

from syndication.html import (
    absolute_url,
    first_sentence,
    plain_text,
    sanitise_html,
    sanitised_text,
    shorten,
)
from syndication.ingest.normalise import choose_language, content_guid, detect_language, to_utc
from syndication.lang import normalise_language, script_of
from syndication.model import article_id

BASE = "https://partner.kz/news/2025/story.html"


def test_script_style_iframe_dropped_with_their_content() -> None:
    html = (
        "<p>Keep</p><script>steal()</script><style>p{display:none}</style>"
        '<iframe src="https://evil.example/">frame text</iframe><noscript>ns</noscript>'
    )
    assert sanitise_html(html) == "<p>Keep</p>"


def test_event_handlers_and_style_removed() -> None:
    out = sanitise_html('<p onclick="x()" style="position:absolute">a</p><img src="/i.jpg" '
                        'onerror="alert(1)" onload="y()">', BASE)  # fmt: skip
    assert out == '<p>a</p><img src="https://partner.kz/i.jpg">'


@pytest.mark.parametrize(
    "href",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "java\tscript:alert(1)",
        "&#106;avascript:alert(1)",
        "data:text/html;base64,PHNjcmlwdD4=",
        "vbscript:msgbox(1)",
    ],
)
def test_dangerous_urls_removed(href: str) -> None:
    out = sanitise_html(f'<a href="{href}">x</a><img src="{href}">', BASE)
    assert out == '<a rel="noopener">x</a>'


def test_tracking_pixels_removed_anywhere() -> None:
    html = (
        '<p>Story<img src="https://cdn.example/p.gif" width="1" height="1"></p>'
        '<img src="http://feeds.feedburner.com/~r/x/~4/abc">'
        '<img src="https://cdn.example/photo.jpg" width="640">'
    )
    assert sanitise_html(html) == (
        '<p>Story</p><img src="https://cdn.example/photo.jpg" width="640">'
    )


def test_relative_urls_made_absolute() -> None:
    out = sanitise_html('<a href="../other.html">o</a><img src="/a.jpg"><a href="//cdn.x/y">y</a>',
                        BASE)  # fmt: skip
    assert 'href="https://partner.kz/news/other.html"' in out
    assert 'src="https://partner.kz/a.jpg"' in out
    assert 'href="https://cdn.x/y"' in out
    assert absolute_url("img/a.png", "https://x.kz/dir/") == "https://x.kz/dir/img/a.png"
    assert absolute_url("", BASE) == ""
    assert absolute_url("https://a.kz/b", "") == "https://a.kz/b"


def test_plain_text_keeps_words_apart_and_decodes_entities() -> None:
    assert plain_text("<p>One.</p><p>Two&amp;three</p><br>Four") == "One. Two&three Four"
    assert plain_text("<script>x()</script>Text\x08 here") == "Text here"
    assert plain_text("中国\n哈萨克斯坦") == "中国哈萨克斯坦"
    assert plain_text("<p>中国 \n  哈萨克斯坦</p><p>合作。</p>") == "中国哈萨克斯坦合作。"
    assert plain_text("one two three four", 10) == "one two…"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("北京举行新闻发布会 介绍经济形势", {"北京举行新闻发布会 介绍经济形势"}),
        ("总统\u3000双方", {"总统\u3000双方", "总统 双方"}),
        ("总统 \u3000 双方", {"总统\u3000双方", "总统 双方"}),
        ("总统\u3000\n双方", {"总统双方"}),
        ("<p>总统 &lt;b&gt; 双方</p>", {"总统 <b> 双方"}),
        ("中国\r\n哈萨克斯坦 2025 年", {"中国哈萨克斯坦 2025 年"}),
    ],
)
def test_a_space_typed_between_chinese_clauses_stays(text: str, expected: set[str]) -> None:
    """Only a line break of the source between CJK characters is no space; a space or an
    ideographic space (U+3000) the author typed there is kept, by both text readers."""
    assert plain_text(text) in expected
    assert sanitised_text(sanitise_html(text, BASE)) in expected


def test_shorten_and_first_sentence() -> None:
    assert shorten("short", 10) == "short"
    assert shorten("alpha beta gamma delta", 15) == "alpha beta…"
    assert len(shorten("无空格的中文句子" * 20, 30)) == 30
    assert first_sentence("Tokayev met Xi. Then more.") == "Tokayev met Xi"
    assert first_sentence("首映成功。观众很多。") == "首映成功。"
    title = first_sentence("word " * 60)
    assert title.endswith("…") and " wor…" not in title and len(title) <= 120


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime(2025, 5, 2, 9, 30, tzinfo=timezone(timedelta(hours=5))),
         datetime(2025, 5, 2, 4, 30, tzinfo=UTC)),
        (datetime(2025, 5, 2, 9, 30), datetime(2025, 5, 2, 9, 30, tzinfo=UTC)),
        ("2025-05-02T09:30:00+05:00", datetime(2025, 5, 2, 4, 30, tzinfo=UTC)),
        ("2025-05-02T04:30:00Z", datetime(2025, 5, 2, 4, 30, tzinfo=UTC)),
        ("Fri, 02 May 2025 09:30:00 +0500", datetime(2025, 5, 2, 4, 30, tzinfo=UTC)),
        (time.struct_time((2025, 5, 2, 4, 30, 0, 4, 122, 0)),
         datetime(2025, 5, 2, 4, 30, tzinfo=UTC)),
        ("not a date", None),
        ("", None),
        (None, None),
    ],
)  # fmt: skip
def test_dates_to_utc(value: object, expected: datetime | None) -> None:
    result = to_utc(value)
    assert result == expected
    if result is not None:
        assert result.utcoffset() == timedelta(0)


def test_language_tags_normalised() -> None:
    assert normalise_language("en-US") == "en"
    assert normalise_language("zh_CN") == "zh"
    assert normalise_language("kz") == "kk"
    assert normalise_language("ru-RU") == "ru"
    assert normalise_language("") is None
    assert normalise_language("12") is None


KAZAKH = "Елордада халықаралық кітап көрмесі жұмысын бастады. Көрмеге баспалар қатысты."
RUSSIAN = "В столице открылась международная книжная выставка. В ней участвуют издательства."
CHINESE = "由哈萨克斯坦总统电视广播中心与中国中央广播电视总台联合摄制的纪录片今晚首映。"
ENGLISH = "Trains carrying grain from Kostanay reached the Khorgos dry port on Monday."


def test_detection_knows_kazakh_by_its_letters() -> None:
    assert detect_language(KAZAKH)[0] == "kk"
    assert detect_language(RUSSIAN)[0] == "ru"
    assert detect_language(CHINESE)[0] == "zh"
    assert detect_language(ENGLISH)[0] == "en"
    assert detect_language("ok") == (None, 0.0)  # too short to say


def test_choose_language_declared_vs_detected() -> None:
    assert choose_language("en", CHINESE) == "zh"  # confidently wrong declaration overruled
    assert choose_language("ru", KAZAKH) == "kk"
    # Long enough to show Kazakh's own letters and showing none: Russian, as lingua is sure.
    assert choose_language("kk", RUSSIAN) == "ru"
    assert choose_language("kk", RUSSIAN.split(".")[0]) == "kk"  # a title may lack them
    assert choose_language("en", ENGLISH) == "en"
    assert choose_language(None, RUSSIAN) == "ru"
    assert choose_language("zh-CN", "short") == "zh"
    assert choose_language(None, "") == "en"


def test_ids_and_scripts() -> None:
    assert article_id("kazinform-en", "https://x.kz/1") == "kazinform-en:https://x.kz/1"
    assert content_guid("t", "b") == content_guid("t", "b") != content_guid("t", "c")
    assert content_guid("t", "b").startswith("sha256-")
    assert script_of("Abc Қаз 中") == {"han": 1, "cyrillic": 3, "latin": 3}


def test_links_and_images_in_the_text_are_uris_as_enclosures_are() -> None:
    """A partner's body with `<img src="http://例子.中国/图片.jpg">` kept it raw while its
    enclosures went out in IDNA and percent-encoded (README: "What partners send")."""
    body = (
        '<p><img src="http://例子.中国/图片.jpg" width="300" height="200">'
        '<a href="/новости/1 2">Read</a> <a href="mailto:desk@partner.kz">Mail</a></p>'
    )
    cleaned = sanitise_html(body, "https://partner.kz/rss")
    assert 'src="http://xn--fsqu00a.xn--fiqs8s/%E5%9B%BE%E7%89%87.jpg"' in cleaned
    assert 'href="https://partner.kz/%D0%BD%D0%BE%D0%B2%D0%BE%D1%81%D1%82%D0%B8/1%202"' in cleaned
    assert 'href="mailto:desk@partner.kz"' in cleaned
