"""`syndication sources`: list the configured sources, import them from OPML, export them.

Owns: the sources sub-commands and what they tell the operator. Listing reads the loaded
configuration. Export writes the feed sources as OPML (:mod:`syndication.opml`), each with the
attributes :mod:`syndication.cli.outlines` gives it, to stdout past the secret-masking stream
(every value is the YAML's own text, `${VAR}` unexpanded) or to a file. Import reads the OPML,
lets :mod:`syndication.cli.outlines` choose the entries to add, and has
:mod:`syndication.config_edit` add them to the operator's YAML, which is replaced only once the
result validates; a broken or hostile OPML, or an edit that cannot be made cleanly, exits 2
and changes nothing.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import typer
import yaml
from rich.table import Table

from syndication import config as cfg
from syndication import opml
from syndication.cli.common import (
    EXIT_CONFIG,
    EXIT_FATAL,
    ConfigOption,
    config_path,
    err,
    load,
    out,
    plain,
    remember_config,
)
from syndication.cli.outlines import (
    NAMESPACE,
    Plan,
    is_language_tag,
    outline_attributes,
    plan_import,
)
from syndication.config_edit import add_sources, editing
from syndication.errors import ImportProblem, OpmlError
from syndication.files import write_atomic

RELOAD_HINT = (
    "a running worker picks the new sources up within seconds (or now: `syndication reload`)"
)

sources_app = typer.Typer(
    help="List, import (OPML) and export (OPML) the configured sources.",
    invoke_without_command=True,
    no_args_is_help=False,
)


def _say(line: str, *, error: bool = False) -> None:
    # Titles and URLs are others' text: no rich markup, emoji codes or highlighting on them.
    (err if error else out).print(line, markup=False, highlight=False, emoji=False)


@sources_app.callback()
def _default(
    ctx: typer.Context,
    config: ConfigOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="No sub-command: print the list as a JSON array.")
    ] = False,
) -> None:
    """List, import and export the configured sources (no sub-command: list them)."""
    if config is not None:
        # `sources --config X import …` must edit X, never fall back to the default file.
        remember_config(config)
    if ctx.invoked_subcommand is None:
        list_sources(config, as_json=as_json)
    elif as_json:
        raise typer.BadParameter("--json belongs to `sources list`", param_hint="--json")


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
            plain(s.id),
            s.kind,
            plain(loaded.redact(s.location)),
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
        attributes = outline_attributes(source, written)
        url = attributes["xmlUrl"]
        password = urlsplit(url).password if "@" in url else None
        if password and "${" not in password:
            # Written in the YAML itself: an OPML is handed around, a password must not be.
            attributes["xmlUrl"] = url.replace(f":{password}@", ":***@", 1)
            _say(
                f"note: {source.id}: its URL's password is not exported (it is written in the "
                "YAML itself); give it as ${VAR} to carry it, or add it where it is imported",
                error=True,
            )
        if "${" in attributes["xmlUrl"]:
            _say(
                f"note: {source.id}: URL exported as written, its ${{…}} unexpanded; set the "
                "same variables where it is imported",
                error=True,
            )
        outlines.append(attributes)
    return outlines


# --- import -----------------------------------------------------------------------------------


def _report(plan: Plan, verb: str) -> None:
    for added, line in plan.lines:
        _say(f"{verb} {line}" if added else line)


def _every_option(value: str | None) -> str | None:
    if value is not None:
        try:
            cfg.parse_duration(value)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
    return value


def _language_option(value: str | None) -> str | None:
    if value is not None and not is_language_tag(value):
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
    try:
        # From the first read to the replace: another import waits its turn.
        with editing(config_path(config)) as original:
            # As reload: a variable this shell lacks is the worker's, kept as written.
            loaded = load(config, lenient_env=True)
            if original is None:  # no file to lock, yet the loader found one: it just came
                _say(f"error: {loaded.path} appeared while being read; run it again", error=True)
                raise typer.Exit(EXIT_CONFIG)
            _import(file, loaded, original, dry_run, every, language, allow_env)
    except OSError as exc:  # the lock beside the YAML, a read (a write is said in _import)
        _say(f"fatal: cannot lock or read {exc.filename}: {exc.strerror or exc}", error=True)
        raise typer.Exit(EXIT_FATAL) from None


def _import(
    file: Path,
    loaded: cfg.Config,
    original: bytes,
    dry_run: bool,
    every: str | None,
    language: str | None,
    allow_env: bool,
) -> None:
    path = loaded.path  # resolved: a symlinked YAML is edited where it really lies
    try:
        outlines = opml.read(file, NAMESPACE)
    except OpmlError as exc:
        _say(f"error: {exc}", error=True)
        raise typer.Exit(EXIT_CONFIG) from None
    plan = plan_import(outlines, loaded, _raw_sources(loaded), every, language, allow_env)
    verb = "would add" if dry_run else "added"
    if not any(outline.url for outline in outlines):
        _report(plan, verb)
        _say(f"{file}: no outline with a feed URL (xmlUrl); {path} unchanged")
        return
    if not plan.entries:
        _report(plan, verb)
        _say(f"nothing to add ({plan.skipped} skipped); {path} unchanged")
        return
    try:
        block = add_sources(path, plan.entries, loaded, dry_run, original)
    except ImportProblem as exc:
        _say(f"error: {exc}", error=True)
        raise typer.Exit(EXIT_CONFIG) from None
    except OSError as exc:
        _say(f"fatal: cannot write {path}: {exc.strerror or exc}", error=True)
        raise typer.Exit(EXIT_FATAL) from None
    _report(plan, verb)
    added = len(plan.entries)
    if dry_run:
        _say(f"would append to {path}'s sources:")
        out.file.write(block)
        _say(f"dry run: {added} would be added, {plan.skipped} skipped; {path} unchanged")
        return
    _say(f"{added} source(s) added to {path}, {plan.skipped} skipped")
    _say(RELOAD_HINT)
