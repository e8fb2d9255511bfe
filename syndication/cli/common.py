"""What every command group shares: options, consoles, the loaded configuration, exit codes.

Owns: the exit codes of the public contract (0 ok; 1 some sources or translations failed; 2
invalid configuration or usage; 3 fatal: store unreachable, output not writable, another worker
holds the store), the shared options (`--config`, `--verbose`), the `out` and `err` consoles
and the streams under them that mask the loaded configuration's secrets, text from outside
shown as written (never read as Rich markup: `plain`, `safe`), logging set-up,
loading the configuration with its problems printed (exit 2), and opening, locking and checking
what a command needs before it works (store, output folder), each refusal said and exited: a
store of an older schema is upgraded only for `run` and `once`, and refused by the others.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import signal
import socket
import sys
import tempfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, NoReturn, Protocol, TextIO

import typer
from rich.console import Console
from rich.markup import escape
from rich.text import Text

from syndication import config as cfg
from syndication import logs
from syndication.errors import ConfigError, OutputError, StoreError, StoreLocked
from syndication.store import SCHEMA_VERSION, Store
from syndication.store.base import store_name

EXIT_OK, EXIT_PARTIAL, EXIT_CONFIG, EXIT_FATAL = 0, 1, 2, 3


class _Redacting(io.TextIOBase):
    """A stream that masks the loaded configuration's secrets in everything written to it.

    Call sites redact what they print; this is the net under them (log records, messages
    from libraries quoting a URL with a token in it)."""

    def __init__(self, stream: TextIO):
        self.stream = stream
        self.config: cfg.Config | cfg.Salvaged | None = None

    def write(self, text: str) -> int:
        self.stream.write(self.config.redact(text) if self.config else text)
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return self.stream.isatty()

    def fileno(self) -> int:
        return self.stream.fileno()


masked_stdout = _Redacting(sys.stdout)
_stderr = _Redacting(sys.stderr)
# Piped, logged or run over ssh without a terminal, Rich would squeeze tables into 80
# columns; give them room unless COLUMNS says otherwise.
_WIDTH = None if sys.stdout.isatty() or "COLUMNS" in os.environ else 200
out = Console(file=masked_stdout, soft_wrap=True, width=_WIDTH)  # messages stay whole lines
err = Console(file=_stderr, stderr=True, soft_wrap=True, width=_WIDTH)


def plain(text: object) -> Text:
    """Text from outside (a title, a location, an error, a provider's reason) as a table cell:
    shown as written, never read as Rich markup (a `[/1]` in it would end the command)."""
    return Text(str(text))


def safe(text: object) -> str:
    """Text from outside, escaped to sit in a line that has markup of its own."""
    return escape(str(text))


ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="YAML configuration (default: $SYNDICATION_CONFIG or config/syndication.yaml).",
        show_default=False,
    ),
]
VerboseOption = Annotated[bool, typer.Option("--verbose", "-v", help="Log each step.")]

_given: dict[str, Path | None] = {"config": None}  # --config given before the command


def remember_config(path: Path | None) -> None:
    """The `--config` given before the command (`syndication --config X once`), or to a
    command group (`sources --config X import …`): what a command without its own uses."""
    _given["config"] = path


def config_path(path: Path | None) -> Path:
    """The YAML a command works on: its own `--config`, one given before it, or the default."""
    return cfg.config_path(path or _given["config"])


class _Rendered(Protocol):
    processes: int


def on_cores(report: _Rendered) -> str:
    """How a publish's summary says it rendered on several processes (nothing for one)."""
    return f" (by {report.processes} processes)" if report.processes > 1 else ""


def redact_with(config: cfg.Config | cfg.Salvaged) -> None:
    """Mask this configuration's secrets in everything printed from now on."""
    masked_stdout.config = _stderr.config = config


def setup_logging(verbose: bool, quiet: bool = False) -> None:
    level = logging.INFO if verbose else logging.ERROR if quiet else logging.WARNING
    handler = logs.handler(
        logs.chosen(),
        console=err,
        stream=_stderr,  # JSON lines go through the same secret-masking stream as Rich
        # The configuration loads after this, so look its secrets up per record.
        redact=lambda text: _stderr.config.redact(text) if _stderr.config else text,
    )
    logging.basicConfig(level=level, handlers=[handler], force=True)
    access = logging.getLogger(logs.ACCESS_LOGGER)
    access.handlers = [
        logs.access_handler(
            logs.chosen(),
            stream=_stderr,
            redact=lambda text: _stderr.config.redact(text) if _stderr.config else text,
        )
    ]
    access.propagate = False
    for noisy in ("httpx", "httpcore", "apscheduler", "urllib3", "uvicorn.error"):
        logging.getLogger(noisy).setLevel(logging.WARNING if verbose else logging.ERROR)


def announcer() -> Callable[[str], None]:
    """Where `run` says what it serves, reloads and stops: stdout, or with JSON logs a log
    line of its own (logged whatever the level, like the stdout lines it replaces)."""
    if logs.chosen() is logs.LogFormat.json:
        announce = logging.getLogger("syndication.announce")
        announce.setLevel(logging.INFO)
        return announce.info
    return lambda line: out.print(line, markup=False, highlight=False)


def load(path: Path | None, *, lenient_env: cfg.Leniency = False) -> cfg.Config:
    """The configuration, or exit 2 listing its problems; `lenient_env` for commands that
    only look (see cfg.load)."""
    chosen = config_path(path)
    try:
        loaded = cfg.load(chosen, lenient_env=lenient_env)
        redact_with(loaded)
        return loaded
    except ConfigError as exc:
        print_problems(exc.problems)
        raise typer.Exit(EXIT_CONFIG) from None


def load_checked(path: Path | None, *, lenient_env: cfg.Leniency = False) -> cfg.Config:
    """The configuration, refused (exit 2) when `check` would refuse it."""
    loaded = load(path, lenient_env=lenient_env)
    problems = loaded.routing_problems()
    if problems:
        print_problems(problems)
        raise typer.Exit(EXIT_CONFIG)
    return loaded


def print_problems(problems: list[str]) -> None:
    err.print(f"[bold red]invalid configuration[/] ({len(problems)} problem(s)):")
    for problem in problems:
        err.print(f"  {problem}", markup=False, highlight=False)


def fatal(message: object) -> NoReturn:
    """Say why the command cannot go on, and exit 3."""
    err.print(f"[bold red]fatal:[/] {safe(message)}", highlight=False)
    raise typer.Exit(EXIT_FATAL) from None


def open_store(config: cfg.Config, *, migrate: bool = False) -> Store:
    return open_url(config.store_url, migrate=migrate)


def open_url(url: str, *, migrate: bool = False) -> Store:
    """The store, or exit 3 saying why. Only `run` and `once` (`migrate`: True) and `migrate`
    itself bring an older schema up to date (README: Upgrades); any other command refuses
    it, as a newer program's `withdraw` must not upgrade a store under a running older worker.
    An empty database is given its schema, as before: there is nothing to upgrade."""
    try:
        return opened(url, migrate=migrate)
    except StoreError as exc:
        fatal(exc)


def opened(url: str, *, migrate: bool = False) -> Store:
    """As `open_url`, raising StoreError rather than exiting."""
    store = Store.open(url, migrate=migrate)
    if not migrate and _at_schema(store, url) == 0:
        store.migrate()
    return store


def _at_schema(store: Store, url: str) -> int:
    """The store's schema version (0: an empty database); StoreError when it is neither
    empty nor this program's, saying what to run."""
    version = store.version()
    if version in (0, SCHEMA_VERSION):
        return version
    if version > SCHEMA_VERSION:
        why = f"newer than this program's {SCHEMA_VERSION}: upgrade syndication"
    else:
        why = f"this program's is {SCHEMA_VERSION}: run `syndication migrate` first"
    where = store_name(url)
    raise StoreError(f"store {where}: the store has schema version {version}, {why}", store=where)


def existing_store(store_url: str) -> Store | None:
    """The store, or None when its SQLite file does not exist: never create one to report on."""
    try:
        return found_store(store_url)
    except StoreError as exc:
        fatal(exc)


def found_store(store_url: str) -> Store | None:
    """As `existing_store`, raising StoreError when the store cannot be opened or is of
    another schema version than this program's: a command that only looks never migrates
    (nor creates: an empty database is no store yet either)."""
    from sqlalchemy.engine import make_url

    url = make_url(store_url)
    if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).exists():
        return None
    store = Store.open(store_url, migrate=False)
    if _at_schema(store, store_url) == 0:
        store.engine.dispose()
        return None
    return store


def check_output(config: cfg.Config) -> None:
    folder = config.folder
    if folder is None:
        _check_object_store(config)
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        # A name of its own: workers of a fleet start together on one folder, and one's probe
        # must not be the file another removes.
        with tempfile.TemporaryFile(dir=folder, prefix=".write-test."):
            pass
    except OSError as exc:
        err.print(
            f"[bold red]fatal:[/] output folder {safe(folder)} is not writable: {safe(exc)}",
            highlight=False,
        )
        raise typer.Exit(EXIT_FATAL) from None


def _check_object_store(config: cfg.Config) -> None:
    """Write and delete a key where publishing will: a refusal is said now, naming the bucket."""
    from syndication.publish.s3 import probe

    assert isinstance(config.output, cfg.S3Location)
    try:
        probe(config.output, config.settings.output_options)
    except OutputError as exc:
        err.print(
            f"[bold red]fatal:[/] output {safe(config.output)} is not writable: {safe(exc)}",
            highlight=False,
        )
        raise typer.Exit(EXIT_FATAL) from None


def running_workers(store: Store) -> list[dict[str, Any]]:
    """The workers that take requests now: the holder of a SQLite store's lock, or every
    live `run` on a shared store (a `once` there takes none)."""
    if not store.shared:
        # Only `run` takes requests: a `once` or `publish` holding the lock does not (asked,
        # it would never answer: the command waits for the lock instead).
        holder = store.lock_holder()
        takes = holder and holder["alive"] and holder["holder"].startswith("syndication run")
        return [{**holder, "id": ""}] if takes else []
    here = socket.gethostname()
    return [
        {"id": w.id, "holder": w.holder, "host": w.host, "pid": w.pid, "this_host": w.host == here}
        for w in store.workers()
        if w.holder.startswith("syndication run")
    ]


def who(workers: list[dict[str, Any]]) -> str:
    if len(workers) == 1:
        return f"the running worker (pid {workers[0]['pid']} on {safe(workers[0]['host'])})"
    return f"the {len(workers)} running workers"


def wake(workers: list[dict[str, Any]]) -> None:
    """Have the workers on this host take up the requests just left in the store now (the
    others look within seconds)."""
    for worker in workers:
        if worker["this_host"]:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(worker["pid"], signal.SIGUSR1)


def lock(store: Store, holder: str, config: cfg.Config) -> None:
    """Become a worker of the store: on SQLite, its one worker (a second is refused, exit
    3); on PostgreSQL, one of many, sharing the work through claims. Either way registered,
    for `status`, with the lease its claims hold for (`fleet.lease`)."""
    try:
        if not store.shared:
            store.acquire_lock(holder)
        store.register(holder, timedelta(seconds=config.settings.fleet.lease))
    except StoreLocked as exc:
        err.print(f"[bold red]refused:[/] {safe(exc)}", highlight=False)
        raise typer.Exit(EXIT_FATAL) from None
    except StoreError as exc:
        fatal(exc)


def unlock(store: Store) -> None:
    """Stop being a worker of the store: claims given up, the lock released."""
    try:
        store.unregister()
    finally:
        store.release_lock()
