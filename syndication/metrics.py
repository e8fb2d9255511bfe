"""Prometheus metrics: what the service counts while it works. A leaf: stages call it.

Owns: the metric definitions (all named ``syndication_*``) in a registry of our own, so that
nothing a library registers in prometheus-client's global default leaks into ``/metrics``,
the helpers the stages call to count (fetches, ingested articles, translation requests,
failures and memory hits, publish timing), and the exposition's content type. The text a
scrape gets, these counters plus gauges read from the store, is
:func:`syndication.run.health.exposition`'s.

Labels carry source ids, partner ids, provider names and language tags only, never URLs or
keys, so a secret in the configuration cannot reach a scrape.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)

# The classic text format every Prometheus version (and every other scraper) reads; newer
# prometheus-client releases advertise version=1.0.0 by default, which is the same text for
# our legacy-valid names but unknown to older scrapers.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# `_created` series double every counter's lines and no dashboard of ours reads them.
disable_created_metrics()
REGISTRY = CollectorRegistry(auto_describe=True)

FETCHES = Counter(
    "syndication_fetches_total",
    "Source polls by result (ok, not-modified, error); a folder or file source counts too.",
    ["source", "result"],
    registry=REGISTRY,
)
ARTICLES_INGESTED = Counter(
    "syndication_articles_ingested_total",
    "Articles stored by a poll, new or updated (changed text).",
    ["source", "change"],
    registry=REGISTRY,
)
TRANSLATION_REQUESTS = Counter(
    "syndication_translation_requests_total",
    "Requests sent to a translation provider (retries included), by language pair.",
    ["provider", "pair"],
    registry=REGISTRY,
)
TRANSLATION_FAILURES = Counter(
    "syndication_translation_failures_total",
    "Provider requests that failed (error, timeout, rate limit, unusable answer).",
    ["provider", "pair"],
    registry=REGISTRY,
)
TRANSLATION_CACHE_HITS = Counter(
    "syndication_translation_cache_hits_total",
    "Segments answered from translation memory instead of a provider request.",
    ["provider", "pair"],
    registry=REGISTRY,
)
PUBLISH_DURATION = Histogram(
    "syndication_publish_duration_seconds",
    "Time one publish (every edition, feed and page) took.",
    # Publishing renders and compares every file: sub-second for a small site, tens of
    # seconds for thousands of stories across editions and topics.
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
    registry=REGISTRY,
)
LAST_PUBLISH = Gauge(
    "syndication_last_publish_timestamp_seconds",
    "When the last publish finished without raising (Unix time).",
    registry=REGISTRY,
)
PARTNER_REQUESTS = Counter(
    "syndication_partner_requests_total",
    "Requests to partners' private feeds and API, by partner id (- for an id not configured), "
    "kind (feed, api) and result (ok, not-modified, refused, limited, bad-request).",
    ["partner", "kind", "result"],
    registry=REGISTRY,
)


def partner_request(partner: str, kind: str, result: str) -> None:
    PARTNER_REQUESTS.labels(partner=partner, kind=kind, result=result).inc()


CLAIMS = Counter(
    "syndication_claims_total",
    "Work this worker tried to claim (kind: source, publish): taken; held by another "
    "worker; or, for a source, polled: another worker polled it less than its interval ago.",
    ["kind", "result"],
    registry=REGISTRY,
)
WORKER = Gauge(
    "syndication_worker_info",
    "This worker's id in the store's registry of workers (host:pid:random); always 1.",
    ["worker"],
    registry=REGISTRY,
)


def claimed(kind: str, result: str) -> None:
    CLAIMS.labels(kind=kind, result=result).inc()


def worker_is(worker_id: str) -> None:
    WORKER.clear()
    WORKER.labels(worker=worker_id).set(1)


def pair(source: str, target: str) -> str:
    """The `pair` label: our language tags joined, e.g. ``ru-kk``."""
    return f"{source}-{target}"


def source_polled(source_id: str, result: str, new: int = 0, updated: int = 0) -> None:
    """Count one poll of a source and the articles it stored."""
    FETCHES.labels(source=source_id, result=result).inc()
    if new:
        ARTICLES_INGESTED.labels(source=source_id, change="new").inc(new)
    if updated:
        ARTICLES_INGESTED.labels(source=source_id, change="updated").inc(updated)


def translation_request(provider: str, source: str, target: str) -> None:
    TRANSLATION_REQUESTS.labels(provider=provider, pair=pair(source, target)).inc()


def translation_failure(provider: str, source: str, target: str) -> None:
    TRANSLATION_FAILURES.labels(provider=provider, pair=pair(source, target)).inc()


def translation_memory_hits(provider: str, source: str, target: str, count: int) -> None:
    if count:
        TRANSLATION_CACHE_HITS.labels(provider=provider, pair=pair(source, target)).inc(count)


P = ParamSpec("P")
R = TypeVar("R")


def timed_publish(publish: Callable[P, R]) -> Callable[P, R]:
    """Decorate the publish stage: its duration (even when it raises), and when it succeeded."""

    @wraps(publish)
    def timed(*args: P.args, **kwargs: P.kwargs) -> R:
        with PUBLISH_DURATION.time():
            result = publish(*args, **kwargs)
        LAST_PUBLISH.set_to_current_time()
        return result

    return timed
