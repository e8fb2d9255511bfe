"""Shared fixtures: the fake translation provider, the loopback feed server, a way to write a
configuration and run the real command line against it, the store on each backend (SQLite,
and PostgreSQL on a throwaway server: `store_url`), and the one way into ../shared.

A fresh clone has no ../shared beside it, so a test reads ../shared only through the `shared`
fixture, which skips there. An audit hook enforces it: a test that opens or lists anything
under ../shared without requesting the fixture fails at that read, with or without ../shared
present (so CI, which has it, catches what only a newcomer's machine would show).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest
import yaml

from tests import postgres
from tests.fakeprovider import fake_google  # noqa: F401  (fixture)
from tests.feedserver import FeedServer

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "config" / "articles"
PARTNER_FEED = REPO / "config" / "feeds" / "partner-export.xml"
SHARED = REPO.parent / "shared"  # tests: through the `shared` fixture only (see above)
# Translation pointed at a closed port: how the tests run a cycle "offline".
OFFLINE_TRANSLATION: dict[str, Any] = {
    "chain": ["google"],
    "providers": {"google": {"base_url": "http://127.0.0.1:9/m"}},
}


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run_cli(
    *args: str, timeout: float = 120, env: dict[str, str] | None = None, cwd: Path | None = None
) -> Result:
    """The real command line in a child process, exactly as an operator runs it (from the
    repository's folder unless `cwd`)."""
    full_env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", **(env or {})}
    done = subprocess.run(
        [sys.executable, "-m", "syndication", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        cwd=cwd or REPO,
    )
    return Result(done.returncode, done.stdout, done.stderr)


def start_cli(*args: str) -> subprocess.Popen[str]:
    """The real command line started in a child process (stdout and stderr together), for a
    test to watch while it runs; the caller ends it and reads its output."""
    return subprocess.Popen(
        [sys.executable, "-m", "syndication", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1"},
        cwd=REPO,
    )


def write_config(folder: Path, **overrides: Any) -> Path:
    """A configuration in `folder` (paths relative to it), with sample local articles.

    Its store is the running test's PostgreSQL database when the test runs on that backend
    (the `store_url` fixture), else SQLite in `folder`/data."""
    articles = folder / "articles"
    if not articles.exists():
        shutil.copytree(SAMPLES, articles)
    data: dict[str, Any] = {
        "site": {"base_url": "https://feeds.example.kz/"},
        "editions": ["kk", "zh", "en"],
        "store": _postgres_store[-1] if _postgres_store else "sqlite:///data/test.db",
        "output": "public",
        "sources": [{"id": "newsroom", "articles": "articles", "language": "kk"}],
        "translation": {"chain": ["google"], "timeout": "5s", "budget": "60s"},
    }
    data.update(overrides)
    path = folder / "syndication.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under `folder` with its bytes and mtime."""
    return {
        p.relative_to(folder).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    """Partner feeds served over real HTTP on 127.0.0.1, with a request log."""
    server = FeedServer().start()
    yield server
    server.stop()


# -- the store on each backend -----------------------------------------------------------

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]
_postgres_store: list[str] = []  # the running test's PostgreSQL database, for write_config
_postgres: dict[str, Any] = {}  # the session's server ("server"), or why none ("missing")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[postgres.Server]:
    """A PostgreSQL server for the session: started here (tests/postgres.py) or given by
    $SYNDICATION_TEST_POSTGRES. Without one the PostgreSQL half skips (fails in CI)."""
    found = postgres.start()
    if isinstance(found, str):
        _postgres["missing"] = found
        unavailable(f"PostgreSQL half: {found}")
    _postgres["server"] = found
    try:
        yield found
    finally:
        found.stop()


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The test's store, once on SQLite (a file in tmp_path) and once on PostgreSQL (a fresh
    database); `write_config` puts the same one in the YAML. A module whose tests should all
    run on both says `pytestmark = pytest.mark.usefixtures("store_url")`."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'data' / 'test.db'}"
        return
    server: postgres.Server = request.getfixturevalue("postgres_server")
    url = server.create_database()
    _postgres_store.append(url)
    try:
        yield url
    finally:
        _postgres_store.remove(url)
        server.drop_database(url)


@pytest.fixture
def postgres_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh PostgreSQL database, for what only a shared store does (several workers)."""
    request.node.add_marker(pytest.mark.postgres)
    server: postgres.Server = request.getfixturevalue("postgres_server")
    url = server.create_database()
    try:
        yield url
    finally:
        server.drop_database(url)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """In a pytest-xdist worker: hand this process's PostgreSQL server (or why none) to the
    controlling process, which prints the summary."""
    output = getattr(session.config, "workeroutput", None)
    if output is not None:
        output["postgres"] = _postgres_said()


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook: absent when run without it
def pytest_testnodedown(node: Any, error: object) -> None:
    said = getattr(node, "workeroutput", {}).get("postgres")
    if said:
        _workers_postgres.append(said)


_workers_postgres: list[dict[str, str]] = []  # what each xdist worker said of its server


def _postgres_said() -> dict[str, str]:
    server = _postgres.get("server")
    if server is None:
        return {"missing": _postgres["missing"]} if "missing" in _postgres else {}
    where = f"a server of its own ({server.folder})" if server.folder else f"${postgres.ENV_URL}"
    return {"version": server.version, "where": where}


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say whether the PostgreSQL half ran: a skipped half must be seen, not guessed."""
    outcomes: Counter[str] = Counter()
    seen: set[str] = set()
    for outcome in ("failed", "error", "skipped", "passed"):
        for report in terminalreporter.stats.get(outcome, []):
            nodeid = getattr(report, "nodeid", "")
            if "postgres" in getattr(report, "keywords", {}) and nodeid not in seen:
                seen.add(nodeid)
                outcomes[outcome] += 1
    if not seen:
        return
    counts = ", ".join(f"{n} {k}" for k, n in outcomes.items())
    said = [s for s in [_postgres_said(), *_workers_postgres] if s]
    servers = [s for s in said if "version" in s]
    if servers:
        on = "; ".join(f"PostgreSQL {s['version']} ({s['where']})" for s in servers)
        terminalreporter.write_line(f"PostgreSQL half: {counts}, on {on}")
    else:
        why = next((s["missing"] for s in said if "missing" in s), "see the skips above")
        terminalreporter.write_line(f"PostgreSQL half NOT RUN ({counts}): {why}", yellow=True)


@pytest.fixture
def shared() -> Path:
    """../shared (the sample corpus); skips the test where it is absent (a fresh clone)."""
    if not (SHARED / "corpus").is_dir():
        pytest.skip("../shared/corpus is not here (a fresh clone has none)")
    return SHARED


def shared_names(folder: str) -> list[str]:
    """File names in ../shared/<folder>, for parametrizing at collection; empty in a fresh
    clone. The test itself reads each file through the `shared` fixture."""
    path = SHARED / folder
    return sorted(p.name for p in path.iterdir() if p.is_file()) if path.is_dir() else []


# -- the guard: ../shared only through the `shared` fixture ----------------------------------


class SharedWithoutFixture(RuntimeError):
    """A test read ../shared without the `shared` fixture: it fails on a fresh clone."""


_SHARED_ROOTS = tuple({os.path.abspath(SHARED), os.path.realpath(SHARED)})
# Audit events that read a file or a folder (stat, as in is_file(), is no read: a skip check).
_READS = frozenset({"open", "os.listdir", "os.scandir"})
_running: list[pytest.Item] = []


def _shared_path(target: object) -> str | None:
    """`target` as an absolute path when it lies under ../shared, else None."""
    if target is None or isinstance(target, int):  # listdir(), or a file descriptor
        return None
    try:
        name = os.path.abspath(os.fsdecode(target))  # type: ignore[call-overload]
    except TypeError:
        return None
    inside = any(name == root or name.startswith(root + os.sep) for root in _SHARED_ROOTS)
    return name if inside else None


def _audit(event: str, args: tuple[object, ...]) -> None:
    if event not in _READS or not _running or not args:
        return
    name = _shared_path(args[0])
    item = _running[-1]
    if name is not None and "shared" not in getattr(item, "fixturenames", ()):
        raise SharedWithoutFixture(
            f"{item.nodeid} reads {name} without the `shared` fixture; a fresh clone has "
            "no ../shared: take `shared: Path` and read through it"
        )


sys.addaudithook(_audit)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """Tells the guard which test is running (setup, call and teardown)."""
    _running.append(item)
    try:
        yield
    finally:
        _running.pop()


SYSTEM = Path(__file__).resolve().parent / "system"
# .ci/run sets this: there, a system test that cannot find what it needs (a browser, nginx,
# a Docker engine) fails instead of skipping, so CI never passes by skipping one.
REQUIRED = os.environ.get("SYNDICATION_SYSTEM_TESTS") == "required"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test under tests/system/ is marked `system`: end to end, processes, programs;
    every test taking the `shared` fixture is marked `shared` (what a fresh clone skips)."""
    for item in items:
        if SYSTEM in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.system)
        if "shared" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.shared)


def unavailable(reason: str) -> NoReturn:
    """Skip a test whose outside program is missing, or fail it where CI requires them all."""
    if REQUIRED:
        pytest.fail(f"{reason} (SYNDICATION_SYSTEM_TESTS=required)")
    pytest.skip(f"{reason}; .ci/run installs it")
