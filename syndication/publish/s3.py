"""Write: the published site to an S3-compatible object store (`output: s3://bucket/prefix/`).

Owns: the `Output` that uploads there (boto3: the endpoint, region and addressing of
`output_options`, timeouts and retries; the credentials are boto3's to find, in
AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or its other usual places, and are never read or
printed here), each object's headers (Content-Type from `syndication.media`, Cache-Control by
what the file is), uploading only the keys whose bytes differ from what the store says they
hold (no publish lists the bucket), holding the feeds back while a page they may link failed to
upload, deleting keys no longer published, the record of every upload and failure in the store,
the probe a command makes before it works, and one-line errors that name the bucket and key and
never a secret.
"""

from __future__ import annotations

import functools
import posixpath
from collections.abc import Collection, Iterable
from typing import Any, NoReturn

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    NoCredentialsError,
    PartialCredentialsError,
    ReadTimeoutError,
)
from botocore.exceptions import ConnectionError as EndpointUnreachable

from syndication.config import Config, OutputOptions, S3Location
from syndication.errors import OutputError
from syndication.files import digest
from syndication.media import media_type
from syndication.paging import is_closed_archive
from syndication.store import Store

# What a CDN (or a browser) may keep without asking again. Current feeds, front pages and
# indexes change with every story: five minutes, as the built-in server and deploy/nginx.conf
# say. A story's page and a closed archive document change only when a story in them is
# corrected or withdrawn: a day.
SHORT_CACHE = "public, max-age=300"
LONG_CACHE = "public, max-age=86400"
# Each request is tried this many times in all (botocore's standard retry mode, with its
# backoff), each try given this share of `output_options.timeout`: an endpoint that accepts
# connections and never answers fails a request within about the timeout (it took four tries
# of 30 s each, two minutes, and every upload of a publish waited as long).
ATTEMPTS = 3
# DeleteObjects takes at most this many keys a request.
_DELETE_BATCH = 1000
# Refusals of the credentials (or the bucket) rather than of one key: every other request
# would get the same answer, so the publish stops asking.
_WHOLE_OUTPUT = frozenset(
    {
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "InvalidToken",
        "ExpiredToken",
        "AllAccessDisabled",
        "NoSuchBucket",
    }
)
_REFUSED = _WHOLE_OUTPUT - {"NoSuchBucket"} | {"AccessDenied", "403"}


def is_page(path: str) -> bool:
    """Whether `path` is a story's page (which feeds and indexes link to)."""
    return "/articles/" in path


def cache_control(path: str, data: bytes) -> str:
    """The Cache-Control an object is uploaded with, by what the file is."""
    return LONG_CACHE if is_page(path) or is_closed_archive(path, data) else SHORT_CACHE


def target(location: S3Location, options: OutputOptions | None) -> str:
    """The output's name in the store and in messages: the URL, and the endpoint if not AWS."""
    endpoint = options.endpoint_url if options else None
    return f"{location.url} at {endpoint}" if endpoint else location.url


@functools.lru_cache(maxsize=4)
def _client(options: OutputOptions | None) -> Any:
    """One client per process and options: making one loads botocore's service model (tens of
    milliseconds); a client is safe to share between threads."""
    options = options or OutputOptions()
    each = options.timeout / ATTEMPTS
    return boto3.session.Session().client(
        "s3",
        endpoint_url=options.endpoint_url,
        region_name=options.region,
        config=BotoConfig(
            connect_timeout=each,
            read_timeout=each,
            # total_: botocore's `max_attempts` counts the retries only, one try more.
            retries={"mode": "standard", "total_max_attempts": ATTEMPTS},
            s3={"addressing_style": options.addressing_style},
            # Checksums only where S3 requires one: newer botocore adds CRC32 headers to every
            # upload by default, which some S3-compatible servers refuse.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        ),
    )


def _code(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "")
    return str(error.get("Code", "")) or str(status)


def _whole_output(exc: Exception) -> bool:
    """Whether a failure concerns every key (unreachable, credentials refused, no bucket)."""
    if isinstance(exc, ClientError):
        return _code(exc) in _WHOLE_OUTPUT
    return isinstance(
        exc, EndpointUnreachable | ReadTimeoutError | NoCredentialsError | PartialCredentialsError
    )


def explain(exc: Exception, location: S3Location, options: OutputOptions | None, key: str) -> str:
    """One line on why a request to the object store failed: the bucket and key it concerned,
    what to check; never a credential (botocore's messages carry none)."""
    where = f"s3://{location.bucket}/{key}"
    if isinstance(exc, ReadTimeoutError | ConnectTimeoutError):
        options = options or OutputOptions()
        endpoint = str(options.endpoint_url).rstrip("/") if options.endpoint_url else "S3"
        return (
            f"{where}: no answer from {endpoint} within {options.timeout:g}s "
            f"(output_options.timeout), {ATTEMPTS} tries"
        )
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return (
            f"{where}: no credentials for bucket {location.bucket}: set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY in the environment (or another place boto3 reads)"
        )
    if isinstance(exc, ClientError):
        code = _code(exc)
        if code in _REFUSED:
            return (
                f"{where}: refused by bucket {location.bucket} ({code}): check "
                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, and that they may write there"
            )
        if code == "NoSuchBucket":
            endpoint = options.endpoint_url if options and options.endpoint_url else "AWS"
            return f"{where}: bucket {location.bucket} does not exist at {endpoint}"
        return f"{where}: {code}: {exc.response.get('Error', {}).get('Message', '') or exc}"
    return f"{where}: {type(exc).__name__}: {exc}"


class S3Output:
    """The output as keys under a prefix of a bucket; an `Output` (see `write`)."""

    def __init__(self, location: S3Location, options: OutputOptions | None, store: Store):
        self.location = location
        self.options = options
        self.store = store
        self.target = target(location, options)
        self._known: dict[str, str] = {}  # path → sha256 of what its key holds ("": nothing)
        self._page_failed = ""  # a page that failed to upload in this publish
        self._down = ""  # why no key can be written in this publish (unreachable, refused)

    @classmethod
    def of(cls, config: Config, store: Store) -> S3Output:
        location = config.output
        assert isinstance(location, S3Location)
        return cls(location, config.settings.output_options, store)

    def begin(self, thorough: bool) -> None:
        # Nothing half-written can be left in an object store (a PUT lands whole or not at
        # all): what there is to do at the start is learn what each key holds.
        self._known = self.store.uploaded(self.target)
        self._page_failed = self._down = ""

    def finish(self) -> None:
        pass

    def tidy(self) -> None:
        pass  # nothing is ever half-written in an object store

    def flush(self) -> list[tuple[str, OSError]]:
        return []  # every put is an upload done (or failed) there and then

    def has(self, path: str) -> bool:
        if not self._known:
            self._known = self.store.uploaded(self.target)
        return bool(self._known.get(path))

    def put(self, path: str, data: bytes) -> bool:
        sha = digest(data)
        if self._known.get(path) == sha:
            return False
        if self._down:
            self._fail(path, f"not tried: {self._down}")
        if self._page_failed and not is_page(path):
            # A feed or index may link the page that is missing: it waits for the next publish,
            # and readers keep the previous one, whose pages are all there.
            self._fail(path, f"held back until page {self._page_failed} is uploaded")
        key = self.location.prefix + path
        try:
            _client(self.options).put_object(
                Bucket=self.location.bucket,
                Key=key,
                Body=data,
                ContentType=media_type(posixpath.basename(path)),
                CacheControl=cache_control(path, data),
            )
        except (BotoCoreError, ClientError) as exc:
            message = explain(exc, self.location, self.options, key)
            if is_page(path):
                self._page_failed = path
            if _whole_output(exc):
                self._down = message
            self._fail(path, message)
        self.store.record_upload(self.target, path, sha, len(data))
        self._known[path] = sha
        return True

    def _fail(self, path: str, message: str) -> NoReturn:
        self.store.record_upload_failure(self.target, path, message)
        if not message.startswith("s3://"):
            message = f"s3://{self.location.bucket}/{self.location.prefix}{path}: {message}"
        raise OutputError(message)

    def remove(self, path: str) -> bool:
        if path not in self._known:
            return False
        return bool(self._delete([path]))

    def missing(self, paths: Iterable[str]) -> list[str]:
        # Not looked for: it would take a request a key. A key deleted by hand stays missing
        # until its file changes or `publish --all` (README says so).
        return []

    def explain(self, path: str, exc: OSError) -> str:
        message = str(exc)  # an OutputError names its key already
        if message.startswith("s3://"):
            return message
        return f"s3://{self.location.bucket}/{self.location.prefix}{path}: {message}"

    def remove_stale(self, keep: Collection[str], under: str) -> list[str]:
        return self._delete(
            sorted(p for p in self._known if p.startswith(under + "/") and p not in keep)
        )

    def _delete(self, stale: list[str]) -> list[str]:
        """Delete these keys (in batches); those deleted. Raises OutputError on the first
        refusal: the keys not deleted are deleted again by the next publish."""
        removed: list[str] = []
        if stale and self._down:
            key = self.location.prefix + stale[0]
            raise OutputError(f"s3://{self.location.bucket}/{key}: not deleted: {self._down}")
        for start in range(0, len(stale), _DELETE_BATCH):
            batch = stale[start : start + _DELETE_BATCH]
            keys = {self.location.prefix + path: path for path in batch}
            try:
                answer = _client(self.options).delete_objects(
                    Bucket=self.location.bucket,
                    Delete={"Objects": [{"Key": key} for key in keys], "Quiet": True},
                )
            except (BotoCoreError, ClientError) as exc:
                key = self.location.prefix + batch[0]
                raise OutputError(explain(exc, self.location, self.options, key)) from None
            failed = {error["Key"]: error for error in answer.get("Errors", [])}
            deleted = [path for key, path in keys.items() if key not in failed]
            self.store.forget_uploads(self.target, deleted)
            removed += deleted
            for path in deleted:
                self._known.pop(path, None)
            if failed:
                key, error = next(iter(failed.items()))
                raise OutputError(
                    f"s3://{self.location.bucket}/{key}: not deleted: {error.get('Code', '')} "
                    f"{error.get('Message', '')} ({len(failed)} key(s) kept; deleted again at "
                    "the next publish)"
                )
        return removed


def probe(location: S3Location, options: OutputOptions | None) -> None:
    """Write and delete a hidden key under the prefix: what publishing needs, tried before a
    command starts. Raises OutputError naming the bucket and what to check."""
    key = location.prefix + ".write-test"
    client = _client(options)
    try:
        client.put_object(Bucket=location.bucket, Key=key, Body=b"")
        client.delete_object(Bucket=location.bucket, Key=key)
    except (BotoCoreError, ClientError) as exc:
        raise OutputError(explain(exc, location, options, key)) from None
