"""Tests for the script derivations in syndication.lang: kk-Latn and zh-Hant without translation."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from syndication import lang
from syndication.lang import (
    BASE_LANGUAGES,
    DERIVED,
    EDITIONS,
    base_language,
    canonical_tag,
    convert_html,
    derive_html,
    derive_text,
    glossary_language,
    is_traditional,
    kazakh_latin,
    script_forms,
    simplified_chinese,
    traditional_chinese,
)

CYRILLIC = re.compile("[\u0400-\u04ff]")
KAZAKH_ALPHABET = "аәбвгғдеёжзийкқлмнңоөпрстуұүфхһцчшщъыіьэюя"


def test_every_edition_is_written_in_a_base_language() -> None:
    # A derived edition converts the text of its base edition: that base must be one we
    # translate into, or the derived edition would have nothing to convert.
    for edition in EDITIONS:
        assert base_language(edition) in BASE_LANGUAGES, edition
    assert all(base_language(derived) != derived for derived in DERIVED)


# --- Kazakh Latin ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cyrillic", "latin"),
    [
        ("Қазақстан Республикасы", "Qazaqstan Respublikasy"),
        (
            "Астанада халықаралық кітап көрмесі ашылды",
            "Astanada halyqaralyq kıtap körmesı aşyldy",
        ),
        (
            "Ұлттық банк пайыздық мөлшерлемені өзгертпеді",
            "Ūlttyq bank paiyzdyq mölşerlemenı özgertpedı",
        ),
        ("Өскемен мен Шымкентте жаңбыр жауады", "Öskemen men Şymkentte jañbyr jauady"),
        ("Әлемдік ғылым күні", "Älemdık ğylym künı"),
        ("Иә, ол үйде", "İä, ol üide"),
    ],
)
def test_kazakh_sentences(cyrillic: str, latin: str) -> None:
    assert kazakh_latin(cyrillic) == latin


@pytest.mark.parametrize(
    ("cyrillic", "latin"),
    [
        ("ә", "ä"), ("ғ", "ğ"), ("і", "ı"), ("и", "i"), ("й", "i"), ("ң", "ñ"), ("ө", "ö"),
        ("қ", "q"), ("ұ", "ū"), ("ү", "ü"), ("ш", "ş"), ("ы", "y"), ("х", "h"), ("һ", "h"),
        ("ж", "j"), ("у", "u"), ("ц", "ts"), ("ч", "ch"), ("щ", "şş"), ("ъ", ""), ("ь", ""),
        ("э", "e"), ("ю", "iu"), ("я", "ia"), ("ё", "io"), ("в", "v"), ("ф", "f"),
    ],
)  # fmt: skip
def test_kazakh_letters(cyrillic: str, latin: str) -> None:
    assert kazakh_latin(cyrillic) == latin


@pytest.mark.parametrize(
    ("cyrillic", "latin"),
    [
        ("І", "I"), ("И", "İ"), ("Й", "İ"), ("Ы", "Y"), ("Ә", "Ä"), ("Ғ", "Ğ"), ("Ң", "Ñ"),
        ("Ө", "Ö"), ("Қ", "Q"), ("Ұ", "Ū"), ("Ү", "Ü"), ("Ш", "Ş"), ("Һ", "H"), ("Ж", "J"),
    ],
)  # fmt: skip
def test_kazakh_capitals(cyrillic: str, latin: str) -> None:
    assert kazakh_latin(cyrillic) == latin


@pytest.mark.parametrize(
    ("cyrillic", "latin"),
    [
        ("цирк", "tsirk"),
        ("Чехия", "Chehiia"),
        ("съезд", "sezd"),
        ("объект", "obekt"),
        ("Юрий", "İurii"),
        ("ёлка", "iolka"),
        ("Щучинск", "Şşuchinsk"),
        ("Эстония", "Estoniia"),
        ("Ярославль", "İaroslavl"),
        ("Цюрих", "Tsiurih"),
    ],
)
def test_russian_loanword_letters(cyrillic: str, latin: str) -> None:
    assert kazakh_latin(cyrillic) == latin


@pytest.mark.parametrize(
    ("cyrillic", "latin"),
    [
        ("ЧАЙ", "CHAİ"),
        ("ЦЕХ", "TSEH"),
        ("ЩУЧИНСК", "ŞŞUCHİNSK"),
        ("ДАРИЯ", "DARİİA"),  # word-final capital: follows the letter before it
        ("ЮНЕСКО", "İUNESKO"),
        ("ҚАЗАҚСТАН ЖӘНЕ ЧЕХИЯ", "QAZAQSTAN JÄNE CHEHİİA"),
    ],
)
def test_all_caps_words_stay_all_caps(cyrillic: str, latin: str) -> None:
    assert kazakh_latin(cyrillic) == latin


@pytest.mark.parametrize(
    ("cyrillic", "latin"),
    [
        ("ҚазАҚстан", "QazAQstan"),
        ("ЧАЙ ішу", "CHAİ ışu"),  # case is per letter, not per string
        ("Ю. Иванов", "İu. İvanov"),  # a lone initial is title case
        ("Ч", "Ch"),
        ("ЧеХия", "CheHiia"),
        ("ОБЪЕКТ", "OBEKT"),
    ],
)
def test_mixed_case_is_kept_per_letter(cyrillic: str, latin: str) -> None:
    assert kazakh_latin(cyrillic) == latin


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024 жылы BBC хабарлады", "2024 jyly BBC habarlady"),
        ("«Астана» — №1, 15%!", "«Astana» — №1, 15%!"),
        ("Hello, world", "Hello, world"),
        ("中国 және Қытай", "中国 jäne Qytai"),
        ("Київ", "Kiїv"),  # Ukrainian ї is not in the Kazakh table
        ("", ""),
    ],
)
def test_non_kazakh_characters_pass_through(text: str, expected: str) -> None:
    assert kazakh_latin(text) == expected


def test_decomposed_short_i_and_yo_are_transliterated() -> None:
    # и + combining breve, Е + combining diaeresis, as some PDF exports produce them.
    assert kazakh_latin("Құдаи\u0306 \u0415\u0308") == "Qūdai İo"


def test_whole_alphabet_leaves_no_cyrillic_in_either_case() -> None:
    for text in (KAZAKH_ALPHABET, KAZAKH_ALPHABET.upper()):
        assert not CYRILLIC.search(kazakh_latin(text)), text


# --- Traditional Chinese --------------------------------------------------------------------


def test_traditional_chinese_sentence() -> None:
    result = traditional_chinese("中哈合拍纪录片《丝路新篇》在阿斯塔纳首映")
    assert result == "中哈合拍紀錄片《絲路新篇》在阿斯塔納首映"
    for traditional in ("紀錄片", "絲路新篇", "阿斯塔納"):
        assert traditional in result


def test_traditional_chinese_variants_differ_in_vocabulary() -> None:
    assert traditional_chinese("软件和鼠标") == "軟件和鼠標"
    assert traditional_chinese("软件和鼠标", variant="s2twp") == "軟體和滑鼠"


def test_traditional_chinese_leaves_non_chinese_alone() -> None:
    text = "Astana 2024 — Қазақстан, “quoted” & <b>"
    assert traditional_chinese(text) == text


@pytest.mark.parametrize(
    ("text", "traditional"),
    [
        ("臺灣的鐵路建設取得新進展", True),
        ("臺灣南部開通了新的鐵路線，乘客們非常高興。這條鐵路將大大縮短旅行時間。", True),
        ("上海举行了盛大的新年音乐会，数千名观众到场观看演出。", False),
        ("中国与哈萨克斯坦合拍的纪录片在阿斯塔纳首映，著名导演出席。", False),
        # A Traditional name quoted in a long Simplified story does not make it Traditional.
        ("据《聯合報》报道，上海举行了盛大的新年音乐会，数千名观众到场观看演出，"
         "演出持续了三个小时，观众反响热烈。", False),
        ("Astana 2024 — Қазақстан", False),
        ("", False),
    ],
)  # fmt: skip
def test_a_traditional_original_is_told_from_a_simplified_one(text: str, traditional: bool) -> None:
    assert is_traditional(text) is traditional


def test_simplified_chinese_converts_text_nodes_only() -> None:
    assert simplified_chinese("臺灣的鐵路建設取得新進展") == "台湾的铁路建设取得新进展"
    # The words of a title (a tooltip) are text a reader sees; a URL is not.
    html = '<p title="鐵路">臺灣的<a href="https://x.tw/鐵路">鐵路</a><code>鐵</code></p>'
    assert convert_html(html, simplified_chinese) == (
        '<p title="铁路">台湾的<a href="https://x.tw/鐵路">铁路</a><code>鐵</code></p>'
    )


def test_traditional_chinese_rejects_unknown_variant() -> None:
    with pytest.raises(ValueError, match="t2s"):
        traditional_chinese("纪录片", variant="t2s")


def test_opencc_converter_is_built_once_per_variant(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[str] = []
    real = lang.OpenCC

    def counting(variant: str) -> object:
        built.append(variant)
        return real(variant)

    lang._opencc.cache_clear()
    monkeypatch.setattr(lang, "OpenCC", counting)
    try:
        for _ in range(3):
            traditional_chinese("纪录片")
            traditional_chinese("纪录片", variant="s2twp")
    finally:
        lang._opencc.cache_clear()
    assert sorted(built) == ["s2t", "s2twp"]


# --- Dispatch -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "edition", "expected"),
    [
        ("Қазақстан Республикасы", "kk-Latn", "Qazaqstan Respublikasy"),
        ("丝路新篇", "zh-Hant", "絲路新篇"),
        ("Қазақстан 丝路", "kk", "Қазақстан 丝路"),
        ("Қазақстан 丝路", "zh", "Қазақстан 丝路"),
        ("Қазақстан 丝路", "en", "Қазақстан 丝路"),
    ],
)
def test_derive_text_dispatches_on_edition(text: str, edition: str, expected: str) -> None:
    assert derive_text(text, edition) == expected


# --- HTML -----------------------------------------------------------------------------------


class _Markup(HTMLParser):
    """Collects the markup (tags, attributes, code text) of a fragment, ignoring prose."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.events: list[tuple[str, ...]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.events.append(("start", tag, repr(attrs)))

    def handle_endtag(self, tag: str) -> None:
        self.events.append(("end", tag))

    def handle_entityref(self, name: str) -> None:
        self.events.append(("entity", name))

    def handle_charref(self, name: str) -> None:
        self.events.append(("charref", name))

    def handle_comment(self, data: str) -> None:
        self.events.append(("comment", data))


def _markup(fragment: str) -> list[tuple[str, ...]]:
    parser = _Markup()
    parser.feed(fragment)
    parser.close()
    return parser.events


def test_derive_html_kazakh_keeps_urls_and_code() -> None:
    fragment = (
        '<p>Жаңалық: <a href="https://example.kz/Қала">Алматы қаласы</a> '
        "<code>қ</code> әкімдігі</p>"
    )
    assert derive_html(fragment, "kk-Latn") == (
        '<p>Jañalyq: <a href="https://example.kz/Қала">Almaty qalasy</a> '
        "<code>қ</code> äkımdıgı</p>"
    )


def test_derive_html_keeps_entities_attributes_comments_and_pre() -> None:
    fragment = (
        '<figure><img src="/media/Қала.jpg" alt="Қала"><figcaption title=\'a > b\'>'
        "Қала &amp; дала&nbsp;&#1179;</figcaption></figure><!-- Қала -->"
        "<pre><code>қала = 1</code> шығыс</pre><CODE>Шы</CODE><p>Шығыс</p>"
    )
    assert derive_html(fragment, "kk-Latn") == (
        '<figure><img src="/media/Қала.jpg" alt="Qala"><figcaption title=\'a > b\'>'
        "Qala &amp; dala&nbsp;&#1179;</figcaption></figure><!-- Қала -->"
        "<pre><code>қала = 1</code> шығыс</pre><CODE>Шы</CODE><p>Şyğys</p>"
    )


def test_derive_html_script_text_does_not_open_tags() -> None:
    # A "<code>" inside a script string must not switch conversion off for the rest.
    fragment = '<script>var t = "<code>Қ";</script><p>Қала</p>'
    assert derive_html(fragment, "kk-Latn") == '<script>var t = "<code>Қ";</script><p>Qala</p>'


def test_derive_html_truncated_tag_is_not_treated_as_text() -> None:
    fragment = '<p>Қала</p><a href="https://example.kz/Қала'
    assert derive_html(fragment, "kk-Latn") == '<p>Qala</p><a href="https://example.kz/Қала'


def test_derive_html_chinese() -> None:
    fragment = (
        '<p>中哈合拍<a href="https://example.cn/纪录片?t=丝路&amp;x=1">纪录片</a>'
        "《丝路新篇》在阿斯塔纳首映 <code>纪录片</code></p>"
    )
    assert derive_html(fragment, "zh-Hant") == (
        '<p>中哈合拍<a href="https://example.cn/纪录片?t=丝路&amp;x=1">紀錄片</a>'
        "《絲路新篇》在阿斯塔納首映 <code>纪录片</code></p>"
    )


@pytest.mark.parametrize("edition", ["kk-Latn", "zh-Hant"])
def test_derive_html_keeps_the_same_markup(edition: str) -> None:
    fragment = (
        '<h2 class="Қала">Жаңа 纪录片</h2><ul><li><a href="/Қала?a=1&amp;b=丝">Ел</a></li>'
        '<li><img src="/丝路.png" alt="丝路"/><br></li></ul><blockquote cite="/Қ">«Сөз»'
        "</blockquote><p>A &lt; B &#x4e1d; <em>ёлка</em> 丝路</p><!-- 纪录 -->"
    )
    result = derive_html(fragment, edition)
    assert result != fragment
    # The same markup but for the alt text's words, which are in the edition's script.
    alt = derive_text("丝路", edition)
    assert _markup(result) == _markup(fragment.replace('alt="丝路"', f'alt="{alt}"'))


@pytest.mark.parametrize("edition", ["kk", "zh", "en", "ru"])
def test_derive_html_other_editions_are_unchanged(edition: str) -> None:
    fragment = '<p>Қазақстан <a href="/丝路">丝路</a></p>'
    assert derive_html(fragment, edition) == fragment


@pytest.mark.parametrize(
    ("tag", "canonical"),
    [("KK", "kk"), ("zh-hant", "zh-Hant"), ("zh_tw", "zh-TW"), ("KK-LATN", "kk-Latn"),
     ("es-419", "es-419"), ("en-us", "en-US")],
)  # fmt: skip
def test_tags_are_case_insensitive_and_written_in_their_conventional_case(
    tag: str, canonical: str
) -> None:
    assert canonical_tag(tag) == canonical


@pytest.mark.parametrize(
    ("key", "language"),
    [("kk", "kk"), ("KK", "kk"), ("ru", "ru"), ("en-US", "en"), ("zh-CN", "zh"),
     ("kk-Latn", "kk-Latn"), ("kk-latn", "kk-Latn"), ("zh-Hant", "zh-Hant"),
     ("zh-TW", "zh-Hant"), ("zh-hk", "zh-Hant"), ("kz", None), ("cn", None), ("xx", None),
     ("Tokayev", None)],
)  # fmt: skip
def test_a_glossary_key_is_read_as_stories_are_tagged(key: str, language: str | None) -> None:
    assert glossary_language(key) == language


def test_script_forms_are_derived_as_the_derived_editions_derive_them() -> None:
    assert script_forms("Тоқаев", "kk") == ["Toqaev"]
    assert script_forms("阿斯塔纳", "zh") == ["阿斯塔納"]
    assert script_forms("台湾", "zh") == ["臺灣", "台灣"]  # OpenCC standard, Taiwan glyphs
    assert script_forms("托卡耶夫", "zh") == []  # the same in both scripts
    assert script_forms("Tokayev", "en") == []
