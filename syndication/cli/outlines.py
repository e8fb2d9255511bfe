"""The YAML's `sources:` and OPML outlines, one into the other, for `sources export` and `import`.

Owns: the attributes an export gives each feed source (the standard ones, then ours in the
`syndication:` namespace, each value as the YAML wrote it: `${VAR}` unexpanded, so no secret),
and the entries an import adds for a file's outlines: which are skipped (a URL already
configured or repeated, not a feed, an outline that would read the operator's environment,
a URL whose password an export masked),
the id each gets (ours, else from a Latin title or the URL, made unique), its language as our
tag, its schedule and rights. It decides; :mod:`syndication.cli.sources` says and writes.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from pydantic import TypeAdapter, ValidationError

from syndication import config as cfg
from syndication.opml import Outline

NAMESPACE = "tag:syndication,2025:ns/opml"
_OWN = "{" + NAMESPACE + "}"

# The configuration's own rules: an outline is judged as `load` will judge the YAML.
_SOURCE_ID: TypeAdapter[Any] = TypeAdapter(cfg.UrlSafeId)
_LANGUAGE: TypeAdapter[Any] = TypeAdapter(cfg.LanguageTag)
_HTTP_URL: TypeAdapter[Any] = TypeAdapter(cfg.HttpUrl)
_FEED_SUFFIX = re.compile(r"\.(xml|rss|rdf|atom|json|php|aspx?)$", re.IGNORECASE)
# What `sources export` writes for a URL password the YAML holds as written (not as ${VAR}).
MASKED = "***"


# --- export -----------------------------------------------------------------------------------


def outline_attributes(source: cfg.SourceSettings, written: dict[str, Any]) -> dict[str, str]:
    """One source as an OPML outline: the standard attributes, then ours."""

    def as_written(key: str, value: str | None) -> str | None:
        # The raw text, not the loaded value: that one has the environment's secrets in it.
        given = written.get(key)
        return given if isinstance(given, str) else value

    title = as_written("title", source.title)
    language = as_written("language", source.language)
    cron = as_written("cron", source.cron)
    attributes = {"type": "rss", "text": title or source.id}
    if title:
        attributes["title"] = title
    attributes["xmlUrl"] = as_written("url", source.url) or ""
    if language:
        attributes["language"] = language
    attributes[_OWN + "id"] = as_written("id", source.id) or source.id
    if cron:
        # A cron schedule replaces the interval: one schedule per source, as `check` demands.
        attributes[_OWN + "cron"] = cron
    else:
        # Always given, even when the YAML leaves it to `fetch.every`: the importing side's
        # default may differ, and the round trip must keep the interval.
        attributes[_OWN + "every"] = _every_text(written.get("every"), source.every)
    attributes[_OWN + "rights"] = as_written("rights", source.rights) or source.rights
    return attributes


def _every_text(written: Any, seconds: float) -> str:
    """An interval always with its unit: as the YAML wrote it (`10m`), else from the value."""
    if isinstance(written, str) and re.fullmatch(r"\s*[\d.]+\s*[smhd]\s*", written):
        try:
            cfg.parse_duration(written)
        except ValueError:
            pass
        else:
            return written.strip().replace(" ", "")
    if isinstance(written, int | float) and not isinstance(written, bool):
        return f"{_number(written)}s"  # `every: 3600` stays 3600 seconds
    # Inherited from `fetch.every` (or not readable as written): the loaded value, whole units.
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{_number(seconds)}s"


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)


# --- import -----------------------------------------------------------------------------------


@dataclass
class Plan:
    """What an import adds (YAML entries, in order) and what it tells the operator."""

    entries: list[dict[str, Any]] = field(default_factory=list)
    # One per outline, in file order: (True, "id: url …") for an added source, (False, why).
    lines: list[tuple[bool, str]] = field(default_factory=list)
    skipped: int = 0


def is_language_tag(value: str) -> bool:
    return _is_valid(_LANGUAGE, value)


def plan_import(
    outlines: list[Outline],
    loaded: cfg.Config,
    raw: list[dict[str, Any]],
    every: str | None,
    language: str | None,
    allow_env: bool = False,
) -> Plan:
    """The sources to add for `outlines`: ids chosen; known URLs, non-feeds, outlines that
    would read the environment and URLs with a masked password skipped."""
    plan = Plan()
    taken = {s.id for s in loaded.settings.sources}
    known: dict[str, str] = {}  # URL as compared → what has it, for the skip message
    for source, written in zip(loaded.settings.sources, raw, strict=True):
        # Both forms: an OPML may hold the `${VAR}` template (ours) or the value.
        for url in (source.url, written.get("url")):
            if isinstance(url, str):
                known[_url_key(url)] = f"already configured as {source.id}"
    for outline in outlines:
        reason = _skip_reason(outline, known, allow_env)
        if reason:
            plan.lines.append((False, f"skipped {outline.label}: {reason}"))
            plan.skipped += 1
            continue
        entry, notes = _entry(outline, taken, every, language)
        taken.add(entry["id"])
        known[_url_key(outline.url)] = f"repeats line {outline.line}, added as {entry['id']}"
        plan.entries.append(entry)
        suffix = f" ({'; '.join(notes)})" if notes else ""
        plan.lines.append((True, f"{entry['id']}: {outline.url}{suffix}"))
    return plan


def _ours(outline: Outline) -> bool:
    """Written by `sources export`: its attributes mean exactly what our YAML said."""
    return "id" in outline.extension


def _values(outline: Outline) -> dict[str, str]:
    """Every attribute import reads, by what the operator would call it."""
    given = {"URL": outline.url, "text": outline.text, "title": outline.title}
    given["language"] = outline.language
    given.update({f"syndication:{key}": value for key, value in outline.extension.items()})
    return {name: value for name, value in given.items() if value}


def _skip_reason(outline: Outline, known: dict[str, str], allow_env: bool) -> str | None:
    if not outline.url:
        return "no feed URL (xmlUrl)"
    already = known.get(_url_key(outline.url))
    if already:
        return already
    if urlsplit(outline.url).password == MASKED:
        # Imported, `***` would become the password, and every poll would fail to log in.
        return (
            f"its URL's password is {MASKED}, masked by `sources export` (it was written in "
            "the YAML): add this source by hand with its password, or export it given as ${…}"
        )
    reason = _environment_reason(outline, allow_env)
    if reason:
        return reason
    # A whole-URL `${VAR}` has no scheme yet; validation after expansion judges it.
    if not outline.url.startswith("${") and not _is_valid(_HTTP_URL, outline.url):
        return "not an http(s) feed URL"
    return None


def _environment_reason(outline: Outline, allow_env: bool) -> str | None:
    """Why an outline that would read the operator's environment is refused, if it is.

    The YAML expands `${VAR}`: a stranger's OPML could send a secret to its own host in a URL,
    or publish it in a title. Only our own export's URL templates are let through, on request.
    """
    reading = {name: value for name, value in _values(outline).items() if "${" in value}
    if not reading:
        return None
    others = [name for name in reading if name != "URL"]
    if others:
        what = ", ".join(f"its {name}" for name in others)
        return (
            f"{what} {_reads(*(reading[name] for name in others))}; "
            "only a feed URL may use ${…} (and only with --allow-env)"
        )
    if allow_env:
        return None
    return (
        f"its URL {_reads(reading['URL'])}; "
        "pass --allow-env if this file is your own `sources export`"
    )


def _reads(*values: str) -> str:
    found = [re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", value) for value in values]
    names = list(dict.fromkeys(name for names in found for name in names))
    if not names:
        return "contains ${"
    plural = "s" if len(names) > 1 else ""
    return f"reads the environment variable{plural} {', '.join(names)}"


def _entry(
    outline: Outline, taken: set[str], every: str | None, language: str | None
) -> tuple[dict[str, Any], list[str]]:
    """The YAML entry for one outline, and notes on what it could not keep as given."""
    notes: list[str] = []
    wanted = outline.extension.get("id")
    base = wanted if wanted and _is_id(wanted) else _slug_for(outline)
    sid = _unique(base, taken)
    if wanted and sid != wanted:
        notes.append(f"id {wanted!r} {'is taken' if _is_id(wanted) else 'is not URL-safe'}")
    entry: dict[str, Any] = {"id": sid, "url": outline.url}
    # Our own export writes `title` only when the YAML had one; `text` is then just the id.
    title = outline.title if _ours(outline) else outline.title or outline.text
    if title:
        entry["title"] = title
    tag = _language_tag(outline, language, notes)
    if tag:
        entry["language"] = tag
    cron = outline.extension.get("cron")
    if cron:
        # A cron schedule replaces the interval: never both (`check` refuses a source with both).
        entry["cron"] = cron
        if outline.extension.get("every"):
            notes.append("its syndication:every ignored: syndication:cron gives the schedule")
    else:
        interval = outline.extension.get("every") or every
        if interval:
            entry["every"] = _duration_value(interval)
    if outline.extension.get("rights"):
        entry["rights"] = outline.extension["rights"]
    return entry, notes


def _language_tag(outline: Outline, language: str | None, notes: list[str]) -> str | None:
    """The outline's language as our tag (else `--language`); a note when it is unreadable."""
    declared = outline.language
    if _ours(outline) or not declared:
        tag = declared
    else:
        from syndication.lang import normalise_language

        # A reader's outline copies the feed's own declaration (`en-us`, `zh_CN`, `kz`): read
        # it as ingest reads a feed's, into the tag the translation chains know.
        tag = normalise_language(declared)
        if tag is None:
            instead = f"--language {language}" if language else "detection"
            notes.append(f"language {declared!r} is not a language tag: left to {instead}")
    return tag or language


def _is_valid(rule: TypeAdapter[Any], value: str) -> bool:
    try:
        rule.validate_python(value)
    except ValidationError:
        return False
    return True


def _is_id(value: str) -> bool:
    return _is_valid(_SOURCE_ID, value)


def _slug_for(outline: Outline) -> str:
    """A URL-safe id from a Latin-script title, else from the feed's host and path."""
    name = outline.title or outline.text
    # Folding Cyrillic or Han to ASCII leaves nothing (or a stray "rss"): the URL says more.
    if name and all(unicodedata.name(ch, "").startswith("LATIN") for ch in name if ch.isalpha()):
        slug = _slug(name)
        if slug:
            return slug
    parts = urlsplit(outline.url)
    host = (parts.hostname or "").removeprefix("www.")
    return _slug(host + _FEED_SUFFIX.sub("", parts.path)) or "source"


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    # 56 leaves room for a "-NN" that makes it unique, inside the id's 64 characters.
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:56].rstrip("-")


def _unique(base: str, taken: set[str]) -> str:
    if base not in taken:
        return base
    n = 2
    while f"{base[:60]}-{n}" in taken:
        n += 1
    return f"{base[:60]}-{n}"


def _url_key(url: str) -> str:
    """A feed URL as compared for duplicates: scheme, host case, default port, credentials,
    trailing slash and fragment make no difference."""
    url = url.strip()
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        return url
    host = (parts.hostname or "").lower()
    netloc = host if port in (None, 80, 443) else f"{host}:{port}"
    query = f"?{parts.query}" if parts.query else ""
    return f"{netloc}{parts.path.rstrip('/')}{query}"


def _duration_value(text: str) -> int | float | str:
    # `every: 600` reads better than `every: "600"`; both are the same duration.
    if re.fullmatch(r"\d+", text):
        return int(text)
    if re.fullmatch(r"\d+\.\d+", text):
        return float(text)
    return text
