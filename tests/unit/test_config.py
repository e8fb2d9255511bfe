"""The YAML an operator writes: validated, every mistake reported with its line, paths
relative to the file, secrets from the environment and never printed."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from syndication.config import S3Location, load, parse_duration
from syndication.errors import ConfigError
from tests.conftest import run_cli, write_config

MINIMAL = "editions: [kk, zh, en]\nsources:\n  - id: newsroom\n    articles: articles\n"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "conf" / "syndication.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_minimal_config_gets_defaults_and_absolute_paths(tmp_path: Path) -> None:
    config = load(_write(tmp_path, MINIMAL))
    s = config.settings
    assert s.editions == ["kk", "zh", "en"]
    assert s.sources[0].articles == (tmp_path / "conf" / "articles").resolve()
    assert config.output == (tmp_path / "conf" / "public").resolve()
    assert s.store == f"sqlite:///{(tmp_path / 'conf' / 'data' / 'syndication.db').resolve()}"
    assert s.translation.chain == ["google"]
    assert s.sources[0].every == 600


def test_relative_paths_do_not_depend_on_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path, MINIMAL + "store: sqlite:///../db/x.db\noutput: ../out\n")
    monkeypatch.chdir(tmp_path)
    first = load(path)
    monkeypatch.chdir("/")
    second = load(path)
    assert first == second
    assert first.settings.store == f"sqlite:///{(tmp_path / 'db' / 'x.db').resolve()}"


def test_all_mistakes_at_once_with_lines(tmp_path: Path) -> None:
    text = (
        "editions: [kk, zh, fr]\n"  # 1: unknown edition
        "sources:\n"
        "  - id: Bad Id\n"  # 3: not URL-safe
        "    url: ftp://x\n"  # 4: not http(s)
        "    every: soon\n"  # 5: not a duration
        "  - id: two\n"
        "    file: a.xml\n"
        "    articles: b\n"  # 6: two locations
        "serve: {port: web}\n"  # 9: not a number
        "colour: blue\n"  # 10: unknown key
    )
    with pytest.raises(ConfigError) as caught:
        load(_write(tmp_path, text))
    problems = caught.value.problems
    lines = {int(p.split(":")[1]) for p in problems}
    assert {1, 3, 4, 5, 6, 9, 10} <= lines, problems
    assert any("unknown key" in p and ":10:" in p for p in problems)
    assert any("whole number" in p and ":9:" in p for p in problems)


def test_invalid_yaml_points_at_the_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load(_write(tmp_path, "editions: [kk\nsources: [\n"))
    assert ":3:" in caught.value.problems[0] or ":2:" in caught.value.problems[0]


def test_secrets_come_from_the_environment_and_stay_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MM_EMAIL", "newsroom@example.kz")
    text = MINIMAL + "translation:\n  providers:\n    mymemory: {email: '${MM_EMAIL}'}\n"
    config = load(_write(tmp_path, text))
    secret = config.settings.translation.providers["mymemory"].email
    assert secret is not None and secret.get_secret_value() == "newsroom@example.kz"
    assert "newsroom@example.kz" not in repr(config.settings)


def test_missing_environment_variable_is_an_error_with_line(tmp_path: Path) -> None:
    text = MINIMAL + "translation:\n  providers:\n    deepl: {api_key: '${NOPE_NOT_SET}'}\n"
    with pytest.raises(ConfigError) as caught:
        load(_write(tmp_path, text))
    assert any(":7:" in p and "NOPE_NOT_SET" in p for p in caught.value.problems)


def test_environment_default(tmp_path: Path) -> None:
    config = load(_write(tmp_path, MINIMAL + "serve: {port: '${NOPE_PORT:-8181}'}\n"))
    assert config.settings.serve.port == 8181


def test_derived_edition_needs_its_base(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load(_write(tmp_path, MINIMAL.replace("[kk, zh, en]", "[kk, en, zh-Hant]")))
    assert any("zh-Hant" in p for p in caught.value.problems)


def test_duplicate_source_ids_are_refused(tmp_path: Path) -> None:
    text = MINIMAL + "  - id: newsroom\n    file: x.xml\n"
    with pytest.raises(ConfigError) as caught:
        load(_write(tmp_path, text))
    assert any("newsroom" in p and "unique" in p for p in caught.value.problems)


@pytest.mark.parametrize(
    ("text", "seconds"), [("10m", 600), ("90s", 90), ("1h", 3600), ("1d", 86400), (45, 45)]
)
def test_durations(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path / "nope.yaml")
    assert "no such file" in caught.value.problems[0]


def test_repeated_source_id_points_at_the_repeating_entry(tmp_path: Path) -> None:
    text = MINIMAL + "  - id: other\n    file: x.xml\n  - id: newsroom\n    file: y.xml\n"
    with pytest.raises(ConfigError) as caught:
        load(_write(tmp_path, text))
    assert any(":7:" in p and "line 3" in p for p in caught.value.problems), caught.value.problems


def test_unknown_provider_settings_and_bad_language_tags_are_errors(tmp_path: Path) -> None:
    text = (
        MINIMAL.replace("articles: articles\n", "articles: articles\n    language: klingon\n")
        + "translation:\n  providers:\n    gogle: {rpm: 10}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load(_write(tmp_path, text))
    problems = "\n".join(caught.value.problems)
    assert "gogle" in problems and "language tag" in problems


def test_redact_masks_environment_values_and_url_passwords(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOKEN_X", "abcd1234")
    text = MINIMAL + "  - id: p\n    url: 'https://u:pw@feeds.example.org/rss?t=${TOKEN_X}'\n"
    config = load(_write(tmp_path, text))
    url = config.settings.sources[1].url
    assert url is not None and "abcd1234" in url
    assert config.redact(url) == "https://u:***@feeds.example.org/rss?t=***"


def test_where_and_how_it_serves_is_not_masked_but_a_store_password_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYN_HOST", "0.0.0.0")
    monkeypatch.setenv("SYN_PORT", "8080")
    monkeypatch.setenv("SYN_BASE", "https://feeds.example.kz/")
    monkeypatch.setenv("SYN_PW", "hunter22")
    path = write_config(
        tmp_path,
        serve={"host": "${SYN_HOST}", "port": "${SYN_PORT}"},
        site={"base_url": "${SYN_BASE}"},
        store="postgresql://feeds:${SYN_PW}@db.example/feeds",
    )
    config = load(path)
    shown = "http://0.0.0.0:8080/ https://feeds.example.kz/ password hunter22"
    assert config.redact(shown) == "http://0.0.0.0:8080/ https://feeds.example.kz/ password ***"


def test_environment_values_only_where_they_are_not_published(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FEED_TOKEN", "supersecret123")
    path = write_config(
        tmp_path,
        sources=[
            {"id": "a", "url": "https://x.example/rss?k=${FEED_TOKEN}"},
            {"id": "b", "url": "https://y.example/rss", "title": "Wire ${FEED_TOKEN}"},
        ],
    )
    with pytest.raises(ConfigError) as caught:
        load(path)
    (problem,) = caught.value.problems
    assert "sources.1.title: ${FEED_TOKEN}: environment values are read only in" in problem
    assert f"{path}:" in problem and "supersecret123" not in problem


def test_environment_values_are_not_published_as_site_or_topic_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`site` and `feeds` take settings from the environment (base_url, items), but their
    titles, descriptions and a topic's words are published: `${DB_PASSWORD}` there was."""
    monkeypatch.setenv("DB_PASSWORD", "supersecret123")
    monkeypatch.setenv("ITEMS", "50")
    path = write_config(
        tmp_path,
        site={
            "base_url": "https://feeds.example.kz/",
            "title": {"en": "News ${DB_PASSWORD}"},
            "description": {"en": "About ${DB_PASSWORD}"},
        },
        feeds={
            "items": "${ITEMS}",
            "topics": [
                {
                    "id": "t",
                    "title": {"en": "Topic ${DB_PASSWORD}"},
                    "keywords": ["${DB_PASSWORD}"],
                    "tags": ["${DB_PASSWORD}"],
                }
            ],
        },
    )
    with pytest.raises(ConfigError) as caught:
        load(path)
    wrong = sorted(p.split(": ")[1] for p in caught.value.problems)
    assert wrong == [
        "feeds.topics.0.keywords.0",
        "feeds.topics.0.tags.0",
        "feeds.topics.0.title.en",
        "site.description.en",
        "site.title.en",
    ], caught.value.problems
    assert not any("supersecret123" in p for p in caught.value.problems)


def test_every_or_cron_not_both(tmp_path: Path) -> None:
    both = write_config(
        tmp_path,
        fetch={"every": "5m"},
        sources=[
            {"id": "a", "url": "https://x.example/rss", "every": "1m", "cron": "*/5 * * * *"},
            {"id": "b", "url": "https://y.example/rss", "cron": "*/5 * * * *"},
        ],
    )
    with pytest.raises(ConfigError) as caught:
        load(both)
    assert [p for p in caught.value.problems if "not both" in p] == [
        next(p for p in caught.value.problems if "sources.0" in p)
    ]
    assert len(caught.value.problems) == 1


def test_lenient_loading_keeps_unset_variables_as_written(tmp_path: Path) -> None:
    path = write_config(
        tmp_path, sources=[{"id": "a", "url": "https://x.example/rss?k=${NOT_SET_HERE}"}]
    )
    with pytest.raises(ConfigError):
        load(path)
    config = load(path, lenient_env=True)
    assert config.settings.sources[0].location.endswith("k=${NOT_SET_HERE}")


def test_a_bad_default_interval_is_one_mistake_not_one_per_source(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        fetch={"every": "2 minutes"},
        sources=[{"id": f"s{i}", "url": f"https://x.example/{i}"} for i in range(5)],
    )
    with pytest.raises(ConfigError) as caught:
        load(path)
    (problem,) = caught.value.problems
    assert "fetch.every" in problem


ROUTES = """\
editions: [kk, zh, en, kk-Latn]
sources:
  - id: newsroom
    articles: articles
    language: ru
translation:
  chain: [google]
  routes:
    - from: ru
      to: fr
      chain: [google]
    - from: "*"
      to: zh
      chain: [google]
    - from: [en, ru]
      to: zh
      chain: [mymemory]
    - from: en
      to: kk-Latn
      chain: [google]
    - from: kk
      to: kk
      chain: [google]
    - from: []
      to: en
      chain: [google]
    - from: ru
      to: [en, kk]
      chain: [google]
"""


def test_check_refuses_routes_that_can_never_apply(tmp_path: Path) -> None:
    path = _write(tmp_path, ROUTES)
    result = run_cli("check", "--config", str(path))
    assert result.code == 2, result.output
    problems = [line.strip() for line in result.stderr.splitlines() if f"{path}:" in line]
    by_line = {int(p.split(":")[1]): p for p in problems}
    # `to: fr`: no fr edition, so no story is ever translated into it.
    assert "fr is not an edition" in by_line[10], problems
    # Every pair of routes.2 is taken by routes.1 before it (first match wins).
    assert "routes.1" in by_line[15] and "never applies" in by_line[15], problems
    # kk-Latn is derived from kk by transliteration: never a translation target.
    assert "kk-Latn" in by_line[19] and "derived" in by_line[19], problems
    # kk→kk is never translated; an empty `from:` matches nothing.
    assert "never applies" in by_line[21], problems
    assert "never applies" in by_line[24], problems
    # A route `from:` a language no source declares is fine, and so is the last one.
    assert len(problems) == 5, problems


def test_check_places_every_mistake_at_its_own_line_at_once(tmp_path: Path) -> None:
    """A source language no provider of the chain translates is that source's line (one
    line for every edition it cannot reach), named as the operator named the file; an unset
    partner token is "not set", not also "too short"; and the chain's gaps come with the
    other mistakes, not after they are fixed."""
    _write(
        tmp_path,
        "editions: [zh, en]\n"
        "sources:\n"
        "  - id: newsroom\n"
        "    articles: articles\n"
        "    language: de\n"
        "partners:\n"
        "  - id: acme\n"
        "    token: ${SYNDICATION_TEST_UNSET_TOKEN}\n"
        "    editions: [en]\n"
        "translation:\n"
        "  chain: [deepl]\n",
    )
    result = run_cli("check", "--config", "conf/syndication.yaml", cwd=tmp_path)
    assert result.code == 2, result.output
    problems = [line.strip() for line in result.stderr.splitlines() if ".yaml:" in line]
    assert all(p.startswith("conf/syndication.yaml:") for p in problems), problems
    by_line = {int(p.split(":")[1]): p for p in problems if "translates" not in p}
    assert "SYNDICATION_TEST_UNSET_TOKEN is not set" in by_line.pop(8), problems
    assert by_line == {}, problems
    gaps = [p for p in problems if "translates" in p]
    assert len(gaps) == 1 and ":5: sources.0.language: de" in gaps[0], gaps
    assert "de→zh [deepl], de→en [deepl]" in gaps[0], gaps


def test_yaml_merge_keys_are_read_and_custom_tags_are_mistakes_at_their_line(
    tmp_path: Path,
) -> None:
    """`<<: *anchor` (sources sharing settings) is YAML every PyYAML loader reads; a tag no
    safe loader constructs is a mistake at its line, exit 2, never a traceback."""
    path = _write(
        tmp_path,
        "editions: [kk]\n"
        "sources:\n"
        "  - &wire\n"
        "    id: a\n"
        "    articles: articles\n"
        "    every: 30m\n"
        "  - <<: *wire\n"
        "    id: b\n",
    )
    sources = load(path).settings.sources
    assert [(s.id, s.every) for s in sources] == [("a", 1800.0), ("b", 1800.0)]
    path.write_text(MINIMAL + "    title: !custom Newsroom\n", encoding="utf-8")
    for command in (["check"], ["status", "--json"], ["once"]):
        result = run_cli(*command, "--config", str(path))
        assert result.code == 2, result.output
        assert "Traceback" not in result.output
        assert f"{path}:5: invalid YAML" in result.output, result.output


def test_an_s3_output_with_its_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("S3_ENDPOINT", "http://127.0.0.1:8333")
    text = (
        MINIMAL + "output: s3://feeds-kz/site/v1\n"
        "output_options: {endpoint_url: '${S3_ENDPOINT}', region: kz-1, addressing_style: path}\n"
    )
    config = load(_write(tmp_path, text))
    assert config.output == S3Location(bucket="feeds-kz", prefix="site/v1/")
    assert str(config.output) == "s3://feeds-kz/site/v1/" and config.folder is None
    options = config.settings.output_options
    assert options is not None and options.endpoint_url == "http://127.0.0.1:8333"
    assert (options.region, options.addressing_style) == ("kz-1", "path")
    # Where the output is, is configuration: printed as it is, never masked.
    assert config.redact("at http://127.0.0.1:8333") == "at http://127.0.0.1:8333"
    # AWS by default: no options at all; the prefix optional; a folder stays the default.
    bare = load(_write(tmp_path, MINIMAL + "output: s3://feeds-kz\n"))
    assert bare.output == S3Location(bucket="feeds-kz", prefix="")
    assert bare.settings.output_options is None
    assert load(_write(tmp_path, MINIMAL)).folder == (tmp_path / "conf" / "public").resolve()


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("s3://Feeds_KZ/", "is not a bucket name"),
        ("s3://ab/", "is not a bucket name"),
        ("s3://feeds..kz/", "is not a bucket name"),
        ("s3://192.168.1.10/", "is not a bucket name"),
        ("s3:///site/", "expected s3://bucket/"),
        ("s3://feeds/site/?v=1", "expected s3://bucket/"),
        ("s3://feeds/a//b/", "has an empty, '.' or '..' part"),
        ("s3://feeds/a/../b/", "has an empty, '.' or '..' part"),
    ],
)
def test_a_bad_s3_output_is_refused_at_its_line(tmp_path: Path, url: str, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(_write(tmp_path, MINIMAL + f"output: {url}\n"))
    (problem,) = caught.value.problems
    assert ":5: output: " in problem and says in problem, problem


def test_output_options_mistakes_are_reported_at_their_lines(tmp_path: Path) -> None:
    text = MINIMAL + (
        "output: s3://feeds/\n"
        "output_options:\n"
        "  endpoint_url: ftp://minio.local\n"  # 7: not http(s)
        "  regoin: kz-1\n"  # 8: unknown key
        "  addressing_style: dns\n"  # 9: not one of auto, path, virtual
    )
    with pytest.raises(ConfigError) as caught:
        load(_write(tmp_path, text))
    problems = caught.value.problems
    assert [int(p.split(":")[1]) for p in problems] == [7, 8, 9], problems
    # Options for a folder are a mistake, not silently ignored.
    folder = MINIMAL + "output: public\noutput_options: {region: kz-1}\n"
    with pytest.raises(ConfigError) as caught:
        load(_write(tmp_path, folder))
    (problem,) = caught.value.problems
    assert ":6: output_options: " in problem and "s3:// output only" in problem


def test_archives_are_kept_90_days_unless_feeds_archive_says(tmp_path: Path) -> None:
    assert load(_write(tmp_path, MINIMAL)).settings.feeds.archive == 90 * 86400
    kept = load(_write(tmp_path, MINIMAL + "feeds:\n  archive: 7d\n"))
    assert kept.settings.feeds.archive == 7 * 86400
    with pytest.raises(ConfigError) as caught:
        load(_write(tmp_path, MINIMAL + "feeds:\n  items: 20\n  archive: forever\n"))
    (problem,) = caught.value.problems
    assert ":7:" in problem and "duration" in problem, problem


def test_cross_references_are_each_reported_at_their_own_line_in_one_run(tmp_path: Path) -> None:
    text = (
        "site:\n"
        "  title: {kk: Жаңалықтар, xx: bad}\n"  # 2: an edition not configured
        "editions: [kk, kk-Latn, zh-Hant, en, en]\n"  # 3: zh-Hant without zh; en twice
        "feeds:\n"
        "  topics:\n"
        "    - {id: t1, tags: [a], sources: [nosuch]}\n"  # 6: unknown source
        "    - {id: t1, tags: [b], title: {zh: 文化}}\n"  # 7: repeated id; zh not an edition
        "sources:\n"
        "  - id: a\n"
        "    articles: articles\n"
        "translation:\n"
        "  glossary:\n"
        "    - {kk: Тоқаев, ru: Токаев, fr: Tokaïev}\n"  # ru and fr: source forms, fine
        "    - {kk: Астана,\n"
        "       xx: Astana}\n"  # 15: not a language
        "partners:\n"
        "  - id: p\n"
        "    token_sha256: " + "ab" * 32 + "\n"
        "    sources: [nosuch2]\n"  # 19
        "    topics: [t9]\n"  # 20
        "    editions: []\n"  # 21
        "  - id: q\n"
        "    token_sha256: " + "cd" * 32 + "\n"
        "    editions: [kk, fr]\n"  # 24
        "    rate: often\n"  # 25: a field mistake does not hide the others
    )
    with pytest.raises(ConfigError) as caught:
        load(_write(tmp_path, text))
    problems = caught.value.problems
    by_line: dict[int, list[str]] = {}
    for problem in problems:
        by_line.setdefault(int(problem.split(":")[1]), []).append(problem)
    assert sorted(by_line) == [2, 3, 6, 7, 15, 19, 20, 21, 24, 25], problems
    assert "site.title.xx: " in by_line[2][0] and "kk, kk-Latn, zh-Hant, en" in by_line[2][0]
    editions = " ".join(by_line[3])
    assert "zh-Hant is derived from zh: add zh too" in editions and "(en repeated)" in editions
    assert "feeds.topics.0.sources: unknown source nosuch" in by_line[6][0]
    assert any(
        "feeds.topics.1.id: 't1' is already the id of feeds.topics.0" in p for p in by_line[7]
    )
    assert any("feeds.topics.1.title.zh: " in p for p in by_line[7])
    assert "translation.glossary.1.xx: " in by_line[15][0]
    assert "partners.0.sources: unknown source nosuch2" in by_line[19][0]
    assert "partners.0.topics: unknown topic (feeds.topics) t9" in by_line[20][0]
    assert (
        "partners.0.editions: an empty list: name at least one edition, or remove the key to "
        "give every edition" in by_line[21][0]
    )
    assert "partners.1.editions: unknown edition fr" in by_line[24][0]
    assert not any(":1: (top level)" in p for p in problems)


def test_two_partners_with_one_token_are_refused(tmp_path: Path, monkeypatch: Any) -> None:
    """One key for two partners opens each one's entitled feeds to the other."""
    monkeypatch.setenv("DESK_TOKEN", "a-long-random-secret-of-the-desk")
    monkeypatch.setenv("WIRE_TOKEN", "a-long-random-secret-of-the-desk")
    digest = hashlib.sha256(b"a-long-random-secret-of-the-desk").hexdigest()
    text = (
        "editions: [en]\n"
        "sources:\n"
        "  - {id: a, articles: articles}\n"
        "partners:\n"
        "  - id: desk\n"  # 5
        "    token: ${DESK_TOKEN}\n"
        "  - id: wire\n"
        "    token: ${WIRE_TOKEN}\n"  # 8
        "  - id: third\n"
        "    token_sha256: " + digest.upper() + "\n"  # 10
        "  - id: own\n"
        "    token_sha256: " + "ab" * 32 + "\n"
    )
    with pytest.raises(ConfigError) as caught:
        load(_write(tmp_path, text))
    problems = caught.value.problems
    assert len(problems) == 2, problems
    assert ":8: partners.1.token: the same token as the partner on line 5" in problems[0]
    assert ":10: partners.2.token_sha256: the same token as the partner on line 5" in problems[1]
    assert "a-long-random" not in " ".join(problems)


def test_glossary_keys_and_source_languages_are_read_as_stories_are_tagged(
    tmp_path: Path,
) -> None:
    text = (
        "editions: [kk, zh, en, kk-Latn, zh-Hant]\n"
        "sources:\n"
        "  - {id: a, articles: articles, language: KK}\n"
        "  - {id: b, articles: articles, language: zh-hant}\n"
        "  - {id: c, articles: articles, language: kk-latn}\n"
        "translation:\n"
        "  glossary:\n"
        "    - {KK: Астана, kk-latn: Nur-Sultan, zh-TW: 阿斯坦納, zh-CN: 阿斯塔纳, en: Astana}\n"
    )
    settings = load(_write(tmp_path, text)).settings
    assert [s.language for s in settings.sources] == ["kk", "zh-Hant", "kk-Latn"]
    assert settings.translation.glossary == [
        {"kk": "Астана", "kk-Latn": "Nur-Sultan", "zh-Hant": "阿斯坦納", "zh": "阿斯塔纳",
         "en": "Astana"}
    ]  # fmt: skip


def test_two_keys_of_one_language_in_an_entry_are_a_mistake(tmp_path: Path) -> None:
    text = MINIMAL + "translation:\n  glossary:\n    - {kk: Астана,\n       KK: Астана2}\n"
    with pytest.raises(ConfigError) as caught:
        load(_write(tmp_path, text))
    (problem,) = caught.value.problems
    assert ":8: translation.glossary.0.KK: a second form in kk" in problem, problem


def test_route_tags_are_read_as_stories_are_tagged(tmp_path: Path) -> None:
    """`from: KK` or `kk-Latn` is Kazakh (a story is tagged kk), `to: ZH` is zh: written any
    other way the route would never match, silently."""
    text = (
        "editions: [kk, zh, en, kk-Latn]\n"
        "sources:\n"
        "  - {id: n, articles: articles}\n"
        "translation:\n"
        "  routes:\n"
        "    - {from: KK, to: ZH, chain: [mymemory]}\n"
        "    - {from: kk-Latn, to: zh, chain: [google]}\n"  # 7: all taken by routes.0
        "    - {from: en, to: kk-latn, chain: [google]}\n"  # 8: derived
    )
    path = _write(tmp_path, text)
    result = run_cli("check", "--config", str(path))
    assert result.code == 2, result.output
    problems = [line.strip() for line in result.stderr.splitlines() if f"{path}:" in line]
    assert len(problems) == 2, problems
    assert ":7: translation.routes.1: every pair it matches is taken by routes.0" in problems[0]
    assert ":8: translation.routes.2.to: kk-Latn is derived from kk" in problems[1]
    text = text.replace("    - {from: kk-Latn, to: zh, chain: [google]}\n", "")
    text = text.replace("    - {from: en, to: kk-latn, chain: [google]}\n", "")
    routes = load(_write(tmp_path, text)).settings.translation
    assert routes.chain_for("kk", "zh") == ["mymemory"]


def test_a_mistake_elsewhere_does_not_hide_the_chains_gaps(tmp_path: Path) -> None:
    """A typo under `feeds:` is reported with what the chain cannot translate, in one run."""
    text = (
        "editions: [kk, en]\n"
        "feeds: {itemz: 3}\n"  # 2
        "sources:\n"
        "  - {id: arts, articles: arts, language: en}\n"
        "translation:\n"
        "  chain: [deepl]\n"  # 6
        "  providers: {deepl: {api_key: x}}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load(_write(tmp_path, text))
    problems = caught.value.problems
    assert len(problems) == 3, problems
    assert ":2: feeds.itemz: unknown key" in problems[0]
    assert "translates en→kk [deepl]" in " ".join(problems)
    assert "translates kk→en [deepl]" in " ".join(problems)


def test_check_notes_a_site_base_url_left_unset(tmp_path: Path) -> None:
    """Its host becomes every item id's authority at the first publish, for good."""
    text = "editions: [en]\nsources:\n  - {id: a, articles: articles}\n"
    done = run_cli("check", "--config", str(_write(tmp_path, text)))
    assert done.code == 0, done.output
    said = " ".join(done.output.split())
    assert "site.base_url is not set: links and ids use http://127.0.0.1:8080/" in said
    with_site = "site: {base_url: 'https://feeds.example.kz/'}\n" + text
    done = run_cli("check", "--config", str(_write(tmp_path, with_site)))
    assert done.code == 0 and "base_url" not in done.output, done.output
