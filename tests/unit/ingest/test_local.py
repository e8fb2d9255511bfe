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

from syndication.errors import ArticleFileError
from syndication.ingest.local import LocalSource, read_article, scan, scan_folder
from tests.conftest import SAMPLES

REAL = "corpus/articles/2025-04-25-cmg-forum.txt"  # in ../shared, through the fixture
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
    assert 'href="https://www.kazhydromet.kz/en/"' in storm.content
    rail = by_guid["2025-05-05-rail-freight"]
    assert rail.published == datetime(2025, 5, 5, tzinfo=UTC)
    assert rail.title.startswith("Trains carrying grain from Kostanay")
    assert "Photo credit" not in rail.content + rail.summary + rail.title


def test_real_kazinform_article(shared: Path) -> None:
    real = shared / REAL
    if not real.is_file():
        pytest.skip(f"{REAL} is not in ../shared")
    article = read_article(real, LocalSource("kazinform", real.parent))
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


def test_an_author_given_as_a_mapping_or_a_list_is_names(tmp_path: Path) -> None:
    """`author: {name: …}` (as Hugo or JSON Feed write it) or a list: the names, never the
    Python spelling of a mapping in the published byline."""
    body = "\n\nElordada jańa mektep ashyldy. Oqushylar quanyshty.\n"
    folder = _folder(
        tmp_path,
        {
            "a.md": f"---\ntitle: A\nauthor: {{name: Aigerim Nurlanqyzy}}\n---{body}".encode(),
            "b.md": f"---\ntitle: B\nauthor: [Desk, {{name: Wire}}]\n---{body}".encode(),
        },
    )
    found = {a.title: a.author for a in scan(LocalSource("newsroom", folder))[0]}
    assert found == {"A": "Aigerim Nurlanqyzy", "B": "Desk, Wire"}


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


RU_BODY = "Объём перевозок вырос на треть. Так сообщили.\n"


@pytest.mark.parametrize(
    "headers",
    [
        "language ru\ntitle Грузоперевозки выросли\n\n",
        "language ru title Грузоперевозки выросли\n\n",
        "lang ru\n\ntitle Грузоперевозки выросли\n",
    ],
)
def test_plain_text_headers_without_colons(tmp_path: Path, headers: str) -> None:
    folder = _folder(tmp_path, {"a.txt": (headers + RU_BODY).encode()})
    (article,) = scan(LocalSource("newsroom", folder, language="en"))[0]
    assert article.title == "Грузоперевозки выросли"
    assert article.language == "ru"
    assert article.content == "<p>Объём перевозок вырос на треть. Так сообщили.</p>"


def test_plain_text_headers_and_first_paragraph_share_a_line(tmp_path: Path) -> None:
    folder = _folder(
        tmp_path,
        {
            "a.txt": " date 2025-05-05 language kk Елордада жаңа мектеп ашылды. Оқушылар"
            " қуанышты.\n\nЕкінші абзац.\n".encode(),
            "b.txt": b"id rail-7 author Aigerim Sadykova\ntitle Why language ru matters\n\n"
            b"The body starts here. It goes on.\n",
            "c.txt": "language zh-CN\n\n新闻正文。\n".encode(),
        },
    )
    articles, errors = scan(LocalSource("newsroom", folder, language="en"))
    assert errors == []
    by_guid = {a.guid: a for a in articles}
    kk = by_guid["a"]
    assert kk.published == datetime(2025, 5, 5, tzinfo=UTC)
    assert kk.language == "kk"
    assert kk.content.startswith("<p>Елордада жаңа мектеп ашылды.")
    assert kk.title == "Елордада жаңа мектеп ашылды"
    # `title` takes the rest of its line: "language ru" inside it is not a header.
    story = by_guid["rail-7"]
    assert story.author == "Aigerim Sadykova"
    assert story.title == "Why language ru matters"
    assert story.language == "en"
    assert story.content == "<p>The body starts here. It goes on.</p>"
    assert by_guid["c"].language == "zh"


@pytest.mark.parametrize(
    ("text", "title"),
    [
        (
            "Author Jane Doe said the plan works. More follows.",
            "Author Jane Doe said the plan works",
        ),
        (
            "Title races to the finish in Almaty. More follows.",
            "Title races to the finish in Almaty",
        ),
        ("Language Day is marked today. More follows.", "Language Day is marked today"),
        ("Date night returns to the city park. More.", "Date night returns to the city park"),
        ("language barriers fall at the forum. More.", "language barriers fall at the forum"),
    ],
)
def test_capitalised_or_unshaped_header_words_stay_prose(
    tmp_path: Path, text: str, title: str
) -> None:
    folder = _folder(tmp_path, {"a.txt": text.encode()})
    (article,), errors = scan(LocalSource("newsroom", folder))
    assert errors == []
    assert article.title == title
    assert article.author == ""
    assert article.content == f"<p>{text}</p>"


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("zero.md", b""),
        ("zero.txt", b""),
        ("blank.md", b"  \n\n\t\n"),
        ("blank.txt", b"\r\n  \r\n"),
        ("front-only.md", b"---\ndate: 2025-05-01\nlanguage: kk\n---\n"),
        ("front-blank.md", b"---\ntitle: ''\n---\n\n   \n"),
        ("credit-only.md", b"---\ndate: 2025-05-01\n---\nPhoto credit: Reuters\n"),
    ],
)
def test_empty_article_is_an_error(tmp_path: Path, name: str, data: bytes) -> None:
    folder = _folder(tmp_path, {name: data, "ok.txt": b"A real story. Yes.\n"})
    articles, errors = scan(LocalSource("newsroom", folder))
    assert [a.guid for a in articles] == ["ok"]
    (error,) = errors
    assert error.path == str(folder / name)
    assert error.message == "empty article"


def test_credit_lines_are_not_markdown_body_or_title(tmp_path: Path) -> None:
    credits = [
        "Photo credit: Reuters",
        "Image credit: Akorda press service",
        "Photo: AP",
        "*Photo: Kazinform*",
        "Фото: Ақорда",
        "图片来源：新华社",
        "摄影：张三",
    ]
    body = "\n\n".join(["Photo: Kazinform", "The real first sentence. More text.", *credits])
    folder = _folder(
        tmp_path,
        {
            "a.md": f"---\ndate: 2025-05-01\n---\n{body}\n".encode(),
            "b.md": "---\ntitle: Titled\n---\nBody text. More.\nФото: Ақорда\n".encode(),
            "c.txt": "Тело статьи. Ещё.\n\nФото: Ақорда\n\n摄影：张三\n".encode(),
        },
    )
    articles, errors = scan(LocalSource("newsroom", folder))
    assert errors == []
    by_guid = {a.guid: a for a in articles}
    story = by_guid["a"]
    assert story.title == "The real first sentence"
    assert story.content == "<p>The real first sentence. More text.</p>"
    assert story.summary == "The real first sentence. More text."
    assert by_guid["b"].content == "<p>Body text. More.</p>"
    assert by_guid["c"].content == "<p>Тело статьи. Ещё.</p>"
    # Kept as the story's credits, as written (Markdown emphasis gone), each once.
    assert story.credits == (
        "Photo: Kazinform",
        "Photo credit: Reuters",
        "Image credit: Akorda press service",
        "Photo: AP",
        "Фото: Ақорда",
        "图片来源：新华社",
        "摄影：张三",
    )
    assert by_guid["b"].credits == ("Фото: Ақорда",)
    assert by_guid["c"].credits == ("Фото: Ақорда", "摄影：张三")


def test_credit_line_inside_a_code_block_is_kept(tmp_path: Path) -> None:
    folder = _folder(
        tmp_path, {"a.md": b"---\ntitle: Howto\n---\nSet it so:\n\n```\nPhoto: x\n```\n"}
    )
    (article,) = scan(LocalSource("newsroom", folder))[0]
    assert "Photo: x" in article.content


@pytest.mark.parametrize(
    "front", ["", "---\ndate: 2025-05-01\n---\n", "---\ntitle:\nauthor: Desk\n---\n"]
)
def test_leading_markdown_heading_becomes_the_title(tmp_path: Path, front: str) -> None:
    body = "# Big *news* today\n\nThe first sentence is here. The second follows.\n"
    folder = _folder(tmp_path, {"a.md": (front + body).encode()})
    (article,) = scan(LocalSource("newsroom", folder))[0]
    assert article.title == "Big news today"
    assert article.content == "<p>The first sentence is here. The second follows.</p>"
    assert article.summary.startswith("The first sentence is here.")


def test_heading_stays_in_body_when_front_matter_has_a_title(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"a.md": b"---\ntitle: Given\n---\n# Section\n\nText here. More.\n"})
    (article,) = scan(LocalSource("newsroom", folder))[0]
    assert article.title == "Given"
    assert article.content.startswith("<h1>Section</h1>")


def test_duplicate_ids_keep_the_first_and_report_the_rest(tmp_path: Path) -> None:
    folder = _folder(
        tmp_path,
        {
            "a.md": b"---\ntitle: First\n---\nThe first file. Yes.\n",
            "a.txt": b"The same stem as a.md. Yes.\n",
            "b.md": b"---\ntitle: B\nid: shared\n---\nFile b. Yes.\n",
            "c.md": b"---\ntitle: C\ndate: 2025-05-01\nid: shared\n---\nFile c. Yes.\n",
            "d.txt": b"title D\nid shared\n\nFile d. Yes.\n",
        },
    )
    articles, errors = scan(LocalSource("newsroom", folder))
    assert sorted((a.guid, a.title) for a in articles) == [("a", "First"), ("shared", "B")]
    by_file = {Path(e.path).name: e for e in errors}
    assert set(by_file) == {"a.txt", "c.md", "d.txt"}
    assert by_file["a.txt"].message == f"id 'a' is already used by {folder / 'a.md'}"
    assert by_file["a.txt"].line is None
    assert by_file["c.md"].message == f"id 'shared' is already used by {folder / 'b.md'}"
    assert by_file["c.md"].line == 4
    assert by_file["d.txt"].line == 2
    assert str(folder / "b.md") in str(by_file["d.txt"])


@pytest.mark.parametrize(
    "bad", ["javascript:alert(1)", "data:image/png;base64,AAAA", "file:///etc/passwd", "http:x"]
)
def test_image_and_link_must_be_web_urls(
    tmp_path: Path, bad: str, caplog: pytest.LogCaptureFixture
) -> None:
    folder = _folder(
        tmp_path,
        {
            "bad.md": f"---\ntitle: Bad\nimage: '{bad}'\nlink: '{bad}'\n---\nBody. Yes.\n".encode(),
            "good.md": b"---\ntitle: Good\nimage: /media/x.jpg\nlink: news/good\n---\nBody.\n",
        },
    )
    articles, errors = scan(LocalSource("newsroom", folder, base_url=BASE))
    assert errors == []
    by_guid = {a.guid: a for a in articles}
    assert (by_guid["bad"].image, by_guid["bad"].link) == ("", "")
    assert by_guid["good"].image == "https://example.kz/media/x.jpg"
    assert by_guid["good"].link == "https://example.kz/news/good"
    notes = [r.getMessage() for r in caplog.records if "bad.md" in r.getMessage()]
    assert any("image" in n and "line 3" in n for n in notes)
    assert any("link" in n and "line 4" in n for n in notes)


def test_relative_links_point_into_the_articles_own_site(tmp_path: Path) -> None:
    """Relative to the article's `link:` (the newsroom's own page) when it has one, else to
    the site publishing it; the bundled sample's `/advisories/…` was a 404 on ours."""
    folder = _folder(
        tmp_path,
        {
            "own.md": b"---\ntitle: Own\nlink: https://newsroom.kz/news/own\nimage: /i/a.jpg\n"
            b"---\nSee <a href='/advisories/1'>it</a> and <a href='more'>more</a>.\n",
            "ours.md": b"---\ntitle: Ours\n---\nSee <a href='/advisories/1'>it</a>.\n",
        },
    )
    articles, errors = scan(LocalSource("newsroom", folder, base_url=BASE))
    assert errors == []
    by_guid = {a.guid: a for a in articles}
    assert 'href="https://newsroom.kz/advisories/1"' in by_guid["own"].content
    assert 'href="https://newsroom.kz/news/more"' in by_guid["own"].content
    assert by_guid["own"].image == "https://newsroom.kz/i/a.jpg"
    assert 'href="https://example.kz/advisories/1"' in by_guid["ours"].content


def test_a_storys_life_in_front_matter(tmp_path: Path) -> None:
    """`status: withdrawn` (and `reason:`), `embargo:` and `correction:` as the newsroom
    writes them; a status we do not know is the file's mistake, at its line."""
    folder = _folder(
        tmp_path,
        {
            "live.md": b"---\ntitle: Live\nlanguage: en\n---\nA live story. It stays.\n",
            "gone.md": b"---\ntitle: Gone\nstatus: withdrawn\nreason: Legal request\n"
            b"---\nA withdrawn story. Never again.\n",
            "later.md": b"---\ntitle: Later\nembargo: 2030-06-10T09:00:00+05:00\n---\n"
            b"Held back. Until then.\n",
            "fixed.md": "---\ntitle: Fixed\nlanguage: kk\ncorrection: Есімі түзетілді.\n---\n"
            "Мектеп ашылды. Оқушылар қуанышты.\n".encode(),
            "odd.md": b"---\ntitle: Odd\nlanguage: en\nstatus: maybe\n---\nBody text here.\n",
        },
    )
    scanned = scan_folder(LocalSource("newsroom", folder, language="en"))
    by_guid = {a.guid: a for a in scanned.articles}
    assert set(by_guid) == {"live", "later", "fixed"}
    assert [(w.article_id, w.reason) for w in scanned.withdrawn] == [
        ("newsroom:gone", "Legal request")
    ]
    assert by_guid["later"].embargo == datetime(2030, 6, 10, 4, 0, tzinfo=UTC)
    assert by_guid["live"].embargo is None and by_guid["live"].correction == ""
    fixed = by_guid["fixed"]
    assert fixed.correction == "Есімі түзетілді."
    # The note opens the body (so it is translated with it) and stays out of the summary.
    assert fixed.content.startswith('<p class="correction"><strong>Түзету:</strong> Есімі')
    assert "түзетілді" not in fixed.summary and fixed.title == "Fixed"
    (error,) = scanned.errors
    assert Path(error.path).name == "odd.md" and error.line == 4 and "maybe" in error.message
    # The old entry point still gives the live stories and the errors.
    articles, errors = scan(LocalSource("newsroom", folder, language="en"))
    assert {a.guid for a in articles} == {"live", "later", "fixed"} and len(errors) == 1


@pytest.mark.parametrize(
    ("key", "meant"),
    [
        ("embrago", "embargo"),
        ("Embargo", "embargo"),
        ("EMBARGO", "embargo"),
        ("embargoed", "embargo"),
        ("embargo_until", "embargo"),
        ("stauts", "status"),
        ("Status", "status"),
        ("corection", "correction"),
        ("Reason", "reason"),
    ],
)
def test_a_near_miss_of_a_known_key_holds_the_file(tmp_path: Path, key: str, meant: str) -> None:
    """`embrago: 2030-…` ignored would publish an embargoed story at once: a key that is a
    case variant or a misspelling of one we know is the file's mistake, at its line."""
    folder = _folder(
        tmp_path,
        {
            "held.md": f"---\ntitle: Held\nlanguage: en\n{key}: 2030-01-01T00:00:00Z\n---\n"
            "Not before its time. Truly.\n".encode(),
            "fine.md": b"---\ntitle: Fine\n---\nA fine story. Yes.\n",
        },
    )
    scanned = scan_folder(LocalSource("newsroom", folder, language="en"))
    assert [a.guid for a in scanned.articles] == ["fine"]
    assert scanned.withdrawn == []
    (error,) = scanned.errors
    assert Path(error.path).name == "held.md" and error.line == 4
    assert error.message == f"unknown key {key!r} (did you mean {meant!r}?)"
    assert str(error) == f"{folder / 'held.md'}:4: {error.message}"


def test_other_unknown_keys_are_notes_at_their_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A CMS's own keys (`slug`, `layout`, `draft`, …) are not ours: the story goes out and
    the log says which key, where."""
    folder = _folder(
        tmp_path,
        {
            "cms.md": b"---\ntitle: From the CMS\nslug: from-the-cms\nlanguage: en\nlayout: post\n"
            b"draft: false\n---\nExported as it was. Fine.\n",
        },
    )
    with caplog.at_level("WARNING", logger="syndication.ingest.local"):
        articles, errors = scan(LocalSource("newsroom", folder))
    assert errors == [] and [a.title for a in articles] == ["From the CMS"]
    notes = [r.getMessage() for r in caplog.records]
    where = folder / "cms.md"
    for line, key in ((3, "slug"), (5, "layout"), (6, "draft")):
        assert f"{where}: line {line}: unknown key {key!r} ignored" in notes


def test_a_near_miss_of_a_key_outside_a_storys_life_is_a_note_and_authors_are_read(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Only the keys of a story's life hold a file (ignored, they publish too soon); a CMS
    export's `Title:`, `tag:` or `langauge:` is a note with what was meant, and `authors:`
    (JSON Feed 1.1's word, a list) names the authors."""
    folder = _folder(
        tmp_path,
        {
            "cms.md": b"---\nTitle: Exported\ntag: culture\nlangauge: en\n"
            b"authors: [Aliya Nur, Li Wei]\n---\nExported as it was. Fine.\n",
        },
    )
    with caplog.at_level("WARNING", logger="syndication.ingest.local"):
        articles, errors = scan(LocalSource("newsroom", folder))
    assert errors == []
    (article,) = articles
    assert article.author == "Aliya Nur, Li Wei"
    notes = [r.getMessage() for r in caplog.records]
    where = folder / "cms.md"
    for line, key, meant in (
        (2, "Title", "title"),
        (3, "tag", "tags"),
        (4, "langauge", "language"),
    ):
        assert (
            f"{where}: line {line}: unknown key {key!r} ignored (did you mean {meant!r}?)" in notes
        )


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (
            "Embargo: 2030-01-01T00:00:00Z\n\nNot before its time. Truly.\n",
            1,
            "'Embargo' is not a header of a plain-text article (date, language, title, author, "
            "id): write the story as Markdown with front matter",
        ),
        (
            "title Held\nstatus: withdrawn\n\nGone story. Truly.\n",
            2,
            "'status' is not a header of a plain-text article (date, language, title, author, "
            "id): write the story as Markdown with front matter",
        ),
        (
            "date 2025-05-01 embrago: 2030-01-01 Not before its time. Truly.\n",
            1,
            "unknown key 'embrago' (did you mean 'embargo'?)",
        ),
        # Without a colon, as the other plain-text headers may be written.
        (
            "embargo 2030-01-01\ntitle Plain embargo\ndate 2025-05-06\n\nNot yet. Truly.\n",
            1,
            "'embargo' is not a header of a plain-text article (date, language, title, author, "
            "id): write the story as Markdown with front matter",
        ),
        (
            "title: Status bare\nstatus withdrawn\n\nGone story. Truly.\n",
            2,
            "'status' is not a header of a plain-text article (date, language, title, author, "
            "id): write the story as Markdown with front matter",
        ),
        (
            "date 2025-05-06 title Bare embargo second\nembargo 2030-01-01\n\nNot yet. Truly.\n",
            2,
            "'embargo' is not a header of a plain-text article (date, language, title, author, "
            "id): write the story as Markdown with front matter",
        ),
        (
            "date 2025-05-06\n\nEMBARGO 2030-01-01 Not before its time. Truly.\n",
            3,
            "'EMBARGO' is not a header of a plain-text article (date, language, title, author, "
            "id): write the story as Markdown with front matter",
        ),
        (
            "date 2025-05-01 stauts withdrawn Gone story. Truly.\n",
            1,
            "unknown key 'stauts' (did you mean 'status'?)",
        ),
    ],
)
def test_a_life_key_in_a_plain_text_header_holds_the_file(
    tmp_path: Path, text: str, line: int, message: str
) -> None:
    """Plain text has no `embargo` or `status` header: one written there must not become the
    first words of a story published at once."""
    folder = _folder(tmp_path, {"held.txt": text.encode(), "fine.txt": b"A fine story. Yes.\n"})
    articles, errors = scan(LocalSource("newsroom", folder, language="en"))
    assert [a.guid for a in articles] == ["fine"]
    (error,) = errors
    assert (Path(error.path).name, error.line, error.message) == ("held.txt", line, message)


def test_prose_opening_like_a_header_stays_prose(tmp_path: Path) -> None:
    folder = _folder(
        tmp_path,
        {
            "a.txt": b"Update: the bridge reopened on Monday. Traffic flows.\n",
            "b.txt": b"Statistics: grain exports rose. A third more.\n",
            "c.txt": b"Stats: Kairat scored twice. The team won.\n",
            # A life key's word opening a story, without a colon and not as a header is
            # written: prose.
            "d.txt": b"Embargo talks resumed on Monday. Grain flows.\n",
            "e.txt": b"Status quo holds in the talks. Nothing moved.\n",
            "f.txt": b"embargoed grain reached the port. At last.\n",
        },
    )
    articles, errors = scan(LocalSource("newsroom", folder, language="en"))
    assert errors == []
    assert sorted(a.title for a in articles) == [
        "Embargo talks resumed on Monday",
        "Statistics: grain exports rose",
        "Stats: Kairat scored twice",
        "Status quo holds in the talks",
        "Update: the bridge reopened on Monday",
        "embargoed grain reached the port",
    ]


@pytest.mark.parametrize("empty", ["embargo:", 'embargo: ""', "embargo: '  '"])
def test_an_embargo_with_no_date_holds_the_file(tmp_path: Path, empty: str) -> None:
    """`embargo:` left empty was read as no embargo and the story published at once, while
    `embargo: next tuesday` held it: the editor meant to hold it either way."""
    folder = _folder(
        tmp_path,
        {
            "held.md": f"---\ntitle: Held\nlanguage: en\n{empty}\n---\nNot yet. Truly.\n".encode(),
            "fine.md": b"---\ntitle: Fine\nlanguage: en\n---\nA fine story. Yes.\n",
        },
    )
    articles, errors = scan(LocalSource("newsroom", folder))
    assert [a.guid for a in articles] == ["fine"]
    (error,) = errors
    assert (Path(error.path).name, error.line) == ("held.md", 4)
    assert error.message == (
        "embargo has no date: give one such as 2025-05-02 or 2025-05-02T09:30:00+05:00, or "
        "remove the line"
    )


def test_a_file_that_cannot_be_read_holds_its_story_under_its_own_id(tmp_path: Path) -> None:
    """A stored story whose file turns bad is neither changed nor withdrawn: the scan names
    every id such a file may hold (its path, and its `id:` when it has one), so the story
    with `id: story-x` is not taken for a deleted one."""
    folder = _folder(
        tmp_path,
        {
            "x.md": b"---\ntitle: X\nid: story-x\nembrago: 2030-01-01\n---\nBody. Yes.\n",
            "y.md": b"---\ntitle: Y\nid: 'story-y'\ntags: [unclosed\n---\nBody. Yes.\n",
            "z.txt": b"id story-z\ndate 2025-02-31\n\nBody. Yes.\n",
            "w.md": b"---\ntitle: W\n---\nBody. Yes.\n\xff\n",
            "v.md": b"---\ntitle: V\nid: story-v\n---\nJ\xfcrgen said so. Yes.\n",
        },
    )
    scanned = scan_folder(LocalSource("newsroom", folder, language="en"))
    assert scanned.articles == [] and len(scanned.errors) == 5
    assert sorted(scanned.held) == [
        "newsroom:story-v", "newsroom:story-x", "newsroom:story-y", "newsroom:story-z",
        "newsroom:v", "newsroom:w", "newsroom:x", "newsroom:y", "newsroom:z",
    ]  # fmt: skip


def test_a_symlink_to_another_article_of_the_folder_is_not_a_second_story(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """`ln -s ../a1.md sub/link-to-a1.md` is one story (a1), whichever sorts first; a link to
    a file outside the folder is read as one story (however many links); a linked folder is
    not entered."""
    folder = _folder(tmp_path, {"a1.md": b"---\ntitle: Alpha\n---\nThe alpha story. Yes.\n"})
    (folder / "sub").mkdir()
    (folder / "sub" / "link-to-a1.md").symlink_to("../a1.md")
    (folder / "0-first.md").symlink_to(folder / "a1.md")  # sorts before a1.md
    (folder / "sub" / "chain.txt").symlink_to("link-to-a1.md")  # a link to the link
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "o.md").write_bytes(b"---\ntitle: Outside\n---\nFrom elsewhere. Yes.\n")
    (outside / "p.md").write_bytes(b"---\ntitle: Under a linked folder\n---\nNo. Never.\n")
    (folder / "ext.md").symlink_to(outside / "o.md")
    (folder / "sub" / "ext-again.md").symlink_to(outside / "o.md")
    (folder / "linked").symlink_to(outside, target_is_directory=True)
    with caplog.at_level("WARNING", logger="syndication.ingest.local"):
        scanned = scan_folder(LocalSource("newsroom", folder, language="en"))
    assert scanned.errors == []
    assert sorted((a.guid, a.title) for a in scanned.articles) == [
        ("a1", "Alpha"),
        ("ext", "Outside"),
    ]
    notes = [r.getMessage() for r in caplog.records]
    for link in ("0-first.md", "sub/link-to-a1.md", "sub/chain.txt"):
        assert (
            f"{folder / link}: a link to {folder / 'a1.md'}, an article of this folder "
            "(read as itself); skipped"
        ) in notes
    assert (
        f"{folder / 'sub/ext-again.md'}: a link to the file {folder / 'ext.md'} links to "
        "(read there); skipped"
    ) in notes


def test_a_file_given_as_the_folder_says_so(tmp_path: Path) -> None:
    feed = tmp_path / "p.xml"
    feed.write_bytes(b"<rss/>")
    with pytest.raises(ArticleFileError) as caught:
        scan(LocalSource("newsroom", feed))
    assert str(caught.value) == f"{feed}: is a file, not a folder (use file: for a feed file)"


@pytest.mark.parametrize("key", ["correction", "title", "reason", "summary"])
def test_a_list_where_text_belongs_is_the_files_mistake(tmp_path: Path, key: str) -> None:
    """`correction: [a, b]` was published as "Түзету: ['a', 'b']"."""
    folder = _folder(
        tmp_path, {"a.md": f"---\nlanguage: en\n{key}: [a, b]\n---\nBody. Yes.\n".encode()}
    )
    articles, errors = scan(LocalSource("newsroom", folder))
    assert articles == []
    (error,) = errors
    assert error.line == 3 and error.message == f"{key}: expected text, not a list"
