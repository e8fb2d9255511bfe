"""System test: the container image, built from the real Dockerfile and run as users run it.

Owns: a private Docker engine for this module (Debian's docker.io with its own data root,
stopped and removed at the end); a Debian bookworm base image made offline, since no
registry is reachable here (debootstrap, then Debian's python3), cached between runs as a
tarball; building the Dockerfile on it (`--build-arg BASE=`); and running the image: uid
10001, the bundled default configuration published and served on a published port,
/healthz and the image's HEALTHCHECK, the store kept on its volume by a new container that
re-translates nothing, and `docker stop` ending it with exit 0. Translation goes through
deep-translator's real code over HTTPS to the fake provider, served inside the container's
network namespace under translate.google.com's name, so nothing leaves the machine. Also
Debian's docker-compose validating docker-compose.yml.

Needs root, docker.io, debootstrap, openssl and nsenter (util-linux), and docker-compose for
its test; skips without them, saying what is missing. `.ci/run` installs them and sets
SYNDICATION_SYSTEM_TESTS=required, which turns such a skip into a failure.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

from tests.conftest import REPO, unavailable

pytestmark = [pytest.mark.system, pytest.mark.timeout(1800)]

DOCKER = Path("/usr/bin/docker")  # Debian's client: a newer one elsewhere may want buildx
DOCKERD = Path("/usr/sbin/dockerd")
DEBOOTSTRAP = Path("/usr/sbin/debootstrap")
COMPOSE = Path("/usr/bin/docker-compose")
CACHE = Path(os.environ.get("SYNDICATION_CI_CACHE", "/var/cache/syndication-ci"))
RELEASE = "bookworm"  # Debian 12: CPython 3.11, as in the official slim image
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
# What the Dockerfile asks of its base (python and pip on PATH, the venv module), on Debian.
# The machine's CA bundle is for this build only: here pip reaches PyPI through a TLS proxy
# whose CA a fresh Debian lacks. The Dockerfile itself needs nothing of the kind.
BASE_RECIPE = f"""\
FROM syndication-ci/minbase:{RELEASE}
COPY ca-certificates.crt /usr/local/share/syndication-ci/ca-certificates.crt
ENV PIP_CERT=/usr/local/share/syndication-ci/ca-certificates.crt \\
    SSL_CERT_FILE=/usr/local/share/syndication-ci/ca-certificates.crt
RUN apt-get update \\
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \\
       python3 python3-venv python3-pip python-is-python3 \\
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb
"""
BASE_IMAGE = f"syndication-ci/python:3.11-{RELEASE}"
IMAGE = "syndication:system-test"
DATA, PUBLIC = "syndication-test-data", "syndication-test-public"
EDITIONS = ("kk", "zh", "en", "kk-Latn", "zh-Hant")  # config/syndication.yaml's
UID = 10001
# The fake provider, run by this interpreter inside a container's network namespace: HTTPS
# on 127.0.0.1:443, where the container's /etc/hosts sends translate.google.com. It prints
# "ready", serves until its stdin closes, then prints how many requests it answered.
FAKE_GOOGLE = """\
import ssl, sys
from tests.fakeprovider import FakeGoogle
tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
tls.load_cert_chain(sys.argv[1], sys.argv[2])
google = FakeGoogle(port=443, tls=tls)
print("ready", flush=True)
sys.stdin.read()
print(len(google.calls), flush=True)
"""
# The store as a container of the image reads it: what a restart must leave unchanged.
SNAPSHOT = """\
import json, sqlite3
db = sqlite3.connect("file:/data/syndication.db?mode=ro", uri=True)
print(json.dumps({
    "articles": db.execute(
        "SELECT id, first_seen, changed_at, content_hash FROM articles ORDER BY id").fetchall(),
    "translations": db.execute(
        "SELECT article_id, language, status, attempts, updated_at, provider, text_hash"
        " FROM translations ORDER BY article_id, language").fetchall(),
}))
"""

# How far the running worker has got, read inside its container: sources polled, stories.
PROGRESS = """\
import json, sqlite3
db = sqlite3.connect("file:/data/syndication.db?mode=ro", uri=True)
print(json.dumps([
    db.execute("SELECT count(*) FROM sources WHERE last_success IS NOT NULL").fetchone()[0],
    db.execute("SELECT count(*) FROM articles WHERE withdrawn = 0").fetchone()[0],
]))
"""
SOURCES = len(yaml.safe_load((REPO / "config" / "syndication.yaml").read_text())["sources"])

T = TypeVar("T")


def _missing() -> str | None:
    if os.geteuid() != 0:
        return "not root: a private dockerd and debootstrap need root"
    for path, package in (
        (DOCKERD, "docker.io"),
        (DOCKER, "docker.io"),
        (DEBOOTSTRAP, "debootstrap"),
    ):
        if not path.is_file():
            return f"{path} is missing (apt-get install {package})"
    for tool, package in (("openssl", "openssl"), ("nsenter", "util-linux"), ("tar", "tar")):
        if shutil.which(tool) is None:
            return f"{tool} is missing (apt-get install {package})"
    return None


def _proxy_args() -> list[str]:
    """The machine's proxy settings, for pip and apt inside the build (none are needed here)."""
    names = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy")
    return [arg for name in names if name in os.environ for arg in ("--build-arg", name)]


@dataclass
class Engine:
    """The private dockerd, driven with Debian's docker client."""

    root: Path

    @property
    def socket(self) -> Path:
        return self.root / "docker.sock"

    def argv(self, *args: str) -> list[str]:
        return [str(DOCKER), "--host", f"unix://{self.socket}", *args]

    def __call__(
        self, *args: str, timeout: float = 600, check: bool = True, stdin: Any = None
    ) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
        done = subprocess.run(
            self.argv(*args),
            stdin=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**env, "DOCKER_BUILDKIT": "1"},
        )
        if check and done.returncode != 0:
            pytest.fail(
                f"docker {' '.join(args)}: exit {done.returncode}\n"
                f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
            )
        return done

    def inspect(self, name: str, template: str = "{{json .}}") -> Any:
        return json.loads(self("inspect", "--format", template, name).stdout)


def _until(what: str, check: Callable[[], T | None], timeout: float, why: Callable[[], str]) -> T:
    """Polls `check` until it gives something; a deadline against a hang, not a speed test."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout:.0f} s\n{why()}")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    missing = _missing()
    if missing:
        unavailable(missing)
    root = Path(tempfile.mkdtemp(prefix="syndication-docker-"))
    engine = Engine(root)
    (root / "daemon.json").write_text("{}\n")  # nothing from /etc/docker/daemon.json
    with open(root / "dockerd.log", "wb") as log:
        daemon = subprocess.Popen(
            [
                str(DOCKERD),
                f"--config-file={root / 'daemon.json'}",
                f"--data-root={root / 'data'}",
                f"--exec-root={root / 'exec'}",
                f"--pidfile={root / 'dockerd.pid'}",
                f"--host=unix://{engine.socket}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while engine("version", check=False, timeout=30).returncode != 0:
            if daemon.poll() is not None or time.monotonic() > deadline:
                tail = (root / "dockerd.log").read_text(errors="replace")[-2000:]
                unavailable(f"dockerd did not start: {tail}")
            time.sleep(0.2)
        yield engine
    finally:
        daemon.send_signal(signal.SIGTERM)  # stops the containers, then containerd
        try:
            daemon.wait(60)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
        # Whatever an unclean stop left mounted under the data root, before removing it.
        mounts = Path("/proc/self/mounts").read_text().splitlines()
        points = [line.split()[1] for line in mounts if len(line.split()) > 1]
        for point in sorted((p for p in points if p.startswith(f"{root}/")), reverse=True):
            subprocess.run(["umount", "--lazy", point], check=False, capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def base_image(engine: Engine) -> str:
    """Debian bookworm with python3, loaded from the cache or made with debootstrap (and
    saved to the cache: a new one each month, or when the recipe or the CA bundle change)."""
    if not HOST_CA.is_file():
        unavailable(f"{HOST_CA} is missing (apt-get install ca-certificates)")
    ca = HOST_CA.read_bytes()
    key = hashlib.sha256(BASE_RECIPE.encode() + ca).hexdigest()[:12]
    cached = CACHE / f"base-{RELEASE}-{time.strftime('%Y%m')}-{key}.tar"
    if cached.is_file():
        engine("load", "--input", str(cached))
        return BASE_IMAGE
    with tempfile.TemporaryDirectory(prefix="syndication-base-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        boot = subprocess.run(
            [str(DEBOOTSTRAP), "--variant=minbase", RELEASE, str(rootfs)],
            capture_output=True,
            text=True,
            timeout=1200,
        )
        if boot.returncode != 0:
            unavailable(f"debootstrap could not make a {RELEASE} base: {boot.stdout[-1500:]}")
        for leftover in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for path in (rootfs / leftover).glob("*"):
                if path.is_file():
                    path.unlink()
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        engine("import", "-", f"syndication-ci/minbase:{RELEASE}", stdin=tar.stdout)
        assert tar.stdout is not None
        tar.stdout.close()
        assert tar.wait() == 0
        context = Path(tmp) / "context"
        context.mkdir()
        (context / "Dockerfile").write_text(BASE_RECIPE)
        (context / "ca-certificates.crt").write_bytes(ca)
        engine("build", *_proxy_args(), "--tag", BASE_IMAGE, str(context), timeout=1200)
    CACHE.mkdir(parents=True, exist_ok=True)
    partial = cached.with_suffix(".partial")
    engine("save", "--output", str(partial), BASE_IMAGE)
    partial.rename(cached)
    for old in CACHE.glob(f"base-{RELEASE}-*.tar"):
        if old != cached:
            old.unlink()
    return BASE_IMAGE


@dataclass
class Build:
    seconds: float
    output: str


def _build(engine: Engine, base: str) -> Build:
    started = time.monotonic()
    done = engine(
        "build",
        "--progress=plain",
        f"--build-arg=BASE={base}",
        *_proxy_args(),
        f"--tag={IMAGE}",
        str(REPO),
        timeout=1500,
    )
    return Build(time.monotonic() - started, done.stderr + done.stdout)


@pytest.fixture(scope="module")
def image(engine: Engine, base_image: str) -> Build:
    """The real Dockerfile built on the offline base, with an empty build cache."""
    return _build(engine, base_image)


def _report(capsys: pytest.CaptureFixture[str], line: str) -> None:
    with capsys.disabled():
        sys.stdout.write(f"\n[image] {line}\n")


def test_the_image_is_what_the_dockerfile_says_and_rebuilds_from_cache(
    engine: Engine, base_image: str, image: Build, capsys: pytest.CaptureFixture[str]
) -> None:
    config = engine.inspect(IMAGE, "{{json .Config}}")
    assert config["User"] == f"{UID}:{UID}"
    assert set(config["Volumes"]) == {"/data", "/public"}
    assert set(config["ExposedPorts"]) == {"8080/tcp"}
    assert config["Cmd"] == ["syndication", "run"]
    assert "/healthz" in " ".join(config["Healthcheck"]["Test"])
    # The build's own check ran: the installed package loaded and validated its config.
    assert re.search(
        r"RUN syndication check.*\n(?:.*\n)*?.*ok /app/config/syndication\.yaml", image.output
    )
    again = _build(engine, base_image)
    steps = re.findall(r"^#(\d+) \[[^\]]+\] (?:RUN|COPY)\b", again.output, re.MULTILINE)
    cached = set(re.findall(r"^#(\d+) CACHED$", again.output, re.MULTILINE))
    assert steps and set(steps) <= cached, again.output[-3000:]
    size = int(engine.inspect(IMAGE, "{{json .Size}}"))
    base_size = int(engine.inspect(base_image, "{{json .Size}}"))
    _report(
        capsys,
        f"build {image.seconds:.1f} s with an empty cache, {again.seconds:.1f} s again "
        f"(all cached); image {size / 1e6:.0f} MB, of which {base_size / 1e6:.0f} MB base",
    )


class GoogleInContainer:
    """The fake provider in a running container's network namespace (see FAKE_GOOGLE)."""

    def __init__(self, engine: Engine, container: str, tls: Path) -> None:
        pid = engine.inspect(container, "{{json .State.Pid}}")
        self.process = subprocess.Popen(
            [
                "nsenter",
                f"--net=/proc/{pid}/ns/net",
                "--",
                sys.executable,
                "-c",
                FAKE_GOOGLE,
                str(tls / "public" / "cert.pem"),
                str(tls / "key.pem"),
            ],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], 60)
        line = self.process.stdout.readline() if ready else ""
        if line.strip() != "ready":
            self.process.kill()
            pytest.fail(f"the fake provider did not start in {container}: {line!r}")

    def stop(self) -> int:
        """Stops it; how many requests it answered."""
        out, _ = self.process.communicate(timeout=30)
        return int(out.split()[-1])


@pytest.fixture
def tls(tmp_path: Path) -> Path:
    """A certificate for translate.google.com: the key stays here, public/ is mounted."""
    (tmp_path / "public").mkdir()
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=translate.google.com",
            "-addext",
            "subjectAltName=DNS:translate.google.com",
            "-keyout",
            str(tmp_path / "key.pem"),
            "-out",
            str(tmp_path / "public" / "cert.pem"),
        ],
        check=True,
        capture_output=True,
    )
    os.chmod(tmp_path / "public", 0o755)
    os.chmod(tmp_path / "public" / "cert.pem", 0o644)  # read by uid 10001
    return tmp_path


def _start(engine: Engine, name: str, tls: Path) -> tuple[str, GoogleInContainer]:
    engine(
        "run",
        "--detach",
        f"--name={name}",
        "--publish=127.0.0.1::8080",
        f"--volume={DATA}:/data",
        f"--volume={PUBLIC}:/public",
        # deep-translator asks https://translate.google.com/m: here, the fake provider.
        "--add-host=translate.google.com:127.0.0.1",
        f"--volume={tls / 'public'}:/ci/tls:ro",
        "--env=REQUESTS_CA_BUNDLE=/ci/tls/cert.pem",
        # The image's own HEALTHCHECK command, asked every second rather than every 30 s.
        "--health-interval=1s",
        IMAGE,
    )
    google = GoogleInContainer(engine, name, tls)
    host, _, port = engine("port", name, "8080/tcp").stdout.split()[0].rpartition(":")
    assert host == "127.0.0.1"
    return f"http://127.0.0.1:{port}", google


def _get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.headers.get("Content-Type", ""), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), error.read()
    except OSError:
        return 0, "", b""  # not listening yet


def _health(base: str) -> dict[str, Any] | None:
    status, _, body = _get(f"{base}/healthz")
    return json.loads(body) if status == 200 else None


def _items(base: str, edition: str) -> list[str]:
    status, _, body = _get(f"{base}/{edition}/feed.json")
    return [item["id"] for item in json.loads(body)["items"]] if status == 200 else []


def _stop(engine: Engine, name: str) -> dict[str, Any]:
    engine("stop", "--time", "10", name, timeout=60)
    return engine.inspect(name, "{{json .State}}")  # type: ignore[no-any-return]


def _snapshot(engine: Engine) -> dict[str, Any]:
    done = engine("run", "--rm", "--volume", f"{DATA}:/data", IMAGE, "python", "-c", SNAPSHOT)
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def test_the_image_serves_the_default_config_keeps_its_store_and_stops_cleanly(
    engine: Engine, image: Build, tls: Path
) -> None:
    def logs(name: str) -> Callable[[], str]:
        return lambda: engine("logs", "--tail", "40", name, check=False).stderr

    # -- the first container: the bundled configuration, polled, translated, published --
    first, google = _start(engine, "syndication-first", tls)
    _until(
        "the HEALTHCHECK reports healthy",
        lambda: engine.inspect("syndication-first", "{{json .State.Health.Status}}") == "healthy",
        120,
        lambda: (
            json.dumps(engine.inspect("syndication-first", "{{json .State.Health}}"))
            + logs("syndication-first")()
        ),
    )
    assert _health(first) is not None  # /healthz answers 200 on the published port

    def published_in_full() -> dict[str, list[str]] | None:
        health = _health(first)
        if not health or not health["last_publish"] or any(health["backlog"].values()):
            return None
        progress = engine("exec", "syndication-first", "python", "-c", PROGRESS, check=False)
        polled, stories = json.loads(progress.stdout or "[0, 0]")
        feeds = {edition: _items(first, edition) for edition in EDITIONS}
        done = polled == SOURCES and stories and all(len(f) == stories for f in feeds.values())
        return feeds if done else None

    # Every source polled, every story translated (a missed one is retried) and published.
    feeds = _until(
        "every edition published in full", published_in_full, 180, logs("syndication-first")
    )
    status, kind, body = _get(f"{first}/kk/rss.xml")
    assert status == 200 and kind.startswith("application/rss+xml"), (status, kind)
    assert b"<item>" in body
    assert _get(f"{first}/index.html")[0] == 200
    pid1 = engine("exec", "syndication-first", "cat", "/proc/1/status").stdout
    assert re.search(rf"^Uid:\s+{UID}\s+{UID}\s", pid1, re.MULTILINE), pid1
    owners = engine("exec", "syndication-first", "stat", "-c", "%u %n", "/data/syndication.db")
    assert owners.stdout.split()[0] == str(UID)

    state = _stop(engine, "syndication-first")
    # 0, not 137: it ended on SIGTERM within `--time 10`, before docker's SIGKILL.
    assert state["ExitCode"] == 0 and not state["OOMKilled"], state
    calls = google.stop()
    assert calls > 0, "nothing went through the fake provider"
    before = _snapshot(engine)
    assert len(before["articles"]) == len(feeds["kk"])
    assert {(t[2], t[5]) for t in before["translations"]} == {("translated", "google")}

    # -- a new container on the same volumes: nothing fetched anew, nothing re-translated --
    second, google = _start(engine, "syndication-second", tls)
    _until(
        "the new container reports healthy",
        lambda: engine.inspect("syndication-second", "{{json .State.Health.Status}}") == "healthy",
        120,
        logs("syndication-second"),
    )
    # The output volume is served as it was left.
    assert {edition: _items(second, edition) for edition in EDITIONS} == feeds
    # A full poll now (the stored schedule would wait minutes), with the worker's answer.
    # (`last_cycle` carries the store's last poll over the restart: a later one is this.)
    polled_before = (_health(second) or {}).get("last_cycle")
    engine("exec", "syndication-second", "syndication", "retry", "newsroom", "partner-export")
    _until(
        "the new container's poll",
        lambda: (_health(second) or {}).get("last_cycle") not in (None, polled_before),
        120,
        logs("syndication-second"),
    )
    state = _stop(engine, "syndication-second")
    assert state["ExitCode"] == 0 and not state["OOMKilled"], state
    assert google.stop() == 0, "the new container translated again"
    assert _snapshot(engine) == before


def _compose_config(tmp_path: Path, file: Path, **env: str) -> dict[str, Any]:
    """What Debian's Compose makes of `file` (its `config`), or the test fails with its words."""
    if not COMPOSE.is_file():
        unavailable(f"{COMPOSE} is missing (apt-get install docker-compose)")
    data = yaml.safe_load(file.read_text(encoding="utf-8"))
    # Debian's Compose 1.29 predates the top-level `name:` of Compose v2 (`docker compose`,
    # what README shows); it checks everything else, with the same project name.
    name = data.pop("name")
    copy = tmp_path / file.name
    copy.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SYNDICATION_", "COMPOSE_"))}
    done = subprocess.run(
        [
            str(COMPOSE),
            f"--project-directory={file.parent}",
            f"--project-name={name}",
            f"--file={copy}",
            "config",
        ],
        capture_output=True,
        text=True,
        env={**clean, **env},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return dict(yaml.safe_load(done.stdout))


def test_docker_compose_accepts_the_compose_file(tmp_path: Path) -> None:
    config = _compose_config(tmp_path, REPO / "docker-compose.yml")
    worker = config["services"]["worker"]
    assert Path(worker["build"]["context"]) == REPO
    assert worker["environment"]["SYNDICATION_BASE_URL"] == "http://127.0.0.1:8080/"
    assert worker["volumes"] == ["data:/data:rw", "public:/public:rw"]
    assert worker["ports"] == [{"published": 8080, "target": 8080}]
    assert worker["stop_signal"] == "SIGTERM"
    assert set(config["volumes"]) == {"data", "public"}
    # nginx's bind mounts name files that exist, relative to the project folder.
    binds = [v.split(":")[0] for v in config["services"]["nginx"]["volumes"]]
    assert [Path(b).is_file() for b in binds if b.startswith("/")] == [True]


def test_docker_compose_accepts_the_fleet_file(tmp_path: Path) -> None:
    """deploy/docker-compose.fleet.yml (README, "A fleet"): PostgreSQL and two workers of the
    image on it, publishing to one bucket. Checked, not run: postgres's image cannot be pulled
    here (tests/system/test_fleet.py runs the fleet itself on a throwaway PostgreSQL)."""
    secret = "compose-check-password"
    config = _compose_config(
        tmp_path,
        REPO / "deploy" / "docker-compose.fleet.yml",
        POSTGRES_PASSWORD=secret,
        SYNDICATION_BASE_URL="https://feeds.example.kz/",
        AWS_ACCESS_KEY_ID="k",
        AWS_SECRET_ACCESS_KEY="s",
    )
    services = config["services"]
    assert set(services) == {"db", "worker-1", "worker-2"}
    assert Path(services["worker-1"]["build"]["context"]) == REPO
    for name in ("worker-1", "worker-2"):
        worker = services[name]
        env = worker["environment"]
        assert env["SYNDICATION_STORE"] == (
            f"postgresql+psycopg://syndication:{secret}@db/syndication"
        )
        assert env["SYNDICATION_OUTPUT"].startswith("s3://")
        assert worker["depends_on"]["db"]["condition"] == "service_healthy"
        assert worker["image"] == "syndication:latest" and worker["stop_signal"] == "SIGTERM"
    # Each worker's /healthz and /metrics on loopback only (Compose 1.29 keeps the short form).
    ports = [services[n]["ports"] for n in ("worker-1", "worker-2")]
    assert ports == [["127.0.0.1:8080:8080/tcp"], ["127.0.0.1:8082:8080/tcp"]], ports
    # The store URL the workers get is one `syndication check` accepts (driver installed).
    from syndication.store import check_driver

    assert check_driver(services["worker-1"]["environment"]["SYNDICATION_STORE"]) is None
