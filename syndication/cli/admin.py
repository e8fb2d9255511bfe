"""`syndication check`, `migrate`, `retry` and `reload`: looking after the service.

Owns: validating the configuration as `run` would (`check`), bringing the store's schema up to
date (`migrate`), and asking a running worker, through requests left in the store and a signal
when it runs on this machine, to fetch or translate now (`retry`, which does it itself when no
worker runs) or to re-read its configuration (`reload`, waiting for its answer).
"""

from __future__ import annotations

import json
import os
import signal
import time
from typing import Annotated

import typer

from syndication import __version__
from syndication.cli.common import (
    EXIT_CONFIG,
    EXIT_FATAL,
    EXIT_OK,
    EXIT_PARTIAL,
    ConfigOption,
    VerboseOption,
    check_output,
    err,
    existing_store,
    fatal,
    load,
    load_checked,
    lock,
    open_store,
    out,
    print_problems,
    running_workers,
    safe,
    setup_logging,
    wake,
    who,
)
from syndication.cli.cycle import chosen_sources, cycle
from syndication.errors import StoreError
from syndication.store import Store
from syndication.translate import outages


def check(config: ConfigOption = None) -> None:
    """Validate the configuration; exit 0 when valid, 2 when not."""
    from syndication.store import check_driver

    loaded = load(config)
    s = loaded.settings
    problems = loaded.routing_problems()
    driver = check_driver(s.store)
    if driver:
        problems.append(f"{loaded.path}:{loaded.line('store')}: {loaded.redact(driver)}")
    if problems:
        print_problems(problems)
        raise typer.Exit(EXIT_CONFIG)
    for index, source in enumerate(s.sources):
        # A missing export may arrive later: a warning, not an error.
        path = source.file or source.articles
        if path is not None and not path.exists():
            line = loaded.line("sources", index, "file" if source.file else "articles")
            err.print(
                f"[yellow]warning:[/] {safe(loaded.path)}:{line}: source {safe(source.id)}: "
                f"{safe(path)} does not exist (yet)",
                highlight=False,
            )
    if "base_url" not in s.site.model_fields_set:
        # The default suits a first try on this machine only: its host would become the
        # authority of every item id at the first publish, for good.
        err.print(
            f"[yellow]note:[/] {safe(loaded.path)}: site.base_url is not set: links and ids "
            f"use {s.site.base_url}, and its host is kept in every item id from the first "
            "publish on; set it to where the feeds are served before then",
            highlight=False,
        )
    out.print(
        f"[green]ok[/] {safe(loaded.path)}: {len(s.sources)} source(s), editions "
        f"{', '.join(s.editions)}, translation chain {' → '.join(s.translation.chain)}",
        highlight=False,
    )


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
    setup_logging(verbose, quiet=not verbose)
    if not sources and not failed:
        err.print("[bold red]usage:[/] syndication retry SOURCE... and/or --failed")
        raise typer.Exit(EXIT_CONFIG)
    loaded = load_checked(config)
    chosen = chosen_sources(loaded, sources) or []
    store = open_store(loaded)
    try:
        if failed:
            count = store.retry_failed()
            waiting = sum(c.get("pending", 0) for c in store.backlog().values())
            # The operator's override: a provider the store remembers as down (its breaker,
            # its Retry-After) is asked again now, by this command or the worker.
            overridden = outages.forget(store, loaded.settings.translation.provider_names)
            out.print(
                f"{count} failed translation(s) due again now; {waiting} pending ones "
                "(waiting out a provider outage) are tried at once too",
                highlight=False,
            )
            for o in overridden:
                until = f" until {o['until'][:19].replace('T', ' ')} UTC" if o["until"] else ""
                out.print(
                    f"  provider {o['provider']} was left alone{until} ({safe(o['error'])}): "
                    "asked again now",
                    highlight=False,
                )
        workers = running_workers(store)
        if workers:
            # Taken by whichever worker looks first (each request once).
            for source in chosen:
                store.request("fetch", source.id)
            if failed:
                store.request("translate")
            wake(workers)
            asked = [s.id for s in chosen] + (["failed translations"] if failed else [])
            out.print(
                f"asked {who(workers)} to retry {', '.join(asked)}; `syndication status` "
                "shows the outcome",
                highlight=False,
            )
            raise typer.Exit(EXIT_OK)
    except StoreError as exc:
        fatal(exc)
    check_output(loaded)
    lock(store, f"syndication retry {__version__}", loaded)
    cycle(loaded, store, chosen)


def reload(config: ConfigOption = None) -> None:
    """Ask the running worker to re-read its configuration (as SIGHUP does), and wait for it.

    The YAML is checked here first: an invalid one is reported (exit 2) and not sent. An
    environment variable this shell lacks is not a mistake: the worker has its own."""
    loaded = load_checked(config, lenient_env=True)
    store = existing_store(loaded.store_url)
    try:
        workers = running_workers(store) if store is not None else []
    except StoreError as exc:
        fatal(exc)
    if store is None or not workers:
        err.print("[bold red]no worker is running[/] on this store: nothing to reload")
        raise typer.Exit(EXIT_PARTIAL)
    worker = workers[0]
    try:
        before = store.setting("last_reload")
        for worker in workers:
            if worker["this_host"]:
                os.kill(worker["pid"], signal.SIGHUP)
            else:  # a worker on another machine takes requests from the shared store
                store.request("reload", worker["id"])
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            after = store.setting("last_reload")
            if after and after != before:
                result = json.loads(after)
                if result["ok"]:
                    out.print(f"reloaded: {result['summary']}", markup=False, highlight=False)
                    raise typer.Exit(EXIT_OK)
                print_problems(result["problems"])
                raise typer.Exit(EXIT_CONFIG)
            time.sleep(0.2)
    except StoreError as exc:
        fatal(exc)
    except (ProcessLookupError, PermissionError) as exc:
        err.print(f"[bold red]could not signal[/] pid {worker['pid']}: {safe(exc)}")
        raise typer.Exit(EXIT_FATAL) from None
    out.print(f"asked {who(workers)} to reload; no answer yet (see the log)")
    raise typer.Exit(EXIT_PARTIAL)


def migrate(config: ConfigOption = None) -> None:
    """Bring the store's schema up to date (`run` and `once` also do this when they start)."""
    loaded = load(config)
    try:
        store = Store.open(loaded.store_url, migrate=False)
        before = store.version()
        after = store.migrate()
    except StoreError as exc:
        fatal(exc)
    if before == after:
        out.print(f"store is up to date (schema version {after})", highlight=False)
    else:
        out.print(f"store migrated from schema version {before} to {after}", highlight=False)
