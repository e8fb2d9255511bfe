"""`syndication withdraw`, `restore` and `publish`: a story's life, and publishing by hand.

Owns: withdrawing a story everywhere on the operator's word (`withdraw ID --reason`) and
bringing it back (`restore ID`), and publishing now (`publish`, or `publish --all` to render
every file again). With a worker running on the store it is asked to publish (a request left in
the store, and a signal when it runs on this machine), which it does within seconds; otherwise
the command publishes itself, holding the store's lock like `once`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Annotated, NoReturn, TypeVar
from urllib.parse import unquote, urlsplit

import typer
from rich.markup import escape

from syndication import __version__
from syndication import config as cfg
from syndication.cli.common import (
    EXIT_CONFIG,
    EXIT_OK,
    EXIT_PARTIAL,
    ConfigOption,
    VerboseOption,
    check_output,
    err,
    fatal,
    load_checked,
    lock,
    on_cores,
    open_store,
    out,
    running_workers,
    setup_logging,
    unlock,
    wake,
    who,
)
from syndication.errors import StoreError
from syndication.store import BY_OPERATOR, Store

T = TypeVar("T")

ArticleId = Annotated[
    str,
    typer.Argument(
        help="The story's id: SOURCE:GUID as `status` shows it, or its item id in a feed."
    ),
]


def withdraw(
    article: ArticleId,
    reason: Annotated[
        str, typer.Option("--reason", "-r", help="Why (shown in the tombstone and the notice).")
    ] = "",
    config: ConfigOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Withdraw a story from every feed, page and edition; it stays withdrawn until `restore`."""
    setup_logging(verbose, quiet=not verbose)
    loaded = load_checked(config, lenient_env="secrets")
    store = open_store(loaded)
    article, story = _found(article, lambda given: store.withdraw(given, reason), loaded, store)
    out.print(
        f"withdrew {article} ({story.article.title[:60]!r})" + (f": {reason}" if reason else ""),
        markup=False,
        highlight=False,
    )
    _publish(loaded, store, full=False)


def restore(
    article: ArticleId, config: ConfigOption = None, verbose: VerboseOption = False
) -> None:
    """Bring a withdrawn story back into every edition it was in."""
    setup_logging(verbose, quiet=not verbose)
    loaded = load_checked(config, lenient_env="secrets")
    store = open_store(loaded)
    article, before = _found(article, store.restore, loaded, store)
    if not before.withdrawn:
        out.print(f"{article} is not withdrawn: nothing to restore", markup=False, highlight=False)
        raise typer.Exit(EXIT_OK)
    out.print(
        f"restored {article} (withdrawn by {before.withdrawn_by})", markup=False, highlight=False
    )
    if before.withdrawn_by != BY_OPERATOR:
        out.print(
            "  its source withdrew it: it stays back unless the source changes the story again",
            highlight=False,
        )
    _publish(loaded, store, full=False)


def publish(
    every: Annotated[
        bool, typer.Option("--all", help="Render every file again, not only what changed.")
    ] = False,
    config: ConfigOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Publish now: what changed since the last publish, or with --all every file."""
    setup_logging(verbose, quiet=not verbose)
    loaded = load_checked(config, lenient_env="secrets")
    store = open_store(loaded)
    _publish(loaded, store, full=every)


def _found(given: str, act: Callable[[str], T], loaded: cfg.Config, store: Store) -> tuple[str, T]:
    """`act` on the story `given` names: its id as `status` shows it (SOURCE:GUID), or as a
    feed shows it (an item id, `tag:…:SOURCE:GUID/EDITION`, its GUID percent-encoded), so an
    operator may paste either; exit 2 when no story has it, or when the item id is not one
    of ours (another site's authority, an edition this site does not publish)."""
    _check_ours(given, loaded, store)
    tried: list[str] = []
    first: StoreError | None = None
    for candidate in _spellings(given):
        if candidate in tried:
            continue
        tried.append(candidate)
        try:
            return candidate, act(candidate)
        except StoreError as exc:
            first = first or exc
    assert first is not None
    _unknown(first)


def _check_ours(given: str, loaded: cfg.Config, store: Store) -> None:
    """Refuse an item id another site minted, or naming an edition not configured: the
    SOURCE:GUID inside it may well match one of our stories, but not the one meant."""
    if not (given.startswith("tag:") and given.count(":") >= 3):
        return
    authority = given[len("tag:") :].partition(",")[0]
    try:
        # The authority first published, kept by the store (items.id_authority); before any
        # publish, the one the site's address would give.
        ours = store.setting("id_authority")
    except StoreError as exc:
        fatal(exc)
    ours = ours or urlsplit(loaded.settings.site.base_url).hostname or "localhost"
    if authority.lower() != ours.lower():
        err.print(
            f"[bold red]not our story:[/] {escape(given)} was minted by {escape(authority)}; "
            f"this site's item ids are tag:{escape(ours)},…",
            highlight=False,
        )
        raise typer.Exit(EXIT_CONFIG)
    edition = given.rpartition("/")[2]
    if edition not in loaded.settings.editions:
        err.print(
            f"[bold red]not our story:[/] {escape(given)} names edition "
            f"{escape(repr(edition))}; this site publishes {', '.join(loaded.settings.editions)}",
            highlight=False,
        )
        raise typer.Exit(EXIT_CONFIG)


def _spellings(given: str) -> list[str]:
    """The ids `given` may stand for, as given first."""
    found = [given]
    if given.startswith("tag:") and given.count(":") >= 3:
        # tag:AUTHORITY,2025:SOURCE:GUID/EDITION (items.item_id)
        story = given.split(":", 2)[2].rpartition("/")[0]
        found += [unquote(story), story]
    if "%" in given:
        found.append(unquote(given))
    return found


def _unknown(exc: StoreError) -> NoReturn:
    err.print(f"[bold red]unknown story:[/] {escape(str(exc))}", highlight=False)
    raise typer.Exit(EXIT_CONFIG)


def _publish(loaded: cfg.Config, store: Store, *, full: bool) -> None:
    """Ask the running worker to publish, or publish here; exit with the outcome."""
    try:
        workers = running_workers(store)
        if workers:
            # Taken by whichever worker looks first; on a shared store it publishes under the
            # publish lock like any publish.
            store.request("publish", "all" if full else "")
            wake(workers)
            out.print(f"asked {who(workers)} to publish; it does within seconds", highlight=False)
            raise typer.Exit(EXIT_OK)
    except StoreError as exc:
        fatal(exc)
    check_output(loaded)
    lock(store, f"syndication publish {__version__}", loaded)
    # Imported here: commands that only ask a worker need no stage.
    from syndication.publish import publish as publish_now

    try:
        # On a shared store another `once` or `publish` may be publishing: wait for it.
        with store.publishing(wait=None):
            report = publish_now(loaded, store, full=full, look=True)
    except StoreError as exc:
        fatal(exc)
    except OSError as exc:
        fatal(f"cannot write the output: {exc}")
    finally:
        with contextlib.suppress(StoreError):
            unlock(store)
    how = f"every file ({report.why})" if report.full else "what changed"
    out.print(
        f"published {how}: {report.rendered} feed document(s) rendered{on_cores(report)}, "
        f"{len(report.written)} file(s) written, {len(report.removed)} removed",
        highlight=False,
    )
    for error in report.errors:
        err.print(f"[red]feed not published:[/] {escape(error)}", highlight=False)
    if report.hub_error:
        out.print(f"  [yellow]{escape(report.hub_error)}[/]", highlight=False)
    raise typer.Exit(EXIT_PARTIAL if report.errors else EXIT_OK)
