"""A throwaway PostgreSQL server for the tests: the PostgreSQL half of the suite.

Owns: finding PostgreSQL's programs (Debian's /usr/lib/postgresql/N/bin, `pg_config
--bindir`, or PATH), starting a private cluster in a temporary folder on a free loopback port
(as the `postgres` user when we are root: initdb and the server refuse to run as root), a
fresh database per test, and stopping it all at the end. `$SYNDICATION_TEST_POSTGRES` (a
SQLAlchemy URL of a server whose user may create databases) uses that server instead.

Why a cluster of our own rather than pytest-postgresql: its process fixture refuses to run as
root, which is how CI runs here; starting the server is three commands (below).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ENV_URL = "SYNDICATION_TEST_POSTGRES"
_names = itertools.count(1)


def binaries() -> Path | None:
    """The folder holding initdb, pg_ctl and postgres (the newest version), or None."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if candidates:
        return candidates[-1].parent
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        found = subprocess.run(
            ["pg_config", "--bindir"], capture_output=True, text=True, check=True
        ).stdout.strip()
        if found and (Path(found) / "initdb").exists():
            return Path(found)
    on_path = shutil.which("initdb")
    return Path(on_path).resolve().parent if on_path else None


@dataclass
class Server:
    """A PostgreSQL server the tests may create databases on."""

    url: str  # of its maintenance database, with a user allowed to CREATE DATABASE
    version: str = ""
    folder: Path | None = None  # our own cluster's, when we started it
    _run_as: list[str] = field(default_factory=list)
    _bin: Path | None = None
    _options: str = ""  # the server's command-line options, for resume()

    def database_url(self, name: str) -> str:
        return make_url(self.url).set(database=name).render_as_string(hide_password=False)

    def create_database(self) -> str:
        """A new empty database; its SQLAlchemy URL."""
        name = f"syndication_test_{os.getpid()}_{next(_names)}"
        self._admin(f'CREATE DATABASE "{name}"')
        return self.database_url(name)

    def drop_database(self, url: str) -> None:
        name = make_url(url).database
        # FORCE: a worker the test killed may have left a connection the server has not
        # noticed yet.
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _admin(self, statement: str) -> None:
        engine = create_engine(self.url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(text(statement))
        finally:
            engine.dispose()

    @property
    def ours(self) -> bool:
        """Whether we started this server (and may stop and start it in a test)."""
        return self.folder is not None

    def pause(self) -> None:
        """Shut the server down (fast: open connections are cut), keeping its data."""
        assert self.folder is not None and self._bin is not None
        subprocess.run(
            [*self._run_as, str(self._bin / "pg_ctl"), "-D", str(self.folder / "data"),
             "-m", "fast", "-w", "stop"],
            capture_output=True, text=True, check=True, timeout=60,
        )  # fmt: skip

    def resume(self) -> None:
        """Start it again, on the same port, with its data."""
        assert self.folder is not None and self._bin is not None
        subprocess.run(
            [*self._run_as, str(self._bin / "pg_ctl"), "-D", str(self.folder / "data"), "-l",
             str(self.folder / "log"), "-w", "-t", "60", "-o", self._options, "start"],
            capture_output=True, text=True, check=True, timeout=90,
        )  # fmt: skip

    def stop(self) -> None:
        if self.folder is None or self._bin is None:
            return
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            subprocess.run(
                [*self._run_as, str(self._bin / "pg_ctl"), "-D", str(self.folder / "data"),
                 "-m", "immediate", "-w", "stop"],
                capture_output=True,
                timeout=30,
            )  # fmt: skip
        shutil.rmtree(self.folder, ignore_errors=True)


def start() -> Server | str:
    """A server for the tests (ours, started now, or $SYNDICATION_TEST_POSTGRES), or the
    reason there can be none on this machine."""
    given = os.environ.get(ENV_URL)
    if given:
        server = Server(url=given)
        try:
            server.version = _version(given)
        except Exception as exc:
            return f"${ENV_URL} ({make_url(given).render_as_string()}) does not answer: {exc}"
        return server
    found = binaries()
    if found is None:
        return (
            "PostgreSQL is not installed (no initdb found): "
            "apt-get install -y --no-install-recommends postgresql"
        )
    run_as: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="syndication-pg-"))
    if os.geteuid() == 0:
        # initdb and postgres refuse to run as root: as the `postgres` user Debian creates.
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(folder, ignore_errors=True)
            return "running as root and there is no `postgres` user to run PostgreSQL as"
        os.chown(folder, owner.pw_uid, owner.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    server = Server(url="", folder=folder, _run_as=run_as, _bin=found)
    try:
        subprocess.run(
            [*run_as, str(found / "initdb"), "-D", str(folder / "data"), "-A", "trust",
             "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale=C.UTF-8"],
            capture_output=True, text=True, check=True, timeout=120,
        )  # fmt: skip
        port = _free_port()
        options = (
            f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        server._options = options
        server.resume()
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        detail = getattr(exc, "stderr", "") or ""
        log = folder / "log"
        if log.exists():
            detail += log.read_text(errors="replace")[-2000:]
        server.stop()
        return f"could not start PostgreSQL from {found}: {exc} {detail.strip()}"
    server.url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    try:
        server.version = _version(server.url)
    except Exception as exc:
        server.stop()
        return f"PostgreSQL started from {found} but does not answer: {exc}"
    return server


def _version(url: str) -> str:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return str(conn.execute(text("SHOW server_version")).scalar())
    finally:
        engine.dispose()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
