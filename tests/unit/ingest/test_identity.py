"""Who a story is and what language it speaks: ids that survive edits of an item without
guid or link, and languages other than our own kept as what they are."""

from __future__ import annotations

from syndication.ingest.parse import SourceInfo, parse_feed

SOURCE = SourceInfo(id="p", url="https://partner.example.org/feed.xml")


def _rss(items: str, language: str = "") -> bytes:
    lang = f"<language>{language}</language>" if language else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>P</title>'
        f"<link>https://partner.example.org/</link>{lang}{items}</channel></rss>"
    ).encode()


def test_an_item_without_guid_or_link_keeps_its_id_when_its_text_is_edited() -> None:
    item = "<item><title>No link item</title><description>{}</description></item>"
    first = parse_feed(_rss(item.format("First version.")), {}, SOURCE, 10**6).articles
    second = parse_feed(_rss(item.format("Corrected version.")), {}, SOURCE, 10**6).articles
    assert first[0].id == second[0].id
    assert first[0].content != second[0].content


GERMAN = (
    "<item><title>Java-Anwendungsserver: Red Hat gibt WildFly frei</title>"
    "<guid>g1</guid><description>Die neue Version unterstützt Java EE vollständig und bringt "
    "zahlreiche Verbesserungen für Entwickler und Betreiber.</description></item>"
)


def test_an_undeclared_german_feed_is_german_not_english() -> None:
    articles = parse_feed(_rss(GERMAN), {}, SOURCE, 10**6).articles
    assert articles[0].language == "de"


def test_a_declared_language_we_do_not_detect_is_kept() -> None:
    short = (
        "<item><title>Die Wochenvorschau: Lockdown-Verlängerung</title><guid>g2</guid>"
        "<description>Was diese Woche passiert.</description></item>"
    )
    assert parse_feed(_rss(short, "de"), {}, SOURCE, 10**6).articles[0].language == "de"


def test_english_stays_english() -> None:
    item = (
        "<item><title>Kazakh students win international robotics contest</title><guid>g3"
        "</guid><description>A team of school students from Karaganda took first place at an "
        "international robotics contest.</description></item>"
    )
    assert parse_feed(_rss(item), {}, SOURCE, 10**6).articles[0].language == "en"
