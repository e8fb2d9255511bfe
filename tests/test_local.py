"""Local article folders: the newsroom's own files read into Articles.

Owns: tests of syndication.ingest.local on the bundled samples in config/articles, the real
Kazinform article in ../shared/corpus (read in place), and broken files that must be reported
with path and line while the rest of the folder goes on.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from syndication.ingest.local import LocalSource, read_article, scan
from syndication.model import ArticleFileError

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "config" / "articles"
REAL = ROOT.parent / "shared" / "corpus" / "articles" / "2025-04-25-cmg-forum.txt"
BASE = "https://example.kz/"


def test_bundled_samples_read_cleanly() -> None:
    articles, errors = scan(LocalSource("newsroom", SAMPLES, base_url=BASE))
    assert errors == []
    by_guid = {a.guid: a for a in articles}
    assert set(by_guid) == {p.stem for p in SAMPLES.iterdir() if p.suffix in (".md", ".txt")}
    fair = by_guid["2025-05-02-astana-book-fair"]
    assert fair.title == "Астанада халықаралық кітап көрмесі ашылды"
    assert fair.language == "kk"
    assert fair.published == datetime(2025, 5, 2, 4, 30, tzinfo=UTC)  # +05:00 into UTC
    assert fair.categories == ("мәдениет", "кітап")
    assert "<strong>халықаралық кітап көрмесі</strong>" in fair.content
    film = by_guid["2025-05-03-silk-road-documentary"]
    assert film.language == "zh"
    # A soft line break inside Chinese text is not a space.
    assert "《丝路新篇》今晚在阿斯塔纳首映" in film.summary
    storm = by_guid["2025-05-04-weather-advisory"]
    assert 'href="https://example.kz/advisories/2025-05-04"' in storm.content  # made absolute
    rail = by_guid["2025-05-05-rail-freight"]
    assert rail.published == datetime(2025, 5, 5, tzinfo=UTC)
    assert rail.title.startswith("Trains carrying grain from Kostanay")
    assert "Photo credit" not in rail.content + rail.summary + rail.title


def test_real_kazinform_article() -> None:
    if not REAL.is_file():
        pytest.skip("../shared/corpus is absent")
    article = read_article(REAL, LocalSource("kazinform", REAL.parent))
    # " date 2025-04-25 Speaking at…": the header and the first paragraph share a line.
    assert article.published == datetime(2025, 4, 25, tzinfo=UTC)
    assert article.content.startswith("<p>Speaking at the General Session")
    assert "2025-04-25" not in article.content
    assert article.title.startswith("Speaking at the General Session, Raushan Kazhibayeva")
    assert article.title.endswith("…")
    assert len(article.title) <= 120
    # Cut at a word boundary: the text before the ellipsis is a prefix ending on a whole word.
    stem = article.title.removesuffix("…")
    assert article.summary.startswith(stem)
    assert article.summary[len(stem)] == " "
    for field in (article.title, article.summary, article.content):
        assert "Photo credit" not in field
        assert "Kazinform" not in field
    assert "content. She said" in article.summary  # paragraphs do not run together
    assert article.language == "en"


def _folder(tmp_path: Path, files: dict[str, bytes]) -> Path:
    folder = tmp_path / "articles"
    folder.mkdir()
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


def test_bad_files_reported_with_path_and_line_rest_goes_on(tmp_path: Path) -> None:
    folder = _folder(
        tmp_path,
        {
            "good.md": b"---\ntitle: Good\ndate: 2025-05-01\n---\nA fine story about rail.\n",
            "bad-yaml.md": b"---\ntitle: Bad\ntags: [unclosed\n---\nBody text here.\n",
            "bad-date.md": b"---\ntitle: Bad date\ndate: 2025-13-45\n---\nBody text here.\n",
            "bad-date-text.md": b"---\ntitle: x\nauthor: y\ndate: next Tuesday\n---\nBody.\n",
            "bad-date.txt": b"date 2025-02-31 The story starts here.\n",
            "latin1.txt": b"date 2025-05-01\n\nFirst line fine.\nSecond line J\xfcrgen.\n",
            "unclosed.md": b"---\ntitle: never closed\nBody.\n",
            "empty.txt": b"date 2025-05-01\n\n",
            "also-good.txt": b"A plain story without headers. It is fine.\n",
        },
    )
    articles, errors = scan(LocalSource("newsroom", folder))
    assert sorted(a.guid for a in articles) == ["also-good", "good"]
    by_file = {Path(e.path).name: e for e in errors}
    assert set(by_file) == {
        "bad-yaml.md", "bad-date.md", "bad-date-text.md", "bad-date.txt", "latin1.txt",
        "unclosed.md", "empty.txt",
    }  # fmt: skip
    assert by_file["bad-yaml.md"].line in (3, 4)
    assert by_file["bad-date.md"].line == 3
    assert by_file["bad-date-text.md"].line == 4
    assert "next Tuesday" in by_file["bad-date-text.md"].message
    assert by_file["bad-date.txt"].line == 1
    assert by_file["latin1.txt"].line == 4
    assert "UTF-8" in by_file["latin1.txt"].message
    for error in errors:
        assert str(error).startswith(str(folder))  # the path is in the message


def test_header_words_in_prose_are_not_headers(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"a.txt": b"Title races heat up in the league. More follows.\n"})
    (article,) = scan(LocalSource("newsroom", folder))[0]
    assert article.title == "Title races heat up in the league"


def test_plain_text_headers_with_colons(tmp_path: Path) -> None:
    folder = _folder(
        tmp_path,
        {
            "a.txt": "title: Қазақстан жаңалықтары\nlanguage: kk\ndate: 2025-05-01T10:00:00+05:00"
            "\n\nЕлордада жаңа мектеп ашылды. Оқушылар қуанышты.\n".encode()
        },
    )
    (article,) = scan(LocalSource("newsroom", folder))[0]
    assert article.title == "Қазақстан жаңалықтары"
    assert article.language == "kk"
    assert article.published == datetime(2025, 5, 1, 5, 0, tzinfo=UTC)


def test_unreadable_file_is_reported_not_raised(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"ok.md": b"Fine story. Yes.\n"})
    (folder / "dir.md").mkdir()  # a folder named like an article: read_bytes fails
    broken = folder / "link.md"
    broken.symlink_to(tmp_path / "nowhere.md")
    articles, errors = scan(LocalSource("newsroom", folder))
    assert [a.guid for a in articles] == ["ok"]
    assert [Path(e.path).name for e in errors] == ["link.md"]


def test_missing_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ArticleFileError, match="no such folder"):
        scan(LocalSource("newsroom", tmp_path / "absent"))


def test_hidden_and_underscore_files_skipped(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"a.md": b"Story one. Yes.\n", ".draft.md": b"x", "_t.md": b"x"})
    shutil.copy(folder / "a.md", folder / "notes.docx")
    articles, errors = scan(LocalSource("newsroom", folder))
    assert [a.guid for a in articles] == ["a"]
    assert errors == []
