"""The sanity checks of an answer: what they refuse, and translations they must let through.

Pure functions of (original, answer): the stage's tests (test_engine.py) show the same rules
over HTTP, with what a refused answer costs and that it is never remembered or published.
"""

from __future__ import annotations

import pytest

from syndication.errors import TranslationError
from syndication.translate.checks import MarkupLost, check_answer, check_request

REFUSED = [
    # (original, answer, source, target, what the reason says)
    ("Астанада жаңа мектеп ашылды", "<html><body>Error 42 <script>alert(1)</script></body>"
     "</html>", "kk", "en", "HTML"),
    ("Астанада жаңа мектеп ашылды", "<!DOCTYPE html><title>502 Bad Gateway</title>",
     "kk", "en", "HTML"),
    # An echo: Cyrillic given back for Kazakh (it may be Russian), or another script's text.
    ("Парламент бюджетті бекітті бүгін", "Парламент бюджетті бекітті бүгін", "ru", "kk",
     "unchanged"),
    ("Парламент бюджетті бекітті бүгін", "Парламент бюджетті бекітті бүгін", "kk", "en",
     "unchanged"),
    ("Parliament approved the budget", "Parliament approved the budget", "en", "zh",
     "unchanged"),
    ("Парламент бюджетті бекітті", "Here is the translation: Parliament approved the budget",
     "kk", "en", "preamble"),
    ("Парламент бюджетті бекітті", "Sure! Here is the English translation:\n\nParliament "
     "approved the budget", "kk", "en", "preamble"),
    ("Парламент бюджетті бекітті", "Translation: Parliament approved the budget",
     "kk", "en", "preamble"),
    ("Parliament approved the budget", "以下是翻译：议会批准了预算", "en", "zh", "preamble"),
    ("Parliament approved the budget", "译文：议会批准了预算", "en", "zh", "preamble"),
    ("Parliament approved the budget", "Аударма: Парламент бюджетті бекітті",
     "en", "kk", "preamble"),
    ("Parliament approved the budget", "Вот перевод: Парламент утвердил бюджет",
     "en", "ru", "preamble"),
    ("Read more at [1]the ministry site[/1]. [2] reported the vote.",
     "Реад море ат тхе министры сите. репортед тхе воте.", "en", "kk", "placeholders lost"),
    ("Read [1]more[/1] at [2]the site[/2] today", "[/1]Толығырақ[1] бүгін [2]сайтта[/2]",
     "en", "kk", "placeholders lost"),
]  # fmt: skip

ACCEPTED = [
    # Already in the target's language (an English correction note in a Kazakh story, a
    # Chinese quote): given back as it is.
    ("The number of pupils was wrong.", "The number of pupils was wrong.", "kk", "en"),
    ("习近平会见托卡耶夫总统并举行会谈", "习近平会见托卡耶夫总统并举行会谈", "kk", "zh"),
    # A story that opens the same way in its own language is translated with its opening.
    ("Аударма: Абай өлеңдері ағылшын тілінде", "Translation: Abai's poems in English",
     "kk", "en"),
    ("Translation: a new app for Kazakh", "翻译：一款新的哈萨克语应用", "en", "zh"),
    # Not preambles: a sentence about translation, a kind of translation, translators.
    ("Машиналық аударма: жаңа құрал", "Machine translation: a new tool", "kk", "en"),
    ("Аудармашылар одағы: жаңа жоба", "Translators' union: a new project", "kk", "en"),
    ("Ол аударма туралы айтты: бұл маңызды", "他谈到翻译：这很重要", "kk", "zh"),
    ("Ол аударма туралы айтты: бұл маңызды", "He spoke about the translation: it matters",
     "kk", "en"),
    # A tag the text itself quotes (a story about web pages).
    ("Бағдарламашылар <script> тегін талқылады", "Programmers discussed the <script> tag",
     "kk", "en"),
    # Markers forgiven as segment reads them back; a piece holding one end of a pair.
    ("Read more at [1]the ministry site[/1] today", "Бүгін [ 1 ]министрлік сайтында［/1］",
     "en", "kk"),
    ("the ministry site[/1] and [2] reported", "министрлік сайты[/1] және [2] хабарлады",
     "en", "kk"),
]  # fmt: skip


@pytest.mark.parametrize(("original", "answer", "source", "target", "reason"), REFUSED)
def test_an_answer_that_is_no_translation_is_refused(
    original: str, answer: str, source: str, target: str, reason: str
) -> None:
    with pytest.raises(TranslationError, match=reason) as raised:
        check_answer(original, answer, source, target, "google")
    assert isinstance(raised.value, MarkupLost) == (reason == "placeholders lost")


@pytest.mark.parametrize(("original", "answer", "source", "target"), ACCEPTED)
def test_a_translation_is_accepted(original: str, answer: str, source: str, target: str) -> None:
    check_answer(original, answer, source, target, "google")


def test_a_whole_answer_is_judged_by_its_opening_and_its_markup() -> None:
    request = "Парламент бюджетті бекітті\n\nСалық кодексі өзгерді"
    check_request(request, "Parliament approved the budget\n\nThe tax code changed", "google")
    for answer in (
        "<html><body>Service unavailable</body></html>",
        "Here is the translation:\n\nParliament approved the budget\n\nThe tax code",
    ):
        with pytest.raises(TranslationError):
            check_request(request, answer, "google")  # fmt: skip
