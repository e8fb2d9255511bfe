"""The command line's promises: secrets never printed nor published, clear refusals with
the right exit codes, and a clean stop on SIGTERM at any moment."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import OFFLINE_TRANSLATION, PARTNER_FEED, REPO, run_cli, write_config
from tests.feedserver import FeedServer


def test_secrets_in_urls_are_never_printed_nor_published(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    # (The server's routes are whole paths: the query with the token is part of it.)
    url = feed_server.add("/feed.xml?token=tok-VERYSECRET", PARTNER_FEED.read_bytes(), etag='"v1"')
    host = url.split("//", 1)[1].split("/", 1)[0]
    # A partner that moved its feed keeps the query: the token is in the new address too.
    feed_server.add(
        "/moved.xml?token=tok-VERYSECRET",
        status=301,
        headers={"Location": "/feed2.xml?token=tok-VERYSECRET"},
    )
    feed_server.add("/feed2.xml?token=tok-VERYSECRET", PARTNER_FEED.read_bytes())
    config = write_config(
        tmp_path,
        sources=[
            {
                "id": "partner",
                "url": f"http://reader:{'${FEED_PW}'}@{host}/feed.xml?token=${{FEED_TOKEN}}",
            },
            {"id": "gone", "url": f"http://{host}/missing.xml?token=${{FEED_TOKEN}}"},
            {"id": "moved", "url": f"http://{host}/moved.xml?token=${{FEED_TOKEN}}"},
        ],
        translation=OFFLINE_TRANSLATION,
    )
    env = {"FEED_TOKEN": "tok-VERYSECRET", "FEED_PW": "pw-VERYSECRET"}
    outputs = [
        run_cli(command, "--config", str(config), env=env).output
        for command in ("check", "sources", "once", "status")
    ]
    assert all("VERYSECRET" not in output for output in outputs), outputs
    assert "***" in outputs[1]
    # An operator's shell lacks the variables the worker had: what the store recorded (the
    # failed source's error names its URL) was masked when it was written.
    for command in (["status"], ["status", "--json"]):
        shown = run_cli(*command, "--config", str(config)).output
        assert "VERYSECRET" not in shown and "gone" in shown, shown
        assert "feed2.xml?token=***" in " ".join(shown.split()), shown  # where it moved
    published = [p.read_bytes() for p in (tmp_path / "public").rglob("*") if p.is_file()]
    assert published and not any(b"VERYSECRET" in data for data in published)
    # The token really was sent: the partner saw it.
    assert feed_server.requests_for("/feed.xml?token=tok-VERYSECRET")
    # Nor does the store hold one (its backups, a PostgreSQL others read): the location it
    # keeps, to tell an edited URL, is masked, with a digest of the whole; the same URL is
    # still the same location (a conditional GET), and a new secret is a new one.
    assert run_cli("once", "--config", str(config), env=env).code == 1  # `gone` fails
    asked = feed_server.requests_for("/feed.xml?token=tok-VERYSECRET")
    assert len(asked) == 2 and asked[-1].header("If-None-Match") == '"v1"'
    env["FEED_TOKEN"] = "tok-NEWSECRET"
    run_cli("once", "--config", str(config), env=env)
    (fresh,) = feed_server.requests_for("/feed.xml?token=tok-NEWSECRET")
    assert fresh.header("If-None-Match") is None
    stored = b"".join(p.read_bytes() for p in (tmp_path / "data").iterdir() if p.is_file())
    assert stored and b"VERYSECRET" not in stored and b"NEWSECRET" not in stored


def test_a_credential_written_in_a_source_url_is_never_published(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """A partner's token written into the YAML itself (no `${VAR}` marks it a secret): every
    feed names the source without it, its other parameters kept; a feed that names no page of
    its own is not given the URL with the token either."""
    query = "?format=rss&access_token=tok-VERYSECRET&API-Key=key-VERYSECRET"
    body = (
        b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Wire</title>'
        b"<item><title>Steppe wire story</title><link>https://wire.example.kz/1</link>"
        b"<description>What the wire says.</description></item></channel></rss>"
    )
    url = feed_server.add(f"/medium.xml{query}", body)
    config = write_config(
        tmp_path,
        editions=["en"],
        sources=[{"id": "wire", "url": url, "language": "en"}],
        translation=OFFLINE_TRANSLATION,
    )
    assert run_cli("once", "--config", str(config)).code == 0
    assert feed_server.requests_for(f"/medium.xml{query}")
    public = tmp_path / "public"
    published = {p: p.read_bytes() for p in public.rglob("*") if p.is_file()}
    assert not [p for p, data in published.items() if b"VERYSECRET" in data]
    shown = feed_server.url("/medium.xml?format=rss")
    for folder in ("en", "en/sources/wire"):
        rss = (public / folder / "rss.xml").read_text(encoding="utf-8")
        assert f'<source url="{shown}">' in rss, rss
        atom = (public / folder / "atom.xml").read_text(encoding="utf-8")
        assert f'<link rel="self" href="{shown}"/>' in atom, atom


def test_missing_database_driver_is_a_clear_refusal(tmp_path: Path) -> None:
    config = write_config(tmp_path, store="mysql+nosuchdriver://u:p@127.0.0.1/db")
    result = run_cli("check", "--config", str(config))
    assert result.code == 2, result.output
    assert "Traceback" not in result.output
    config = write_config(tmp_path, store="postgresql+pg8000://u:p@127.0.0.1/db")
    check = run_cli("check", "--config", str(config))
    once = run_cli("once", "--config", str(config))
    assert check.code == 2 and "pg8000" in check.output and "pip install" in check.output
    assert once.code == 3 and "pg8000" in once.output and "Traceback" not in once.output


def test_a_store_url_that_is_not_a_url_is_a_config_error(tmp_path: Path) -> None:
    result = run_cli("check", "--config", str(write_config(tmp_path, store="notaurl")))
    assert result.code == 2 and "syndication.yaml:7: store:" in result.output


def test_once_refuses_what_check_refuses(tmp_path: Path) -> None:
    # A language the chain's one provider does not translate (a language no provider knows,
    # such as tlh, is refused when the YAML is read, before any chain is asked).
    config = write_config(
        tmp_path,
        sources=[{"id": "n", "articles": "articles", "language": "de"}],
        translation={
            "chain": ["mymemory"],
            "providers": {"mymemory": {"base_url": "http://127.0.0.1:9/get"}},
        },
    )
    check = run_cli("check", "--config", str(config))
    once = run_cli("once", "--config", str(config))
    assert check.code == once.code == 2
    assert "de→kk" in once.output and not (tmp_path / "public").exists()


def test_sigterm_while_starting_stops_cleanly(tmp_path: Path) -> None:
    config = write_config(
        tmp_path, serve={"host": "127.0.0.1", "port": 0}, translation=OFFLINE_TRANSLATION
    )
    # From the moment the command runs (the interpreter itself starts in well under a second).
    for delay in (1.0, 2.0, 3.5):
        process = subprocess.Popen(
            [sys.executable, "-m", "syndication", "run", "--config", str(config)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=os.environ.copy(),
        )
        time.sleep(delay)
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=15)
        assert process.returncode == 0, (delay, output)
        assert time.monotonic() - started < 5
        assert "Traceback" not in output


def test_status_does_not_create_the_store_it_reports_on(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    result = run_cli("status", "--config", str(config))
    assert result.code == 0 and "no store yet" in result.output
    assert not (tmp_path / "data").exists()


def test_an_unreadable_article_file_is_listed_and_fails_the_cycle(tmp_path: Path) -> None:
    articles = tmp_path / "mine"
    articles.mkdir()
    (articles / "good.md").write_text(
        "---\ntitle: A fine story\nlanguage: en\n---\nIt is fine.\n", encoding="utf-8"
    )
    (articles / "empty.md").write_text("", encoding="utf-8")
    config = write_config(
        tmp_path,
        editions=["en"],
        sources=[{"id": "desk", "articles": "mine", "language": "en"}],
    )
    result = run_cli("once", "--config", str(config))
    assert result.code == 1, result.output
    assert "empty.md" in result.stderr and "empty article" in result.stderr
    assert (tmp_path / "public" / "en" / "rss.xml").read_text(encoding="utf-8").count("<item>") == 1


def test_config_may_come_before_or_after_the_command(tmp_path: Path) -> None:
    config = str(write_config(tmp_path))
    before = run_cli("--config", config, "check")
    after = run_cli("check", "--config", config)
    assert before.code == after.code == 0
    assert config in before.output and config in after.output


def test_status_without_a_worker_reads_the_store_despite_a_broken_yaml(tmp_path: Path) -> None:
    # The store URL as the sample writes it: from the environment, with a default.
    config = write_config(
        tmp_path, store="${NOT_SET_STORE:-sqlite:///data/test.db}", translation=OFFLINE_TRANSLATION
    )
    assert run_cli("once", "--config", str(config)).code == 1  # translator offline
    good = config.read_text(encoding="utf-8")
    config.write_text(good.replace("output: public", "output: [public"), encoding="utf-8")
    answer = run_cli("status", "--json", "--config", str(config))
    assert answer.code == 2, answer.output
    status = json.loads(answer.stdout)
    assert status["worker"] == {"running": False}
    (newsroom,) = status["sources"]
    assert newsroom["id"] == "newsroom" and newsroom["articles"] == 4
    assert status["store"]["url"].endswith("/data/test.db")
    (problem,) = status["config_problems"]
    assert problem.startswith(f"{config}:") and "invalid YAML" in problem
    # No file at all: nothing to report on, said plainly.
    config.unlink()
    missing = run_cli("status", "--config", str(config))
    assert missing.code == 2 and "no such file" in missing.output


def test_run_on_a_port_another_program_holds_is_fatal(tmp_path: Path) -> None:
    """`run` exits 3 naming the address, as `serve` does, before it polls or publishes
    anything: exit 0 would tell systemd (`Restart=on-failure`) all is well."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        config = write_config(
            tmp_path, serve={"host": "127.0.0.1", "port": port}, translation=OFFLINE_TRANSLATION
        )
        result = run_cli("run", "--config", str(config), timeout=60)
    assert result.code == 3, result.output
    assert f"cannot listen on 127.0.0.1:{port}" in result.output
    assert not (tmp_path / "public" / "index.html").exists()  # nothing started


def test_a_killed_command_is_not_taken_for_a_running_worker(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """A `once` killed with SIGKILL mid-cycle (and not yet reaped by its parent: a zombie
    still answers signal 0) holds no store: `publish` publishes itself, rather than asking a
    dead process to and exiting 0 with nothing done."""
    url = feed_server.add("/slow.xml", PARTNER_FEED.read_bytes(), delay=30)
    config = write_config(
        tmp_path,
        sources=[{"id": "slow", "url": url}],
        translation=OFFLINE_TRANSLATION,
    )
    killed = subprocess.Popen(
        [sys.executable, "-m", "syndication", "once", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=REPO,
    )
    try:
        deadline = time.monotonic() + 30
        while not feed_server.requests_for("/slow.xml"):  # it holds the lock, mid-poll
            assert time.monotonic() < deadline and killed.poll() is None
            time.sleep(0.1)
        os.kill(killed.pid, signal.SIGKILL)
        time.sleep(0.5)  # dead, and not reaped: a zombie
        published = run_cli("publish", "--config", str(config))
        assert published.code == 0, published.output
        assert "asked the running worker" not in published.output
        assert (tmp_path / "public" / "index.html").exists()
    finally:
        killed.kill()
        killed.wait()


def test_status_without_the_variable_its_store_needs_says_so(tmp_path: Path) -> None:
    """`store: sqlite:///${DATA}/…` where this shell lacks DATA: the store is unknown, not
    empty. Exit 2 naming the variable (it said "no store yet … run once first", exit 0)."""
    config = write_config(tmp_path, store="sqlite:///${SYNDICATION_TEST_DATA}/s.db")
    for command in (["status"], ["status", "--json"]):
        result = run_cli(*command, "--config", str(config))
        assert result.code == 2, result.output
        assert "needs SYNDICATION_TEST_DATA, not set here" in result.output
        assert "run `syndication once` first" not in result.output


def test_once_with_json_logs_says_a_failed_source_as_json(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """`--log-format json once` (cron, into a log collector): every line on stderr is one
    JSON object, a failed source's with its `source` (it was a console line)."""
    missing = feed_server.add("/missing.xml", b"", status=404)
    config = write_config(
        tmp_path, sources=[{"id": "gone", "url": missing}], translation=OFFLINE_TRANSLATION
    )
    result = run_cli("--log-format", "json", "once", "--config", str(config))
    assert result.code == 1, result.output
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.strip()]
    assert any(entry.get("source") == "gone" and "404" in entry["message"] for entry in lines), (
        result.stderr
    )


def test_a_partners_only_first_publish_says_what_it_wrote(tmp_path: Path) -> None:
    """With `publish: {public: false}` no feed is rendered, but the first publish writes the
    site's files: it said "nothing changed since the last publish" when there was none."""
    config = write_config(tmp_path, publish={"public": False}, translation=OFFLINE_TRANSLATION)
    first = run_cli("once", "--config", str(config))
    assert "nothing changed" not in first.output, first.output
    assert "file(s) written" in " ".join(first.output.split())
    again = run_cli("once", "--config", str(config))
    assert "published: nothing changed since the last publish" in again.output
