"""`syndication once`, `run` and `serve`: the commands that do the work or serve its result.

Owns: starting a cycle from the command line (the sources named, the lock, progress bars, the
summary table and the exit code it earns), starting the worker (`run`) or the server alone
(`serve`), and stopping cleanly when they are stopped while starting.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
from collections import Counter
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from syndication import __version__, logs
from syndication import config as cfg
from syndication.cli.common import (
    EXIT_CONFIG,
    EXIT_OK,
    EXIT_PARTIAL,
    ConfigOption,
    VerboseOption,
    announcer,
    check_output,
    err,
    fatal,
    load,
    load_checked,
    lock,
    on_cores,
    open_store,
    opened,
    out,
    plain,
    redact_with,
    safe,
    setup_logging,
    unlock,
)
from syndication.errors import StoreError
from syndication.store import Store

if TYPE_CHECKING:
    from syndication.ingest.poll import SourceOutcome
    from syndication.run.cycle import CycleReport

# More sources than this answering 304 with nothing to say are summed up in one row.
QUIET_ROWS = 20

SourceOption = Annotated[
    list[str] | None,
    typer.Option("--source", "-s", help="Only this source (repeat for more).", show_default=False),
]

log = logging.getLogger(__name__)


def once(
    config: ConfigOption = None, source: SourceOption = None, verbose: VerboseOption = False
) -> None:
    """Run one full cycle now (poll every source, translate, publish), then exit."""
    setup_logging(verbose, quiet=not verbose)
    loaded = load_checked(config)
    chosen = chosen_sources(loaded, source)
    check_output(loaded)
    store = open_store(loaded, migrate=True)
    lock(store, f"syndication once {__version__}", loaded)
    cycle(loaded, store, chosen)


def chosen_sources(config: cfg.Config, ids: list[str] | None) -> list[cfg.SourceSettings] | None:
    """The sources named on the command line (None: all); an unknown id is a usage error."""
    if not ids:
        return None
    known = {s.id: s for s in config.settings.sources}
    unknown = [i for i in ids if i not in known]
    if unknown:
        shown = ", ".join(list(known)[:10])
        if len(known) > 10:
            shown += f" … ({len(known)} in all)"
        err.print(
            f"[bold red]unknown source[/] {safe(', '.join(unknown))}; configured: {safe(shown)}",
            highlight=False,
        )
        raise typer.Exit(EXIT_CONFIG)
    return [known[i] for i in dict.fromkeys(ids)]


def cycle(loaded: cfg.Config, store: Store, chosen: list[cfg.SourceSettings] | None) -> NoReturn:
    """Poll `chosen` (None: every source), translate, publish, print the summary, exit.

    The caller holds the store lock (is a registered worker); it is released here."""
    # Imported here: the stages are not needed by the commands that only look.
    from syndication.run.cycle import Progress as Hooks
    from syndication.run.cycle import run_cycle
    from syndication.run.fleet import Heartbeat

    # A long cycle keeps its claims (sources, translations) alive, as a worker does.
    heartbeat = Heartbeat(store, loaded.settings.fleet.lease).start()
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

            # What `status` shows should this YAML later stop loading.
            store.set_setting(cfg.IN_USE, json.dumps(loaded.in_use(), ensure_ascii=False))
            report = run_cycle(
                loaded, store, chosen=chosen, progress=Hooks(stage=stage, advance=advance)
            )
    except StoreError as exc:
        fatal(exc)
    except OSError as exc:
        fatal(f"cannot write the output: {exc}")
    except Exception as exc:  # a bug: say so plainly, keep the traceback for --verbose
        logging.getLogger("syndication").info("cycle failed", exc_info=True)
        fatal(f"internal error: {type(exc).__name__}: {exc} (run with --verbose for the traceback)")
    finally:
        heartbeat.stop()
        with contextlib.suppress(StoreError):
            unlock(store)
    _summary(report, loaded)
    raise typer.Exit(EXIT_OK if report.ok else EXIT_PARTIAL)


def _summary(report: CycleReport, config: cfg.Config) -> None:
    if report.sources:  # `retry --failed` polls none: no empty table
        _sources_table(report, config)
    for source_id, why in sorted(report.elsewhere.items()):
        out.print(
            f"source {source_id}: not polled by this cycle: {why}", markup=False, highlight=False
        )
    for source_id, until in sorted(report.waiting.items()):
        line = (
            f"source {source_id}: not polled: its partner asked to wait until "
            f"{until:%Y-%m-%d %H:%M:%S} UTC (Retry-After); `syndication once --source "
            f"{source_id}` polls it now"
        )
        if logs.chosen() is logs.LogFormat.json:
            log.warning("%s", line, extra={"source": source_id})
        else:
            err.print(f"[yellow]{safe(line)}[/]", highlight=False)
    _translation_lines(report, config)
    p = report.publish
    if not p.rendered and not p.written:
        out.print("published: nothing changed since the last publish", highlight=False)
    else:
        # Only the feeds a change touched are rendered: the items of the main feeds among them.
        items = f"; items per edition: {', '.join(f'{e} {n}' for e, n in p.items.items())}"
        out.print(
            f"published {'every file' if p.full else 'what changed'}: {p.rendered} feed "
            f"document(s) rendered{on_cores(p)}, {len(p.written)} file(s) written, {p.unchanged} "
            f"unchanged{items if p.items else ''}",
            highlight=False,
        )
    for error in p.errors:
        err.print(f"[red]feed not published:[/] {safe(error)}", highlight=False)
    if p.hub_error:
        out.print(f"  [yellow]{safe(p.hub_error)}[/]", highlight=False)
    as_json = logs.chosen() is logs.LogFormat.json
    for failed in report.failed_sources:
        lines = (
            [f"source {failed.source_id} failed: {config.redact(failed.error)}"]
            if failed.result == "error"
            # a folder whose other files went in: one line per unreadable file
            else [f"source {failed.source_id}: {note}" for note in failed.notes]
        )
        for line in lines:
            if as_json:  # `--log-format json`: what a log collector parses, one object a line
                log.error("%s", line, extra={"source": failed.source_id})
            else:
                source, _, rest = line.partition(": ")
                err.print(f"[red]{safe(source)}:[/] {safe(rest)}", highlight=False)


def _quiet(s: SourceOutcome) -> bool:
    """A source that answered 304 and has nothing else to say."""
    return s.result == "not-modified" and not (
        s.new or s.updated or s.withdrawn or s.notes or s.redirect
    )


def _sources_table(report: CycleReport, config: cfg.Config) -> None:
    table = Table(title="sources", title_justify="left", show_edge=False)
    for column in ("source", "result", "new", "updated", "unchanged", "note"):
        table.add_column(column)
    shown = sorted(report.sources, key=lambda o: o.source_id)
    quiet = sum(1 for s in shown if _quiet(s))
    # Many sources answering 304 are one row: the summary says what happened, and a row
    # each cost ~0.35 ms through Rich (0.7 s of a 2,000-source `once` with nothing new).
    if quiet > QUIET_ROWS:
        shown = [s for s in shown if not _quiet(s)]
    for s in shown:
        style = "red" if s.result == "error" else ""
        # A folder that skipped files has an error too (how many): each is a line below.
        note = s.error or "; ".join(s.notes[:2])
        if s.redirect:
            note = f"moved permanently to {s.redirect}: update the YAML. {note}"
        table.add_row(
            plain(s.source_id),
            s.result,
            str(s.new),
            str(s.updated),
            str(s.unchanged),
            plain(config.redact(note)[:160]),
            style=style,
        )
    if quiet > QUIET_ROWS:
        table.add_row(
            f"{quiet} more sources" if shown else f"all {quiet} sources",
            "not-modified",
            "0",
            "0",
            "0",
            "unchanged since their last poll (syndication status lists each)",
        )
    out.print(table)


def _translation_lines(report: CycleReport, config: cfg.Config) -> None:
    """The translation outcome, worded as `status` and `run`'s log word it: stories
    *waiting* out a provider's outage (tried again next cycle) and stories *failed* (a bad
    answer, retried on a schedule that backs off); with `--log-format json`, a log line each."""
    t = report.translation
    line = (
        f"translation: {t.translated} translated, {t.pending} pending, {t.failed} failed "
        f"({t.requests} request(s), {t.from_memory} segment(s) from memory)"
    )
    out.print(line, highlight=False)
    as_json = logs.chosen() is logs.LogFormat.json
    waiting = t.reasons - Counter(f.reason for f in t.failures)
    for reason, count in waiting.most_common(5):
        shown = config.redact(reason)
        out.print(
            f"  [yellow]{count} waiting:[/] {safe(shown)} — kept for retry",
            highlight=False,
        )
        if as_json:
            log.warning("translation: %d waiting: %s", count, shown)
    for index, f in enumerate(t.failures):
        reason = config.redact(f.reason)
        when = f"{f.retry_at:%Y-%m-%d %H:%M} UTC"
        if index < 20:
            out.print(
                f"  [red]failed[/] {safe(f.article_id)} → {f.language}: {safe(reason)} — "
                f"retried from {when}",
                highlight=False,
            )
        if as_json:  # every one: a log collector counts them
            log.error(
                "translation failed: %s → %s: %s; retried from %s",
                f.article_id,
                f.language,
                reason,
                when,
                extra={"article": f.article_id, "edition": f.language},
            )
    if len(t.failures) > 20:
        out.print(f"  … and {len(t.failures) - 20} more (syndication status)", highlight=False)


def run(config: ConfigOption = None, verbose: VerboseOption = False) -> None:
    """Run the worker and the HTTP server until stopped (Ctrl-C or SIGTERM)."""
    # Their default action ends the process: a `reload` or `retry` arriving while the worker
    # starts must not kill it. The worker installs the real handlers once it runs.
    for sig in (signal.SIGHUP, signal.SIGUSR1):
        signal.signal(sig, signal.SIG_IGN)
    store: Store | None = None
    try:
        from syndication.run.lifecycle import run_forever

        setup_logging(verbose)
        loaded = load_checked(config)
        check_output(loaded)
        store = open_store(loaded, migrate=True)
        lock(store, f"syndication run {__version__}", loaded)
        run_forever(loaded, store, announcer(), on_reload=redact_with)
    except KeyboardInterrupt:
        # Stopped while starting: nothing to finish, leave at once and cleanly.
        if store is not None:
            with contextlib.suppress(StoreError):
                unlock(store)
        out.print("stopped")
        sys.stdout.flush()
        os._exit(EXIT_OK)
    raise typer.Exit(EXIT_OK)


def serve(config: ConfigOption = None, verbose: VerboseOption = False) -> None:
    """Serve the published output folder and partners' feeds (no polling, no translation)."""
    from syndication.run.health import TO_PUBLISH, output_problem
    from syndication.run.lifecycle import serve_forever

    setup_logging(verbose)
    loaded = load(config)
    s = loaded.settings
    if loaded.folder is None and not s.partners:
        err.print(
            f"[bold red]nothing to serve:[/] the output is {safe(loaded.output)}; readers get the "
            "files from there (or the CDN in front of it)",
            highlight=False,
        )
        raise typer.Exit(EXIT_CONFIG)
    if loaded.folder is not None and s.publish.public:
        # Said now rather than created empty: a folder that holds nothing (a wrong `output:`,
        # one moved away, no publish yet) otherwise only showed as every file answering 404.
        problem = output_problem(loaded.folder)
        if problem is not None:
            err.print(
                f"[yellow]nothing to serve yet:[/] {safe(problem)}; readers get 404 and "
                f"/healthz 503 until {TO_PUBLISH}",
                highlight=False,
            )

    def open_store() -> Store | None:
        try:
            # Never migrated here (README: Upgrades): an older store is refused, saying so.
            return opened(loaded.store_url)
        except StoreError as exc:
            # The public files need no store; the partners' feeds are read from it.
            err.print(f"[yellow]partners' feeds not served:[/] {safe(exc)}", highlight=False)
            return None

    processes = f" ({s.serve.workers} processes)" if s.serve.workers > 1 else ""
    what = loaded.folder or "the partners' feeds"  # an object store holds the public files
    out.print(
        f"serving {what} at http://{s.serve.host}:{s.serve.port}/{processes}",
        markup=False,
        highlight=False,
    )
    serve_forever(loaded, open_store, on_reload=redact_with)
