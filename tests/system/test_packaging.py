"""The deployment files keep their promises: the container image runs as non-root with the
store and output on volumes and a working HEALTHCHECK, docker-compose.yml and nginx agree on
where the output is, the systemd unit runs a real command, and README's operations section
shows only commands the CLI has.

No Docker engine is needed: the Dockerfile is read as text (with Docker's line continuations
and stages), the HEALTHCHECK's own command is run against a loopback server, and nginx and
systemd check their files when they are installed.
"""

from __future__ import annotations

import configparser
import fnmatch
import functools
import http.server
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import pytest
import yaml

from syndication import config as cfg
from tests.conftest import REPO, unavailable

DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
COMPOSE = REPO / "docker-compose.yml"
NGINX_CONF = REPO / "deploy" / "nginx.conf"
UNIT = REPO / "deploy" / "syndication.service"
README = REPO / "README.md"
SAMPLE_CONFIG = REPO / "config" / "syndication.yaml"


# -- reading the Dockerfile -------------------------------------------------------------


def _instructions(text: str) -> list[list[tuple[str, str]]]:
    """(INSTRUCTION, arguments) per build stage, continuations joined, comments dropped."""
    stages: list[list[tuple[str, str]]] = []
    logical = ""
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            continue  # a comment, also inside a continued instruction (Docker drops those)
        if line.rstrip().endswith("\\"):
            logical += line.rstrip()[:-1] + " "
            continue
        logical += line
        if logical.strip():
            name, _, args = logical.strip().partition(" ")
            if name.upper() == "FROM":
                stages.append([])
            if stages:
                stages[-1].append((name.upper(), args.strip()))
            else:  # only a global ARG (the base image's) may come before the first FROM
                assert name.upper() == "ARG", f"{name} before the first FROM"
        logical = ""
    return stages


@functools.cache
def _stages() -> list[list[tuple[str, str]]]:
    return _instructions(DOCKERFILE.read_text(encoding="utf-8"))


def _runtime(name: str) -> list[str]:
    """Arguments of every `name` instruction in the final (runtime) stage."""
    return [args for instr, args in _stages()[-1] if instr == name]


def _env() -> dict[str, str]:
    env: dict[str, str] = {}
    for args in _runtime("ENV"):
        for pair in shlex.split(args):
            key, sep, value = pair.partition("=")
            assert sep, f"ENV {pair!r}: use the KEY=value form"
            env[key] = value
    return env


def _exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list) and all(isinstance(part, str) for part in value), args
    return value


def _volumes() -> list[PurePosixPath]:
    paths: list[PurePosixPath] = []
    for args in _runtime("VOLUME"):
        parts = _exec_form(args) if args.startswith("[") else args.split()
        paths += [PurePosixPath(part) for part in parts]
    return paths


def _under(path: PurePosixPath, folder: PurePosixPath) -> bool:
    return path == folder or folder in path.parents


def _store_path(url: str) -> PurePosixPath:
    assert url.startswith("sqlite:////"), f"{url}: expected an absolute SQLite path"
    return PurePosixPath(url.removeprefix("sqlite:///"))


def test_the_image_is_built_in_stages_and_runs_as_a_non_root_user() -> None:
    assert len(_stages()) >= 2, "a build stage and a slim runtime stage"
    users = _runtime("USER")
    assert users, "the runtime stage has no USER: it would run as root"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), users[-1]
    # The user exists in the image, and owns the volumes it must write to.
    runs = _runtime("RUN")
    useradd = r"useradd\b[^&;]*?--uid[ =](\d+)[^&;]*?\s([a-z_][\w-]*)\s*(?:&&|;|$)"
    created = next(filter(None, (re.search(useradd, run) for run in runs)), None)
    assert created, "no `useradd --uid N NAME` in the runtime stage"
    uid, name = created.groups()
    assert user in (uid, name), f"USER {user} is not the user created ({name}, uid {uid})"
    chowns = (re.search(r"chown\s+(?:-\S+\s+)*(\S+)\s+([^&;]+)", run) for run in runs)
    chown = next(filter(None, chowns), None)
    assert chown, "the volumes are never chowned to the runtime user"
    assert chown.group(1).split(":")[0] in (uid, name), chown.group(0)
    owned = {PurePosixPath(p) for p in chown.group(2).split()}
    assert set(_volumes()) <= owned, f"{chown.group(0)!r} misses a VOLUME"


def test_both_stages_build_on_the_official_slim_python_unless_told_otherwise() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    # A `# syntax=` line makes BuildKit pull a frontend image first; the built-in one does.
    assert not re.match(r"#\s*syntax\s*=", text, re.IGNORECASE)
    head = text[: text.index("\nFROM ")]
    assert re.search(r"^ARG BASE=python:3\.11-slim$", head, re.MULTILINE), "default base"
    froms = re.findall(r"^FROM (\S+)", text, re.MULTILINE)
    assert froms == ["${BASE}", "${BASE}"], froms


def test_store_and_output_live_on_volumes() -> None:
    env = _env()
    volumes = _volumes()
    store = _store_path(env["SYNDICATION_STORE"])
    output = PurePosixPath(env["SYNDICATION_OUTPUT"])
    assert any(_under(store.parent, v) for v in volumes), (store, volumes)
    assert any(_under(output, v) for v in volumes), (output, volumes)
    # ... and the image's default configuration really uses those variables.
    assert env["SYNDICATION_CONFIG"].startswith("/app/config/"), env["SYNDICATION_CONFIG"]
    copies = [args.split() for args in _runtime("COPY") if not args.startswith("--from")]
    assert ["config", "./config"] in copies or ["config", "/app/config"] in copies, copies


def test_the_default_config_follows_the_image_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = _env()
    for key, value in env.items():
        if key.startswith("SYNDICATION_"):
            monkeypatch.setenv(key, value)
    loaded = cfg.load(SAMPLE_CONFIG)
    assert loaded.store_url == env["SYNDICATION_STORE"]
    assert loaded.output == Path(env["SYNDICATION_OUTPUT"])
    assert loaded.settings.serve.host == env["SYNDICATION_HOST"] == "0.0.0.0"
    assert loaded.settings.serve.port == int(env["SYNDICATION_PORT"])
    assert env["SYNDICATION_PORT"] in " ".join(_runtime("EXPOSE")).replace("/tcp", "").split()


def test_the_container_stops_on_sigterm_and_runs_the_worker() -> None:
    assert _runtime("STOPSIGNAL") == ["SIGTERM"]
    (cmd,) = _runtime("CMD")
    assert _exec_form(cmd) == ["syndication", "run"], "exec form, so SIGTERM reaches the CLI"


class _Health(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        code = self.status if self.path == "/healthz" else 404
        self.send_response(code)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[http.server.HTTPServer]:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        _Health.status = 200


def test_healthcheck_asks_healthz_on_the_configured_port(
    health_server: http.server.HTTPServer,
) -> None:
    (args,) = _runtime("HEALTHCHECK")
    _options, _, command = args.partition("CMD ")
    argv = _exec_form(command.strip())
    assert argv[:2] == ["python", "-c"], "the slim image has no curl: python's urllib"
    code = argv[2]
    assert "/healthz" in code
    assert "SYNDICATION_PORT" in code or _env()["SYNDICATION_PORT"] in code
    # Run the very command, as the container would, against a server on a free port.
    port = str(health_server.server_address[1])
    env = {**os.environ, **_env(), "SYNDICATION_PORT": port, "PATH": os.environ["PATH"]}

    def check() -> int:
        run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True)
        return run.returncode

    assert check() == 0
    _Health.status = 503  # the store unreachable: unhealthy
    assert check() != 0
    health_server.shutdown()  # nothing listening
    health_server.server_close()
    assert check() != 0


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's .dockerignore rule: the last pattern matching the path or a parent wins."""
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").strip("/")
        globs = [pattern]
        if pattern.startswith("**/"):
            globs.append(pattern[3:])
        if any(fnmatch.fnmatchcase(c, g) for c in candidates for g in globs):
            ignored = not negate
    return ignored


def test_the_files_the_dockerfile_names_are_there() -> None:
    """Its comments send a reader to a test or a file: one moved since must not mislead."""
    named = re.findall(
        r"\b(?:tests|deploy|syndication|config)/[\w./-]*\w", DOCKERFILE.read_text(encoding="utf-8")
    )
    assert "tests/system/test_image.py" in named
    assert [path for path in named if not (REPO / path).exists()] == []


def test_dockerignore_sends_what_the_build_copies_and_nothing_private() -> None:
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    sources = [
        source
        for stage in _stages()
        for instr, args in stage
        if instr == "COPY" and not args.startswith("--from")
        for source in args.split()[:-1]
        if not source.startswith("--")
    ]
    assert sources, "nothing is copied from the build context"
    needed = [*sources, "syndication/publish/feed.xsl", "syndication/publish/style.css"]
    needed += ["syndication/__main__.py", "config/syndication.yaml"]
    for path in needed:
        assert (REPO / path).exists(), path
        assert not _ignored(path, patterns), f"{path} is left out of the build context"
    for path in (".venv", ".git", "data/syndication.db", "public/index.html", "tests"):
        assert _ignored(path, patterns), f"{path} would be sent to the build"
    assert _ignored("syndication/__pycache__/cli.cpython-311.pyc", patterns)


# -- docker-compose.yml and nginx -------------------------------------------------------


def _mounts(service: dict) -> dict[str, tuple[str, str]]:
    """target → (source, mode) of a service's short-syntax volumes."""
    mounts = {}
    for spec in service.get("volumes", []):
        assert isinstance(spec, str), f"{spec!r}: use the short syntax"
        source, target, *mode = spec.split(":")
        mounts[target] = (source, mode[0] if mode else "rw")
    return mounts


@functools.cache
def _compose() -> dict:
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(data, dict) and isinstance(data.get("services"), dict), "no services:"
    return data


def test_compose_worker_keeps_store_and_output_on_named_volumes() -> None:
    compose = _compose()
    worker = compose["services"]["worker"]
    assert worker.get("build") in (".", {"context": "."}), "the worker builds this Dockerfile"
    mounts = _mounts(worker)
    declared = set(compose.get("volumes") or {})
    for folder in _volumes():
        assert str(folder) in mounts, f"the worker does not mount {folder}"
        source, mode = mounts[str(folder)]
        assert mode == "rw", f"{folder} must be writable"
        assert source in declared, f"{source} is not a declared named volume"
    environment = worker.get("environment") or {}
    for key in ("SYNDICATION_STORE", "SYNDICATION_OUTPUT"):
        assert key not in environment, f"{key} moved off the image's volumes"
    port = _env()["SYNDICATION_PORT"]
    published = [str(p).rsplit(":", 1)[-1] for p in worker.get("ports", [])]
    assert port in published, f"the worker does not publish its port {port}"
    assert worker.get("stop_signal", "SIGTERM") == "SIGTERM"


def test_compose_nginx_serves_the_output_read_only_from_its_configured_root() -> None:
    services = _compose()["services"]
    output_volume = _mounts(services["worker"])[_env()["SYNDICATION_OUTPUT"]][0]
    nginx = _mounts(services["nginx"])
    served = [t for t, (source, _) in nginx.items() if source == output_volume]
    assert len(served) == 1, f"nginx does not mount the output volume {output_volume}"
    target = served[0]
    assert nginx[target][1] == "ro", "nginx must not be able to write the output"
    conf_target = next(t for t, (s, _) in nginx.items() if s.endswith("deploy/nginx.conf"))
    assert (REPO / nginx[conf_target][0]).resolve() == NGINX_CONF
    assert conf_target.startswith("/etc/nginx/conf.d/") and conf_target.endswith(".conf")
    roots = re.findall(r"^\s*root\s+([^;]+);", NGINX_CONF.read_text(encoding="utf-8"), re.M)
    assert roots == [target], f"deploy/nginx.conf root {roots} is not the mount {target}"


def test_nginx_names_the_feed_media_types() -> None:
    text = NGINX_CONF.read_text(encoding="utf-8")
    for name, media in (
        (r"rss\.xml", "application/rss+xml"),
        (r"atom\.xml", "application/atom+xml"),
        (r"feed\.json", "application/feed+json"),
    ):
        block = re.search(
            r"location ~ [^{]*" + re.escape(name) + r"[^{]*\{([^}]*\{\s*\}[^}]*)\}", text
        )
        assert block, f"no location for {name}"
        assert f"default_type {media};" in block.group(1)
    assert re.search(r"location ~ /\\\.\s*\{\s*return 404;", text), "temp files must not leak"


def test_nginx_accepts_the_config(tmp_path: Path) -> None:
    if shutil.which("nginx") is None:
        unavailable("nginx is not installed (apt-get install -y nginx-light)")
    conf = NGINX_CONF.read_text(encoding="utf-8").replace("listen 80;", "listen 127.0.0.1:1;")
    (tmp_path / "site.conf").write_text(conf, encoding="utf-8")
    temp = tmp_path / "tmp"
    main = tmp_path / "nginx.conf"
    main.write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\n"
        "events {}\nhttp {\n  include /etc/nginx/mime.types;\n"
        + "".join(f"  {kind}_temp_path {temp};\n" for kind in ("client_body", "proxy"))
        + "".join(f"  {kind}_temp_path {temp};\n" for kind in ("fastcgi", "uwsgi", "scgi"))
        + f"  include {tmp_path}/site.conf;\n}}\n",
        encoding="utf-8",
    )
    run = subprocess.run(
        ["nginx", "-t", "-p", str(tmp_path), "-c", str(main)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert run.returncode == 0, run.stderr


# -- the systemd unit -------------------------------------------------------------------


def _unit(text: str) -> dict[str, dict[str, str]]:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read_string(text)
    return {section: dict(parser[section]) for section in parser.sections()}


def _commands(*group: str) -> frozenset[str]:
    """The command names `python -m syndication [group] --help` lists (a group's: its
    sub-commands; none for a plain command)."""
    names = _help_commands(group)
    assert names or group, "`python -m syndication --help` lists no commands"
    return names


@functools.cache
def _help_commands(group: tuple[str, ...]) -> frozenset[str]:
    run = subprocess.run(
        [sys.executable, "-m", "syndication", *group, "--help"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"},
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    starts = [i for i, line in enumerate(lines) if re.search(r"\bCommands\b", line)]
    if not starts:
        return frozenset()
    start = starts[0]
    section: list[str] = []
    for line in lines[start + 1 :]:
        body = line.strip("│ \t").rstrip()
        if line.startswith("╰") or (not body and section):
            break
        if body:
            section.append(line.lstrip("│").rstrip("│ "))
    indent = min(len(line) - len(line.lstrip()) for line in section)
    names = {
        line.split()[0]
        for line in section
        if len(line) - len(line.lstrip()) == indent and re.match(r"\s*[a-z][a-z0-9-]*\b", line)
    }
    return frozenset(names)


def test_cli_help_lists_the_documented_contract() -> None:
    assert {"run", "once", "serve", "status", "check"} <= _commands()


def test_systemd_unit_runs_the_worker_as_a_service_user() -> None:
    unit = _unit(UNIT.read_text(encoding="utf-8"))
    service = unit["Service"]
    argv = shlex.split(service["ExecStart"])
    assert PurePosixPath(argv[0]).name == "syndication" and argv[0].startswith("/"), argv
    assert argv[1] == "run" and argv[1] in _commands()
    assert service["KillSignal"] == "SIGTERM"
    assert service["Restart"] == "on-failure"
    assert service.get("User") and service["User"] not in ("root", "0")
    assert "2" in service.get("RestartPreventExitStatus", "").split(), "exit 2 cannot heal"
    assert unit["Install"]["WantedBy"] == "multi-user.target"


def test_systemd_unit_lets_the_sample_layout_write_its_store_and_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = _unit(UNIT.read_text(encoding="utf-8"))["Service"]
    key, _, config = service["Environment"].partition("=")
    assert key == "SYNDICATION_CONFIG", service["Environment"]
    # Where the sample config's relative store and output land beside that path.
    for variable in ("SYNDICATION_STORE", "SYNDICATION_OUTPUT"):
        monkeypatch.delenv(variable, raising=False)
    root = tmp_path / "root"
    placed = root / PurePosixPath(config).relative_to("/")
    placed.parent.mkdir(parents=True)
    shutil.copy(SAMPLE_CONFIG, placed)
    loaded = cfg.load(placed)
    writable = [PurePosixPath(p) for p in service["ReadWritePaths"].split()]
    for path in (_store_path(loaded.store_url).parent, PurePosixPath(loaded.output)):
        inside = PurePosixPath("/") / PurePosixPath(path).relative_to(root)
        assert any(_under(inside, w) for w in writable), f"{inside} is read-only: {writable}"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_systemd_analyze_accepts_the_unit(tmp_path: Path) -> None:
    program = tmp_path / "syndication"
    program.write_text("#!/bin/sh\n", encoding="utf-8")
    program.chmod(0o755)
    text = UNIT.read_text(encoding="utf-8")
    unit = tmp_path / UNIT.name
    unit.write_text(text.replace("/opt/syndication/bin/syndication", str(program)))
    run = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    complaints = [line for line in run.stderr.splitlines() if UNIT.name in line]
    assert run.returncode == 0 and not complaints, run.stderr


# -- README's operations section --------------------------------------------------------


def _operations() -> str:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"^## Operations\n(.*?)(?=^## )", text, re.M | re.S)
    assert match, "README has no `## Operations` section"
    return match.group(1)


def _code(markdown: str) -> list[str]:
    """Fenced blocks' lines (continuations joined) and inline code spans."""
    pieces: list[str] = []
    fences = re.compile(r"^ *```[^\n]*\n(.*?)^ *```", re.M | re.S)
    for block in fences.findall(markdown):
        pieces += block.replace("\\\n", " ").splitlines()
    pieces += re.findall(r"`([^`\n]+)`", fences.sub("", markdown))
    return pieces


def _invocations(line: str) -> list[list[str]]:
    """`syndication COMMAND …` invocations in one shell line: the last word naming the
    program (a path ending in syndication counts; a user after `-u` does not) and the words
    after it."""
    try:
        words = shlex.split(line, comments=True)
    except ValueError:
        words = line.split()
    found, current = [], []
    for word in [*words, "&&"]:
        if word in ("&&", "||", ";", "|"):
            hits = [
                i
                for i, w in enumerate(current)
                if PurePosixPath(w.rpartition("=")[2]).name == "syndication"
                and not (i and current[i - 1].startswith("-"))  # `sudo -u syndication …`
            ]
            if hits and hits[-1] + 1 < len(current):
                after = current[hits[-1] + 1 :]
                if re.fullmatch(r"[a-z][a-z0-9-]*", after[0]):
                    found.append(after)
            current = []
        else:
            current.append(word)
    return found


def test_readme_operations_show_only_commands_the_cli_has() -> None:
    used: set[str] = set()
    for line in _code(_operations()):
        for words in _invocations(line):
            command = words[0]
            assert command in _commands(), f"README operations: `{line}`: no `{command}`"
            if len(words) > 1 and re.fullmatch(r"[a-z][a-z0-9-]*", words[1]):
                group = _commands(command)  # empty for a plain command: words[1] is an argument
                if group:
                    assert words[1] in group, f"README operations: `{line}`: no `{words[1]}`"
            used.add(command)
    # Not vacuous: the section shows how to run, check and migrate.
    assert {"run", "once", "check", "migrate"} <= used, used


def test_readme_shows_the_systemd_unit_as_shipped() -> None:
    blocks = re.findall(r"^```ini\n(.*?)^```", _operations(), re.M | re.S)
    assert blocks, "README's operations section shows no systemd unit"
    assert _unit(blocks[0]) == _unit(UNIT.read_text(encoding="utf-8"))
