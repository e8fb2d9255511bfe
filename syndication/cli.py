"""The command line: run, once, serve, status, check, sources.

Owns: argument handling, the exit codes of the public contract (0 ok; 1 some sources or
translations failed; 2 invalid configuration or usage; 3 fatal: store unreachable, output not
writable, another worker holds the store), and what the operator sees: progress, summaries,
tables. Secrets are never printed.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
from pathlib import Path
from typing import Annotated, TextIO

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from syndication import __version__
from syndication import config as cfg
from syndication.model import StoreLocked
from syndication.store import Store, StoreError

EXIT_OK, EXIT_PARTIAL, EXIT_CONFIG, EXIT_FATAL = 0, 1, 2, 3

app = typer.Typer(
    help="Multilingual news syndication: partner feeds and local articles in; Kazakh, Chinese "
    "and English RSS, Atom and JSON Feed out.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class _Redacting(io.TextIOBase):
    """A stream that masks the loaded configuration's secrets in everything written to it.

    Call sites redact what they print; this is the net under them (log records, messages
    from libraries quoting a URL with a token in it)."""

    def __init__(self, stream: TextIO):
        self.stream = stream
        self.config: cfg.Config | None = None

    def write(self, text: str) -> int:
        self.stream.write(self.config.redact(text) if self.config else text)
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return self.stream.isatty()

    def fileno(self) -> int:
        return self.stream.fileno()


_stdout = _Redacting(sys.stdout)
_stderr = _Redacting(sys.stderr)
out = Console(file=_stdout, soft_wrap=True)  # messages stay whole lines: grep-able
err = Console(file=_stderr, stderr=True, soft_wrap=True)

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


def _setup_logging(verbose: bool, quiet: bool = False) -> None:
    level = logging.INFO if verbose else logging.ERROR if quiet else logging.WARNING
    logging.basicConfig(
        level=level,
        format="%(message)s",
        handlers=[RichHandler(console=err, show_path=False, rich_tracebacks=False)],
        force=True,
    )
    for noisy in ("httpx", "httpcore", "apscheduler", "urllib3", "uvicorn.error"):
        logging.getLogger(noisy).setLevel(logging.WARNING if verbose else logging.ERROR)


_given: dict[str, Path | None] = {"config": None}  # --config given before the command


@app.callback()
def _options(config: ConfigOption = None) -> None:
    """Multilingual news syndication (`syndication COMMAND --help` for each command)."""
    # `syndication --config X once` works as well as `syndication once --config X`.
    _given["config"] = config


def _load(path: Path | None) -> cfg.Config:
    chosen = cfg.config_path(path or _given["config"])
    try:
        loaded = cfg.load(chosen)
        _stdout.config = _stderr.config = loaded
        return loaded
    except cfg.ConfigError as exc:
        err.print(f"[bold red]invalid configuration[/] ({len(exc.problems)} problem(s)):")
        for problem in exc.problems:
            err.print(f"  {problem}", markup=False, highlight=False)
        raise typer.Exit(EXIT_CONFIG) from None


def _open_store(config: cfg.Config) -> Store:
    try:
        return Store.open(config.store_url)
    except StoreError as exc:
        err.print(f"[bold red]fatal:[/] {exc}", highlight=False)
        raise typer.Exit(EXIT_FATAL) from None


def _check_output(config: cfg.Config) -> None:
    try:
        config.output.mkdir(parents=True, exist_ok=True)
        probe = config.output / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        err.print(f"[bold red]fatal:[/] output folder {config.output} is not writable: {exc}")
        raise typer.Exit(EXIT_FATAL) from None


def _lock(store: Store, holder: str) -> None:
    try:
        store.acquire_lock(holder)
    except StoreLocked as exc:
        err.print(f"[bold red]refused:[/] {exc}", highlight=False)
        raise typer.Exit(EXIT_FATAL) from None
    except StoreError as exc:
        err.print(f"[bold red]fatal:[/] {exc}", highlight=False)
        raise typer.Exit(EXIT_FATAL) from None


@app.command()
def check(config: ConfigOption = None) -> None:
    """Validate the configuration; exit 0 when valid, 2 when not."""
    from syndication.store import check_driver

    loaded = _load(config)
    s = loaded.settings
    problems = _routing_problems(loaded)
    driver = check_driver(s.store)
    if driver:
        problems.append(f"{loaded.path}:{loaded.line('store')}: {loaded.redact(driver)}")
    if problems:
        _print_problems(problems)
        raise typer.Exit(EXIT_CONFIG)
    for index, source in enumerate(s.sources):
        # A missing export may arrive later: a warning, not an error.
        path = source.file or source.articles
        if path is not None and not path.exists():
            line = loaded.line("sources", index, "file" if source.file else "articles")
            err.print(
                f"[yellow]warning:[/] {loaded.path}:{line}: source {source.id}: {path} does "
                "not exist (yet)",
                highlight=False,
            )
    out.print(
        f"[green]ok[/] {loaded.path}: {len(s.sources)} source(s), editions "
        f"{', '.join(s.editions)}, translation chain {' → '.join(s.translation.chain)}",
        highlight=False,
    )


def _print_problems(problems: list[str]) -> None:
    err.print(f"[bold red]invalid configuration[/] ({len(problems)} problem(s)):")
    for problem in problems:
        err.print(f"  {problem}", markup=False, highlight=False)


def _routing_problems(config: cfg.Config) -> list[str]:
    """Language pairs the configured chains cannot translate: a check error, not a surprise."""
    from syndication.translate.providers import supports

    s = config.settings
    sources = {src.language for src in s.sources if src.language} | set(s.languages)
    problems = []
    for source in sorted(sources):
        for target in s.languages:
            if source == target:
                continue
            chain = s.translation.chain_for(source, target)
            if not any(supports(p, source, target) for p in chain):
                problems.append(
                    f"{config.path}:{config.line('translation', 'chain')}: translation: no "
                    f"provider in [{', '.join(chain)}] translates {source}→{target}; add one "
                    "that does to translation.chain or translation.routes (google covers kk, "
                    "zh, en, ru and more)"
                )
    return problems


def _load_checked(path: Path | None) -> cfg.Config:
    """The configuration, refused (exit 2) when `check` would refuse it."""
    loaded = _load(path)
    problems = _routing_problems(loaded)
    if problems:
        _print_problems(problems)
        raise typer.Exit(EXIT_CONFIG)
    return loaded


@app.command()
def once(config: ConfigOption = None, verbose: VerboseOption = False) -> None:
    """Run one full cycle now (poll every source, translate, publish), then exit."""
    from syndication.pipeline import Progress as Hooks
    from syndication.pipeline import run_cycle

    _setup_logging(verbose, quiet=not verbose)
    loaded = _load_checked(config)
    _check_output(loaded)
    store = _open_store(loaded)
    _lock(store, f"syndication once {__version__}")
    try:
        with Progress(
            TextColumn("{task.description:<10}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=True,
            disable=not err.is_terminal,
        ) as bar:
            tasks: dict[str, int] = {}

            def stage(name: str, total: int) -> None:
                tasks[name] = bar.add_task(name, total=max(total, 1))

            def advance(name: str, done: int) -> None:
                if name in tasks:
                    bar.update(tasks[name], completed=done)

            report = run_cycle(loaded, store, progress=Hooks(stage=stage, advance=advance))
    except StoreError as exc:
        err.print(f"[bold red]fatal:[/] {exc}", highlight=False)
        raise typer.Exit(EXIT_FATAL) from None
    except OSError as exc:
        err.print(f"[bold red]fatal:[/] cannot write the output: {exc}", highlight=False)
        raise typer.Exit(EXIT_FATAL) from None
    except Exception as exc:  # a bug: say so plainly, keep the traceback for --verbose
        logging.getLogger("syndication").info("cycle failed", exc_info=True)
        err.print(
            f"[bold red]fatal:[/] internal error: {type(exc).__name__}: {exc} "
            "(run with --verbose for the traceback)",
            highlight=False,
        )
        raise typer.Exit(EXIT_FATAL) from None
    finally:
        with contextlib.suppress(StoreError):
            store.release_lock()
    _summary(report, loaded)
    raise typer.Exit(EXIT_OK if report.ok else EXIT_PARTIAL)


def _summary(report: object, config: cfg.Config) -> None:
    from syndication.pipeline import CycleReport

    assert isinstance(report, CycleReport)
    table = Table(title="sources", title_justify="left", show_edge=False)
    for column in ("source", "result", "new", "updated", "unchanged", "note"):
        table.add_column(column)
    for s in sorted(report.sources, key=lambda o: o.source_id):
        style = "red" if s.result == "error" else ""
        note = s.error if s.result == "error" else "; ".join(s.notes[:2])
        if s.redirect:
            note = f"moved permanently to {s.redirect}: update the YAML. {note}"
        table.add_row(
            s.source_id,
            s.result,
            str(s.new),
            str(s.updated),
            str(s.unchanged),
            config.redact(note)[:160],
            style=style,
        )
    out.print(table)
    t = report.translation
    line = (
        f"translation: {t.translated} translated, {t.pending} pending, {t.failed} failed "
        f"({t.requests} request(s), {t.from_memory} segment(s) from memory)"
    )
    out.print(line, highlight=False)
    for reason, count in t.reasons.most_common(5):
        out.print(
            f"  [yellow]{count} not translated:[/] {reason} — kept for retry", highlight=False
        )
    p = report.publish
    out.print(
        f"published: {len(p.written)} file(s) written, {p.unchanged} unchanged; items per "
        f"edition: {', '.join(f'{e} {n}' for e, n in p.items.items())}",
        highlight=False,
    )
    for error in p.errors:
        err.print(f"[red]feed not published:[/] {error}", highlight=False)
    if p.hub_error:
        out.print(f"  [yellow]{p.hub_error}[/]", highlight=False)
    for failed in report.failed_sources:
        if failed.result == "error":
            err.print(
                f"[red]source {failed.source_id} failed:[/] {config.redact(failed.error)}",
                highlight=False,
            )
        else:  # a folder whose other files went in: one line per unreadable file
            for note in failed.notes:
                err.print(f"[red]source {failed.source_id}:[/] {note}", highlight=False)


@app.command()
def run(config: ConfigOption = None, verbose: VerboseOption = False) -> None:
    """Run the worker and the HTTP server until stopped (Ctrl-C or SIGTERM)."""
    store: Store | None = None
    try:
        from syndication.worker import run_forever

        _setup_logging(verbose)
        loaded = _load_checked(config)
        _check_output(loaded)
        store = _open_store(loaded)
        _lock(store, f"syndication run {__version__}")
        run_forever(loaded, store, lambda line: out.print(line, highlight=False))
    except KeyboardInterrupt:
        # Stopped while starting: nothing to finish, leave at once and cleanly.
        if store is not None:
            with contextlib.suppress(StoreError):
                store.release_lock()
        out.print("stopped")
        sys.stdout.flush()
        os._exit(EXIT_OK)
    raise typer.Exit(EXIT_OK)


@app.command()
def serve(config: ConfigOption = None, verbose: VerboseOption = False) -> None:
    """Serve the published output folder only (no polling, no translation)."""
    from syndication.serve import make_server
    from syndication.worker import serve_until_signal

    _setup_logging(verbose)
    loaded = _load(config)
    s = loaded.settings
    loaded.output.mkdir(parents=True, exist_ok=True)
    server = make_server(loaded.output, s.serve.host, s.serve.port)
    out.print(f"serving {loaded.output} at http://{s.serve.host}:{s.serve.port}/", highlight=False)
    serve_until_signal(server)


@app.command()
def status(config: ConfigOption = None) -> None:
    """Show each source's last fetch, result and articles, and the translation backlog."""
    from sqlalchemy.engine import make_url

    loaded = _load(config)
    url = make_url(loaded.store_url)
    if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).exists():
        # A status must not create the store it reports on (a mistyped path would look empty).
        out.print(f"no store yet at {url.database}: run `syndication once` first", highlight=False)
        raise typer.Exit(EXIT_OK)
    store = _open_store(loaded)
    try:
        states = {st.source_id: st for st in store.source_states()}
        pending = store.pending_by_source()
        backlog = store.backlog()
        counts = {s.id: store.article_count(s.id) for s in loaded.settings.sources}
        failed = store.failed_translations()
        reasons = store.waiting_reasons()
    except StoreError as exc:
        err.print(f"[bold red]fatal:[/] {exc}", highlight=False)
        raise typer.Exit(EXIT_FATAL) from None
    table = Table(title="sources (times in UTC)", title_justify="left")
    for column in (
        "source",
        "last fetch",
        "result",
        "articles",
        "new/upd/same",
        "untranslated",
        "next due",
        "error",
    ):
        table.add_column(column)
    for source in loaded.settings.sources:
        st = states.get(source.id)
        table.add_row(
            source.id,
            st.last_attempt.strftime("%Y-%m-%d %H:%M:%S") if st and st.last_attempt else "never",
            st.result if st else "never",
            str(counts.get(source.id, 0)),
            f"{st.new}/{st.updated}/{st.unchanged}" if st else "",
            str(pending.get(source.id, 0)),
            st.next_due.strftime("%H:%M:%S") if st and st.next_due else "",
            loaded.redact((f"moved to {st.redirect}; " if st.redirect else "") + st.error)[:80]
            if st
            else "",
            style="red" if st and st.result == "error" else "",
        )
    out.print(table)
    editions = Table(title="translation backlog", title_justify="left")
    for column in ("language", "translated", "pending", "stale", "failed"):
        editions.add_column(column)
    for language in loaded.settings.languages:
        c = backlog.get(language, {})
        editions.add_row(
            language, *(str(c.get(k, 0)) for k in ("translated", "pending", "stale", "failed"))
        )
    out.print(editions)
    for reason, count in reasons:
        out.print(f"  [yellow]{count} waiting:[/] {reason}", highlight=False)
    for t in failed[:10]:
        out.print(
            f"  [red]failed[/] {t.article_id} → {t.language} (attempt {t.attempts}): "
            f"{loaded.redact(t.error)}",
            highlight=False,
        )


@app.command()
def version() -> None:
    """Print the version."""
    out.print(f"syndication {__version__}")


def _register_subcommands() -> None:
    # Imported here: the sub-commands use this module's console and loaders.
    from syndication.sourcelist import sources_app

    app.add_typer(sources_app, name="sources")


_register_subcommands()
