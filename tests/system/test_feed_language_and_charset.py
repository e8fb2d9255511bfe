"""What a feed declares and what it holds, through the command line: a feed file read by `once`.

Owns: tests that a declared language the text contradicts gives way (Russian stories in a
feed declared Kazakh) while a short Kazakh title keeps it.
"""

from __future__ import annotations

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

