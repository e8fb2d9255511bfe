"""HTML-aware segmenting: what is sent to a translator, and how answers go back into markup."""

from __future__ import annotations

import pytest

from syndication.translate.segment import (
    Glossary,
    pack,
    split_answer,
    split_html,
    split_long,
    split_text,
)

GLOSSARY = [("Тоқаев", "Tokayev"), ("Kazinform", "Kazinform")]


def _one(fragment: str) -> tuple[str, object]:
    doc = split_html(fragment, GLOSSARY)
    assert len(doc.segments) == 1, doc.parts
    seg = doc.segments[0]
    return seg.whole(), seg


def test_inline_tags_urls_and_glossary_terms_become_placeholders() -> None:
    whole, _seg = _one(
        '<p>Президент <a href="https://a.kz/x">Тоқаев</a> сөйледі: https://b.kz/y '
        "<strong>маңызды</strong></p>"
    )
    assert whole == "Президент [1][2][/1] сөйледі: [3] [4]маңызды[/4]"
    assert "Тоқаев" not in whole and "https://" not in whole


@pytest.mark.parametrize(
    "answer",
    [
        "President [1][2][/1] said: [3] [4]important[/4]",
        "President [ 1 ][2][/ 1] said: [3] [ 4]important[/4 ]",  # spaced by the provider
        "President ［1］［2］［/1］ said: ［3］ ［4］important［/4］",  # full-width brackets
    ],
)
def test_restore_accepts_placeholders_a_provider_spaced(answer: str) -> None:
    _, seg = _one(
        '<p>Президент <a href="https://a.kz/x">Тоқаев</a> сөйледі: https://b.kz/y '
        "<strong>маңызды</strong></p>"
    )
    restored = seg.restore(answer)  # type: ignore[attr-defined]
    assert restored == (
        "<p>"[:0] + 'President <a href="https://a.kz/x">Tokayev</a> said: https://b.kz/y '
        "<strong>important</strong>"
    )


@pytest.mark.parametrize(
    "answer",
    [
        "President [1][2] said: [3] [4]important[/4]",  # a closing marker lost
        "President [1][2][/1] said: [3] [4]important[/4] [3]",  # one duplicated
        "President [/1][2][1] said: [3] [4]important[/4]",  # closing before opening
        "President [1][2][4] said:[/1] [3] important[/4]",  # pairs crossed
    ],
)
def test_restore_refuses_placeholders_lost_or_moved_out_of_order(answer: str) -> None:
    _, seg = _one(
        '<p>Президент <a href="https://a.kz/x">Тоқаев</a> сөйледі: https://b.kz/y '
        "<strong>маңызды</strong></p>"
    )
    assert seg.restore(answer) is None  # type: ignore[attr-defined]


def test_a_literal_bracketed_number_in_the_source_survives() -> None:
    whole, seg = _one("<p>Деректер бойынша [1] өсім байқалды.</p>")
    assert whole == "Деректер бойынша [1] өсім байқалды."
    assert seg.restore("According to the data [1] growth was seen.") == (  # type: ignore[attr-defined]
        "According to the data [1] growth was seen."
    )
    assert seg.tokens == {"[1]": "[1]"}  # type: ignore[attr-defined]


def test_the_node_fallback_protects_glossary_terms_and_urls() -> None:
    _, seg = _one("<p>Президент <em>Тоқаев</em> және Kazinform https://k.kz/a</p>")
    nodes = seg.text_nodes()  # type: ignore[attr-defined]
    texts = [text for _, text in nodes]
    # The node holding only a glossary term is not sent at all: its form is fixed.
    assert texts == ["Президент", "және [2] [1]"], texts
    answers = {i: {"Президент": "President"}.get(t, t.replace("және", "and")) for i, t in nodes}
    assert seg.restore_nodes(answers) == (  # type: ignore[attr-defined]
        "President <em>Tokayev</em> and Kazinform https://k.kz/a"
    )
    lost = {i: t.replace("[2]", "") for i, t in nodes}
    assert seg.restore_nodes(lost) is None  # type: ignore[attr-defined]


def test_the_plain_text_fallback_keeps_names_and_drops_inline_markup() -> None:
    _, seg = _one("<p>Президент <em>Тоқаев</em> сөйледі.</p>")
    unit = seg.plain_unit()  # type: ignore[attr-defined]
    assert unit == "Президент [1] сөйледі."
    assert seg.restore_plain("President [1] spoke.") == "President Tokayev spoke."  # type: ignore[attr-defined]
    assert seg.restore_plain("President spoke.") is None  # type: ignore[attr-defined]


def test_code_pre_and_number_only_blocks_are_never_sent() -> None:
    doc = split_html(
        "<p>Мәтін бар.</p><pre><code>x = 1\nprint(x)</code></pre><p>2025–2026</p>"
        "<table><tr><td>120</td><td>Алматы қаласы</td></tr></table>",
        [],
    )
    sent = [seg.whole() for seg in doc.segments]
    assert sent == ["Мәтін бар.", "Алматы қаласы"]
    rendered = doc.render({0: "Text.", 1: "Almaty"})
    assert "<pre><code>x = 1\nprint(x)</code></pre>" in rendered
    assert "<p>2025–2026</p>" in rendered and "<td>120</td>" in rendered


def test_inline_code_stays_an_opaque_placeholder_inside_its_sentence() -> None:
    whole, seg = _one("<p>Іске қосу: <code>pip install x</code> жеткілікті.</p>")
    assert whole == "Іске қосу: [1] жеткілікті." and "pip" not in whole
    assert seg.restore("Run: [1] is enough.") == "Run: <code>pip install x</code> is enough."  # type: ignore[attr-defined]


def test_whitespace_inside_a_unit_is_one_space_so_packing_is_unambiguous() -> None:
    whole, _ = _one("<p>Бірінші жол\n\nекінші   жол</p>")
    assert whole == "Бірінші жол екінші жол"
    assert split_text("Тақырып\nжолы", []).segments[0].whole() == "Тақырып жолы"


def test_split_answer_reads_blank_lines_or_single_line_breaks_and_refuses_merges() -> None:
    assert split_answer("one\n\n two \n\nthree", 3) == ["one", "two", "three"]
    assert split_answer("one\ntwo\nthree", 3) == ["one", "two", "three"]
    assert split_answer("one two\n\nthree", 3) is None


def test_pack_stays_under_the_limit_and_split_long_cuts_at_sentences() -> None:
    units = [f"Сөйлем {i}. " * 20 for i in range(30)]
    for batch in pack(units, 1000):
        assert len("\n\n".join(batch)) <= 1000
    assert sum(len(b) for b in pack(units, 1000)) == 30
    text = "这是第一句话。" * 400  # 2,800 Han characters, no spaces
    pieces = split_long(text, 1500)
    assert all(len(p) <= 1500 for p in pieces)
    assert all(p.endswith("。") for p in pieces)
    assert "".join(pieces) == text


def test_a_name_repeated_in_a_block_gets_a_placeholder_per_occurrence() -> None:
    whole, seg = _one(
        "<p>Тоқаев сөйледі, Kazinform жазды: <em>Тоқаев</em> келді, Тоқаев кетті, Kazinform.</p>"
    )
    assert whole == "[1] сөйледі, [2] жазды: [3][4][/3] келді, [5] кетті, [6]."
    answer = "[1] spoke, [2] wrote: [3][4][/3] came, [5] left, [6]."
    expected = "Tokayev spoke, Kazinform wrote: <em>Tokayev</em> came, Tokayev left, Kazinform."
    assert seg.restore(answer) == expected  # type: ignore[attr-defined]
    # Occurrences of one name are interchangeable; one lost is still refused.
    swapped = "[5] spoke, [2] wrote: [3][4][/3] came, [1] left, [6]."
    assert seg.restore(swapped) == expected  # type: ignore[attr-defined]
    assert seg.restore(answer.replace(" left, [6]", " left")) is None  # type: ignore[attr-defined]
    nodes = seg.text_nodes()  # type: ignore[attr-defined]
    assert [t for _, t in nodes] == ["[1] сөйледі, [2] жазды:", "келді, [1] кетті, [2]."]
    answers = {nodes[0][0]: "[1] spoke, [2] wrote:", nodes[1][0]: "came, [1] left, [2]."}
    assert seg.restore_nodes(answers) == expected  # type: ignore[attr-defined]
    assert seg.restore_nodes({**answers, nodes[1][0]: "came, left, [2]."}) is None  # type: ignore[attr-defined]
    plain = seg.plain_unit()  # type: ignore[attr-defined]
    assert plain == "[1] сөйледі, [4] жазды: [2] келді, [3] кетті, [5]."
    restored = seg.restore_plain("[1] spoke, [4] wrote: [2] came, [3] left, [5].")  # type: ignore[attr-defined]
    assert restored == expected.replace("<em>Tokayev</em>", "Tokayev")


TERMS = (
    {"kk": "Тоқаев", "ru": "Токаев", "zh": "托卡耶夫", "en": "Tokayev"},
    {
        "kk": "Астана",
        "kk-Latn": "Nur-Sultan",
        "zh": "阿斯塔纳",
        "zh-Hant": "阿斯坦納",
        "en": "Astana",
    },
)


def test_a_name_is_matched_in_the_other_script_its_language_is_written_in() -> None:
    glossary = Glossary(TERMS, ("Kazinform",))
    kk_en = dict(glossary.pairs("kk", "en"))
    # Cyrillic, Russian-style, derived Latin (Тоқаев -> Toqaev) and the entry's own kk-Latn.
    assert kk_en["Тоқаев"] == kk_en["Токаев"] == kk_en["Toqaev"] == "Tokayev"
    assert kk_en["Astana"] == kk_en["Nur-Sultan"] == "Astana"
    zh_en = dict(glossary.pairs("zh", "en"))
    # Simplified, derived Traditional (阿斯塔纳 -> 阿斯塔納) and the entry's own zh-Hant.
    assert zh_en["阿斯塔纳"] == zh_en["阿斯塔納"] == zh_en["阿斯坦納"] == "Astana"
    assert zh_en["Kazinform"] == "Kazinform"
    # A form in another script with no form in the target is kept as the story writes it.
    assert dict(Glossary(({"kk": "Астана"},)).pairs("kk", "zh"))["Astana"] == "Astana"
    # English has no other script: only its own forms.
    assert [form for form, _ in glossary.pairs("en", "kk")] == ["Kazinform", "Tokayev", "Astana"]


def test_the_first_entry_giving_a_form_wins_whatever_the_order_of_equal_lengths() -> None:
    glossary = Glossary(({"kk": "Астана", "en": "Astana"}, {"kk": "Астана", "en": "Nursult"}))
    assert dict(glossary.pairs("kk", "en"))["Астана"] == "Astana"


@pytest.mark.parametrize(
    ("text", "sent"),
    [
        ("Parliament approves a budget", "Parliament approves [1] budget"),
        ("A vote, a (big) one: a.", "A vote, [1] (big) one: [2]."),
        (
            "Kazinform's reporter, Kazinform2 and XKazinform",
            "[1]'s reporter, Kazinform2 and XKazinform",
        ),
        ("新华社Kazinform报道", "新华社[1]报道"),  # no spaces in Chinese: a name inside a run
        ("总统托卡耶夫表示", "总统[1]表示"),
        ("Тоқаевтың сөзі: Тоқаев", "Тоқаевтың сөзі: [1]"),
    ],
)
def test_names_and_keep_words_match_whole_words_except_in_chinese(text: str, sent: str) -> None:
    glossary = Glossary(({"kk": "Тоқаев", "zh": "托卡耶夫", "en": "Tokayev"},), ("a", "Kazinform"))
    source = "zh" if "总统" in text else ("kk" if "Тоқаев" in text else "en")
    (seg,) = split_text(text, glossary.pairs(source, "en")).segments
    assert seg.whole() == sent


def test_alt_and_title_words_are_segments_of_their_own_put_back_into_their_tag() -> None:
    fragment = (
        '<p>Сурет: <img src="https://e.kz/a.jpg" alt="Тоқаев &amp; &quot;Астана&quot;" '
        'title="Түнгі қала"> <a href="https://e.kz/x" title="Толығырақ">мына жерде</a></p>'
        '<p><img src="https://e.kz/b.jpg" alt="2025"></p>'
    )
    doc = split_html(fragment, GLOSSARY)
    sent = [seg.whole() for seg in doc.segments]
    assert sent == [
        "Сурет: [1] [2]мына жерде[/2]",
        '[1] & "Астана"',  # the glossary holds in alt text too
        "Түнгі қала",
        "Толығырақ",
    ], sent
    answers = ["Photo: [1] [2]here[/2]", '[1] & "Astana"', "City at night", "More"]
    rendered = doc.render(
        {i: seg.restore(a) for i, (seg, a) in enumerate(zip(doc.segments, answers, strict=True))}
    )
    assert rendered == (
        '<p>Photo: <img src="https://e.kz/a.jpg" alt="Tokayev &amp; &quot;Astana&quot;" '
        'title="City at night"> <a href="https://e.kz/x" title="More">here</a></p>'
        '<p><img src="https://e.kz/b.jpg" alt="2025"></p>'
    )
