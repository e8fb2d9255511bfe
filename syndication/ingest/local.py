"""Reading the newsroom's own article files (a folder per local source) into Articles.

Owns: Markdown with YAML front matter (rendered with Python-Markdown) and plain-text files
with `key value` (or `key: value`) header lines, including the messy real shape where
headers and the first paragraph share one line (` date 2025-04-25 Speaking at …`). Photo
credit lines are taken out of the body in both formats and kept as the story's credits. A file
with no title (or one that shows nothing) is named as a partner's item is: by the first visible
sentence of its body, else of its `summary:` (ingest.entries), else by its file name. A bad
file (or an empty one, or one whose id another file already has, or one with a misspelt key
such as `embrago:`, or an `embargo:` with no date, or `embargo`/`status` among a plain-text
file's headers, with or without a colon) is reported with its path and line and skipped, its
story held as it was; the rest of the folder goes on. A symlink to another article of the
folder is not a second story.
"""

from __future__ import annotations

import contextlib
import difflib
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, tzinfo
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import markdown
import yaml

from syndication.errors import ArticleFileError
from syndication.html import (
    absolute_url,
    correction_note,
    plain_text,
    sanitise_html,
    shorten,
)
from syndication.ingest.entries import fallback_title, visible
from syndication.ingest.normalise import choose_language
from syndication.lang import normalise_language
from syndication.model import Article, Withdrawal, article_id
from syndication.words import word

log = logging.getLogger(__name__)

SUFFIXES = {".md": "markdown", ".markdown": "markdown", ".txt": "text"}
FRONT_KEYS = {
    "title",
    "date",
    "language",
    "lang",
    "author",
    "authors",  # JSON Feed 1.1's word for it, as CMS exports write it: a list of names
    "tags",
    "image",
    "id",
    "summary",
    "link",
    "categories",
    # A story's life: withdrawn (and why), held back until a time, corrected.
    "status",
    "reason",
    "embargo",
    "correction",
}
# Misspelt or in the wrong case, these would be ignored: a story published before its embargo,
# or a withdrawn one still out. So a near miss of one of them holds the file; a near miss of
# another key (`Title`, `titel`, `tag`) is a note, as an unknown key is.
_KNOWN_KEYS = tuple(sorted(FRONT_KEYS))
_HOLDING_KEYS = frozenset({"status", "reason", "embargo", "correction"})
_TEXT_KEYS = ("title", "summary", "status", "reason", "correction", "language", "lang", "id")
_NEAR_MISS = 0.8  # difflib ratio: embrago, stauts, corection, langauge, titel
_TEXT_HEADERS = "date, language, title, author, id"
# Plain text has no header for these; written there, they must not become the first words of a
# story published at once.
_LIFE_KEYS = ("embargo", "status")
STATUSES = ("published", "withdrawn")
SUMMARY_CHARS = 400
MAX_FILE_BYTES = 5 * 1024 * 1024

_HEADER_KEYS = r"(date|language|lang|title|author|id)"
# `key: value` is unambiguous whatever the case ("Title: …").
_COLON_HEADER = re.compile(_HEADER_KEYS + r"\s*:\s*", re.I)
# `key value` only for lowercase keys: a first paragraph opening "Title races…" or
# "Author Jane Doe said…" is prose, not a header. The lookahead wants a value after the key.
_BARE_HEADER = re.compile(_HEADER_KEYS + r"\s+(?=\S)")
# A capitalised "Date 2025-05-05 …" cannot be prose, so it stays a header (as it always was),
# but only when a date follows: "Date night returns…" is the first paragraph.
_BARE_DATE = re.compile(r"(date)\s+(?=\d{4}-)", re.I)
# `language` without a colon takes one tag-shaped token (ru, kk, zh-CN, kk-Latn, zh-Hant-TW);
# "language barriers fell…" at the top of a file is prose.
_LANGUAGE_TAG = re.compile(
    r"([A-Za-z]{2,3}(?:[-_](?:[A-Za-z]{4}|[A-Za-z]{2}|\d{3})){0,2})(?:\s+|$)"
)
_FRONT_KEY = re.compile(r"^([A-Za-z_][\w-]*)\s*:")
# A key written without a colon (`embargo 2030-01-01`, as plain-text headers may be written).
_BARE_KEY = re.compile(r"([A-Za-z_][\w-]*)(?:\s+|$)")
# What must follow a life key without a colon in another case than lowercase, or misspelt, for
# it to be one (`Embargo 2030-01-01`, `stauts withdrawn`): "Embargo talks resumed…" or
# "Status quo holds…" opening a story is prose.
_LIFE_VALUES = {
    "embargo": re.compile(r"\d{4}-\d{2}"),
    "status": re.compile(r"(?:published|withdrawn)\b", re.I),
}
_DATE_TOKEN = re.compile(
    r"^(\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?)?(?:Z|[+-]\d{2}:?\d{2})?)(?:\s+|$)(.*)$"
)
# Credit lines ("Photo credit: Kazinform", "Фото: …", "图片来源：…", "摄影：…"), also wrapped in
# Markdown emphasis (*Photo: Reuters*, **Фото:** …): they credit pictures a story file does
# not carry, so they are neither body, summary nor title.
_CREDIT = re.compile(
    r"^[*_]*((?:photo|image|picture|video)(?:\s*(?:credit|courtesy|by))?|фото(?:сурет)?"
    r"|图片来源|图片|摄影|图)[*_]*\s*([:：])[*_]*\s*(\S.*?)[*_]*$",
    re.I,
)
_FENCE = re.compile(r"^ {0,3}(```|~~~)")
# The heading Python-Markdown rendered first, as the title of a story with no `title:`.
_LEADING_HEADING = re.compile(r"^\s*<h([1-6])(?:\s[^>]*)?>(.*?)</h\1>\s*", re.S)
_WEB_SCHEMES = ("http", "https")


@dataclass(frozen=True)
class LocalSource:
    id: str
    folder: Path
    language: str | None = None
    base_url: str = ""  # site base for relative links in local articles
    languages: tuple[str, ...] = ()
    translatable: frozenset[str] | None = None  # as SourceInfo.translatable
    # The newsroom's clock: a time written without a zone (`embargo: 2025-06-10 09:00`) is
    # its local time, not UTC (an embargo read as UTC would end hours early west of it).
    zone: tzinfo = UTC


@dataclass
class FolderScan:
    """What a folder holds: its live stories, the files it could not read, and the stories
    its files withdraw (`status: withdrawn`)."""

    articles: list[Article] = field(default_factory=list)
    errors: list[ArticleFileError] = field(default_factory=list)
    withdrawn: list[Withdrawal] = field(default_factory=list)
    # The ids the unreadable files may hold (the path's, and the file's `id:` when it could be
    # read): those stories stay as they are, neither changed nor withdrawn.
    held: list[str] = field(default_factory=list)


def scan(source: LocalSource) -> tuple[list[Article], list[ArticleFileError]]:
    """Every live article file in the folder, and every file that could not be read."""
    found = scan_folder(source)
    return found.articles, found.errors


def scan_folder(source: LocalSource) -> FolderScan:
    """Every article file in the folder: live, withdrawn, or a file that could not be read.

    Two files with one id (front matter `id:` repeated, or `a.md` beside `a.txt`) would be one
    story twice: the first in sorted path order is kept and each later one reported. A symlink
    to a file the scan reads anyway (another article of the folder, or a file an earlier link
    already reads) is skipped with a note.
    """
    if source.folder.is_file():
        raise ArticleFileError(
            str(source.folder), "is a file, not a folder (use file: for a feed file)"
        )
    if not source.folder.is_dir():
        raise ArticleFileError(str(source.folder), "no such folder")
    result = FolderScan()
    found, errors = result.articles, result.errors
    owners: dict[str, Path] = {}
    for path in _unlinked(list(_files(source.folder))):
        meta: dict[str, Any] = {}
        try:
            article, id_line, withdrawn = _read(path, source, meta)
        except ArticleFileError as exc:
            errors.append(exc)
            result.held.extend(_held_ids(path, source, meta))
            continue
        owner = owners.setdefault(article.id, path)
        if owner != path:
            errors.append(
                ArticleFileError(
                    str(path), f"id {article.guid!r} is already used by {owner}", id_line
                )
            )
            result.held.append(article_id(source.id, _path_guid(path, source)))
            continue
        if withdrawn is not None:
            result.withdrawn.append(Withdrawal(article.id, withdrawn))
        else:
            found.append(article)
    return result


def _files(folder: Path) -> Iterator[Path]:
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if any(part.startswith((".", "_")) for part in relative.parts):
            continue
        # A dangling symlink is reported by read_article rather than silently skipped.
        if (path.is_file() or path.is_symlink()) and path.suffix.lower() in SUFFIXES:
            yield path


def _unlinked(paths: list[Path]) -> Iterator[Path]:
    """`paths` but the symlinks to a file read anyway: a real article file of the folder (its
    own id wins, whichever sorts first), or the target of an earlier link."""
    readers: dict[Path, Path] = {}
    for path in paths:
        if not path.is_symlink():
            readers[path.resolve()] = path
    for path in paths:
        if path.is_symlink():
            try:
                target = path.resolve()
            except (OSError, RuntimeError):  # a loop of links: read_bytes reports it
                target = None
            if target is not None and target.is_file():
                reader = readers.setdefault(target, path)
                if reader != path:
                    if reader.is_symlink():
                        why = f"a link to the file {reader} links to (read there)"
                    else:
                        why = f"a link to {reader}, an article of this folder (read as itself)"
                    log.warning("%s: %s; skipped", path, why)
                    continue
        yield path


def read_article(path: Path, source: LocalSource) -> Article:
    """One article file as an Article; ArticleFileError (path, line) if it cannot be one."""
    return _read(path, source, {})[0]


def _path_guid(path: Path, source: LocalSource) -> str:
    return path.relative_to(source.folder).with_suffix("").as_posix()


def _held_ids(path: Path, source: LocalSource, meta: dict[str, Any]) -> list[str]:
    """The ids a file that could not be read may have published its story under."""
    ids = [article_id(source.id, _path_guid(path, source))]
    explicit = str(meta.get("id") or "").strip()
    if explicit:
        ids.append(article_id(source.id, explicit))
    return ids


def _read(
    path: Path, source: LocalSource, meta: dict[str, Any]
) -> tuple[Article, int | None, str | None]:
    """The article, the line of its explicit `id` header (None when the id is the path), and
    why it is withdrawn (None: it is not). `meta` is filled with the headers as they are read,
    so that when the file fails the caller still knows the `id:` it declared."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ArticleFileError(str(path), f"cannot read: {exc.strerror or exc}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise ArticleFileError(str(path), f"file is over {MAX_FILE_BYTES:,} bytes")
    try:
        text = _decode(raw, path)
    except ArticleFileError:
        # Its story, if published, is held under the `id:` the file still shows.
        with contextlib.suppress(ArticleFileError):
            _parse(_lines(raw.decode("utf-8-sig", errors="replace")), path, meta)
        raise
    if not text.strip():
        # Not a story titled after its file name: most likely a save that went wrong.
        raise ArticleFileError(str(path), "empty article")
    guid = _path_guid(path, source)
    body_html = _parse(text, path, meta)
    article = _article(meta, body_html, guid, path, source)
    explicit = article.guid != guid
    return article, (_front_line("id", meta) if explicit else None), _withdrawn(meta, path)


def _decode(raw: bytes, path: Path) -> str:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ArticleFileError(
            str(path), f"not UTF-8 text (byte 0x{raw[exc.start]:02x}); save it as UTF-8", line
        ) from None
    return _lines(text)


def _lines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _parse(text: str, path: Path, meta: dict[str, Any]) -> str:
    """The body as HTML; `meta` gets the front matter or header lines."""
    if SUFFIXES[path.suffix.lower()] == "markdown":
        return _markdown(text, path, meta)
    return _plain_text(text, path, meta)


def _meant(key: str) -> str | None:
    """The key we know that `key` is a case variant or a misspelling of, if any."""
    lowered = key.lower()
    if lowered in FRONT_KEYS:
        return lowered
    if "embargo" in lowered:  # embargoed, embargo_until: meant as one, never to be ignored
        return "embargo"
    close = difflib.get_close_matches(lowered, _KNOWN_KEYS, n=1, cutoff=_NEAR_MISS)
    return close[0] if close else None


def _unknown_keys(loaded: dict[Any, Any], key_lines: dict[str, int], path: Path) -> list[str]:
    """Notes on the keys we do not know (a CMS's `slug`, `layout`); ArticleFileError at the
    first one that is a near miss of a key we do know."""
    notes: list[str] = []
    for key in loaded:
        name = str(key)
        if name in FRONT_KEYS:
            continue
        line = key_lines.get(name, 2)
        meant = _meant(name)
        if meant in _HOLDING_KEYS:
            raise ArticleFileError(
                str(path), f"unknown key {name!r} (did you mean {meant!r}?)", line
            )
        hint = f" (did you mean {meant!r}?)" if meant else ""
        notes.append(f"line {line}: unknown key {name!r} ignored{hint}")
    return notes


def _id_of_broken_front(front: str) -> dict[str, Any]:
    """`{"id": …}` from front matter YAML cannot load, if its `id:` line is fine by itself."""
    for line in front.split("\n"):
        if re.match(r"id\s*:", line):
            try:
                loaded = yaml.safe_load(line)
            except (yaml.YAMLError, ValueError):
                return {}
            return loaded if isinstance(loaded, dict) else {}
    return {}


def _markdown(text: str, path: Path, meta: dict[str, Any]) -> str:
    """The body as HTML; `meta` gets the front matter."""
    body = text
    offset = 0
    if text.startswith("---\n"):
        end = re.search(r"^(---|\.\.\.)\s*$", text[4:], re.M)
        if end is None:
            raise ArticleFileError(str(path), "front matter is not closed by a --- line", 1)
        front = text[4 : 4 + end.start()]
        body = text[4 + end.end() :]
        offset = 1
        key_lines = {
            match.group(1): number + 2  # +1 for 1-based, +1 for the opening --- line
            for number, line in enumerate(front.split("\n"))
            if (match := _FRONT_KEY.match(line))
        }
        try:
            loaded = yaml.safe_load(front) or {}
        except yaml.YAMLError as exc:
            meta.update(_id_of_broken_front(front))
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 + offset if mark else 1
            problem = getattr(exc, "problem", None) or "invalid YAML"
            raise ArticleFileError(str(path), f"front matter: {problem}", line) from None
        except ValueError as exc:
            # PyYAML builds `date: 2025-13-45` as a date and lets datetime's ValueError out.
            meta.update(_id_of_broken_front(front))
            line = key_lines.get("date", 2)
            raise ArticleFileError(str(path), f"front matter: bad date: {exc}", line) from None
        if not isinstance(loaded, dict):
            raise ArticleFileError(str(path), "front matter must be a mapping of key: value", 2)
        # Keys starting with "_" are our bookkeeping (`_date_line`, `_notes`): a file's own
        # `_notes:` must not stand in for them, so it only counts as an unknown key.
        meta.update({k: v for k, v in loaded.items() if not str(k).startswith("_")})
        for key, line in key_lines.items():
            meta[f"_{key}_line"] = line
        meta["_notes"] = _unknown_keys(loaded, key_lines, path)
        for key in _TEXT_KEYS:
            if isinstance(loaded.get(key), list | dict):
                # Else published as Python wrote it: "Correction: ['a', 'b']".
                kind = "a list" if isinstance(loaded[key], list) else "a mapping"
                raise ArticleFileError(
                    str(path), f"{key}: expected text, not {kind}", key_lines.get(key, 2)
                )
    body, meta["_credits"] = _without_credits(body)
    html = markdown.markdown(body, extensions=["extra", "sane_lists"], output_format="html")
    if not str(meta.get("title") or "").strip():
        # "# Heading" then text, and no `title:`: the heading is the title. Left in the body,
        # plain text would glue it to the first sentence ("Heading Body first sentence").
        heading = _LEADING_HEADING.match(html)
        if heading and plain_text(heading.group(2)):
            meta["title"] = heading.group(2)
            html = html[heading.end() :]
    return html


def _without_credits(body: str) -> tuple[str, list[str]]:
    """The Markdown body without its credit lines, and those lines (code blocks untouched)."""
    kept: list[str] = []
    credits: list[str] = []
    fenced = False
    for line in body.split("\n"):
        if _FENCE.match(line):
            fenced = not fenced
        # Four spaces or a tab in front may be indented code (or a list's continuation):
        # those are left as written.
        elif not fenced and not line.startswith(("    ", "\t")):
            stripped = line.strip()
            if _CREDIT.match(stripped):
                if stripped not in credits:
                    credits.append(stripped)
                continue
        kept.append(line)
    return "\n".join(kept), credits


def _take_header(text: str, number: int, path: Path) -> tuple[str, str, str] | None:
    """The header `text` opens with as (key, value, what follows it), or None if it is prose.

    `date` and `language` take one token and `id` (without a colon) one word, so that more
    headers or the first paragraph may follow on the same line; `title` and `author` (and
    `id:`) take the rest of the line.
    """
    colon = _COLON_HEADER.match(text)
    match = colon or _BARE_HEADER.match(text) or _BARE_DATE.match(text)
    if match is None:
        return None
    key = match.group(1).lower()
    key = "language" if key == "lang" else key
    rest = text[match.end() :]
    if key == "date":
        token = _DATE_TOKEN.match(rest)
        if token:
            return key, token.group(1), token.group(2)
        if colon or match.group(1) == "date":
            # A header meant as one (lowercase, or with a colon) but a bad date: say so
            # rather than publish the story undated or with "date …" as its first words.
            raise ArticleFileError(
                str(path), f"date header {rest[:30]!r} is not a YYYY-MM-DD date", number
            )
        return None
    if key == "language":
        if colon:
            value, _, after = rest.partition(" ")
            return key, value, after
        tag = _LANGUAGE_TAG.match(rest)
        if tag is None:
            return None
        return key, tag.group(1), rest[tag.end() :]
    if key == "id" and not colon:
        value, _, after = rest.partition(" ")
        return key, value, after
    return key, rest.strip(), ""


def _not_a_life_key(text: str, number: int, path: Path) -> None:
    """ArticleFileError if `text`, where a header may stand, opens with `embargo` or `status`
    (with a colon or without, in any case, or misspelt): plain text has no such header, and
    taken as prose it would publish an embargoed or withdrawn story at once."""
    if _CREDIT.match(text):
        return
    colon = _FRONT_KEY.match(text)
    match = colon or _BARE_KEY.match(text)
    if match is None:
        return
    key = match.group(1)
    meant = _meant(key)
    # Not shorter than the key: "Stats: …" opening a story is prose, not `status` misspelt.
    if meant not in _LIFE_KEYS or len(key) < len(meant):
        return
    # Without a colon, lowercase `embargo …`/`status …` is written as the other headers are;
    # any other spelling is one only with a value of its kind after it.
    if not colon and key != meant and not _LIFE_VALUES[meant].match(text[match.end() :]):
        return
    if key.lower() == meant:
        message = (
            f"{key!r} is not a header of a plain-text article ({_TEXT_HEADERS}): write the "
            "story as Markdown with front matter"
        )
    else:
        message = f"unknown key {key!r} (did you mean {meant!r}?)"
    raise ArticleFileError(str(path), message, number)


def _plain_text(text: str, path: Path, meta: dict[str, Any]) -> str:
    """The body as HTML; `meta` gets the header lines."""
    lines = text.split("\n")
    index = 0
    # Headers at the top of the file, several to a line if need be; the first text that is
    # not a header (maybe mid-line: " date 2025-04-25 Speaking at …") opens the body.
    while index < len(lines):
        rest = lines[index].strip()
        while rest and (taken := _take_header(rest, index + 1, path)):
            key, value, rest = taken
            meta[key] = value
            meta[f"_{key}_line"] = index + 1
            rest = rest.strip()
        if rest:
            _not_a_life_key(rest, index + 1, path)
            lines[index] = rest
            break
        index += 1
    paragraphs: list[str] = []
    credits: list[str] = []
    for block in re.split(r"\n\s*\n", "\n".join(lines[index:])):
        kept: list[str] = []
        for line in block.split("\n"):
            stripped = line.strip()
            if _CREDIT.match(stripped):
                if stripped not in credits:
                    credits.append(stripped)
            elif stripped:
                kept.append(stripped)
        if kept:
            paragraphs.append(" ".join(kept))
    if not paragraphs:
        raise ArticleFileError(str(path), "no body text", index + 1)
    meta["_credits"] = credits
    return "".join(f"<p>{escape(p)}</p>" for p in paragraphs)


def _parse_date(value: Any, path: Path, line: int, zone: tzinfo = UTC) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime.combine(value, time(0, 0))
    else:
        try:
            parsed = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            raise ArticleFileError(
                str(path),
                f"date {value!r} is not an ISO date such as 2025-05-02 or "
                "2025-05-02T09:30:00+05:00",
                line,
            ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return parsed.astimezone(UTC)


def _names(value: Any) -> str:
    """`author:` as written: a name, a list of names, or `{name: …}` (as JSON Feed and
    Hugo write it); never the Python spelling of a mapping."""
    if isinstance(value, dict):
        value = value.get("name")
    if isinstance(value, list):
        return ", ".join(n for n in (_names(v) for v in value) if n)
    return str(value) if isinstance(value, str | int | float) and value is not True else ""


def _front_line(text_key: str, meta: dict[str, Any]) -> int:
    return int(meta.get(f"_{text_key}_line", 2))


def _web_url(meta: dict[str, Any], key: str, base_url: str, notes: list[str]) -> str:
    """`meta[key]` resolved against the site, if that is an http(s) URL; else "" and a note.

    Feed readers put `image` and `link` in src and href: a `javascript:`, `data:` or `file:`
    value must not reach them. A bad URL is the file's mistake, not a reason to hold the story.
    """
    value = meta.get(key)
    if value is None or value == "":
        return ""
    resolved = absolute_url(value, base_url) if isinstance(value, str) else ""
    parts = urlsplit(resolved)
    if parts.scheme.lower() in _WEB_SCHEMES and parts.netloc:
        return resolved
    notes.append(
        f"line {_front_line(key, meta)}: {key} {str(value)[:60]!r} is not an http(s) URL; dropped"
    )
    return ""


def _withdrawn(meta: dict[str, Any], path: Path) -> str | None:
    """Why the file withdraws its story (`status: withdrawn`, `reason:`), or None."""
    status = str(meta.get("status") or "published").strip().lower()
    if status not in STATUSES:
        raise ArticleFileError(
            str(path),
            f"status {status!r} is not one of: {', '.join(STATUSES)}",
            _front_line("status", meta),
        )
    if status != "withdrawn":
        return None
    return plain_text(str(meta.get("reason") or ""), 300)


def _corrected(content: str, meta: dict[str, Any], language: str) -> tuple[str, str]:
    """The note of `correction:` and the body opening with it (translated with the body, so
    every edition shows it in its own language at the top of the story)."""
    note = plain_text(str(meta.get("correction") or ""), 1000)
    if not note:
        return "", content
    return note, correction_note(word(language, "correction"), escape(note)) + content


def _credit(line: str) -> str:
    """A credit line as a reader sees it: Markdown emphasis gone ("*Photo: AP*" → "Photo: AP")."""
    match = _CREDIT.match(line)
    if match is None:
        return line
    label, colon, name = match.groups()
    return f"{label}{colon}{' ' if colon == ':' else ''}{name.strip()}"


def _article(
    meta: dict[str, Any], body_html: str, guid: str, path: Path, source: LocalSource
) -> Article:
    # "Photo credit: …" lines are not part of the story (nor its title or summary), so
    # _plain_text and _markdown set them aside; they are published as its credits.
    notes: list[str] = list(meta.get("_notes") or [])
    link = _web_url(meta, "link", source.base_url, notes)
    # A relative link in the text (or `image:`) points into the site the article lives on:
    # its own `link:` (the newsroom's page) when it has one; else the site publishing it.
    content = sanitise_html(body_html, link or source.base_url)
    body_text = plain_text(sanitise_html(body_html))
    given_summary = plain_text(str(meta.get("summary") or ""))
    # As for a partner's item: a title that shows nothing is none, and without one the first
    # visible sentence of the body names the story, else of its `summary:` (a body of an
    # image alone, or opening with a lone &#x200B;, gave an empty or invisible title).
    title = visible(plain_text(str(meta.get("title") or ""), 300)) or fallback_title(
        body_text, given_summary
    )
    if not title and not content:
        # e.g. front matter and nothing else: no story to publish under the file's name.
        raise ArticleFileError(str(path), "empty article")
    summary = given_summary or body_text
    tags = meta.get("tags") or meta.get("categories") or []
    if isinstance(tags, str):
        tags = [t.strip() for t in tags.split(",")]
    if not isinstance(tags, list):
        raise ArticleFileError(
            str(path), "tags must be a list such as [culture, books]", _front_line("tags", meta)
        )
    declared = normalise_language(str(meta.get("language") or meta.get("lang") or "")) or (
        normalise_language(source.language)
    )
    language = choose_language(
        declared,
        f"{title}. {body_text}",
        source.languages,
        where=str(path),
        translatable=source.translatable,
    )
    explicit_id = str(meta.get("id") or "").strip()
    guid = explicit_id or guid
    if "embargo" in meta and not str(meta["embargo"] or "").strip():
        # `embargo:` with nothing after it: the editor meant to hold the story (a date still
        # to fill in), so it is held as a bad date is, not published at once.
        raise ArticleFileError(
            str(path),
            "embargo has no date: give one such as 2025-05-02 or 2025-05-02T09:30:00+05:00, "
            "or remove the line",
            _front_line("embargo", meta),
        )
    image = _web_url(meta, "image", link or source.base_url, notes)
    # Notes are not errors: the story goes in, and the newsroom reads why in the log.
    for note in notes:
        log.warning("%s: %s", path, note)
    correction, content = _corrected(content, meta, language)
    return Article(
        id=article_id(source.id, guid),
        source_id=source.id,
        guid=guid,
        title=title or path.stem,
        link=link,
        summary=shorten(summary, SUMMARY_CHARS),
        content=content,
        author=plain_text(_names(meta.get("author") or meta.get("authors")), 200),
        categories=tuple(dict.fromkeys(plain_text(str(t), 80) for t in tags if t)),
        image=image,
        language=language,
        published=_parse_date(meta.get("date"), path, _front_line("date", meta), source.zone),
        credits=tuple(dict.fromkeys(_credit(line) for line in meta.get("_credits") or [])),
        embargo=_parse_date(meta.get("embargo"), path, _front_line("embargo", meta), source.zone),
        correction=correction,
    )
