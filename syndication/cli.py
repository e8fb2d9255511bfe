"""The command line: run, once, serve, status, check, sources.

Owns: argument handling, the exit codes of the public contract (0 ok; 1 some sources or
translations failed; 2 invalid configuration or usage; 3 fatal: store unreachable, output not
writable, another worker holds the store), and what the operator sees: progress, summaries,
tables. Secrets are never printed.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn, TextIO

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from syndication import __version__, logs
from syndication import config as cfg
from syndication.errors import ConfigError, StoreError, StoreLocked
from syndication.store import Store

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


_stdout = _Redacting(sys.stdout)
_stderr = _Redacting(sys.stderr)
# Piped, logged or run over ssh without a terminal, Rich would squeeze tables into 80
# columns; give them room unless COLUMNS says otherwise.
_WIDTH = None if sys.stdout.isatty() or "COLUMNS" in os.environ else 200
out = Console(file=_stdout, soft_wrap=True, width=_WIDTH)  # messages stay whole lines
err = Console(file=_stderr, stderr=True, soft_wrap=True, width=_WIDTH)

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
    handler = logs.handler(
        logs.chosen(),
        console=err,
        stream=_stderr,  # JSON lines go through the same secret-masking stream as Rich
        # The configuration loads after this, so look its secrets up per record.
        redact=lambda text: _stderr.config.redact(text) if _stderr.config else text,
    )
    logging.basicConfig(level=level, handlers=[handler], force=True)
    for noisy in ("httpx", "httpcore", "apscheduler", "urllib3", "uvicorn.error"):
        logging.getLogger(noisy).setLevel(logging.WARNING if verbose else logging.ERROR)


_given: dict[str, Path | None] = {"config": None}  # --config given before the command


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
    _given["config"] = config
    logs.choose(log_format)


def _load(path: Path | None, *, lenient_env: bool = False) -> cfg.Config:
    """The configuration, or exit 2 listing its problems; `lenient_env` for commands that
    only look (see cfg.load)."""
    chosen = cfg.config_path(path or _given["config"])
    try:
        loaded = cfg.load(chosen, lenient_env=lenient_env)
        _stdout.config = _stderr.config = loaded
        return loaded
    except ConfigError as exc:
        err.print(f"[bold red]invalid configuration[/] ({len(exc.problems)} problem(s)):")
        for problem in exc.problems:
            err.print(f"  {problem}", markup=False, highlight=False)
        raise typer.Exit(EXIT_CONFIG) from None


def _announcer() -> Callable[[str], None]:
    """Where `run` says what it serves, reloads and stops: stdout, or with JSON logs a log
    line of its own (logged whatever the level, like the stdout lines it replaces)."""
    if logs.chosen() is logs.LogFormat.json:
        announce = logging.getLogger("syndication.announce")
        announce.setLevel(logging.INFO)
        return announce.info
    return lambda line: out.print(line, highlight=False)


def _redact_with(config: cfg.Config) -> None:
    """Mask the secrets of a reloaded configuration too."""
    _stdout.config = _stderr.config = config


def _open_store(config: cfg.Config) -> Store:
    return _open_url(config.store_url)


def _open_url(url: str) -> Store:
    try:
        return Store.open(url)
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
    problems = loaded.routing_problems()
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


def _load_checked(path: Path | None, *, lenient_env: bool = False) -> cfg.Config:
    """The configuration, refused (exit 2) when `check` would refuse it."""
    loaded = _load(path, lenient_env=lenient_env)
    problems = loaded.routing_problems()
    if problems:
        _print_problems(problems)
        raise typer.Exit(EXIT_CONFIG)
    return loaded


SourceOption = Annotated[
    list[str] | None,
    typer.Option("--source", "-s", help="Only this source (repeat for more).", show_default=False),
]


@app.command()
def once(
    config: ConfigOption = None, source: SourceOption = None, verbose: VerboseOption = False
) -> None:
    """Run one full cycle now (poll every source, translate, publish), then exit."""
    _setup_logging(verbose, quiet=not verbose)
    loaded = _load_checked(config)
    chosen = _chosen_sources(loaded, source)
    _check_output(loaded)
    store = _open_store(loaded)
    _lock(store, f"syndication once {__version__}")
    _cycle(loaded, store, chosen)


def _chosen_sources(config: cfg.Config, ids: list[str] | None) -> list[cfg.SourceSettings] | None:
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
            f"[bold red]unknown source[/] {', '.join(unknown)}; configured: {shown}",
            highlight=False,
        )
        raise typer.Exit(EXIT_CONFIG)
    return [known[i] for i in dict.fromkeys(ids)]


def _cycle(loaded: cfg.Config, store: Store, chosen: list[cfg.SourceSettings] | None) -> NoReturn:
    """Poll `chosen` (None: every source), translate, publish, print the summary, exit.

    The caller holds the store lock; it is released here."""
    from syndication.pipeline import Progress as Hooks
    from syndication.pipeline import run_cycle

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
    waiting = t.reasons - Counter(f.reason for f in t.failures)
    for reason, count in waiting.most_common(5):
        out.print(
            f"  [yellow]{count} not translated:[/] {reason} — kept for retry", highlight=False
        )
    for f in t.failures[:20]:
        out.print(
            f"  [red]failed[/] {f.article_id} → {f.language}: {config.redact(f.reason)} — "
            f"retried from {f.retry_at:%Y-%m-%d %H:%M} UTC",
            highlight=False,
        )
    if len(t.failures) > 20:
        out.print(f"  … and {len(t.failures) - 20} more (syndication status)", highlight=False)
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
    # Their default action ends the process: a `reload` or `retry` arriving while the worker
    # starts must not kill it. The worker installs the real handlers once it runs.
    for sig in (signal.SIGHUP, signal.SIGUSR1):
        signal.signal(sig, signal.SIG_IGN)
    store: Store | None = None
    try:
        from syndication.worker import run_forever

        _setup_logging(verbose)
        loaded = _load_checked(config)
        _check_output(loaded)
        store = _open_store(loaded)
        _lock(store, f"syndication run {__version__}")
        run_forever(loaded, store, _announcer(), on_reload=_redact_with)
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


def _existing_store(store_url: str) -> Store | None:
    """The store, or None when its SQLite file does not exist: never create one to report on."""
    from sqlalchemy.engine import make_url

    url = make_url(store_url)
    if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).exists():
        return None
    return _open_url(store_url)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _health(state: Any) -> str:
    """A source's health in one word: never, ok, failing (backing off), or moved."""
    if state is None:
        return "never"
    if state.result == "error":
        return "failing"
    if state.redirect:
        return "moved"
    return "ok"


@dataclass(frozen=True)
class Subject:
    """What `status` reports on: the YAML's sources and languages; when the YAML does not
    load, those the running worker (or the last `once`) recorded in the store as it started,
    shown beside the file's problems."""

    path: Path
    store_url: str
    redact: Callable[[str], str]
    sources: list[dict[str, str]]  # id, kind, location (masked), schedule: Config.in_use()
    languages: list[str]
    problems: list[str] = field(default_factory=list)
    recorded: str | None = None  # when the sources shown were recorded, if not the YAML's


def _subject(path: Path) -> Subject | tuple[cfg.Salvaged, list[str]]:
    """The YAML as `status` sees it; when it does not load, what can be saved of it and its
    problems. An environment variable this shell lacks is not a problem: the worker has it."""
    try:
        loaded = cfg.load(path, lenient_env=True)
    except ConfigError as exc:
        salvaged = cfg.salvage(path)
        _stdout.config = _stderr.config = salvaged
        return salvaged, exc.problems
    _stdout.config = _stderr.config = loaded
    used = loaded.in_use()
    return Subject(
        path=loaded.path,
        store_url=loaded.store_url,
        redact=loaded.redact,
        sources=used["sources"],
        languages=used["languages"],
        problems=loaded.routing_problems(),  # what `run` and `reload` would refuse too
    )


def _recorded_subject(salvaged: cfg.Salvaged, problems: list[str], store: Store) -> Subject:
    """The sources and languages last recorded in the store (by `run` or `once`), or, with no
    record, what the store itself knows: the sources it polled, the languages it holds."""
    assert salvaged.store_url is not None
    record = store.setting(cfg.IN_USE)
    used: dict[str, Any] = json.loads(record) if record else {}
    sources = used.get("sources") or [
        {
            "id": state.source_id,
            "kind": state.kind,
            "location": salvaged.redact(state.location),
            "schedule": "",
        }
        for state in store.source_states()
    ]
    return Subject(
        path=salvaged.path.resolve(),
        store_url=salvaged.store_url,
        redact=salvaged.redact,
        sources=sources,
        languages=used.get("languages") or sorted(store.backlog()),
        problems=problems,
        recorded=used.get("recorded"),
    )


def status_data(subject: Subject, store: Store) -> dict[str, Any]:
    """What `status --json` prints (documented in README, "status --json")."""
    from syndication.model import utcnow

    now = utcnow()
    redact = subject.redact
    states = {st.source_id: st for st in store.source_states()}
    pending = store.pending_by_source()
    backlog = store.backlog()
    holder = store.lock_holder()
    sources = []
    for source in subject.sources:
        st = states.get(source["id"])
        sources.append(
            {
                "id": source["id"],
                "kind": source["kind"],
                "location": source["location"],
                "schedule": source["schedule"],
                "health": _health(st),
                "last_fetch": _iso(st.last_attempt) if st else None,
                "last_success": _iso(st.last_success) if st else None,
                "next_fetch": _iso(st.next_due) if st else None,
                "result": st.result if st else "never",
                "failures": st.failures if st else 0,
                "error": redact(st.error) if st else "",
                "moved_to": redact(st.redirect) if st and st.redirect else None,
                "articles": store.article_count(source["id"]),
                "last_counts": {"new": st.new, "updated": st.updated, "unchanged": st.unchanged}
                if st
                else None,
                "untranslated": pending.get(source["id"], 0),
            }
        )
    return {
        "generated": now.isoformat(),
        "config": str(subject.path),
        "config_problems": subject.problems,
        "store": {"url": redact(store.describe()), "schema": store.version()},
        "worker": {
            "running": bool(holder and holder["alive"]),
            "holder": holder["holder"],
            "pid": holder["pid"],
            "host": holder["host"],
            "heartbeat": _iso(holder["heartbeat"]),
        }
        if holder
        else {"running": False},
        "last_publish": _iso(store.last_publish()),
        "last_file_change": _iso(store.last_file_change()),
        "sources": sources,
        "backlog": {
            language: {
                k: backlog.get(language, {}).get(k, 0)
                for k in ("translated", "pending", "stale", "failed")
            }
            for language in subject.languages
        },
        "waiting": [{"reason": redact(r), "count": n} for r, n in store.waiting_reasons()],
        "failed": [
            {
                "article": t.article_id,
                "language": t.language,
                "attempts": t.attempts,
                "error": redact(t.error),
            }
            for t in store.failed_translations()[:50]
        ],
    }


JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]


@app.command()
def status(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Show sources (health, last and next fetch, errors), translation backlog, last publish.

    Exit code 2 when the YAML on disk is invalid (its problems shown beside the status,
    which comes from the store), 3 when the store cannot be read, else 0."""
    path = cfg.config_path(config or _given["config"])
    found = _subject(path)
    if isinstance(found, Subject):
        store_url, problems = found.store_url, found.problems
    else:
        salvaged, problems = found
        if salvaged.store_url is None:  # nothing to report on: the problems alone
            _print_problems(problems)
            err.print(f"(no status: {salvaged.why_not})", highlight=False)
            raise typer.Exit(EXIT_CONFIG)
        store_url = salvaged.store_url
    code = EXIT_CONFIG if problems else EXIT_OK
    store = _existing_store(store_url)
    if store is None:
        hint = "no store yet: run `syndication once` first"
        if as_json:
            data = {
                "generated": datetime.now().astimezone().isoformat(),
                "config": str(path.resolve()),
                "config_problems": problems,
                "store": None,
                "worker": {"running": False},
                "hint": hint,
            }
            _stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
        else:
            # A status must not create the store it reports on (a mistyped path looks empty).
            out.print(f"no store yet at {store_url}: run `syndication once` first", highlight=False)
            _print_config_problems(problems, None)
        raise typer.Exit(code)
    try:
        subject = found if isinstance(found, Subject) else _recorded_subject(*found, store)
        data = status_data(subject, store)
    except StoreError as exc:
        err.print(f"[bold red]fatal:[/] {exc}", highlight=False)
        raise typer.Exit(EXIT_FATAL) from None
    if as_json:
        _stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
        raise typer.Exit(code)
    _print_status(data)
    _print_config_problems(problems, subject.recorded)
    raise typer.Exit(code)


def _print_config_problems(problems: list[str], recorded: str | None) -> None:
    if not problems:
        return
    shown = (
        f"; the sources above are those `run` or `once` last started with ({_utc(recorded)})"
        if recorded
        else ""
    )
    out.print(
        f"[bold red]the configuration on disk is invalid[/] ({len(problems)} problem(s)): "
        f"`run` refuses it at start, a running worker on reload{shown}",
        highlight=False,
    )
    for problem in problems:
        out.print(f"  {problem}", markup=False, highlight=False)


def _short(stamp: str | None, with_date: bool = True) -> str:
    if not stamp:
        return ""
    value = datetime.fromisoformat(stamp)
    return value.strftime("%Y-%m-%d %H:%M:%S" if with_date else "%H:%M:%S")


def _utc(stamp: str | None) -> str:
    return f"{_short(stamp)} UTC" if stamp else "never"


def _print_status(data: dict[str, Any]) -> None:
    worker = data["worker"]
    if worker["running"]:
        out.print(
            f"worker: running ({worker['holder']}, pid {worker['pid']} on {worker['host']}, "
            f"heartbeat {_utc(worker['heartbeat'])})",
            highlight=False,
        )
    else:
        out.print("worker: not running", highlight=False)
    out.print(
        f"last publish: {_utc(data['last_publish'])} (a file last changed "
        f"{_utc(data['last_file_change'])}); store schema "
        f"{data['store']['schema']}",
        highlight=False,
    )
    table = Table(title="sources (times in UTC)", title_justify="left")
    for column in (
        "source",
        "health",
        "last fetch",
        "result",
        "articles",
        "new/upd/same",
        "untranslated",
        "next fetch",
        "error",
    ):
        table.add_column(column)
    for s in data["sources"]:
        counts = s["last_counts"]
        note = (f"moved to {s['moved_to']}; " if s["moved_to"] else "") + s["error"]
        health = s["health"] + (f" ({s['failures']}×)" if s["failures"] else "")
        table.add_row(
            s["id"],
            health,
            _short(s["last_fetch"]) or "never",
            s["result"],
            str(s["articles"]),
            f"{counts['new']}/{counts['updated']}/{counts['unchanged']}" if counts else "",
            str(s["untranslated"]),
            _short(s["next_fetch"]),
            note[:80],
            style="red" if s["health"] == "failing" else "",
        )
    out.print(table)
    editions = Table(title="translation backlog", title_justify="left")
    for column in ("language", "translated", "pending", "stale", "failed"):
        editions.add_column(column)
    for language, c in data["backlog"].items():
        editions.add_row(
            language, *(str(c[k]) for k in ("translated", "pending", "stale", "failed"))
        )
    out.print(editions)
    for waiting in data["waiting"]:
        out.print(f"  [yellow]{waiting['count']} waiting:[/] {waiting['reason']}", highlight=False)
    for t in data["failed"][:10]:
        out.print(
            f"  [red]failed[/] {t['article']} → {t['language']} (attempt {t['attempts']}): "
            f"{t['error']}",
            highlight=False,
        )


def _running_worker(store: Store) -> dict[str, Any] | None:
    holder = store.lock_holder()
    return holder if holder and holder["alive"] else None


@app.command()
def retry(
    sources: Annotated[
        list[str] | None, typer.Argument(help="Source ids to fetch now.", show_default=False)
    ] = None,
    failed: Annotated[
        bool, typer.Option("--failed", help="Retry every failed translation now.")
    ] = False,
    config: ConfigOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Fetch sources now (ignoring their backoff) and/or retry failed translations now.

    With a worker running on the store, it is asked to do it (within seconds); otherwise
    this command does it itself, then translates and publishes, like `once --source`."""
    _setup_logging(verbose, quiet=not verbose)
    if not sources and not failed:
        err.print("[bold red]usage:[/] syndication retry SOURCE... and/or --failed")
        raise typer.Exit(EXIT_CONFIG)
    loaded = _load_checked(config)
    chosen = _chosen_sources(loaded, sources) or []
    store = _open_store(loaded)
    try:
        if failed:
            count = store.retry_failed()
            waiting = sum(c.get("pending", 0) for c in store.backlog().values())
            out.print(
                f"{count} failed translation(s) due again now; {waiting} pending ones "
                "(waiting out a provider outage) are tried at once too",
                highlight=False,
            )
        worker = _running_worker(store)
        if worker is not None:
            for source in chosen:
                store.request("fetch", source.id)
            if failed:
                store.request("translate")
            if worker["this_host"]:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(worker["pid"], signal.SIGUSR1)  # take the request up now
            asked = [s.id for s in chosen] + (["failed translations"] if failed else [])
            out.print(
                f"asked the running worker (pid {worker['pid']} on {worker['host']}) to retry "
                f"{', '.join(asked)}; `syndication status` shows the outcome",
                highlight=False,
            )
            raise typer.Exit(EXIT_OK)
    except StoreError as exc:
        err.print(f"[bold red]fatal:[/] {exc}", highlight=False)
        raise typer.Exit(EXIT_FATAL) from None
    _check_output(loaded)
    _lock(store, f"syndication retry {__version__}")
    _cycle(loaded, store, chosen)


@app.command()
def reload(config: ConfigOption = None) -> None:
    """Ask the running worker to re-read its configuration (as SIGHUP does), and wait for it.

    The YAML is checked here first: an invalid one is reported (exit 2) and not sent. An
    environment variable this shell lacks is not a mistake: the worker has its own."""
    loaded = _load_checked(config, lenient_env=True)
    store = _existing_store(loaded.store_url)
    worker = _running_worker(store) if store is not None else None
    if store is None or worker is None:
        err.print("[bold red]no worker is running[/] on this store: nothing to reload")
        raise typer.Exit(EXIT_PARTIAL)
    try:
        before = store.setting("last_reload")
        if worker["this_host"]:
            os.kill(worker["pid"], signal.SIGHUP)
        else:  # a worker on another machine takes requests from the shared store
            store.request("reload")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            after = store.setting("last_reload")
            if after and after != before:
                result = json.loads(after)
                if result["ok"]:
                    out.print(f"reloaded: {result['summary']}", highlight=False)
                    raise typer.Exit(EXIT_OK)
                _print_problems(result["problems"])
                raise typer.Exit(EXIT_CONFIG)
            time.sleep(0.2)
    except StoreError as exc:
        err.print(f"[bold red]fatal:[/] {exc}", highlight=False)
        raise typer.Exit(EXIT_FATAL) from None
    except (ProcessLookupError, PermissionError) as exc:
        err.print(f"[bold red]could not signal[/] pid {worker['pid']}: {exc}")
        raise typer.Exit(EXIT_FATAL) from None
    out.print(f"asked worker pid {worker['pid']} to reload; no answer yet (see its log)")
    raise typer.Exit(EXIT_PARTIAL)


@app.command()
def migrate(config: ConfigOption = None) -> None:
    """Bring the store's schema up to date (`run` and `once` also do this when they start)."""
    loaded = _load(config)
    try:
        store = Store.open(loaded.store_url, migrate=False)
        before = store.version()
        after = store.migrate()
    except StoreError as exc:
        err.print(f"[bold red]fatal:[/] {exc}", highlight=False)
        raise typer.Exit(EXIT_FATAL) from None
    if before == after:
        out.print(f"store is up to date (schema version {after})", highlight=False)
    else:
        out.print(f"store migrated from schema version {before} to {after}", highlight=False)


def _register_subcommands() -> None:
    # Imported here: the sub-commands use this module's console and loaders.
    from syndication.sourcelist import sources_app

    app.add_typer(sources_app, name="sources")


_register_subcommands()
