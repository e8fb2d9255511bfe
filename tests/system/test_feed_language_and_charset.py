"""What a feed declares and what it holds, through the command line: a feed file read by `once`.

Owns: tests that a declared language the text contradicts gives way (Russian stories in a
feed declared Kazakh) while a short Kazakh title keeps it, and that a feed labelled with a
Western charset whose bytes are Cyrillic is read as Cyrillic with a note on the source's row,
a genuine Latin-1 feed staying as written.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.conftest import OFFLINE_TRANSLATION, run_cli, write_config


def _rss(items: str, channel: str = "", decl: str = 'encoding="utf-8"') -> str:
    return (
        f'<?xml version="1.0" {decl}?><rss version="2.0"><channel><title>Wire</title>'
        f"<link>https://wire.example.kz/</link><description>d</description>{channel}"
        f"{items}</channel></rss>"
    )


def _item(guid: str, title: str, description: str = "") -> str:
    return (
        f"<item><guid>{guid}</guid><title>{title}</title>"
        f"<link>https://wire.example.kz/{guid}</link><description>{description}</description>"
        "<pubDate>Thu, 03 Dec 2026 10:00:00 +0500</pubDate></item>"
    )


def _once_with_files(tmp_path: Path, feeds: dict[str, bytes]) -> Path:
    """`once` over a feed file source for each of `feeds` (source id → the file's bytes); the
    configuration's path."""
    for source, body in feeds.items():
        (tmp_path / f"{source}.xml").write_bytes(body)
    config = write_config(
        tmp_path,
        sources=[{"id": source, "file": f"{source}.xml"} for source in feeds],
        translation={**OFFLINE_TRANSLATION, "untranslated": "original"},
    )
    done = run_cli("once", "--config", str(config))
    assert "Traceback" not in done.output, done.output
    return config


def _stored(tmp_path: Path) -> dict[str, tuple[str, str]]:
    """The stories in the store: id → (title, language)."""
    with sqlite3.connect(tmp_path / "data" / "test.db") as conn:
        rows = conn.execute("SELECT id, title, language FROM articles").fetchall()
    return {story: (title, language) for story, title, language in rows}


def test_russian_stories_in_a_feed_declared_kazakh_are_russian(tmp_path: Path) -> None:
    """A Kazakh site's feed (`<language>kk</language>`) carrying a Russian story stored it as
    Kazakh: Cyrillic without Kazakh's own letters was taken to confirm the declaration, so
    the kk edition showed Russian and providers were asked for kk→en. A text long enough to
    show those letters and showing none now goes to the detector; a short Kazakh title without
    them keeps the declaration, and Kazakh text declared Russian is Kazakh."""
    russian = _item(
        "ru1",
        "Правительство одобрило новые меры поддержки бизнеса",
        "Правительство Казахстана сообщило о новых мерах поддержки малого бизнеса в регионах "
        "страны в следующем году.",
    )
    kazakh_title = _item("kk1", "Президент Астанада болды")  # none of ә ғ қ ң ө ұ ү һ і
    kazakh = _item(
        "kk2",
        "Үкімет бизнесті қолдаудың жаңа шараларын мақұлдады",
        "Қазақстан үкіметі келесі жылы елдің өңірлеріндегі шағын бизнесті қолдаудың жаңа "
        "шаралары туралы хабарлады.",
    )
    _once_with_files(
        tmp_path,
        {
            "kkwire": _rss(russian + kazakh_title, "<language>kk</language>").encode(),
            "ruwire": _rss(kazakh, "<language>ru</language>").encode(),
        },
    )
    languages = {story: language for story, (_, language) in _stored(tmp_path).items()}
    assert languages == {"kkwire:ru1": "ru", "kkwire:kk1": "kk", "ruwire:kk2": "kk"}


def test_a_cyrillic_feed_labelled_latin_1_is_read_as_cyrillic_and_noted(tmp_path: Path) -> None:
    """A feed declaring iso-8859-1 (or windows-1252) whose bytes are windows-1251, a common
    misconfiguration on Russian and Kazakh sites, was published as `Êóðñ òåíãå…`, read as
    Turkish, with nothing on the source's row. Now it is read as Cyrillic and the row names the
    declared and the used charset; a genuine Latin-1 feed is read as it declares."""
    title = "Курс тенге снова упал на бирже"
    cyrillic = _rss(
        _item("c1", title, "Курс тенге снова снизился на утренних торгах, сообщают аналитики."),
        decl='encoding="iso-8859-1"',
    )
    koi8 = _rss(_item("k1", title), decl='encoding="windows-1252"')
    french = _rss(
        _item("f1", "Élection à Genève : où en est-on ?", "Les électeurs genevois votent."),
        decl='encoding="iso-8859-1"',
    )
    config = _once_with_files(
        tmp_path,
        {
            "cp": cyrillic.encode("cp1251"),
            "koi": koi8.encode("koi8-r"),
            "fr": french.encode("latin-1"),
        },
    )
    stored = _stored(tmp_path)
    assert stored["cp:c1"] == (title, "ru")
    assert stored["koi:k1"][0] == title
    assert stored["fr:f1"] == ("Élection à Genève : où en est-on ?", "fr")
    status = run_cli("status", "--json", "--config", str(config))
    notes = {source["id"]: source["notes"] for source in json.loads(status.stdout)["sources"]}
    assert notes == {
        "cp": ["feed declares iso-8859-1 but its bytes are cp1251; read as cp1251"],
        "koi": ["feed declares windows-1252 but its bytes are koi8-r; read as koi8-r"],
        "fr": [],
    }
