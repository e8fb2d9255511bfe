"""The glossary, `keep` and a source's `language:` as an operator writes them: `check` says
every mistake at its line in one run, and `once` puts names in their fixed forms whatever
script the original is written in, whole words only; image alt text is translated too."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from syndication.translate.engine import translate_pending
from tests.conftest import run_cli, write_config
from tests.fakeprovider import FakeGoogle, fake_translate
from tests.unit.translate.test_engine import (
    MangledGoogle,
    _article,
    _save,
    _setup,
    _translations,
)

GLOSSARY: list[dict[str, str]] = [
    # kk-Latn and zh-Hant: spellings an original in that script uses besides the derived ones.
    {
        "kk": "Тоқаев",
        "kk-Latn": "Toqayev",
        "zh-Hant": "托卡葉夫",
        "zh": "托卡耶夫",
        "en": "Tokayev",
    },
    {"kk": "Астана", "ru": "Астана", "zh": "阿斯塔纳", "en": "Astana"},
]

STORIES = {
    "zh-hant.md": (
        "---\ntitle: 臺灣與哈薩克斯坦擴大貿易關係\ndate: 2026-12-01T11:30:00+08:00\n---\n"
        "兩國代表在阿斯塔納會談，托卡葉夫總統表示，雙邊貿易額將繼續增長。\n"
    ),
    "kk-latn.md": (
        "---\ntitle: Toqaev Astana qalasynda mektep aşty\ndate: 2026-12-01T10:30:00+05:00\n---\n"
        "Astana qalasynda Toqaev jaña mektepti aşty. Mektepte 1200 oquşy bılım alady. "
        "Būl jobanyñ qūny ösken joq, dedi Toqayev.\n"
    ),
    "en.md": (
        "---\ntitle: Parliament approves a budget\ndate: 2026-12-01T09:00:00+05:00\n"
        "language: en\n---\n"
        "The Mazhilis approved a budget on Monday, Kazinform reported.\n\n"
        '<p>Image: <img src="https://example.kz/img.jpg" alt="A photo of Astana" '
        'title="Astana at night"></p>\n'
    ),
}


def _items(folder: Path, edition: str) -> dict[str, dict[str, Any]]:
    feed = json.loads((folder / "public" / edition / "feed.json").read_text("utf-8"))
    return {item["title"]: item for item in feed["items"]}


def _by_original(folder: Path, edition: str) -> dict[str, dict[str, Any]]:
    """The edition's items by their story's file name."""
    found = {}
    for item in _items(folder, edition).values():
        name = item["id"].rsplit(":", 1)[1].split("/")[0]
        found[name] = item
    return found


def _config(tmp_path: Path, fake_google: FakeGoogle, editions: list[str]) -> Path:
    """The newsroom's `stories` folder into `editions`, with the glossary and keep words."""
    return write_config(
        tmp_path,
        editions=editions,
        sources=[{"id": "newsroom", "articles": "stories"}],
        translation={
            "chain": ["google"],
            "providers": {"google": {"base_url": fake_google.url}},
            "timeout": "5s",
            "glossary": GLOSSARY,
            "keep": ["Kazinform", "a"],
        },
    )


def test_names_in_a_traditional_or_latin_original_get_their_fixed_form(
    tmp_path: Path, fake_google: FakeGoogle
) -> None:
    stories = tmp_path / "stories"
    stories.mkdir()
    for name, text in STORIES.items():
        (stories / name).write_text(text, encoding="utf-8")
    config = _config(tmp_path, fake_google, ["kk", "zh", "en", "kk-Latn", "zh-Hant"])
    checked = run_cli("check", "--config", str(config))
    assert checked.code == 0, checked.output
    done = run_cli("once", "--config", str(config))
    assert done.code == 0, done.output
    english = _by_original(tmp_path, "en")
    # Traditional original: 阿斯塔納 (derived from the zh form) and 托卡葉夫 (its own key).
    hant = english["zh-hant"]
    assert "Astana" in hant["content_html"] and "Tokayev" in hant["content_html"], hant
    # Latin Kazakh original: Toqaev (derived from the kk form) and Toqayev (its own key).
    latn = english["kk-latn"]
    for text in (latn["title"], latn["content_html"]):
        assert "Tokayev" in text and "Toq" not in text, text
        assert "Astana" in text, text
    assert latn["content_html"].count("Tokayev") == 2, latn["content_html"]
    # No glossary form is sent to the provider in any script.
    sent = " ".join(call.text for call in fake_google.calls)
    for form in ("阿斯塔納", "托卡葉夫", "Toqaev", "Toqayev"):
        assert form not in sent, form


def test_keep_words_match_whole_words_and_alt_text_is_translated(
    tmp_path: Path, fake_google: FakeGoogle
) -> None:
    stories = tmp_path / "stories"
    stories.mkdir()
    (stories / "en.md").write_text(STORIES["en.md"], encoding="utf-8")
    config = _config(tmp_path, fake_google, ["kk", "zh", "en", "kk-Latn"])
    done = run_cli("once", "--config", str(config))
    assert done.code == 0, done.output
    (kk,) = _items(tmp_path, "kk").values()
    # "a" is kept where it is a word, never inside one ("Parliament" is no "P[a]rli[a]ment").
    for text in (kk["title"], kk["content_html"]):
        assert not re.search(r"[\u0400-\u04ff]a|a[\u0400-\u04ff]", text), text
    assert re.search(r"(^|\s)a(\s|$)", kk["title"]), kk["title"]
    # The image's alt and title are translated (the glossary holding inside them too).
    (alt,) = re.findall(r'alt="([^"]*)"', kk["content_html"])
    (title,) = re.findall(r'<img[^>]*title="([^"]*)"', kk["content_html"])
    assert "photo" not in alt and re.search(r"[\u0400-\u04ff]", alt), alt
    assert "Астана" in alt and "Астана" in title and "night" not in title, (alt, title)
    (zh,) = _items(tmp_path, "zh").values()
    (alt,) = re.findall(r'alt="([^"]*)"', zh["content_html"])
    assert re.search(r"[\u4e00-\u9fff]", alt) and "阿斯塔纳" in alt, alt
    # The derived edition shows the alt text in its script, as it does the text.
    (latn,) = _items(tmp_path, "kk-Latn").values()
    (alt,) = re.findall(r'alt="([^"]*)"', latn["content_html"])
    assert "Astana" in alt and not re.search(r"[\u0400-\u04ff]", alt), alt
    assert 'src="https://example.kz/img.jpg"' in latn["content_html"]


def _problems(output: str, path: Path) -> list[str]:
    return [line.strip() for line in output.splitlines() if line.strip().startswith(f"{path}:")]


def _line(problem: str) -> int:
    return int(problem.split(":")[1])


def test_check_refuses_glossary_and_keep_mistakes_that_damage_the_output(tmp_path: Path) -> None:
    path = tmp_path / "g.yaml"
    path.write_text(
        "editions: [kk, zh, en]\n"
        "sources:\n"
        "  - {id: newsroom, articles: articles}\n"
        "translation:\n"
        "  glossary:\n"
        "    - {kk: Тоқаев, en: ''}\n"  # 6: an empty form would publish the Cyrillic name
        "    - {kk: Астана, en: Astana}\n"
        "    - {kk: Астана, en: Nur-Sultan}\n"  # 8: the same name, another form
        "    - {KK: Алматы, zh-hant: 阿拉木圖, kk-latn: Almaty, en: Almaty}\n"  # 9: fine
        "    - {kz: Шымкент, en: Shymkent}\n"  # 10: kz is a country
        "  keep:\n"
        "    - ''\n"  # 12: an empty word
        "    - a\n"
        "    - Kazinform\n",
        encoding="utf-8",
    )
    result = run_cli("check", "--config", str(path))
    assert result.code == 2, result.output
    problems = _problems(result.output, path)
    assert [_line(p) for p in problems] == [6, 8, 10, 12], problems
    assert "translation.glossary.0.en: " in problems[0] and "empty" in problems[0]
    assert "translation.glossary.2" in problems[1] and "Nur-Sultan" in problems[1]
    assert "line 7" in problems[1], problems[1]
    assert "translation.glossary.4.kz: " in problems[2] and "did you mean kk" in problems[2]
    assert "translation.keep.0: " in problems[3] and "empty" in problems[3]


def test_check_reports_the_routes_with_every_other_mistake_in_one_run(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "editions: [kk, zh, en, kk-Latn]\n"
        "sources:\n"
        "  - {id: newsroom, articles: articles}\n"
        "translation:\n"
        "  chain: [google, gogle]\n"  # 5
        "  routes:\n"
        "    - {from: en, to: kk-Latn, chain: [google]}\n"  # 7: derived
        "    - {from: '*', to: [], chain: [google]}\n"  # 8: empty
        "    - {from: en, to: zh, chain: [mymemory]}\n"
        "  timeout: -5s\n",  # 10
        encoding="utf-8",
    )
    result = run_cli("check", "--config", str(path))
    assert result.code == 2, result.output
    problems = _problems(result.output, path)
    assert [_line(p) for p in problems] == [5, 7, 8, 10], problems
    assert "routes.0.to: kk-Latn is derived" in problems[1]
    assert "routes.1.to: an empty list" in problems[2]


def test_a_source_language_is_read_as_ingest_reads_it_and_mistakes_are_named(
    tmp_path: Path,
) -> None:
    config = write_config(
        tmp_path,
        sources=[
            {"id": "a", "articles": "articles", "language": "kz"},  # country, not language
            {"id": "b", "articles": "articles", "language": "zh-TW"},
            {"id": "c", "articles": "articles", "language": "kk-Latn"},
            {"id": "d", "articles": "articles", "language": "cn"},
            {"id": "e", "articles": "articles", "language": "KK"},
            {"id": "f", "articles": "articles", "language": "zh-hant"},
            {"id": "g", "articles": "articles", "language": "xx"},  # no provider knows it
        ],
    )
    result = run_cli("check", "--config", str(config))
    assert result.code == 2, result.output
    problems = _problems(result.output, config)
    lines = [_line(p) for p in problems]
    assert lines == sorted(lines) and len(problems) == 3, problems
    kz, cn, xx = problems
    assert "sources.0.language: " in kz and "did you mean kk" in kz, kz
    assert "sources.3.language: " in cn and "did you mean zh" in cn, cn
    assert "sources.6.language: xx" in xx, xx
    assert "provider" not in kz + cn, problems
    fixed = write_config(
        tmp_path,
        sources=[
            {"id": "b", "articles": "articles", "language": "zh-TW"},
            {"id": "c", "articles": "articles", "language": "kk-Latn"},
            {"id": "e", "articles": "articles", "language": "KK"},
            {"id": "f", "articles": "articles", "language": "zh-hant"},
        ],
    )
    result = run_cli("check", "--config", str(fixed))
    assert result.code == 0, result.output
    listed = run_cli("sources", "--json", "--config", str(fixed))
    languages = [s["language"] for s in json.loads(listed.stdout)]
    assert languages == ["zh-TW", "kk-Latn", "kk", "zh-Hant"], languages


def test_alt_text_a_provider_will_not_translate_keeps_its_words(tmp_path: Path) -> None:
    """An image described by a product name comes back unchanged, in Latin letters: a bad
    answer for a Kazakh paragraph, but no reason to hold back the story it illustrates."""
    alt = "Apple iPhone Pro Max"
    google = MangledGoogle()
    try:
        # The provider returns the alt text as it was sent (its script check refuses that).
        google.mangle = lambda text, source, target: text.replace(
            fake_translate(alt, source, target), alt
        )
        config, store = _setup(tmp_path, google.url)
        story = _article(
            "desk", "phone", "en", "A new phone goes on sale in Almaty",
            f'<p>The phone went on sale on Monday. <img src="https://example.kz/p.jpg" '
            f'alt="{alt}"></p>',
        )  # fmt: skip
        _save(store, story)
        report = translate_pending(config, store)
        assert report.translated == 2 and report.failed == 0, report
        for language in ("kk", "zh"):
            content = _translations(store, story.id)[language].content
            assert f'alt="{alt}"' in content, content
            assert "Monday" not in content, content  # the paragraph itself is translated
    finally:
        google.stop()
