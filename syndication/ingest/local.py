"""Reading the newsroom's own article files (a folder per local source) into Articles.

Owns: Markdown with YAML front matter (rendered with Python-Markdown) and plain-text files
with `key value` header lines, including the messy real shape where the `date` header and
the first paragraph share one line. A bad file is reported with its path and line and
skipped; the rest of the folder goes on.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from html import escape
from pathlib import Path
from typing import Any

import markdown
import yaml

from syndication.model import Article, ArticleFileError
from syndication.normalise import (
    absolute_url,
    article_id,
    choose_language,
    first_sentence,
    normalise_language,
    plain_text,
    sanitise_html,
    shorten,
)

SUFFIXES = {".md": "markdown", ".markdown": "markdown", ".txt": "text"}
FRONT_KEYS = {
    "title",
    "date",
    "language",
    "lang",
    "author",
    "tags",
    "image",
    "id",
    "summary",
    "link",
    "categories",
}
SUMMARY_CHARS = 400
MAX_FILE_BYTES = 5 * 1024 * 1024

# `date` may be followed by a space (the real shape, and its value is checked); other keys
# need a colon, or a first paragraph opening "Title races…" would be read as a header.
_HEADER = re.compile(r"^(?:(date)\s*[:\s]|(language|lang|title|author|id)\s*:)\s*(.*)$", re.I)
_FRONT_KEY = re.compile(r"^([A-Za-z_][\w-]*)\s*:")
_DATE_TOKEN = re.compile(
    r"^(\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?)?(?:Z|[+-]\d{2}:?\d{2})?)(?:\s+|$)(.*)$"
)
_CREDIT = re.compile(r"^(photo|image|picture|video)\s*(credit|by)?\s*:\s*\S.*$", re.I)


@dataclass(frozen=True)
class LocalSource:
    id: str
    folder: Path
    language: str | None = None
    base_url: str = ""  # site base for relative links in local articles
    languages: tuple[str, ...] = ()


def scan(source: LocalSource) -> tuple[list[Article], list[ArticleFileError]]:
    """Every article file in the folder, and every file that could not be read."""
    if not source.folder.is_dir():
        raise ArticleFileError(str(source.folder), "no such folder")
    found: list[Article] = []
    errors: list[ArticleFileError] = []
    for path in _files(source.folder):
        try:
            found.append(read_article(path, source))
        except ArticleFileError as exc:
            errors.append(exc)
    return found, errors


def _files(folder: Path) -> Iterator[Path]:
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if any(part.startswith((".", "_")) for part in relative.parts):
            continue
        # A dangling symlink is reported by read_article rather than silently skipped.
        if (path.is_file() or path.is_symlink()) and path.suffix.lower() in SUFFIXES:
            yield path


def read_article(path: Path, source: LocalSource) -> Article:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ArticleFileError(str(path), f"cannot read: {exc.strerror or exc}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise ArticleFileError(str(path), f"file is over {MAX_FILE_BYTES:,} bytes")
    text = _decode(raw, path)
    guid = path.relative_to(source.folder).with_suffix("").as_posix()
    if SUFFIXES[path.suffix.lower()] == "markdown":
        meta, body_html = _markdown(text, path)
    else:
        meta, body_html = _plain_text(text, path)
    return _article(meta, body_html, guid, path, source)


def _decode(raw: bytes, path: Path) -> str:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ArticleFileError(
            str(path), f"not UTF-8 text (byte 0x{raw[exc.start]:02x}); save it as UTF-8", line
        ) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _markdown(text: str, path: Path) -> tuple[dict[str, Any], str]:
    meta: dict[str, Any] = {}
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
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 + offset if mark else 1
            problem = getattr(exc, "problem", None) or "invalid YAML"
            raise ArticleFileError(str(path), f"front matter: {problem}", line) from None
        except ValueError as exc:
            # PyYAML builds `date: 2025-13-45` as a date and lets datetime's ValueError out.
            line = key_lines.get("date", 2)
            raise ArticleFileError(str(path), f"front matter: bad date: {exc}", line) from None
        if not isinstance(loaded, dict):
            raise ArticleFileError(str(path), "front matter must be a mapping of key: value", 2)
        meta = loaded
        for key, line in key_lines.items():
            meta[f"_{key}_line"] = line
        unknown = sorted({str(k) for k in meta if not str(k).startswith("_")} - FRONT_KEYS)
        if unknown:
            meta["_notes"] = [f"unknown front matter key(s): {', '.join(unknown)}"]
    html = markdown.markdown(body, extensions=["extra", "sane_lists"], output_format="html")
    return meta, html


def _plain_text(text: str, path: Path) -> tuple[dict[str, Any], str]:
    meta: dict[str, Any] = {}
    lines = text.split("\n")
    index = 0
    while index < len(lines):
        line = lines[index].strip()
        if not line:
            if meta:
                index += 1
                continue
            index += 1
            continue
        match = _HEADER.match(line)
        if not match:
            break
        key = (match.group(1) or match.group(2)).lower()
        rest = match.group(3).strip()
        key = "language" if key == "lang" else key
        if key == "date":
            token = _DATE_TOKEN.match(rest)
            if not token:
                raise ArticleFileError(
                    str(path), f"date header {rest[:30]!r} is not a YYYY-MM-DD date", index + 1
                )
            meta["date"] = token.group(1)
            meta["_date_line"] = index + 1
            rest = token.group(2).strip()
        elif key == "language":
            value, _, rest = rest.partition(" ")
            meta["language"] = value
            rest = rest.strip()
        else:
            meta[key] = rest
            rest = ""
        if rest:
            # The real shape: " date 2025-04-25 Speaking at ..." - header and first
            # paragraph on one line. What follows the value is body text.
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
    html = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    return meta, html


def _parse_date(value: Any, path: Path, line: int) -> datetime | None:
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
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _front_line(text_key: str, meta: dict[str, Any]) -> int:
    return int(meta.get(f"_{text_key}_line", 2))


def _article(
    meta: dict[str, Any], body_html: str, guid: str, path: Path, source: LocalSource
) -> Article:
    # "Photo credit: …" lines credit photos a text file does not carry; they are not part of
    # the story (nor its title or summary), so _plain_text set them aside and they stay out.
    content = sanitise_html(body_html, source.base_url)
    body_text = plain_text(sanitise_html(body_html))
    title = plain_text(str(meta.get("title") or ""), 300) or first_sentence(body_text)
    summary = plain_text(str(meta.get("summary") or "")) or body_text
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
    language = choose_language(declared, f"{title}. {body_text}", source.languages, where=str(path))
    explicit_id = str(meta.get("id") or "").strip()
    guid = explicit_id or guid
    return Article(
        id=article_id(source.id, guid),
        source_id=source.id,
        guid=guid,
        title=title or path.stem,
        link=absolute_url(str(meta.get("link") or ""), source.base_url),
        summary=shorten(summary, SUMMARY_CHARS),
        content=content,
        author=plain_text(str(meta.get("author") or ""), 200),
        categories=tuple(dict.fromkeys(plain_text(str(t), 80) for t in tags if t)),
        image=absolute_url(str(meta.get("image") or ""), source.base_url),
        language=language,
        published=_parse_date(meta.get("date"), path, _front_line("date", meta)),
    )
