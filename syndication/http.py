"""HTTP as this service speaks it: one place for clients, User-Agent, timeouts and Retry-After.

Owns: the honest User-Agent every request carries, building the clients (the fetcher's shared
asynchronous client with its connection limits; one-shot requests such as a translation call
or a WebSub ping) with explicit timeouts and no silent redirects, and reading a `Retry-After`
header (delta-seconds or an HTTP date). A leaf: every stage may import it; it imports nothing
of ours.
"""

from __future__ import annotations

import email.utils
import time
from datetime import UTC
from typing import Any

import httpx

# No project address of ours to point at: an operator names theirs in `fetch.user_agent`.
USER_AGENT = "syndication/0.1 (multilingual news feeds)"
FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, "
    "application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.5"
)


def async_client(
    *,
    timeout: float,
    connect_timeout: float,
    max_connections: int,
    user_agent: str = USER_AGENT,
    accept: str = FEED_ACCEPT,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """A long-lived client for many requests: redirects are the caller's to follow and judge."""
    return httpx.AsyncClient(
        headers={
            "User-Agent": user_agent,
            "Accept": accept,
            "Accept-Encoding": "gzip, deflate, br",
        },
        timeout=httpx.Timeout(timeout, connect=connect_timeout),
        follow_redirects=False,
        limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=20),
        transport=transport,
    )


def post(
    url: str, *, timeout: float, headers: dict[str, str] | None = None, **kwargs: Any
) -> httpx.Response:
    """One POST with our User-Agent and a hard timeout (`json=`, `data=` as httpx takes them).

    Raises httpx's own errors; the caller turns them into the error of its stage.
    """
    return httpx.post(
        url, headers={"User-Agent": USER_AGENT, **(headers or {})}, timeout=timeout, **kwargs
    )


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = now if now is not None else time.time()
    return max(0.0, when.timestamp() - now)
