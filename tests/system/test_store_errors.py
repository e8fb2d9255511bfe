"""A store that cannot be used, through the CLI: every message names the store (the SQLite
file, or the server with its password masked) and says what to do, without SQLAlchemy's
"Background on this error" boilerplate. A SQLite file locked by another real process (the
store URL's `?timeout=` shortening the wait), a file damaged in the test, a file that is not
SQLite at all, a PostgreSQL server that does not answer or refuses the role or database.
"""

from __future__ import annotations

import random
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests import postgres
from tests.conftest import OFFLINE_TRANSLATION, Result, run_cli, write_config

HOLD = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("held", flush=True)
time.sleep(120)
"""


def _no_boilerplate(result: Result) -> None:
    assert "sqlalche.me" not in result.output
    assert "Background on this error" not in result.output
    assert "Traceback" not in result.output


def _stored(tmp_path: Path, store: str = "sqlite:///data/test.db") -> Path:
    """A configuration whose store holds a cycle's stories (translation offline)."""
    config = write_config(tmp_path, store=store, translation=OFFLINE_TRANSLATION)
    first = run_cli("once", "--config", str(config))
    assert first.code in (0, 1), first.output
    return config


def test_a_store_locked_by_another_process_names_the_file_the_holder_and_the_wait(
    tmp_path: Path,
) -> None:
    config = _stored(tmp_path, "sqlite:///data/test.db?timeout=1")
    db = tmp_path / "data" / "test.db"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(db)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        result = run_cli("once", "--config", str(config))
    finally:
        holder.kill()
        holder.wait()
    assert result.code == 3, result.output
    assert f"store {db} is locked by another process" in result.stderr, result.stderr
    assert f"pid {holder.pid} (python" in result.stderr, result.stderr
    assert "waited 1 s" in result.stderr, result.stderr
    assert "?timeout=" in result.stderr  # how to wait longer
    _no_boilerplate(result)
    # Let go, the same store works again.
    again = run_cli("once", "--config", str(config))
    assert again.code in (0, 1), again.output


def test_a_damaged_store_says_so_and_to_restore_a_backup(tmp_path: Path) -> None:
    config = _stored(tmp_path)
    db = tmp_path / "data" / "test.db"
    assert not (tmp_path / "data" / "test.db-wal").exists()  # all in the file itself
    size = db.stat().st_size
    # 20 KB of noise from the middle on, as a failing disk or a bad copy leaves it.
    noise = random.Random(7).randbytes(20_000)
    with db.open("r+b") as file:
        file.seek(size // 2)
        file.write(noise[: size - size // 2])
    for command in ("status", "once"):
        result = run_cli(command, "--config", str(config))
        assert result.code == 3, (command, result.output)
        assert f"store {db} is damaged" in result.stderr, (command, result.stderr)
        assert "restore it from a backup" in result.stderr, (command, result.stderr)
        _no_boilerplate(result)


def test_a_file_that_is_not_sqlite_names_the_store_without_boilerplate(tmp_path: Path) -> None:
    config = write_config(tmp_path, translation=OFFLINE_TRANSLATION)
    db = tmp_path / "data" / "test.db"
    db.parent.mkdir()
    db.write_text("this is not a database, just some text\n" * 100)
    for command in ("status", "once"):
        result = run_cli(command, "--config", str(config))
        assert result.code == 3, (command, result.output)
        assert f"store {db} is damaged or not a SQLite database" in result.stderr, result.stderr
        assert "restore it from a backup" in result.stderr
        _no_boilerplate(result)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_postgresql_server_that_does_not_answer_is_named_password_masked(
    tmp_path: Path,
) -> None:
    port = _closed_port()
    url = f"postgresql+psycopg://synd:s3cret-pw@127.0.0.1:{port}/synd"
    config = write_config(tmp_path, store=url, translation=OFFLINE_TRANSLATION)
    for command in ("status", "once"):
        result = run_cli(command, "--config", str(config))
        assert result.code == 3, (command, result.output)
        named = f"store postgresql+psycopg://synd:***@127.0.0.1:{port}/synd"
        assert named in result.stderr, result.stderr
        assert "Connection refused" in result.stderr
        assert "s3cret-pw" not in result.output
        assert "(psycopg.OperationalError)" not in result.output
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr  # one line
        _no_boilerplate(result)


@pytest.mark.postgres
def test_a_postgresql_role_or_database_refused_is_named(
    tmp_path: Path, postgres_server: postgres.Server
) -> None:
    server = make_url(postgres_server.url)
    cases = {
        "no such database": server.set(database="no_such_db", password="s3cret-pw"),
        "no such role": server.set(username="no_such_role", password="s3cret-pw"),
    }
    for what, url in cases.items():
        config = write_config(
            tmp_path,
            store=url.render_as_string(hide_password=False),
            translation=OFFLINE_TRANSLATION,
        )
        result = run_cli("status", "--config", str(config))
        assert result.code == 3, (what, result.output)
        assert f"store {url.render_as_string(hide_password=True)}" in result.stderr, (
            what,
            result.stderr,
        )
        assert ("no_such_db" if what == "no such database" else "no_such_role") in result.stderr
        assert "s3cret-pw" not in result.output
        _no_boilerplate(result)


def test_a_store_timeout_that_is_no_number_of_seconds_is_refused_at_its_line(
    tmp_path: Path,
) -> None:
    config = write_config(tmp_path, store="sqlite:///data/test.db?timeout=-3")
    checked = run_cli("check", "--config", str(config))
    assert checked.code == 2, checked.output
    line = next(
        n for n, text in enumerate(config.read_text().splitlines(), 1) if text.startswith("store:")
    )
    assert f"syndication.yaml:{line}: store sqlite:///" in checked.output
    assert "timeout='-3' in the store URL is not a number of seconds" in checked.output
