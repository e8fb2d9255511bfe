"""`syndication sources`: list the configured sources, import them from OPML, export them.

Owns: the sources sub-commands and the mapping between the YAML's `sources:` and OPML
outlines, our own settings riding along in the `syndication:` namespace so that an export
imports back to the same sources. Export writes each value as the YAML gives it (`${VAR}`
unexpanded), so it never carries a secret. Import chooses the new entries (ids, skips, the
language and schedule each gets) and hands them to :mod:`syndication.config_edit`, which
writes the operator's YAML only once the result validates. It never copies a `${VAR}` from an
OPML into a title or setting (the loader would put the operator's secret there), and into a
feed URL only with `--allow-env`, for a file of our own export. Reading and writing OPML itself
is :mod:`syndication.opml`'s.
"""

from __future__ import annotations

import json
import re
import sys
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import typer
import yaml
from pydantic import TypeAdapter, ValidationError
from rich.table import Table

from syndication import config as cfg
from syndication import opml
from syndication.cli.common import (
    EXIT_CONFIG,
    EXIT_FATAL,
    ConfigOption,
    err,
    load,
    out,
    remember_config,
)
from syndication.config_edit import add_sources
from syndication.errors import ImportProblem, OpmlError
from syndication.files import write_atomic
from syndication.opml import Outline

NAMESPACE = "tag:syndication,2025:ns/opml"
_OWN = "{" + NAMESPACE + "}"
RELOAD_HINT = (
    "a running worker picks the new sources up within seconds (or now: `syndication reload`)"
)

# The configuration's own rules: an outline is judged as `load` will judge the YAML.
_SOURCE_ID: TypeAdapter[Any] = TypeAdapter(cfg.UrlSafeId)
_LANGUAGE: TypeAdapter[Any] = TypeAdapter(cfg.LanguageTag)
_HTTP_URL: TypeAdapter[Any] = TypeAdapter(cfg.HttpUrl)
_FEED_SUFFIX = re.compile(r"\.(xml|rss|rdf|atom|json|php|aspx?)$", re.IGNORECASE)

sources_app = typer.Typer(
    help="List, import (OPML) and export (OPML) the configured sources.",
    invoke_without_command=True,
    no_args_is_help=False,
)


def _say(line: str, *, error: bool = False) -> None:
    # Titles and URLs are others' text: no rich markup, emoji codes or highlighting on them.
    (err if error else out).print(line, markup=False, highlight=False, emoji=False)


@sources_app.callback()
def _default(ctx: typer.Context, config: ConfigOption = None) -> None:
    """List, import and export the configured sources (no sub-command: list them)."""
    if config is not None:
        # `sources --config X import …` must edit X, never fall back to the default file.
        remember_config(config)
    if ctx.invoked_subcommand is None:
        list_sources(config)


@sources_app.command("list")
def list_sources(
    config: ConfigOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON array instead of a table.")
    ] = False,
) -> None:
    """List the configured sources."""
    loaded = load(config, lenient_env=True)
    sources = loaded.settings.sources
    if as_json:
        rows = [
            {
                "id": s.id,
                "kind": s.kind,
                "location": loaded.redact(s.location),
                "title": s.title,
                "language": s.language,
                "every": s.every,
                "cron": s.cron,
                "rights": s.rights,
            }
            for s in sources
        ]
        # Past rich, whose markup and emoji codes could alter the JSON; the stream under it
        # still masks secrets.
        out.file.write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
        return
    table = Table(title="configured sources", title_justify="left")
    for column in ("id", "kind", "location", "language", "every", "rights"):
        # A location is what the operator needs whole: fold it, never cut it.
        table.add_column(column, overflow="fold")
    for s in sources:
        table.add_row(
            s.id,
            s.kind,
            loaded.redact(s.location),
            s.language or "(detect)",
            # A cron schedule replaces the interval: show the one that applies.
            f"cron {s.cron}" if s.cron else f"{s.every:.0f}s",
            s.rights,
        )
    out.print(table)


# --- export -----------------------------------------------------------------------------------


@sources_app.command("export")
def export_sources(
    config: ConfigOption = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Write the OPML to this file (default: stdout).", dir_okay=False
        ),
    ] = None,
) -> None:
    """Write the feed sources as OPML 2.0; local sources (file:, articles:) are skipped."""
    loaded = load(config, lenient_env=True)
    outlines = _exported(loaded, _raw_sources(loaded))
    document = opml.write(
        f"syndication sources ({loaded.path.name})", outlines, {"syndication": NAMESPACE}
    )
    if output is None:
        # Past the redacting stream: every value is the YAML's own text with `${VAR}`
        # unexpanded, so there is no secret to mask, and masking would corrupt a title that
        # merely contains a secret's letters.
        sys.stdout.buffer.write(document)
        sys.stdout.buffer.flush()
        return
    try:
        write_atomic(output, document)
    except OSError as exc:
        _say(f"fatal: cannot write {output}: {exc.strerror or exc}", error=True)
        raise typer.Exit(EXIT_FATAL) from None
    _say(f"wrote {len(outlines)} source(s) to {output}", error=True)


def _raw_sources(loaded: cfg.Config) -> list[dict[str, Any]]:
    """`sources:` as written in the YAML: `${VAR}` unexpanded, defaults not filled in."""
    data = yaml.safe_load(loaded.path.read_text(encoding="utf-8"))
    raw = data.get("sources") if isinstance(data, dict) else None
    if not isinstance(raw, list) or len(raw) != len(loaded.settings.sources):
        _say(f"error: {loaded.path} changed while being read; run the command again", error=True)
        raise typer.Exit(EXIT_CONFIG)
    return [entry if isinstance(entry, dict) else {} for entry in raw]


def _exported(loaded: cfg.Config, raw: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The outlines' attributes for the feed sources; a note for each local one skipped."""
    outlines = []
    for source, written in zip(loaded.settings.sources, raw, strict=True):
        if source.url is None:
            where = written.get("file") or written.get("articles") or source.location
            _say(
                f"skipped {source.id}: a local source ({source.kind}: {where}) has no feed URL",
                error=True,
            )
            continue
        attributes = _outline_attributes(source, written)
        if "${" in attributes["xmlUrl"]:
            _say(
                f"note: {source.id}: URL exported as written, its ${{…}} unexpanded; set the "
                "same variables where it is imported",
                error=True,
            )
        outlines.append(attributes)
    return outlines


def _outline_attributes(source: cfg.SourceSettings, written: dict[str, Any]) -> dict[str, str]:
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

    def report(self, verb: str) -> None:
        for added, line in self.lines:
            _say(f"{verb} {line}" if added else line)


def _every_option(value: str | None) -> str | None:
    if value is not None:
        try:
            cfg.parse_duration(value)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
    return value


def _language_option(value: str | None) -> str | None:
    if value is not None and not _is_valid(_LANGUAGE, value):
        raise typer.BadParameter("expected a language tag such as kk, ru, zh or en")
    return value


@sources_app.command("import")
def import_sources(
    file: Annotated[
        Path,
        typer.Argument(
            help="OPML file: a feed reader's export, or `sources export`.",
            metavar="FILE.opml",
            show_default=False,
        ),
    ],
    config: ConfigOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be added; change nothing.")
    ] = False,
    every: Annotated[
        str | None,
        typer.Option(
            "--every",
            help="Poll interval (30m, 1h …) for outlines that give none of their own.",
            callback=_every_option,
            show_default=False,
        ),
    ] = None,
    language: Annotated[
        str | None,
        typer.Option(
            "--language",
            help="Language tag for outlines that declare none (e.g. kk).",
            callback=_language_option,
            show_default=False,
        ),
    ] = None,
    allow_env: Annotated[
        bool,
        typer.Option(
            "--allow-env",
            help="Keep ${VAR} in feed URLs (only there), as `sources export` writes them; "
            "only for a file you trust: the variable's value is sent to that URL's host.",
        ),
    ] = False,
) -> None:
    """Add the OPML file's feeds to the YAML's sources (comments and order kept)."""
    loaded = load(config)
    path = loaded.path  # resolved: a symlinked YAML is edited where it really lies
    try:
        outlines = opml.read(file, NAMESPACE)
    except OpmlError as exc:
        _say(f"error: {exc}", error=True)
        raise typer.Exit(EXIT_CONFIG) from None
    plan = plan_import(outlines, loaded, _raw_sources(loaded), every, language, allow_env)
    verb = "would add" if dry_run else "added"
    if not any(outline.url for outline in outlines):
        plan.report(verb)
        _say(f"{file}: no outline with a feed URL (xmlUrl); {path} unchanged")
        return
    if not plan.entries:
        plan.report(verb)
        _say(f"nothing to add ({plan.skipped} skipped); {path} unchanged")
        return
    try:
        block = add_sources(path, plan.entries, loaded, dry_run)
    except ImportProblem as exc:
        _say(f"error: {exc}", error=True)
        raise typer.Exit(EXIT_CONFIG) from None
    except OSError as exc:
        _say(f"fatal: cannot write {path}: {exc.strerror or exc}", error=True)
        raise typer.Exit(EXIT_FATAL) from None
    plan.report(verb)
    added = len(plan.entries)
    if dry_run:
        _say(f"would append to {path}'s sources:")
        out.file.write(block)
        _say(f"dry run: {added} would be added, {plan.skipped} skipped; {path} unchanged")
        return
    _say(f"{added} source(s) added to {path}, {plan.skipped} skipped")
    _say(RELOAD_HINT)


def plan_import(
    outlines: list[Outline],
    loaded: cfg.Config,
    raw: list[dict[str, Any]],
    every: str | None,
    language: str | None,
    allow_env: bool = False,
) -> Plan:
    """The sources to add for `outlines`: ids chosen; known URLs, non-feeds and outlines that
    would read the environment skipped."""
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
