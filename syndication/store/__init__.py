"""The store: the only place that speaks SQL (SQLAlchemy Core; SQLite by default).

Owns: `Store`, one handle composed of a mixin per resource. The store stores; what to store
the stages decide. Each call is one transaction, so a killed process leaves all or nothing of
it behind.

    schema.py        the tables, SCHEMA_VERSION, migrations of older stores
    base.py          opening, transactions, timestamps, batching
    rows.py          records <-> rows
    sources.py       fetch state and next poll of each source
    articles.py      articles: batch writes, withdrawals, the stories for an edition
    translations.py  translations per language, the work due, the translation memory
    published.py     published files, the last publish
    feeds.py         what publishing remembers: story versions, each feed's entries, the mark
    counters.py      the change counter every write that changes a story takes a number from
    control.py       the worker lock, the workers' registry and claims, requests from the
                     command line, remembered settings
    uploads.py       what an object-store output holds, failed uploads
    partners.py      partners' traffic and marks; topic stories and version log they read
"""

from __future__ import annotations

from syndication.store.articles import (
    BY_OPERATOR,
    BY_PARTNER,
    BY_SOURCE,
    ArticleBatch,
    ArticlesMixin,
    ArticleWrite,
    HeldArticle,
    LiveStory,
)
from syndication.store.base import check_driver
from syndication.store.control import ControlMixin, WorkerRecord
from syndication.store.feeds import (
    CANCELED,
    USABLE,
    WITHHELD,
    Entry,
    FeedsMixin,
    PublishRecord,
    Version,
)
from syndication.store.partners import (
    PartnerActivity,
    PartnerMark,
    PartnersMixin,
    StoryVersion,
    TopicScope,
)
from syndication.store.published import PublishedMixin
from syndication.store.schema import SCHEMA_VERSION
from syndication.store.sources import SourcesMixin
from syndication.store.translations import CLAIM_BATCH, TranslationsMixin
from syndication.store.uploads import FailedUpload, UploadsMixin

__all__ = [
    "BY_OPERATOR",
    "BY_PARTNER",
    "BY_SOURCE",
    "CANCELED",
    "CLAIM_BATCH",
    "SCHEMA_VERSION",
    "USABLE",
    "WITHHELD",
    "ArticleBatch",
    "ArticleWrite",
    "Entry",
    "FailedUpload",
    "HeldArticle",
    "LiveStory",
    "PartnerActivity",
    "PartnerMark",
    "PublishRecord",
    "Store",
    "StoryVersion",
    "TopicScope",
    "Version",
    "WorkerRecord",
    "check_driver",
]


class Store(
    SourcesMixin,
    ArticlesMixin,
    TranslationsMixin,
    PublishedMixin,
    FeedsMixin,
    ControlMixin,
    UploadsMixin,
    PartnersMixin,
):
    """A handle on the database; create one per process with `Store.open(url)`."""
