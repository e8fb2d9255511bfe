"""Fetching partner feeds politely over HTTP (httpx), and reading feed files from disk.

Owns: conditional GET (ETag / Last-Modified sent back verbatim; a Last-Modified in the
future neither kept nor sent, with a note; a 304 to a request without validators an error), a
body size cap that aborts the download, redirects followed up to a limit with permanent ones
reported, 429/503 with Retry-After, 410 Gone (`SourceGone`), and concurrency limits (global
and per host), on one client from `syndication.http` (User-Agent, timeouts). Knows nothing
about feed formats.
"""

from __future__ import annotations

import asyncio
import email.utils
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal
from urllib.parse import urljoin, urlsplit

import httpx

from syndication import http
from syndication.config import FetchSettings
from syndication.errors import SourceError
from syndication.http import parse_retry_after

REDIRECTS = {301, 302, 303, 307, 308}
PERMANENT = {301, 308}
# How far a partner's Last-Modified may run ahead of its Date (or of our clock) and still be a
# validator: clocks a little apart are normal; one far ahead would make every later
# If-Modified-Since look newer than the feed, and an Apache-like server answers 304 to it.
CLOCK_SKEW = timedelta(minutes=1)
GONE = "gone (HTTP 410)"  # how a gone source's error starts: `status` shows it as gone
FUTURE_LAST_MODIFIED = (
    "the partner's Last-Modified ({value}) is in the future: not kept as a validator "
    "(If-Modified-Since not sent; its clock or its CMS is wrong)"
)


class SourceGone(SourceError):
    """The partner answered 410 Gone: the feed was removed for good, not a passing failure."""


def is_gone(error: str) -> bool:
    """Whether a source's recorded error is a 410 Gone (its state is `gone`, not failing)."""
    return error.startswith(GONE)


@dataclass(frozen=True)
class FetchResult:
    status: Literal["ok", "not-modified"]
    url: str  # where the body finally came from (after redirects)
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    etag: str = ""
    last_modified: str = ""
    permanent_redirect: str = ""  # set when the source moved for good: update the YAML
    notes: tuple[str, ...] = ()  # what the response got wrong that the poll should say


class Fetcher:
    """One shared HTTP client with a global and a per-host concurrency limit."""

    def __init__(self, settings: FetchSettings, transport: httpx.AsyncBaseTransport | None = None):
        self.settings = settings
        self._global = asyncio.Semaphore(settings.concurrency)
        self._per_host: defaultdict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(settings.per_host)
        )
        self._client = http.async_client(
            timeout=settings.timeout,
            connect_timeout=settings.connect_timeout,
            max_connections=settings.concurrency,
            user_agent=settings.user_agent,
            transport=transport,
        )

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def fetch(
        self,
        source_id: str,
        url: str,
        etag: str = "",
        last_modified: str = "",
        before: Callable[[], Awaitable[None]] | None = None,
    ) -> FetchResult:
        """GET `url` conditionally; raise SourceError with a clear reason on any failure.

        `before` is awaited when this fetch's turn has come (after the wait for the
        concurrency limits), right before the request: what it raises ends the fetch unsent."""
        host = urlsplit(url).netloc.lower()
        # The host's turn first: fetches queued behind a slow host must not sit on the global
        # slots that every other host's fetches need.
        async with self._per_host[host], self._global:
            if before is not None:
                await before()
            try:
                return await asyncio.wait_for(
                    self._fetch(source_id, url, etag, last_modified),
                    timeout=self.settings.timeout,
                )
            except TimeoutError:
                raise SourceError(
                    source_id, f"timed out after {self.settings.timeout:.0f}s fetching {url}"
                ) from None

    async def _fetch(self, source_id: str, url: str, etag: str, last_modified: str) -> FetchResult:
        conditional: dict[str, str] = {}
        if etag:
            conditional["If-None-Match"] = etag
        # (A store written before future dates were refused may still hold one.)
        if last_modified and not _in_the_future(last_modified, None):
            conditional["If-Modified-Since"] = last_modified
        permanent = ""
        current = url
        for _hop in range(self.settings.max_redirects + 1):
            try:
                async with self._client.stream("GET", current, headers=conditional) as response:
                    if response.status_code not in REDIRECTS:
                        return await self._result(
                            source_id, response, current, etag, bool(conditional), permanent
                        )
                    location = response.headers.get("location")
                    if not location:
                        raise SourceError(
                            source_id, f"HTTP {response.status_code} without a Location"
                        )
                    target = urljoin(current, location)
                    # Only a chain of permanent hops from the configured URL is a move the
                    # operator should copy into the YAML.
                    if response.status_code in PERMANENT and (permanent or current == url):
                        permanent = target
                    elif response.status_code not in PERMANENT:
                        permanent = ""
                    current = target
            except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
                raise _fetch_error(source_id, current, exc) from None
        raise SourceError(
            source_id, f"more than {self.settings.max_redirects} redirects from {url}"
        )

    async def _result(
        self,
        source_id: str,
        response: httpx.Response,
        url: str,
        etag: str,
        conditional: bool,
        permanent: str,
    ) -> FetchResult:
        """What a response other than a redirect means: not modified, a body, or an error."""
        last_modified, notes = _last_modified(response)
        if response.status_code == 304:
            if not conditional:
                # Nothing was asked to compare with: a partner's bug, and a source that never
                # delivered anything must not look healthy.
                raise SourceError(
                    source_id,
                    f"answered 304 Not Modified to a request without validators: nothing to "
                    f"compare with ({url})",
                )
            return FetchResult(
                status="not-modified",
                url=url,
                etag=response.headers.get("etag", etag),
                # The one sent was accepted; a new one is kept only if it is plausible.
                last_modified=last_modified or _sent(response),
                permanent_redirect=permanent,
                notes=notes,
            )
        if response.status_code == 410:
            raise SourceGone(
                source_id,
                f"{GONE}: the partner removed this feed ({url}); remove the source from the "
                "YAML or point it elsewhere",
            )
        if response.status_code in (429, 503):
            wait = parse_retry_after(response.headers.get("retry-after"))
            # Said as it will be kept: the schedule waits no longer than fetch.max_backoff.
            shown = min(wait, self.settings.max_backoff) if wait is not None else None
            hint = f"; retry after {shown:.0f}s" if shown is not None else ""
            raise SourceError(
                source_id,
                f"HTTP {response.status_code} from {url}{hint}",
                retry_after=wait,
            )
        if response.status_code >= 400:
            raise SourceError(
                source_id,
                f"HTTP {response.status_code} {response.reason_phrase} from {url}",
            )
        body = await self._read_capped(source_id, response)
        return FetchResult(
            status="ok",
            url=url,
            body=body,
            headers={k.lower(): v for k, v in response.headers.items()},
            etag=response.headers.get("etag", ""),
            last_modified=last_modified,
            permanent_redirect=permanent,
            notes=notes,
        )

    async def _read_capped(self, source_id: str, response: httpx.Response) -> bytes:
        limit = self.settings.max_bytes
        declared = response.headers.get("content-length", "")
        encoded = response.headers.get("content-encoding", "identity") != "identity"
        if declared.isdigit() and int(declared) > limit and not encoded:
            raise SourceError(
                source_id, f"response is {int(declared):,} bytes, over the {limit:,}-byte limit"
            )
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > limit:
                raise SourceError(
                    source_id, f"response is over the {limit:,}-byte limit; download aborted"
                )
            chunks.append(chunk)
        return b"".join(chunks)


def _last_modified(response: httpx.Response) -> tuple[str, tuple[str, ...]]:
    """The response's Last-Modified to keep as a validator ("" when none or in the future),
    and the note a future one earns."""
    value = response.headers.get("last-modified", "")
    if value and _in_the_future(value, response.headers.get("date")):
        return "", (FUTURE_LAST_MODIFIED.format(value=value),)
    return value, ()


def _sent(response: httpx.Response) -> str:
    """The If-Modified-Since the request carried ("" when none)."""
    return response.request.headers.get("if-modified-since", "")


def _in_the_future(value: str, date: str | None) -> bool:
    """Whether an HTTP date is later than the response's own Date and our clock, give or take
    CLOCK_SKEW. An unparseable one is not judged: it is sent back verbatim, as ever."""
    when = _http_date(value)
    if when is None:
        return False
    now = datetime.now(UTC)
    said = _http_date(date) if date else None
    # The earlier of the two clocks: a partner whose Date is as wrong as its Last-Modified
    # (a clock years ahead) must not vouch for it.
    limit = min(now, said) if said is not None else now
    return when > limit + CLOCK_SKEW


def _http_date(value: str) -> datetime | None:
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _fetch_error(source_id: str, url: str, exc: Exception) -> SourceError:
    """The source's error for what httpx (or a malformed URL) raised fetching `url`."""
    if isinstance(exc, httpx.TimeoutException):
        phase = "connecting to" if isinstance(exc, httpx.ConnectTimeout) else "fetching"
        return SourceError(source_id, f"timed out {phase} {url}")
    if isinstance(exc, httpx.DecodingError):
        return SourceError(source_id, f"undecodable response body: {exc}")
    if isinstance(exc, httpx.ConnectError):
        reason = str(exc) or type(exc).__name__
        return SourceError(source_id, f"cannot connect to {url}: {reason}")
    if isinstance(exc, httpx.InvalidURL | ValueError):
        # httpx.InvalidURL is not an HTTPError; a malformed Location header lands here.
        return SourceError(source_id, f"invalid URL {url!r}: {exc}")
    reason = str(exc) or type(exc).__name__
    return SourceError(source_id, f"cannot fetch {url}: {reason}")


def read_feed_file(source_id: str, path: Path, max_bytes: int, known_etag: str = "") -> FetchResult:
    """Read a partner export from disk; its mtime and size play the part of an ETag."""
    try:
        stat = path.stat()
    except OSError as exc:
        raise SourceError(source_id, f"cannot read {path}: {exc.strerror or exc}") from None
    tag = f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"'
    # as_uri() refuses relative paths; the YAML loader makes them absolute, other callers may not.
    path = path.absolute()
    modified = email.utils.format_datetime(datetime.fromtimestamp(stat.st_mtime, UTC), usegmt=True)
    if tag == known_etag:
        return FetchResult(
            status="not-modified", url=path.as_uri(), etag=tag, last_modified=modified
        )
    if stat.st_size > max_bytes:
        raise SourceError(source_id, f"{path} is {stat.st_size:,} bytes, over the limit")
    try:
        body = path.read_bytes()
    except OSError as exc:
        raise SourceError(source_id, f"cannot read {path}: {exc.strerror or exc}") from None
    return FetchResult(status="ok", url=path.as_uri(), body=body, etag=tag, last_modified=modified)
