"""`syndication status`: the worker, each source's health, the translation backlog.

Owns: what `status` reports on (the YAML's sources and languages, or, when the YAML on disk
does not load, those recorded in the store, shown beside the file's problems), the document
`status --json` prints (:func:`status_data`, documented in README; a document even when there
is no status to give), the tables shown otherwise, and the exit code (2 with an invalid YAML,
3 when the store cannot be read). It only reads: a status never creates the store it reports
on.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.table import Table

from syndication import config as cfg
from syndication.cli.common import (
    EXIT_CONFIG,
    EXIT_OK,
    ConfigOption,
    config_path,
    err,
    fatal,
    found_store,
    masked_stdout,
    out,
    plain,
    print_problems,
    redact_with,
    safe,
)
from syndication.errors import ConfigError, StoreError
from syndication.lang import PROVIDER_CODES
from syndication.store import Store
from syndication.translate import outages

SHOWN_NOTES = 10  # a source's notes listed under the table (`--json` has every one)
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]


def status(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Show sources (health, last and next fetch, errors), translation backlog, last publish.

    Exit code 2 when the YAML on disk is invalid (its problems shown beside the status,
    which comes from the store), 3 when the store cannot be read, else 0."""
    path = config_path(config)
    found = _subject(path)
    if isinstance(found, Subject):
        store_url, problems = found.store_url, found.problems
        unset = cfg.unset_variables(store_url)
        if unset:  # the worker's environment has them; without them the store is unknown
            why = f"store: needs {', '.join(unset)}, not set here"
            _unknown_store(path, problems, why, as_json)
    else:
        salvaged, problems = found
        if salvaged.store_url is None:  # nothing to report on: the problems alone
            _unknown_store(path, problems, salvaged.why_not, as_json, show_problems=True)
        store_url = salvaged.store_url
    code = EXIT_CONFIG if problems else EXIT_OK
    try:
        store = found_store(store_url)
        if store is None:
            _no_store(path, store_url, problems, as_json)
            raise typer.Exit(code)
        subject = found if isinstance(found, Subject) else _recorded_subject(*found, store)
        data = status_data(subject, store)
    except StoreError as exc:
        if as_json:
            _print_json(_without_store(path, problems, f"no status: {exc}", worker=None))
        fatal(exc)
    if as_json:
        _print_json(data)
        raise typer.Exit(code)
    _print_status(data)
    _print_config_problems(problems, subject.recorded)
    raise typer.Exit(code)


def _print_json(data: dict[str, Any]) -> None:
    masked_stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def _without_store(
    path: Path, problems: list[str], hint: str, worker: dict[str, bool] | None
) -> dict[str, Any]:
    """What `status --json` prints with no store to report on (README): none yet (so no
    worker either), or one it cannot find or read (a worker may well be running on it)."""
    from syndication.model import utcnow

    return {
        "generated": utcnow().isoformat(),
        "config": str(path.resolve()),
        "config_problems": problems,
        "store": None,
        "worker": worker,
        "hint": hint,
    }


def _unknown_store(
    path: Path, problems: list[str], why: str, as_json: bool, show_problems: bool = False
) -> NoReturn:
    """No status: the YAML cannot be read, or its `store:` cannot be made out here. Exit 2;
    with `--json` still a document (monitoring parses it), `why` among its problems when
    they do not say it already (they do when the file cannot be read)."""
    if as_json:
        said = problems if not why.startswith("store:") else [*problems, f"{path}: {why}"]
        _print_json(_without_store(path, said, f"no status: {why}", worker=None))
    else:
        if show_problems:
            print_problems(problems)
        err.print(f"(no status: {why})", highlight=False)
    raise typer.Exit(EXIT_CONFIG)


def _no_store(path: Path, store_url: str, problems: list[str], as_json: bool) -> None:
    if as_json:
        hint = "no store yet: run `syndication once` first"
        _print_json(_without_store(path, problems, hint, worker={"running": False}))
    else:
        # A status must not create the store it reports on (a mistyped path looks empty).
        out.print(
            f"no store yet at {store_url}: run `syndication once` first",
            markup=False,
            highlight=False,
        )
        _print_config_problems(problems, None)


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
    partners: list[dict[str, Any]] = field(default_factory=list)  # cfg.partner_summary()


def _subject(path: Path) -> Subject | tuple[cfg.Salvaged, list[str]]:
    """The YAML as `status` sees it; when it does not load, what can be saved of it and its
    problems. An environment variable this shell lacks is not a problem: the worker has it."""
    try:
        loaded = cfg.load(path, lenient_env=True)
    except ConfigError as exc:
        salvaged = cfg.salvage(path)
        redact_with(salvaged)
        return salvaged, exc.problems
    redact_with(loaded)
    used = loaded.in_use()
    return Subject(
        path=loaded.path,
        store_url=loaded.store_url,
        redact=loaded.redact,
        sources=used["sources"],
        languages=used["languages"],
        problems=loaded.routing_problems(),  # what `run` and `reload` would refuse too
        partners=used["partners"],
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
        partners=used.get("partners") or [],
    )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _health(state: Any) -> str:
    """A source's health in one word: never, ok, gone (the partner answered 410 Gone: polled
    rarely), failing (backing off), moved, or warning (it went in, but with an error: a
    folder's files skipped, its notes)."""
    from syndication.ingest.fetch import is_gone

    if state is None:
        return "never"
    if state.result == "error":
        return "gone" if is_gone(state.error) else "failing"
    if state.redirect:
        return "moved"
    if state.error:
        return "warning"
    return "ok"


def status_data(subject: Subject, store: Store) -> dict[str, Any]:
    """What `status --json` prints (documented in README, "status --json")."""
    from syndication.model import utcnow

    now = utcnow()
    redact = subject.redact
    workers = _workers_data(store)
    return {
        "generated": now.isoformat(),
        "config": str(subject.path),
        "config_problems": subject.problems,
        "store": {"url": redact(store.describe()), "schema": store.version()},
        "worker": _worker_data(store, workers),
        "workers": workers,
        "last_publish": _iso(store.last_publish()),
        "last_file_change": _iso(store.last_file_change()),
        "sources": _sources_data(subject, store),
        "backlog": _backlog_data(subject, store),
        "outages": [
            {**o, "error": redact(o["error"])} for o in outages.recorded(store, PROVIDER_CODES)
        ],
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
        "failed_uploads": [
            {"output": u.target, "path": u.path, "error": redact(u.error), "since": _iso(u.since)}
            for u in store.failed_uploads()
        ],
        # A story's life: what is withdrawn (and by whom, when, why), what waits for its time.
        "withdrawn": [
            {
                "article": w.article.id,
                "by": w.withdrawn_by,
                "at": _iso(w.withdrawn_at),
                "reason": redact(w.withdrawn_reason),
            }
            for w in store.withdrawn_stories()
        ],
        "embargoed": store.embargoed_count(now),
        "partners": _partners_data(subject, store),
    }


def _partners_data(subject: Subject, store: Store) -> list[dict[str, Any]]:
    """Each configured partner's entitlement and who pulled what (README, "For partners")."""
    from syndication.model import utcnow

    since = (utcnow() - timedelta(hours=23)).strftime("%Y-%m-%dT%H")  # this hour and 23 more
    activity = store.partner_activity(since)
    found = []
    for partner in subject.partners:
        seen = activity.get(partner["id"])
        found.append(
            {
                **partner,
                "last_request": _iso(seen.last_request) if seen else None,
                "requests_24h": seen.requests if seen else 0,
                "not_modified_24h": seen.not_modified if seen else 0,
                "last_cursor": {"edition": seen.last_cursor_edition, "cursor": seen.last_cursor}
                if seen and seen.last_cursor
                else None,
                "last_refused": {"at": _iso(seen.last_refused), "from": seen.last_refused_from}
                if seen and seen.last_refused
                else None,
            }
        )
    return found


def _worker_data(store: Store, workers: list[dict[str, Any]]) -> dict[str, Any]:
    """The worker: a SQLite store's lock holder; on a shared store the longest-running live
    `run` (all of them are under "workers")."""
    if store.shared:
        runs = [w for w in workers if w["holder"].startswith("syndication run")]
        if not runs:
            return {"running": False}
        first = runs[0]
        return {"running": True, **{k: first[k] for k in ("holder", "pid", "host", "heartbeat")}}
    holder = store.lock_holder()
    if not holder:
        return {"running": False}
    return {
        "running": bool(holder["alive"]),
        "holder": holder["holder"],
        "pid": holder["pid"],
        "host": holder["host"],
        "heartbeat": _iso(holder["heartbeat"]),
    }


def _workers_data(store: Store) -> list[dict[str, Any]]:
    """Every live worker (`run`, `once`) in the store's registry and what it holds now."""
    return [
        {
            "id": w.id,
            "holder": w.holder,
            "host": w.host,
            "pid": w.pid,
            "started": _iso(w.started),
            "heartbeat": _iso(w.heartbeat),
            "lease_until": _iso(w.expires),
            "address": w.address or None,
            "polling": list(w.sources),
            "translations": w.translations,
            "publishing": w.publishing,
        }
        for w in store.workers()
    ]


def _sources_data(subject: Subject, store: Store) -> list[dict[str, Any]]:
    """Each source `status` reports on: where and when it is polled, and how that went."""
    redact = subject.redact
    states = {st.source_id: st for st in store.source_states()}
    pending = store.pending_by_source()
    sources = []
    for source in subject.sources:
        st = states.get(source["id"])
        health = _health(st)
        sources.append(
            {
                "id": source["id"],
                "kind": source["kind"],
                "location": source["location"],
                "schedule": source["schedule"],
                "health": health,
                "last_fetch": _iso(st.last_attempt) if st else None,
                "last_success": _iso(st.last_success) if st else None,
                "next_fetch": _iso(st.next_due) if st else None,
                "result": st.result if st else "never",
                "failures": st.failures if st else 0,
                "error": redact(st.error) if st else "",
                "notes": [redact(note) for note in st.notes] if st else [],
                "moved_to": redact(st.redirect) if st and st.redirect else None,
                "gone": health == "gone",
                "articles": store.article_count(source["id"]),
                "last_counts": {"new": st.new, "updated": st.updated, "unchanged": st.unchanged}
                if st
                else None,
                "untranslated": pending.get(source["id"], 0),
            }
        )
    return sources


def _backlog_data(subject: Subject, store: Store) -> dict[str, dict[str, int]]:
    """Translations per language and status, 0 included, for every language reported on."""
    backlog = store.backlog()
    return {
        language: {
            k: backlog.get(language, {}).get(k, 0)
            for k in ("translated", "pending", "stale", "failed")
        }
        for language in subject.languages
    }


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
            markup=False,
            highlight=False,
        )
    else:
        out.print("worker: not running", highlight=False)
    if data["workers"]:
        out.print(_workers_table(data["workers"]))
    out.print(
        f"last publish: {_utc(data['last_publish'])} (a file last changed "
        f"{_utc(data['last_file_change'])}); store schema "
        f"{data['store']['schema']}",
        highlight=False,
    )
    _print_failed_uploads(data["failed_uploads"])
    out.print(_sources_table(data["sources"]))
    _print_skipped(data["sources"])
    editions = Table(title="translation backlog", title_justify="left")
    for column in ("language", "translated", "pending", "stale", "failed"):
        editions.add_column(column)
    for language, c in data["backlog"].items():
        editions.add_row(
            language, *(str(c[k]) for k in ("translated", "pending", "stale", "failed"))
        )
    out.print(editions)
    if data["partners"]:
        out.print(_partners_table(data["partners"]))
    for o in data["outages"]:
        when = (
            f"not asked until {_utc(o['until'])} (its Retry-After, 6 h at most)"
            if o["until"]
            else "asked again, once, at the next cycle"
        )
        out.print(
            f"  [yellow]translation provider {o['provider']} down[/] ({o['failures']} "
            f"failure(s) in a row; {when}): {safe(o['error'])}; `syndication retry --failed` "
            "asks it now",
            highlight=False,
        )
    for waiting in data["waiting"]:
        out.print(
            f"  [yellow]{waiting['count']} waiting:[/] {safe(waiting['reason'])}", highlight=False
        )
    for t in data["failed"][:10]:
        out.print(
            f"  [red]failed[/] {safe(t['article'])} → {t['language']} (attempt "
            f"{t['attempts']}): {safe(t['error'])}",
            highlight=False,
        )
    for w in data["withdrawn"][:10]:
        why = f": {w['reason']}" if w["reason"] else ""
        out.print(
            f"  withdrawn {w['article']} (by {w['by']}, {_utc(w['at'])}){why}",
            markup=False,
            highlight=False,
        )
    if data["embargoed"]:
        out.print(f"  {data['embargoed']} under embargo", highlight=False)


def _print_failed_uploads(failed: list[dict[str, Any]]) -> None:
    """Files the object store did not take: each publish tries them again."""
    if not failed:
        return
    outputs = ", ".join(dict.fromkeys(f["output"] for f in failed))
    out.print(
        f"[bold red]{len(failed)} file(s) not uploaded[/] to {safe(outputs)} (each publish tries "
        f"again), failing since {_utc(failed[0]['since'])}:",
        highlight=False,
    )
    for f in failed[:5]:
        out.print(f"  {f['error']}", markup=False, highlight=False)
    if len(failed) > 5:
        out.print(f"  … and {len(failed) - 5} more (status --json)", highlight=False)


def _print_skipped(sources: list[dict[str, Any]]) -> None:
    """Under the table, what a source in warning left out (a folder's skipped files), each
    whole: the table's cell has room for the count only."""
    for s in sources:
        if s["health"] != "warning":
            continue
        out.print(f"  [yellow]{safe(s['id'])}: {safe(s['error'])}:[/]", highlight=False)
        for note in s["notes"][:SHOWN_NOTES]:
            out.print(f"    {note}", markup=False, highlight=False)
        if len(s["notes"]) > SHOWN_NOTES:
            more = len(s["notes"]) - SHOWN_NOTES
            out.print(f"    … and {more} more (status --json)", highlight=False)


def _workers_table(workers: list[dict[str, Any]]) -> Table:
    table = Table(title="workers (times in UTC)", title_justify="left")
    for column in ("host", "pid", "holder", "started", "heartbeat", "serves", "holds now"):
        table.add_column(column)
    for w in workers:
        holds = [f"polling {', '.join(w['polling'])}"] if w["polling"] else []
        if w["translations"]:
            holds.append(f"{w['translations']} translation(s)")
        if w["publishing"]:
            holds.append("publishing")
        table.add_row(
            plain(w["host"]),
            str(w["pid"]),
            plain(w["holder"]),
            _short(w["started"]),
            _short(w["heartbeat"], with_date=False),
            plain(w["address"] or ""),
            plain("; ".join(holds) or "nothing"),
        )
    return table


def _sources_table(sources: list[dict[str, Any]]) -> Table:
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
    for s in sources:
        counts = s["last_counts"]
        note = (f"moved to {s['moved_to']}; " if s["moved_to"] else "") + s["error"]
        health = s["health"] + (f" ({s['failures']}×)" if s["failures"] else "")
        table.add_row(
            plain(s["id"]),
            health,
            _short(s["last_fetch"]) or "never",
            s["result"],
            str(s["articles"]),
            f"{counts['new']}/{counts['updated']}/{counts['unchanged']}" if counts else "",
            str(s["untranslated"]),
            _short(s["next_fetch"]),
            plain(note[:80]),
            style={"failing": "red", "gone": "red", "warning": "yellow"}.get(s["health"], ""),
        )
    return table


def _partners_table(partners: list[dict[str, Any]]) -> Table:
    table = Table(title="partners (last 24 h; times in UTC)", title_justify="left")
    for column in (
        "partner",
        "editions",
        "sources",
        "topics",
        "rights",
        "rate",
        "last request",
        "requests",
        "304s",
        "API cursor",
        "last 401",
    ):
        table.add_column(column)
    for p in partners:
        cursor = p["last_cursor"]
        refused = p["last_refused"]
        table.add_row(
            plain(p["id"]),
            " ".join(p["editions"]),
            plain(" ".join(p["sources"]) or "all"),  # empty: no limit
            plain(" ".join(p["topics"]) or "all"),
            p["rights"],
            plain(p["rate"] or ""),
            _short(p["last_request"]) or "never",
            str(p["requests_24h"]),
            str(p["not_modified_24h"]),
            plain(f"{cursor['edition']} {cursor['cursor']}" if cursor else ""),
            plain(f"{_short(refused['at'])} from {refused['from']}" if refused else ""),
        )
    return table
