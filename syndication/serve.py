"""The HTTP server for the published output folder.

Owns: turning a request path into a file strictly inside the output root, the in-memory
cache of file bytes (plain and gzip) with their ETags, conditional requests (ETag and
Last-Modified, answered with 304), CORS for the public files (any origin, a preflight
answered), content negotiation for gzip and for a feed opened in a
browser (the feed folder's ``index.html`` page instead of the feed), media types (from
``syndication.media``), ``410 Gone`` for the notice a withdrawn story's page holds (its copy
under ``withdrawn/``, which is for nginx, never answered at its own URL), a long
``Cache-Control`` for closed RFC 5005 archive documents, the ``/healthz`` and ``/metrics``
endpoints (their content comes from callables the caller gives), handing everything under
``/partners/`` to the partners' app the caller gives (never to a file), and closing a
connection whose request does not arrive whole within seconds (uvicorn's protocol with a
deadline). It is a small pure-ASGI app run by uvicorn; it never writes files and knows
nothing about how they were produced. With no root (the output is an object store) it
answers only the endpoints.

Public API: :func:`build_app` (the ASGI app), :func:`make_server` (a configured, not yet
started ``uvicorn.Server``), and :func:`listen` / :func:`fork_servers` / :func:`stop_servers`
for serving one port from several processes (``syndication serve`` with ``serve.workers``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gzip
import hashlib
import json
import logging
import os
import signal
import socket
import stat
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from syndication.media import NAMED_TYPES as _NAMED_TYPES
from syndication.media import OCTET_STREAM as _OCTET_STREAM
from syndication.media import WITHDRAWN_COPIES, WITHDRAWN_MARK, media_type
from syndication.negotiate import accepts_gzip, etag_matches, request_headers
from syndication.paging import is_closed_archive

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
HealthCheck = Callable[[], dict[str, Any]]
Metrics = Callable[[], tuple[bytes, str]]  # (body, content type), e.g. run.health.exposition
_Headers = list[tuple[bytes, bytes]]

ALLOWED_METHODS = "GET, HEAD, OPTIONS"
PARTNERS = "/partners/"  # the prefix the partners' app answers (syndication.partners)
# Feeds are polled; five minutes keeps readers reasonably fresh while letting caches absorb
# bursts. Revalidation is cheap anyway thanks to the ETag.
CACHE_CONTROL = "public, max-age=300"
# A closed archive document (one with a next-archive link) changes only when a story in it is
# corrected or withdrawn: caches may keep it for a day (not for ever, for that reason).
ARCHIVE_CACHE_CONTROL = "public, max-age=86400"
# What the publisher writes into the page left where a withdrawn story was.
_WITHDRAWN_MARK = WITHDRAWN_MARK.encode()
# Below this, gzip's header and the CPU spent cost more than the bytes saved.
GZIP_MIN_SIZE = 1024
# Total bytes (plain + gzip) the cache may hold; published files are small, so this holds the
# whole output of a typical deployment while bounding memory if someone drops big files in.
CACHE_BUDGET = 64 * 1024 * 1024
# A single file larger than this is served but not kept, so it cannot evict the hot feeds.
CACHE_MAX_ENTRY = CACHE_BUDGET // 8
# Request paths whose resolution is remembered (see StaticApp._resolved).
_RESOLVED_MAX = 4096
# Seconds a client has to send a whole request (its headers, and a body if it sends one) from
# its first byte, or from opening the connection. A request line and headers are a few hundred
# bytes, sent at once by any client, even over a poor mobile link; nginx allows 60 s.
REQUEST_TIMEOUT = 10.0


# A person opening a feed in a browser gets the page of the feed's folder: browsers show
# RSS/Atom as raw text (Chromium) or only through XSLT, which they are removing. Feed readers
# ask for feed types, `*/*` or nothing, and get the feed bytes as ever.
_PAGE = "index.html"
_PAGE_DESTS = frozenset({"document", "iframe", "frame"})  # Sec-Fetch-Dest of a navigation
_HTML_TYPES = ("text/html", "application/xhtml+xml")
_FEED_TYPES = (
    "application/rss+xml",
    "application/atom+xml",
    "application/feed+json",
    "application/json",
    "application/xml",
    "text/xml",
    "application/rdf+xml",  # RSS 1.0: no feed of ours, but only a feed reader names it
)
# What takes a feed type at the weight it is named with: the types and their wildcards.
_FEED_RANGES = (*_FEED_TYPES, "application/*", "text/*", "*/*")
# Each feed URL has two representations, so every answer for it says what it varies on.
_NEGOTIATED_VARY = "Accept, Sec-Fetch-Dest"
# The page at a feed URL is for the one browser: a shared cache that ignores Vary must never
# store it and hand it to a feed reader (it may store the feed, which browsers survive).
_PAGE_CACHE_CONTROL = "private, max-age=300"
# CORS (Fetch standard): the published files are public and take no credentials, so a script
# on any site (a browser feed reader, a partner's page) may read them, and their validators
# to poll with If-None-Match. /healthz and /metrics are the operator's: not offered.
_CROSS_ORIGIN = [(b"access-control-allow-origin", "*")]
_EXPOSE = (b"access-control-expose-headers", "ETag, Last-Modified")
_ENDPOINTS = ("/healthz", "/metrics")
_PREFLIGHT = [
    (b"access-control-allow-methods", ALLOWED_METHODS),
    (b"access-control-allow-headers", "If-None-Match, If-Modified-Since"),
    (b"access-control-max-age", "86400"),
]


def _compressible(content_type: str) -> bool:
    # Only text formats: octet-stream may be an image or archive that gzip cannot shrink.
    return content_type != _OCTET_STREAM


@dataclass(frozen=True, slots=True)
class _Entry:
    """One file's rendered response bodies, valid while the file's (mtime_ns, size) holds."""

    mtime_ns: int
    size: int
    body: bytes
    gz_body: bytes | None
    etag: str
    gz_etag: str
    last_modified: str
    mtime_s: int
    content_type: str
    status: int = 200  # 410 for a withdrawn story's notice
    cache_control: str = CACHE_CONTROL
    # The encoded response headers of each variant (gzip or not, page or not, negotiated or
    # not), built on first use: a hot file's 304 is then a lookup, not a header list built,
    # joined and encoded per request.
    responses: dict[tuple[bool, bool, bool], tuple[_Headers, _Headers]] = field(
        default_factory=dict, compare=False
    )

    @property
    def cost(self) -> int:
        return len(self.body) + (len(self.gz_body) if self.gz_body is not None else 0)


class _FileCache:
    """An LRU of :class:`_Entry` keyed by resolved path and validated against a fresh stat.

    Used only from the event loop thread, so it needs no lock; the slow part of a miss
    (read, hash, gzip) runs in a worker thread and only the insertion happens on the loop.
    """

    def __init__(self, budget: int = CACHE_BUDGET, max_entry: int = CACHE_MAX_ENTRY) -> None:
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._budget = budget
        self._max_entry = max_entry
        self._used = 0

    def get(self, path: str, st: os.stat_result) -> _Entry | None:
        entry = self._entries.get(path)
        if entry is None:
            return None
        if entry.mtime_ns != st.st_mtime_ns or entry.size != st.st_size:
            # The file was republished: drop the stale bytes now rather than at eviction.
            self._drop(path)
            return None
        self._entries.move_to_end(path)
        return entry

    def put(self, path: str, entry: _Entry) -> None:
        if entry.cost > self._max_entry:
            return
        self._drop(path)
        self._entries[path] = entry
        self._used += entry.cost
        while self._used > self._budget and self._entries:
            _, old = self._entries.popitem(last=False)
            self._used -= old.cost

    def _drop(self, path: str) -> None:
        old = self._entries.pop(path, None)
        if old is not None:
            self._used -= old.cost


class _Changed(Exception):
    """The file changed while it was being read; the caller retries."""


def _load(path: str) -> _Entry:
    """Read, hash and gzip one file (runs in a worker thread).

    The stat that keys the entry comes from the open descriptor before and after the read, so
    a file rewritten in place mid-read is never cached under metadata that does not match its
    bytes. O_NOFOLLOW refuses a final component swapped for a symlink after the path was
    checked.
    """
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        before = os.fstat(fd)
        if not stat.S_ISREG(before.st_mode):
            raise FileNotFoundError(path)
        with os.fdopen(fd, "rb", closefd=False) as fh:
            body = fh.read()
        after = os.fstat(fd)
    finally:
        os.close(fd)
    if (before.st_mtime_ns, before.st_size) != (after.st_mtime_ns, after.st_size) or len(
        body
    ) != after.st_size:
        raise _Changed(path)
    content_type = media_type(os.path.basename(path))
    gz_body: bytes | None = None
    if _compressible(content_type) and len(body) > GZIP_MIN_SIZE:
        # mtime=0 makes the gzip bytes a pure function of the content, like its ETag.
        packed = gzip.compress(body, compresslevel=6, mtime=0)
        if len(packed) < len(body):
            gz_body = packed
    return _entry(path, body, gz_body, after)


def _entry(path: str, body: bytes, gz_body: bytes | None, st: os.stat_result) -> _Entry:
    """A cache entry for these bytes: ETags from their hash, dates from the file's stat."""
    digest = hashlib.sha256(body).hexdigest()[:32]
    status, cache_control = 200, CACHE_CONTROL
    if "/articles/" in path and _WITHDRAWN_MARK in body:
        status = 410
    elif is_closed_archive(path, body):
        cache_control = ARCHIVE_CACHE_CONTROL
    return _Entry(
        mtime_ns=st.st_mtime_ns,
        size=len(body),
        body=body,
        gz_body=gz_body,
        etag=f'"{digest}"',
        gz_etag=f'"{digest}-gz"',
        last_modified=formatdate(st.st_mtime, usegmt=True),
        mtime_s=int(st.st_mtime),
        content_type=media_type(os.path.basename(path)),
        status=status,
        cache_control=cache_control,
    )


def _accept_ranges(header: str) -> list[tuple[str, float]]:
    ranges = []
    for part in header.split(","):
        media, _, params = part.strip().partition(";")
        media = media.strip().lower()
        if "/" not in media:
            continue
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = max(0.0, min(1.0, float(value.strip())))
                except ValueError:
                    q = 0.0
        ranges.append((media, q))
    return ranges


def wants_page(headers: dict[str, str], feed_type: str) -> bool:
    """Whether a request for a feed is a person's browser opening it.

    A navigation says so in Sec-Fetch-Dest (browsers send it over HTTPS and to localhost);
    any other destination is a script or a subresource, which gets the feed. Without it (plain
    HTTP to a public host) the Accept header decides: a browser names text/html (or XHTML) at
    full weight and every other type below it, while a feed reader names a feed type, sends
    `*/*` at full weight, or nothing. So the page goes only to an Accept that takes text/html
    at full weight and no feed type (nor a wildcard covering one) at full weight; anything in
    between gets the feed, as a feed reader given a page loses its subscription, while a person
    given the feed only sees its text. The rule compares weights with 1 only (never with each
    other) so that a `map` in deploy/nginx.conf says exactly the same.
    """
    dest = headers.get("sec-fetch-dest", "").strip().lower()
    if dest:
        return dest in _PAGE_DESTS
    accept = headers.get("accept")
    if not accept:
        return False
    full = {media for media, q in _accept_ranges(accept) if q >= 1.0}
    kind = feed_type.split(";", 1)[0].strip().lower()
    return not full.isdisjoint(_HTML_TYPES) and full.isdisjoint((kind, *_FEED_RANGES))


def _not_modified_since(header: str, mtime_s: int) -> bool:
    try:
        since = parsedate_to_datetime(header)
    except (TypeError, ValueError, IndexError):
        return False  # an unparsable date is ignored, as RFC 9110 §13.1.3 requires
    if since.tzinfo is None:
        return False  # not an HTTP-date (those are always GMT)
    # HTTP dates have one-second resolution, so compare against the truncated mtime.
    return mtime_s <= int(since.timestamp())


def _response_headers(
    entry: _Entry, use_gzip: bool, page: bool, negotiated: bool
) -> tuple[_Headers, _Headers]:
    """The encoded headers of a 304 and of a 200 for one variant of a file."""
    common: list[tuple[bytes, str]] = [
        (b"etag", entry.gz_etag if use_gzip else entry.etag),
        (b"last-modified", entry.last_modified),
        (b"cache-control", _PAGE_CACHE_CONTROL if page else entry.cache_control),
        (b"x-content-type-options", "nosniff"),
        *_CROSS_ORIGIN,
        _EXPOSE,
    ]
    vary = [_NEGOTIATED_VARY] if negotiated else []
    if _compressible(entry.content_type):
        # Even an uncompressed answer varies with Accept-Encoding when gzip exists.
        vary.append("Accept-Encoding")
    if vary:
        common.append((b"vary", ", ".join(vary)))
    body = entry.gz_body if use_gzip and entry.gz_body is not None else entry.body
    full = [
        (b"content-type", entry.content_type),
        (b"content-length", str(len(body))),
        *common,
    ]
    if use_gzip:
        full.append((b"content-encoding", "gzip"))
    return _encode(common), _encode(full)


# Clients send the same few Accept and Accept-Encoding values over and over: each is parsed
# once, not per request.
@functools.lru_cache(maxsize=512)
def _accepts_gzip(header: str | None) -> bool:
    return accepts_gzip(header)


@functools.lru_cache(maxsize=512)
def _wants_page(dest: str, accept: str | None, feed_type: str) -> bool:
    headers = {"accept": accept} if accept is not None else {}
    if dest:
        headers["sec-fetch-dest"] = dest
    return wants_page(headers, feed_type)


class _Rejected(Exception):
    """The request path is unsafe or names nothing servable: answer 404."""


class StaticApp:
    """The ASGI app: static files under ``root`` plus ``/healthz`` and ``/metrics``.

    ``/metrics`` answers 404 when no ``metrics`` callable is given (``syndication serve``
    has no store to report on).
    """

    def __init__(
        self,
        root: Path | None,
        health: HealthCheck | None = None,
        metrics: Metrics | None = None,
        partners: ASGIApp | None = None,
    ) -> None:
        # No root: the output is an object store, and only /healthz and /metrics are ours.
        self.serves_files = root is not None
        self.root = os.path.realpath(root) if root is not None else ""
        self._root_prefix = self.root.rstrip(os.sep) + os.sep
        self.health = health
        self.metrics = metrics
        # Everything under /partners/ is the partners' app (private feeds, the API), never a
        # file of the output; without one it is not found.
        self.partners = partners
        self.cache = _FileCache()
        # Request path (raw) -> the file it resolved to, with that file's identity (device,
        # inode), so a hot file costs one stat per request instead of a realpath (an lstat per
        # path component). A hit is used only while the same file is still found at the
        # resolved path: a component swapped for a symlink leading elsewhere finds another
        # file (or none) there, and the request takes the full check again.
        self._resolved: dict[bytes | str, tuple[str, int, int]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(receive, send)
            return
        if kind != "http":
            # No websockets here; closing at once is the polite refusal.
            await send({"type": "websocket.close", "code": 1008})
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            if scope["path"].startswith(PARTNERS):
                await (self.partners or _not_found)(scope, receive, tracking_send)
            else:
                await self._handle(scope, tracking_send)
        except Exception:
            # Log the trace for operators; the client only ever sees a plain 500.
            log.exception("serve: error handling %s %r", scope.get("method"), scope.get("path"))
            if not started:
                await _plain(send, 500, "internal server error\n", scope.get("method") == "HEAD")

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _handle(self, scope: Scope, send: Send) -> None:
        method = scope["method"]
        head = method == "HEAD"
        path: str = scope["path"]
        if method == "OPTIONS":
            # A CORS preflight (or a plain OPTIONS): answered for any path, as it asks only
            # what may be sent.
            extra = [] if path in _ENDPOINTS else [*_CROSS_ORIGIN, *_PREFLIGHT]
            headers = _encode([(b"allow", ALLOWED_METHODS), *extra])
            await send({"type": "http.response.start", "status": 204, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        if method not in ("GET", "HEAD"):
            await _plain(send, 405, "method not allowed\n", False, [(b"allow", ALLOWED_METHODS)])
            return
        if path == "/healthz":
            await self._health(send, head)
            return
        if path == "/metrics":
            # Never a file from the output, even one named so: the name is the endpoint's.
            if self.metrics is None:
                await _plain(send, 404, "not found\n", head)
            else:
                await self._metrics(send, self.metrics, head)
            return
        raw_path = scope.get("raw_path")
        key = raw_path if raw_path is not None else path
        found = self._known(key) if self.serves_files else None
        if found is not None:
            target, st = found
        else:
            try:
                if not self.serves_files:
                    raise _Rejected
                target, st, redirect = self._locate(path, raw_path)
            except _Rejected:
                await _plain(send, 404, "not found\n", head, _CROSS_ORIGIN)
                return
            if redirect is not None:
                # A directory without its slash: relative links in its index.html need it.
                query = scope.get("query_string", b"").decode("latin-1")
                location = redirect + (f"?{query}" if query else "")
                await _plain(send, 301, "moved\n", head, [(b"location", location), *_CROSS_ORIGIN])
                return
            self._remember(key, target, st)
        headers = request_headers(scope.get("headers", []))
        negotiated = os.path.basename(target) in _NAMED_TYPES
        page = False
        if negotiated and _wants_page(
            headers.get("sec-fetch-dest", ""),
            headers.get("accept"),
            media_type(os.path.basename(target)),
        ):
            try:
                beside = os.path.join(os.path.dirname(target), _PAGE)
                found, found_st = self._contained(beside, path)
            except _Rejected:
                pass  # a feed folder without a page: the browser gets the feed itself
            else:
                if stat.S_ISREG(found_st.st_mode):
                    target, st, page = found, found_st, True
        try:
            entry = await self._entry(target, st)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError):
            await _plain(send, 404, "not found\n", head, _CROSS_ORIGIN)
            return
        except OSError as exc:
            # ELOOP (a symlink swapped in after the check) and friends: refuse, quietly.
            log.warning("serve: cannot open %s: %s", target, exc)
            await _plain(send, 404, "not found\n", head, _CROSS_ORIGIN)
            return
        await self._send_file(headers, send, entry, head, negotiated=negotiated, page=page)

    def _known(self, key: bytes | str) -> tuple[str, os.stat_result] | None:
        """The file a request path resolved to before, if that same file is still there."""
        hit = self._resolved.get(key)
        if hit is None:
            return None
        target, device, inode = hit
        try:
            st = os.stat(target)
        except (OSError, ValueError):
            st = None
        if st is None or (st.st_dev, st.st_ino) != (device, inode) or not stat.S_ISREG(st.st_mode):
            del self._resolved[key]
            return None
        return target, st

    def _remember(self, key: bytes | str, target: str, st: os.stat_result) -> None:
        if len(self._resolved) >= _RESOLVED_MAX:
            self._resolved.clear()  # bounded; the hot paths come back at once
        self._resolved[key] = (target, st.st_dev, st.st_ino)

    def _locate(self, path: str, raw_path: bytes | None) -> tuple[str, os.stat_result, str | None]:
        """Map a request path to a regular file inside root (with its stat) and maybe a redirect.

        Rejects anything that could name a file outside root before touching the disk, then
        resolves symlinks and checks containment again, so a symlink pointing out is refused.
        """
        if not path.startswith("/") or "\\" in path or "\x00" in path:
            raise _Rejected
        if raw_path is not None:
            lowered = raw_path.lower()
            # An encoded slash, backslash or NUL is never part of a published name; refusing
            # it keeps "..%2f" from becoming a path separator after decoding.
            if b"%2f" in lowered or b"%5c" in lowered or b"%00" in lowered:
                raise _Rejected
        parts = [p for p in path.split("/") if p]
        # Dot segments would climb out; dotfiles are never published but may be half-written
        # temporary files (atomic publish), so they stay private too, as do the notices'
        # copies (withdrawn/…), which are the publisher's word to nginx, not pages.
        if any(p.startswith(".") for p in parts) or parts[:1] == [WITHDRAWN_COPIES]:
            raise _Rejected
        resolved, st = self._contained(os.path.join(self.root, *parts), path)
        redirect: str | None = None
        if stat.S_ISDIR(st.st_mode):
            if parts and not path.endswith("/"):
                # Built from the cleaned segments, so "//evil.example" cannot become a
                # protocol-relative redirect.
                redirect = "/" + "/".join(parts) + "/"
            resolved, st = self._contained(os.path.join(resolved, "index.html"), path)
        elif path.endswith("/"):
            raise _Rejected  # "/kk/rss.xml/" names a directory that is not one
        if not stat.S_ISREG(st.st_mode):
            raise _Rejected
        return resolved, st, redirect

    def _contained(self, candidate: str, path: str) -> tuple[str, os.stat_result]:
        """Resolve symlinks in ``candidate`` and insist the result is still inside root."""
        try:
            resolved = os.path.realpath(candidate, strict=True)
            st = os.stat(resolved)
        except (OSError, ValueError) as exc:
            raise _Rejected from exc
        if resolved != self.root and not resolved.startswith(self._root_prefix):
            log.warning("serve: refused %r: resolves outside the output root", path)
            raise _Rejected
        return resolved, st

    async def _entry(self, path: str, st: os.stat_result) -> _Entry:
        # The stat from _locate is fresh (taken for this request), which is what lets a newly
        # published file be seen at once while a hot one costs no read and no hashing.
        entry = self.cache.get(path, st)
        if entry is not None:
            return entry
        for _ in range(3):
            try:
                entry = await asyncio.to_thread(_load, path)
            except _Changed:
                await asyncio.sleep(0.01)  # a writer is mid-rewrite; give it a moment
                continue
            self.cache.put(path, entry)
            return entry
        # Still changing: serve what a last read gives, but without caching it.
        log.warning("serve: %s kept changing while being read", path)
        return await asyncio.to_thread(_load_unstable, path)

    async def _send_file(
        self,
        headers: dict[str, str],
        send: Send,
        entry: _Entry,
        head: bool,
        *,
        negotiated: bool = False,
        page: bool = False,
    ) -> None:
        use_gzip = entry.gz_body is not None and _accepts_gzip(headers.get("accept-encoding"))
        etag = entry.gz_etag if use_gzip else entry.etag
        variant = (use_gzip, page, negotiated)
        prepared = entry.responses.get(variant)
        if prepared is None:
            prepared = entry.responses[variant] = _response_headers(entry, *variant)
        not_modified, full = prepared
        inm = headers.get("if-none-match")
        ims = headers.get("if-modified-since")
        # If-None-Match takes precedence: If-Modified-Since is ignored when it is present.
        # A withdrawn story's page is Gone, whatever a client holds of it.
        if entry.status == 200 and (
            (inm is not None and etag_matches(inm, etag))
            or (inm is None and ims is not None and _not_modified_since(ims, entry.mtime_s))
        ):
            await send({"type": "http.response.start", "status": 304, "headers": not_modified})
            await send({"type": "http.response.body", "body": b""})
            return
        body = entry.gz_body if use_gzip and entry.gz_body is not None else entry.body
        await send({"type": "http.response.start", "status": entry.status, "headers": full})
        await send({"type": "http.response.body", "body": b"" if head else body})

    async def _health(self, send: Send, head: bool) -> None:
        if self.health is None:
            report: dict[str, Any] = {"ok": True}
        else:
            try:
                # The check may touch the database; keep it off the event loop.
                result = await asyncio.to_thread(self.health)
                if not isinstance(result, dict):
                    raise TypeError(f"health() returned {type(result).__name__}, not dict")
                report = result
            except Exception:
                log.exception("serve: health check failed")
                report = {"ok": False, "error": "health check failed"}
        try:
            body = json.dumps(report, ensure_ascii=False, default=str).encode("utf-8")
        except (TypeError, ValueError):
            log.exception("serve: health report is not JSON-serialisable")
            report = {"ok": False, "error": "health report not serialisable"}
            body = json.dumps(report).encode("utf-8")
        status = 200 if report.get("ok") is True else 503
        headers = [
            (b"content-type", "application/json; charset=utf-8"),
            (b"content-length", str(len(body))),
            (b"cache-control", "no-store"),
            (b"x-content-type-options", "nosniff"),
        ]
        await send({"type": "http.response.start", "status": status, "headers": _encode(headers)})
        await send({"type": "http.response.body", "body": b"" if head else body})

    async def _metrics(self, send: Send, metrics: Metrics, head: bool) -> None:
        # The exposition reads the store: keep it off the event loop like /healthz. Should it
        # raise, __call__ logs it and answers 500, which a scraper records as a failed scrape.
        body, content_type = await asyncio.to_thread(metrics)
        headers = [
            (b"content-type", content_type),
            (b"content-length", str(len(body))),
            (b"cache-control", "no-store"),
            (b"x-content-type-options", "nosniff"),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": _encode(headers)})
        await send({"type": "http.response.body", "body": b"" if head else body})


def _load_unstable(path: str) -> _Entry:
    # Last resort for a file under constant rewrite: one read, consistency not guaranteed.
    try:
        return _load(path)
    except _Changed:
        with open(path, "rb") as fh:
            body = fh.read()
        return _entry(path, body, None, os.stat(path))


def _encode(headers: list[tuple[bytes, str]]) -> list[tuple[bytes, bytes]]:
    return [(name, value.encode("latin-1")) for name, value in headers]


async def _plain(
    send: Send,
    status: int,
    text: str,
    head: bool,
    extra: list[tuple[bytes, str]] | None = None,
) -> None:
    body = text.encode("utf-8")
    headers = [
        (b"content-type", "text/plain; charset=utf-8"),
        (b"content-length", str(len(body))),
        (b"x-content-type-options", "nosniff"),
        *(extra or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": _encode(headers)})
    await send({"type": "http.response.body", "body": b"" if head else body})


async def _not_found(scope: Scope, receive: Receive, send: Send) -> None:
    await _plain(send, 404, "not found\n", scope.get("method") == "HEAD")


def build_app(
    root: Path | None,
    health: HealthCheck | None = None,
    metrics: Metrics | None = None,
    partners: ASGIApp | None = None,
) -> ASGIApp:
    """The ASGI app serving ``root`` (resolved once, now; None: no files), ``/healthz``,
    ``/metrics`` and ``partners`` under ``/partners/``."""
    return StaticApp(root, health, metrics, partners)


def make_server(
    root: Path | None,
    host: str,
    port: int,
    health: HealthCheck | None = None,
    log_level: str = "warning",
    metrics: Metrics | None = None,
    partners: ASGIApp | None = None,
    request_timeout: float = REQUEST_TIMEOUT,
) -> uvicorn.Server:
    """A configured, not yet started uvicorn server for ``root``.

    Run it with ``server.run()`` in the main thread (uvicorn then handles SIGINT/SIGTERM) or
    in a thread and stop it with ``server.should_exit = True``. With ``port=0`` the bound
    port is ``server.servers[0].sockets[0].getsockname()[1]`` once ``server.started``.
    ``metrics`` (e.g. ``lambda: exposition(store)``) enables ``GET /metrics``. A connection
    whose request has not arrived whole ``request_timeout`` seconds after it opened (or after
    the request's first byte) is closed.
    """
    config = uvicorn.Config(
        build_app(root, health, metrics, partners),
        host=host,
        port=port,
        log_level=log_level,
        # uvicorn's own logging config writes straight to sys.stderr in its own format; without
        # it uvicorn's records reach our handler: the chosen --log-format, secrets masked.
        log_config=None,
        lifespan="off",  # nothing to set up; skips uvicorn's lifespan probing
        # httptools parses requests in C (half the cost of h11's pure Python per request),
        # with a deadline for each request to arrive; the asyncio loop, never uvloop's
        # policy, which would change every loop of `run`.
        http=type("DeadlineProtocol", (_DeadlineProtocol,), {"request_timeout": request_timeout}),
        loop="asyncio",
        ws="none",  # static files only: refuse websocket upgrades at the protocol level
        server_header=False,  # do not advertise the server software and version
        # Never a line per request: it would quote query strings, where a partner's token
        # may be, and it costs more than a 304 itself.
        access_log=False,
        timeout_graceful_shutdown=10,  # a stuck client must not block shutdown forever
    )
    return uvicorn.Server(config)


class _DeadlineProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline for receiving each request.

    uvicorn times out only the idle wait between two requests (`timeout_keep_alive`), and that
    timer stops at the first byte: a client sending its headers a byte at a time, or never
    finishing them (slowloris), held its connection for ever, and a few hundred such clients
    every connection the server could take. uvicorn has no setting for it (encode/uvicorn#157,
    `--timeout-request-start`, still open in 0.55), hence this subclass of its protocol: the
    deadline starts when the connection opens and when a request's first byte comes, stops
    once that request is complete, and closes the connection when it passes (as nginx's
    `client_header_timeout` does; what a response is still sending is cut off too, as the
    client is sending an unfinished request meanwhile).
    """

    request_timeout = REQUEST_TIMEOUT

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()  # after the keep-alive wait: the next request's first byte

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def _arm(self) -> None:
        if self._deadline is None:  # from the connection's opening, not renewed by a byte
            self._deadline = self.loop.call_later(self.request_timeout, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on (host, port) that several server processes can share."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def fork_servers(count: int, serve: Callable[[], None]) -> list[int]:
    """`count` more processes, each running `serve` (a server on a listening socket the
    caller shares with them, which serves on it too): each accepts connections itself, so
    requests use every core, as nginx's workers do.

    Call it before the process starts any thread or event loop, or opens a database: `serve`
    opens its own. A child stops on SIGTERM or SIGINT (as `serve` must), and by itself when
    its parent is gone; `stop_servers` ends them.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    children = []
    for _ in range(count):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child, which never returns
            status = 1
            try:
                _watch_parent()
                serve()
                status = 0
            finally:
                os._exit(status)
        children.append(pid)
    return children


def _watch_parent() -> None:
    """Stop this process (as SIGTERM does) once the process that forked it is gone."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="serve-parent-watch", daemon=True).start()


def stop_servers(children: list[int], timeout: float = 10.0) -> None:
    """End the processes `fork_servers` started (SIGTERM, then SIGKILL after `timeout`)."""
    for pid in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    waiting = set(children)
    while waiting:
        for pid in list(waiting):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done = pid
            if done:
                waiting.discard(pid)
        if not waiting:
            break
        if time.monotonic() > deadline:
            for pid in waiting:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            deadline = float("inf")
        time.sleep(0.05)
