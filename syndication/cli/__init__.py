"""The command line: run, once, serve, status, check, retry, reload, migrate, sources,
withdraw, restore, publish.

Owns: the typer app, its global options (`--config` before the command, `--log-format`), and
which command comes from which module, in the order `--help` lists them. What the commands
share (options, consoles, exit codes) is :mod:`syndication.cli.common`; each group of commands
has its module: :mod:`~syndication.cli.cycle` (once, run, serve), :mod:`~syndication.cli.status`,
:mod:`~syndication.cli.admin` (check, retry, reload, migrate),
:mod:`~syndication.cli.sources` (sources list, import, export) and
:mod:`~syndication.cli.stories` (withdraw, restore, publish).
"""

from __future__ import annotations

from typing import Annotated

import typer

from syndication import logs
from syndication.cli import admin, cycle, sources, status, stories
from syndication.cli.common import ConfigOption, remember_config

app = typer.Typer(
    help="Multilingual news syndication: partner feeds and local articles in; Kazakh, Chinese "
    "and English RSS, Atom and JSON Feed out.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _options(
    config: ConfigOption = None,
    log_format: Annotated[
        logs.LogFormat,
        typer.Option(
            "--log-format",
            envvar="SYNDICATION_LOG_FORMAT",
            case_sensitive=False,
            help="Log lines on stderr: human (default) or json (one object per line).",
        ),
    ] = logs.LogFormat.human,
) -> None:
    """Multilingual news syndication (`syndication COMMAND --help` for each command)."""
    # `syndication --config X once` works as well as `syndication once --config X`.
    remember_config(config)
    logs.choose(log_format)


# In the order `--help` lists them.
app.command()(admin.check)
app.command()(cycle.once)
app.command()(cycle.run)
app.command()(cycle.serve)
app.command()(status.status)
app.command()(admin.retry)
app.command()(admin.reload)
app.command()(admin.migrate)
app.command()(stories.withdraw)
app.command()(stories.restore)
app.command()(stories.publish)
app.add_typer(sources.sources_app, name="sources")
