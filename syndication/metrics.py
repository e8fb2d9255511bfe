"""Prometheus metrics: what the service counts while it works, and what it reads at a scrape.

Owns: the metric definitions (all named ``syndication_*``) in a registry of our own, so that
nothing a library registers in prometheus-client's global default leaks into ``/metrics``,
the helpers the stages call to count (fetches, ingested articles, translation requests,
failures and memory hits, publish timing), and :func:`exposition`, the text a scrape gets:
the counters of this process plus gauges read from the store at that moment (translation
backlog, each source's last success and consecutive failures).

Labels carry source ids, provider names and language tags only, never URLs or keys, so a
secret in the configuration cannot reach a scrape.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterator
from functools import wraps
from typing import ParamSpec, TypeVar

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from syndication.errors import StoreError
from syndication.store import Store

log = logging.getLogger(__name__)

# The classic text format every Prometheus version (and every other scraper) reads; newer
# prometheus-client releases advertise version=1.0.0 by default, which is the same text for
# our legacy-valid names but unknown to older scrapers.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Every status a translation row can have: each is reported, 0 included, so an alert on
# "failed > 0" sees the series at 0 rather than no series at all.
TRANSLATION_STATUSES = ("translated", "pending", "stale", "failed")

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


def _store_families(store: Store, sources: Collection[str] | None) -> Iterator[Metric]:
    """Gauges read from the store now, then ``syndication_store_up``; never raises StoreError.

    Everything is read before anything is yielded, so a store failing half-way leaves no
    half-filled families in the scrape.
    """
    up = GaugeMetricFamily(
        "syndication_store_up", "Whether the store answered this scrape's queries (1) or not (0)."
    )
    try:
        backlog = store.backlog()
        states = store.source_states()
    except StoreError as exc:
        # A scrape during an outage must still answer: the outage is what it has to report.
        log.warning("metrics: store unreachable: %s", exc)
        up.add_metric([], 0)
        yield up
        return
    translations = GaugeMetricFamily(
        "syndication_translation_backlog",
        "Translations of live articles per target language and status.",
        labels=["language", "status"],
    )
    for language in sorted(backlog):
        counts = backlog[language]
        for status in dict.fromkeys([*TRANSLATION_STATUSES, *sorted(counts)]):
            translations.add_metric([language, status], counts.get(status, 0))
    last_success = GaugeMetricFamily(
        "syndication_source_last_success_timestamp_seconds",
        "When a source was last polled without error (Unix time); absent if it never was.",
        labels=["source"],
    )
    failures = GaugeMetricFamily(
        "syndication_source_consecutive_failures",
        "Failed polls of a source since its last success.",
        labels=["source"],
    )
    for state in states:
        if sources is not None and state.source_id not in sources:
            continue  # removed from the YAML: its history stays in the store, not in a graph
        if state.last_success is not None:
            last_success.add_metric([state.source_id], state.last_success.timestamp())
        failures.add_metric([state.source_id], state.failures)
    up.add_metric([], 1)
    yield from (translations, last_success, failures, up)


class _Scrape(Collector):
    """This process's registry plus the store's gauges, as one collector for one scrape."""

    def __init__(self, store: Store, sources: Collection[str] | None) -> None:
        self.store = store
        self.sources = sources

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()
        yield from _store_families(self.store, self.sources)


def exposition(store: Store, sources: Collection[str] | None = None) -> tuple[bytes, str]:
    """The ``/metrics`` answer: body in the Prometheus text format, and its Content-Type.

    `sources`: the configured source ids (per-source gauges only for those). Reads the store
    (blocking): call it off the event loop.
    """
    return generate_latest(_Scrape(store, sources)), CONTENT_TYPE
