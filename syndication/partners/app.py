"""The partners' HTTP side: an ASGI app for everything under `/partners/`.

Owns: the routes (`/partners/{id}/{edition}/rss.xml|atom.xml|feed.json`, the feed's archive
pages `/partners/{id}/{edition}/archive/{n}/…` and `/partners/{id}/api/v1/items`), the order a
request is judged in (a route that cannot exist: 404, whoever asks; then the token; then the
API's parameters, 400; then the edition; then the partner's rate; then whether the archive page
exists, 404), the one refusal every failed check gets (401 with `WWW-Authenticate: Bearer`, the
same bytes whether the id is unknown, the token missing or wrong, or the edition not the
partner's), 429 with Retry-After, conditional GET (ETag, 304), gzip, Cache-Control (a day,
private, for a closed archive page), CORS (a preflight answered; an answer readable by a
browser script of any origin only when the token came in the Authorization header), and
fairness: the work a request needs off the event loop
(the store, rendering) runs on a pool of its own, at most `PER_PARTNER` requests of one partner
at a time, so one partner's burst queues behind itself and not in front of another's requests.
Taking a new configuration (`configure`) changes keys, entitlements and rates for the next
request.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, TypeVar

from syndication.config import Config, PartnerSettings
from syndication.errors import StoreError
from syndication.negotiate import accepts_gzip, etag_matches, request_headers
from syndication.paging import is_closed_archive
from syndication.partners.activity import UNKNOWN, Activity, Seen
from syndication.partners.api import BadRequest, CatchUp, question
from syndication.partners.feeds import Body, PrivateFeeds
from syndication.partners.keys import Keyring, bearer, parameters, token_from, without_token
from syndication.partners.limits import Limits
from syndication.store import Store

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
T = TypeVar("T")

PREFIX = "/partners/"
PER_PARTNER = 2  # a partner's requests working off the event loop at once
WORKERS = 8  # threads for all partners' store reads and rendering
# A feed's current document, or its archive page n (1 the oldest): paging.archive_folder.
_FEED = re.compile(r"^/partners/([a-z0-9][a-z0-9_-]{0,63})/([A-Za-z]{2,3}(?:-[A-Za-z]{4})?)/"
                   r"(?:archive/([1-9][0-9]{0,8})/)?(rss\.xml|atom\.xml|feed\.json)$")  # fmt: skip
_API = re.compile(r"^/partners/([a-z0-9][a-z0-9_-]{0,63})/api/v1/items$")
FEED_CACHE_CONTROL = "private, max-age=60"
# A closed archive document changes only when a story in it is corrected or withdrawn: kept a
# day, as the public ones (serve.ARCHIVE_CACHE_CONTROL), but only by the partner's own client.
ARCHIVE_CACHE_CONTROL = "private, max-age=86400"
API_CACHE_CONTROL = "private, no-cache"
VARY = "Authorization, Accept-Encoding"
ALLOW = "GET, HEAD, OPTIONS"
# CORS (Fetch standard): any origin, never credentials (cookies): the token is the key, sent
# by the script itself. A preflight may be kept a day (browsers cap it lower).
_CROSS_ORIGIN = [
    (b"access-control-allow-origin", "*"),
    (b"access-control-expose-headers", "ETag, Retry-After, WWW-Authenticate"),
]
_PREFLIGHT = [
    (b"allow", ALLOW),
    (b"access-control-allow-origin", "*"),
    (b"access-control-allow-methods", ALLOW),
    (b"access-control-allow-headers", "Authorization, If-None-Match"),
    (b"access-control-max-age", "86400"),
]


class PartnerApp:
    """Private feeds and the ninjs API of every configured partner, from one store."""

    def __init__(self, config: Config, store: Store) -> None:
        self.store = store
        self.feeds = PrivateFeeds(store)
        self.api = CatchUp(store)
        self.limits = Limits()
        self.activity = Activity(store)
        self._pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="syndication-partners")
        self._gates: dict[str, asyncio.Semaphore] = {}
        self._renders: dict[tuple[str, str, str, int | None], asyncio.Lock] = {}
        self.configure(config)

    def configure(self, config: Config) -> None:
        """Serve with `config` from the next request on (a reload: tokens rotated or
        removed, entitlements and rates changed)."""
        self.limits.configure(config)
        # One reference, so that a request never sees one configuration's keys with another's
        # entitlements.
        self.current = (config, Keyring(config))
        ids = {partner.id for partner in config.settings.partners}
        self.feeds.forget(ids)
        self.api.forget(ids)

    def start(self) -> None:
        self.activity.start()

    def stop(self) -> None:
        self.activity.stop()
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        at = datetime.now(UTC)
        answer = _Answer(send, head=scope["method"] == "HEAD")
        path: str = scope["path"]
        feed, api = _FEED.match(path), _API.match(path)
        match = feed or api
        kind = "feed" if feed else "api" if api else "other"
        # The id the path names, whatever follows it (`/partners/khabar/` too): the access log
        # names it when it exists, so a partner's mistyped URL is its own line.
        claimed = path[len(PREFIX) :].partition("/")[0]
        params = parameters(scope.get("query_string", b"").decode("latin-1"))
        headers = request_headers(scope.get("headers", []))
        token = token_from(headers, params)
        config, keys = self.current
        # A browser script may read the answer only when the token came in the header: a
        # page never needs to put it in a URL (history, Referer, proxies' logs).
        answer.cross_origin = bool(bearer(headers))
        admitted: PartnerSettings | None = None

        def note() -> None:
            # Logged and counted in /metrics as the partner the path names when that id
            # exists, whatever the answer; `status` counts only the answers to its own token,
            # and its refusals.
            client = scope.get("client")
            known = keys.known(claimed)
            self.activity.note(
                Seen(
                    at=at,
                    partner=claimed if known else UNKNOWN,
                    admitted=known
                    and (admitted is not None or keys.check(claimed, token) is not None),
                    kind=kind,
                    method=scope["method"],
                    path=scope["path"],
                    query=without_token(params),
                    status=answer.status,
                    size=answer.size,
                    client=client[0] if client else "",
                    seconds=time.perf_counter() - started,
                )
            )

        answer.noting(note)
        try:
            if match is None:
                await answer.plain(404, "not found\n")
            elif scope["method"] == "OPTIONS":
                await answer.preflight()
            elif scope["method"] not in ("GET", "HEAD"):
                await answer.plain(405, "method not allowed\n", [(b"allow", ALLOW)])
            else:
                admitted = keys.check(claimed, token)
                if admitted is None:
                    await answer.refuse()
                else:
                    await self._handle(scope, headers, config, admitted, params, answer, feed)
        finally:
            answer.noted()  # an answer cut short by an error is counted too

    async def _handle(
        self,
        scope: Scope,
        headers: dict[str, str],
        config: Config,
        partner: PartnerSettings,
        params: list[tuple[str, str]],
        answer: _Answer,
        feed: re.Match[str] | None,
    ) -> None:
        """Answer an authenticated partner's request (a feed when `feed`, else the API)."""
        asked = None
        if feed is not None:
            edition = feed.group(2)
        else:
            try:
                asked = question(params)
            except BadRequest as exc:
                await answer.plain(400, f"{exc}\n")
                return
            edition = asked.edition
        editions = partner.editions if partner.editions is not None else config.settings.editions
        if edition not in editions:
            await answer.refuse()
            return
        wait = self.limits.retry_after(partner.id)
        if wait:
            await answer.plain(
                429, f"too many requests: retry after {wait} s\n", [(b"retry-after", str(wait))]
            )
            return
        try:
            if feed is not None:
                name = feed.group(4)
                page = int(feed.group(3)) - 1 if feed.group(3) else None
                body = await self._feed(config, partner, edition, page, name)
                if body is None:
                    await answer.plain(404, "no such archive page\n")
                    return
                closed = is_closed_archive(scope["path"], body.data)
                cache = ARCHIVE_CACHE_CONTROL if closed else FEED_CACHE_CONTROL
                await answer.send(body, headers, cache)
            else:
                assert asked is not None
                try:
                    found = self.api.fresh(config, partner.id, asked) or await self._work(
                        partner.id, self.api.answer, config, partner, asked
                    )
                except BadRequest as exc:
                    await answer.plain(400, f"{exc}\n")
                    return
                self.activity.served_cursor(partner.id, edition, found.next)
                await answer.send(found.body, headers, API_CACHE_CONTROL)
        except StoreError as exc:
            log.warning("partners: store unreachable: %s", exc)
            await answer.plain(
                503, "the store is unavailable; try again\n", [(b"retry-after", "5")]
            )

    async def _feed(
        self, config: Config, partner: PartnerSettings, edition: str, page: int | None, name: str
    ) -> Body | None:
        """Document `page` of the feed (None: the current one) in format `name`; None when
        the feed has no such archive page."""
        found = self.feeds.fresh(config, partner.id, edition, name, page)
        if found is not None:
            return found
        # One rendering per document at a time: the requests queued behind it take its result.
        lock = self._renders.setdefault((partner.id, edition, name, page), asyncio.Lock())
        async with lock:
            found = self.feeds.fresh(config, partner.id, edition, name, page)
            if found is not None:
                return found
            return await self._work(
                partner.id, self.feeds.archive, config, partner, edition, page, name
            )

    async def _work(self, partner_id: str, work: Callable[..., T], *args: Any) -> T:
        """`work(*args)` on the partners' pool, at most PER_PARTNER of one partner's at once."""
        gate = self._gates.setdefault(partner_id, asyncio.Semaphore(PER_PARTNER))
        async with gate:
            return await asyncio.get_running_loop().run_in_executor(self._pool, work, *args)


class _Answer:
    """Sends one answer and remembers its status and size for the access log."""

    def __init__(self, send: Send, head: bool) -> None:
        self._send = send
        self.head = head
        self.status = 500  # until something is sent
        self.size = 0
        self.cross_origin = False  # whether a browser script may read this answer
        self._note: Callable[[], None] | None = None

    def noting(self, note: Callable[[], None]) -> None:
        """Call `note` once, when the answer is complete but before its last bytes leave: a
        client that has the answer finds the request already counted (and `status` shows
        it)."""
        self._note = note

    def noted(self) -> None:
        """Call the note now if it was not called yet."""
        note, self._note = self._note, None
        if note is not None:
            note()

    async def refuse(self) -> None:
        """The one refusal: nothing in it says which check failed."""
        await self.plain(
            401,
            "unauthorized\n",
            [(b"www-authenticate", 'Bearer realm="partners"'), (b"cache-control", "no-store")],
        )

    async def preflight(self) -> None:
        """A CORS preflight (or a plain OPTIONS): what a script may send; nothing checked, as
        a browser sends no token with it."""
        await self._start(204, _PREFLIGHT)
        await self._body(b"")

    async def plain(
        self, status: int, text: str, extra: list[tuple[bytes, str]] | None = None
    ) -> None:
        data = text.encode("utf-8")
        headers = [
            (b"content-type", "text/plain; charset=utf-8"),
            (b"content-length", str(len(data))),
            (b"x-content-type-options", "nosniff"),
            *(extra or []),
        ]
        await self._start(status, headers)
        await self._body(data)

    async def send(self, body: Body, headers: dict[str, str], cache_control: str) -> None:
        gz = body.gz is not None and accepts_gzip(headers.get("accept-encoding"))
        etag = body.gz_etag if gz else body.etag
        common = [
            (b"etag", etag),
            (b"cache-control", cache_control),
            (b"vary", VARY),
            (b"x-content-type-options", "nosniff"),
        ]
        match = headers.get("if-none-match")
        if match is not None and etag_matches(match, etag):
            await self._start(304, common)
            await self._body(b"")
            return
        data = body.gz if gz and body.gz is not None else body.data
        out = [(b"content-type", body.content_type), (b"content-length", str(len(data))), *common]
        if gz:
            out.append((b"content-encoding", "gzip"))
        await self._start(200, out)
        await self._body(data)

    async def _start(self, status: int, headers: list[tuple[bytes, str]]) -> None:
        self.status = status
        if self.cross_origin and status != 204:
            headers = [*headers, *_CROSS_ORIGIN]
        encoded = [(name, value.encode("latin-1")) for name, value in headers]
        await self._send({"type": "http.response.start", "status": status, "headers": encoded})

    async def _body(self, data: bytes) -> None:
        sent = b"" if self.head else data
        self.size = len(sent)
        self.noted()
        await self._send({"type": "http.response.body", "body": sent})
