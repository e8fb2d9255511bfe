"""`syndication sources`: list the configured sources, import them from OPML, export them.

Owns: the sources sub-commands. Listing reads the loaded configuration; import and export
translate between the YAML's `sources:` and OPML 2.0 outlines.
"""

from __future__ import annotations

import typer
from rich.table import Table

from syndication.cli import ConfigOption, _load, out

sources_app = typer.Typer(
    help="List, import (OPML) and export (OPML) the configured sources.",
    invoke_without_command=True,
    no_args_is_help=False,
)


@sources_app.callback()
def _default(ctx: typer.Context, config: ConfigOption = None) -> None:
    """List, import and export the configured sources (no sub-command: list them)."""
    if ctx.invoked_subcommand is None:
        list_sources(config)


@sources_app.command("list")
def list_sources(config: ConfigOption = None) -> None:
    """List the configured sources."""
    loaded = _load(config)
    table = Table(title="configured sources", title_justify="left")
    for column in ("id", "kind", "location", "language", "every", "rights"):
        # A location is what the operator needs whole: fold it, never cut it.
        table.add_column(column, overflow="fold")
    for s in loaded.settings.sources:
        table.add_row(
            s.id,
            s.kind,
            loaded.redact(s.location),
            s.language or "(detect)",
            f"{s.every:.0f}s",
            s.rights,
        )
    out.print(table)
