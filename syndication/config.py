"""YAML configuration into typed, validated settings.

Owns: reading the operator's YAML, `${VAR}` expansion from the environment, validation with
pydantic, and error messages that point at `file:line` (all mistakes at once). Relative paths
in the YAML are resolved against the YAML file's own folder. Also what can still be read
from a YAML that does not load (where its store is), and the summary of a configuration that
a process running with it records in the store, for `status` to show beside that file's
problems.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from syndication.errors import ConfigError
from syndication.http import USER_AGENT
from syndication.lang import (
    BASE_LANGUAGES,
    COUNTRY_CODES,
    DERIVED,
    EDITIONS,
    PROVIDER_CODES,
    canonical_tag,
    glossary_language,
    known_languages,
    normalise_language,
    provider_supports,
)

DEFAULT_CONFIG = Path("config/syndication.yaml")
ENV_CONFIG = "SYNDICATION_CONFIG"


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_URL_PASSWORD = re.compile(r"(//[^/@:\s]+:)[^@/\s]+@")
_LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
_SOURCE_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def parse_duration(value: Any) -> float:
    """`10m`, `90s`, `1h`, `1d` or a number of seconds, into seconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30s, 10m, 1h or 1d")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError("expected a duration such as 30s, 10m, 1h or 1d")
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds <= 0:
        raise ValueError("a duration must be positive")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]


def _check_http_url(value: str) -> str:
    if _ENV_REF.fullmatch(value):
        return value  # a variable a lenient load left as written (see `load`)
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or " " in value:
        raise ValueError("expected an http(s) URL such as https://example.kz/rss")
    return value


HttpUrl = Annotated[str, BeforeValidator(lambda v: _check_http_url(_as_str(v)))]


def _check_id(value: str) -> str:
    if not _SOURCE_ID.match(value):
        raise ValueError("expected a URL-safe id: lowercase letters, digits, '-' or '_'")
    return value


# Ids end up in paths and item ids, so they must stay URL-safe.
UrlSafeId = Annotated[str, AfterValidator(_check_id)]


def _as_str(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("expected a text value")
    return value


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SiteSettings(Strict):
    base_url: HttpUrl = "http://127.0.0.1:8080/"
    hub: HttpUrl | None = None
    title: dict[str, str] = Field(default_factory=dict)
    description: dict[str, str] = Field(default_factory=dict)

    @field_validator("base_url")
    @classmethod
    def _trailing_slash(cls, value: str) -> str:
        return value if value.endswith("/") else value + "/"


def _check_language(value: str | None) -> str | None:
    """A BCP 47 tag, in its conventional case (`KK` is `kk`, `zh-hant` is `zh-Hant`): what
    the YAML, `sources list` and an OPML export show. Its stories are in the language
    `normalise_language` makes of it (`kk-Latn` Kazakh, `zh-TW` and `zh-Hant` Chinese; their
    script is what the derived editions show as written)."""
    if value is None:
        return value
    if not _LANGUAGE_TAG.match(value):
        raise ValueError("expected a language tag such as kk, ru, zh or en")
    tag = canonical_tag(value)
    primary = tag.split("-")[0]
    if primary in COUNTRY_CODES:
        raise ValueError(_country_code(value))
    if normalise_language(tag) not in known_languages():
        raise ValueError(
            f"{value}: no provider translates this language (expected a tag such as kk, ru, "
            "zh or en)"
        )
    return tag


def _country_code(value: str) -> str:
    primary = canonical_tag(value).split("-")[0]
    return (
        f"{value} is not a language tag but a country code (did you mean {COUNTRY_CODES[primary]}?)"
    )


LanguageTag = Annotated[str | None, AfterValidator(_check_language)]


def _check_zone(value: str | None) -> str | None:
    if value is not None:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r} (an IANA name such as Asia/Almaty or UTC)"
            ) from None
    return value


ZoneName = Annotated[str | None, AfterValidator(_check_zone)]


def _check_cron(value: str | None) -> str | None:
    if value is not None:
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(value, timezone="UTC")
        except ValueError as exc:
            raise ValueError(
                f"expected a five-field crontab expression such as '*/5 6-23 * * *' ({exc})"
            ) from None
    return value


class SourceSettings(Strict):
    id: UrlSafeId
    url: HttpUrl | None = None
    file: Path | None = None
    articles: Path | None = None
    title: str | None = None
    language: LanguageTag = None
    # Filled from `fetch.every` when the YAML leaves it out (see Settings._default_every).
    every: Duration = 600.0
    cron: Annotated[str | None, AfterValidator(_check_cron)] = None
    rights: Literal["full", "summary", "title"] = "full"
    # The zone of times the source writes without one: its newsroom's clock, for an articles
    # folder's files or a feed's dates (a CMS's `2025-06-01 10:00`). A zone written stands.
    timezone: ZoneName = None
    # Set by load() when the location holds a secret from the environment.
    _stored_location: str = PrivateAttr(default="")

    @model_validator(mode="after")
    def _one_location(self) -> SourceSettings:
        given = [k for k in ("url", "file", "articles") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("a source needs exactly one of url:, file: or articles:")
        if self.cron is not None and "every" in self.model_fields_set:
            raise ValueError("a source is polled on every: or on cron:, not both")
        return self

    @property
    def kind(self) -> Literal["feed", "articles"]:
        return "articles" if self.articles is not None else "feed"

    @property
    def location(self) -> str:
        return str(self.url or self.file or self.articles)

    @property
    def zone(self) -> tzinfo:
        """The zone of the times the source writes without one (`timezone:`, else UTC)."""
        return ZoneInfo(self.timezone) if self.timezone else UTC

    @property
    def stored_location(self) -> str:
        """The location as the store records it, to tell when it changed: the secrets in it
        masked (a store, its backups and a shared PostgreSQL hold no token), with a digest
        of the whole, so that a changed secret is a changed location too."""
        return self._stored_location or self.location

    @property
    def schedule(self) -> str:
        """`every Ns` or `cron EXPR`, as `status` shows it."""
        return f"cron {self.cron}" if self.cron else f"every {self.every:g}s"


class TopicFeed(Strict):
    """A further feed per edition, by filter: e.g. a "culture" feed in every edition."""

    id: UrlSafeId
    title: dict[str, str] = Field(default_factory=dict)
    sources: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _some_filter(self) -> TopicFeed:
        if not (self.sources or self.tags or self.keywords):
            raise ValueError("a topic feed needs at least one of sources:, tags:, keywords:")
        return self


class FeedSettings(Strict):
    items: int = Field(default=100, ge=1, le=10_000)
    max_age: Duration | None = None
    topics: list[TopicFeed] = Field(default_factory=list)
    # RFC 5005 archive documents are kept while their newest story entered this recently.
    archive: Duration = 90 * 86400.0


class FetchSettings(Strict):
    every: Duration = 600.0  # a source's poll interval when it gives no `every:` of its own
    user_agent: str = USER_AGENT
    timeout: Duration = 30.0
    connect_timeout: Duration = 10.0
    max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    max_redirects: int = Field(default=5, ge=0, le=20)
    concurrency: int = Field(default=10, ge=1, le=200)
    per_host: int = Field(default=2, ge=1, le=50)
    max_backoff: Duration = 6 * 3600.0
    # Processes parsing feed bodies in a busy cycle (feedparser and nh3 are CPU-bound and hold
    # the GIL, so only processes use the other cores); 0 or 1: parse in a thread instead.
    parse_workers: int = Field(default=min(2, os.cpu_count() or 1), ge=0, le=16)


class ProviderSettings(Strict):
    """One translation provider; which keys matter depends on the provider."""

    api_key: SecretStr | None = None
    email: SecretStr | None = None
    base_url: HttpUrl | None = None
    model: str | None = None
    region: str | None = None
    rpm: int | None = Field(default=None, ge=1)
    timeout: Duration | None = None
    max_chars: int | None = Field(default=None, ge=50)


def _known_providers(chain: list[str]) -> list[str]:
    unknown = [p for p in chain if p not in PROVIDER_CODES]
    if unknown:
        raise ValueError(
            f"unknown provider {', '.join(unknown)}; expected one of {', '.join(PROVIDER_CODES)}"
        )
    if not chain:
        raise ValueError("the chain needs at least one provider")
    return chain


Chain = Annotated[list[str], AfterValidator(_known_providers)]


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


def _route_from(tags: list[str]) -> list[str]:
    return [t if t == "*" else normalise_language(t) or t for t in tags]


def _route_to(tags: list[str]) -> list[str]:
    return [t if t == "*" else canonical_tag(t) for t in tags]


class Route(Strict):
    """A provider chain for some language pairs (`from`/`to`: a tag, a list, or `*`)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    # Read as stories are tagged (`from: kk-Latn` or `KK` is kk, `zh-TW` zh), else a route
    # would silently never match; `to:` in its conventional case (`kk-latn` is the derived
    # kk-Latn, which `check` refuses as a target).
    source: Annotated[list[str], BeforeValidator(_as_list), AfterValidator(_route_from)] = Field(
        default=["*"], alias="from"
    )
    to: Annotated[list[str], BeforeValidator(_as_list), AfterValidator(_route_to)] = Field(
        default=["*"]
    )
    chain: Chain

    def matches(self, source: str, target: str) -> bool:
        return ("*" in self.source or source in self.source) and (
            "*" in self.to or target in self.to
        )


def _glossary_keys(value: Any) -> Any:
    """Each entry's keys as `glossary_language` reads them (a key it cannot read is left as
    written: `reference_problems` reports it)."""
    if not isinstance(value, list):
        return value
    return [
        {
            (glossary_language(key) or key) if isinstance(key, str) else key: form
            for key, form in entry.items()
        }
        if isinstance(entry, dict)
        else entry
        for entry in value
    ]


class TranslationSettings(Strict):
    chain: Chain = Field(default_factory=lambda: ["google"])
    routes: list[Route] = Field(default_factory=list)
    providers: dict[str, ProviderSettings] = Field(default_factory=dict)
    untranslated: Literal["hold", "original"] = "hold"
    # Keys as stories are tagged (`KK` is `kk`, `zh-TW` is `zh-Hant`; see `glossary_language`).
    glossary: Annotated[list[dict[str, str]], BeforeValidator(_glossary_keys)] = Field(
        default_factory=list
    )
    keep: list[str] = Field(default_factory=list)
    timeout: Duration = 20.0
    retry_after: Duration = 900.0
    budget: Duration = 300.0

    @field_validator("providers")
    @classmethod
    def _known_provider_keys(
        cls, providers: dict[str, ProviderSettings]
    ) -> dict[str, ProviderSettings]:
        _known_providers(list(providers) or ["google"])
        return providers

    def chain_for(self, source: str, target: str) -> list[str]:
        """The providers to try for one pair: the first matching route's, else the default."""
        for route in self.routes:
            if route.matches(source, target):
                return route.chain
        return self.chain

    @property
    def provider_names(self) -> list[str]:
        names = list(self.chain)
        for route in self.routes:
            names += [n for n in route.chain if n not in names]
        return names


class PublishSettings(Strict):
    # After a change, wait this long for more before writing (a burst of sources publishes once).
    debounce: Duration = 5.0
    # Publish at least this often even with no change (feeds' max_age, a deleted file).
    every: Duration = 900.0
    # False: no public feed, feed page or article page is written (partners only).
    public: bool = True
    # Processes rendering a big publish (a first one, `publish --all`); None: one per core this
    # process may run on, at most 8. A container limited by a CPU quota rather than by cores
    # should say how many it has.
    processes: int | None = Field(default=None, ge=1, le=64)


# Bucket names as S3 allows them everywhere (lower case, 3-63 characters, no "..").
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


class S3Location(Strict):
    """`output: s3://bucket/prefix/`: the site goes to this bucket, under this key prefix."""

    bucket: str
    prefix: str = ""  # "" or ending in "/"

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def __str__(self) -> str:
        return self.url


def parse_s3_url(value: str) -> S3Location:
    """`s3://bucket/prefix/` (the prefix optional) into a location; ValueError saying why not."""
    parts = urlsplit(value)
    example = "expected s3://bucket/ or s3://bucket/prefix/"
    if parts.scheme != "s3" or parts.query or parts.fragment or not parts.netloc:
        raise ValueError(example)
    bucket = parts.netloc
    if not _BUCKET.match(bucket) or ".." in bucket or re.fullmatch(r"[\d.]+", bucket):
        raise ValueError(
            f"{bucket!r} is not a bucket name: 3-63 lower-case letters, digits, '.' or '-' "
            f"({example})"
        )
    segments = [s for s in parts.path.split("/") if s]
    if any(s in (".", "..") for s in segments) or "//" in parts.path:
        raise ValueError(f"the key prefix {parts.path!r} has an empty, '.' or '..' part")
    return S3Location(bucket=bucket, prefix="".join(f"{s}/" for s in segments))


def _output(value: Any) -> Any:
    """An `s3://` URL is an object store; anything else is a folder."""
    if isinstance(value, str) and urlsplit(value).scheme == "s3":
        return parse_s3_url(value)
    return value


class OutputOptions(Strict):
    """`output_options:`: how to reach the object store of an `s3://` output (boto3 reads the
    credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or its other usual places)."""

    endpoint_url: HttpUrl | None = None  # an S3-compatible server; AWS when left out
    region: str | None = None
    addressing_style: Literal["auto", "path", "virtual"] = "auto"
    # The longest a request waits on an endpoint that does not answer, its tries included.
    timeout: Duration = 30.0


class FleetSettings(Strict):
    # Several workers on one PostgreSQL store: a worker's claims (the source it is polling,
    # the translations it is doing) outlive its last heartbeat by this long, so a worker that
    # died is replaced within it. It beats three times per lease.
    lease: Duration = Field(default=30.0, ge=3.0)


class ServeSettings(Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    # Processes answering on the port in `syndication serve` (static files only); `run`
    # serves from its worker process, always one.
    workers: int = Field(default=1, ge=1, le=64)


# -- partners (issue 13): private, entitled feeds and the ninjs API --------------------------

_RATE = re.compile(r"^\s*(\d+)\s*/\s*(s|sec|second|m|min|minute|h|hour)\s*$")
_RATE_UNITS = {"s": 1.0, "sec": 1.0, "second": 1.0, "m": 60.0, "min": 60.0, "minute": 60.0}
_RATE_UNITS |= {"h": 3600.0, "hour": 3600.0}
_SHA256_HEX = re.compile(r"^[0-9a-fA-F]{64}$")
MIN_TOKEN_LENGTH = 16  # a shorter secret can be guessed through the API


def parse_rate(value: str) -> tuple[int, float]:
    """`120/min` into (requests, per seconds)."""
    match = _RATE.match(value)
    if not match or int(match.group(1)) < 1:
        raise ValueError("expected a request limit such as 120/min, 10/s or 2000/h")
    return int(match.group(1)), _RATE_UNITS[match.group(2)]


def _check_rate(value: str | None) -> str | None:
    if value is not None:
        parse_rate(value)
    return value


def _check_digest(value: str | None) -> str | None:
    if value is not None and not _SHA256_HEX.match(value):
        raise ValueError("expected the 64 hex digits of the token's SHA-256")
    return value.lower() if value is not None else None


class PartnerSettings(Strict):
    """A partner newsroom: its key (as SHA-256 only) and what its contract entitles it to."""

    id: UrlSafeId
    name: str | None = None
    # `token:` is turned into this at validation (see _digest_only): the secret itself is
    # never kept in the settings, so nothing that prints or records them can show it.
    token_sha256: Annotated[str | None, AfterValidator(_check_digest)] = None
    editions: list[str] | None = None  # None (no key): every edition; as `sources` below
    # None (no key): every source, any story. A list: exactly those, so one emptied while a
    # contract is renegotiated gives nothing, never everything (and is refused: see
    # reference_problems).
    sources: list[str] | None = None
    topics: list[str] | None = None
    rights: Literal["full", "summary", "title"] | None = None  # a cap on the sources' rights
    rate: Annotated[str | None, AfterValidator(_check_rate)] = None

    @model_validator(mode="before")
    @classmethod
    def _digest_only(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "token" not in data:
            return data
        if "token_sha256" in data:
            raise ValueError("a partner has token: or token_sha256:, not both")
        token = data["token"]
        if not isinstance(token, str):
            raise ValueError("token: expected ${VAR}, a secret from the environment")
        if len(token) < MIN_TOKEN_LENGTH and not _ENV_REF.fullmatch(token):
            # (`status` leaves a variable its shell lacks as written: not a short token.)
            raise ValueError(
                f"token: the secret is shorter than {MIN_TOKEN_LENGTH} characters; use a "
                "long random one (python -c 'import secrets; print(secrets.token_urlsafe())')"
            )
        rest = {key: value for key, value in data.items() if key != "token"}
        return rest | {"token_sha256": hashlib.sha256(token.encode("utf-8")).hexdigest()}

    @model_validator(mode="after")
    def _has_key(self) -> PartnerSettings:
        if self.token_sha256 is None:
            raise ValueError("a partner needs token: ${VAR} or token_sha256: <hex>")
        return self

    @property
    def digest(self) -> bytes:
        """The SHA-256 of the partner's token."""
        assert self.token_sha256 is not None
        return bytes.fromhex(self.token_sha256)

    @property
    def rate_limit(self) -> tuple[int, float] | None:
        """(requests, per seconds), or None: no limit."""
        return parse_rate(self.rate) if self.rate is not None else None


def partner_summary(partner: PartnerSettings, editions: list[str]) -> dict[str, Any]:
    """What `status` shows of a partner's entitlement."""
    return {
        "id": partner.id,
        "name": partner.name or partner.id,
        "editions": list(partner.editions if partner.editions is not None else editions),
        # Empty here: no limit (a list in the YAML is never empty).
        "sources": list(partner.sources or ()),
        "topics": list(partner.topics or ()),
        "rights": partner.rights or "full",
        "rate": partner.rate,
    }


Problem = Callable[[tuple[Any, ...], str], None]


def _entries(data: Any, *keys: str) -> list[tuple[int, dict[str, Any]]]:
    """The mappings of the list at `keys` in the raw YAML data, with their index (anything
    of the wrong shape is the model's to report)."""
    for key in keys:
        data = data.get(key) if isinstance(data, dict) else None
    if not isinstance(data, list):
        return []
    return [(i, entry) for i, entry in enumerate(data) if isinstance(entry, dict)]


def _names(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def reference_problems(
    data: dict[str, Any], problem: Problem, line: Callable[[tuple[Any, ...]], int]
) -> None:
    """What one part of the YAML names and another does not have, each at its own line:
    topics' and partners' sources, topics and editions (and a partner's list of them left
    empty, or with no value), repeated topic and partner ids, the site's and topics' words for
    an edition not configured, a glossary's unknown language.

    Read from the YAML as written, not the validated settings, so that these are reported
    in the same run as any other mistake (validation stops at the first failing model)."""
    editions = list(dict.fromkeys(e for e in _names(data.get("editions")) if e in EDITIONS))
    sources = list(dict.fromkeys(str(s["id"]) for _, s in _entries(data, "sources") if "id" in s))
    topics = _entries(data, "feeds", "topics")
    topic_ids = list(dict.fromkeys(str(t["id"]) for _, t in topics if "id" in t))

    def unknown(where: tuple[Any, ...], values: Any, known: list[str], what: str) -> None:
        missing = [v for v in _names(values) if v not in known]
        if missing:
            problem(
                where,
                f"{'.'.join(map(str, where))}: unknown {what} {', '.join(missing)}; "
                f"expected some of {', '.join(known) or '(none configured)'}",
            )

    def repeated(section: tuple[str, ...], entries: list[tuple[int, dict[str, Any]]]) -> None:
        seen: dict[Any, int] = {}
        dotted = ".".join(section)
        for index, entry in entries:
            eid = entry.get("id")
            if not isinstance(eid, str):
                continue
            if eid in seen:
                problem(
                    (*section, index, "id"),
                    f"{dotted}.{index}.id: {eid!r} is already the id of {dotted}."
                    f"{seen[eid]}; ids must be unique",
                )
            seen.setdefault(eid, index)

    def per_edition(where: tuple[Any, ...], words: Any) -> None:
        if not isinstance(words, dict) or not isinstance(data.get("editions"), list):
            return  # (editions: that is no list is reported as such, once)
        for key in words:
            if key not in editions:
                problem(
                    (*where, key),
                    f"{'.'.join(map(str, (*where, key)))}: {key!r} is not an edition here; "
                    f"expected some of {', '.join(editions) or '(none configured)'}",
                )

    site = data.get("site")
    if isinstance(site, dict):
        for key in ("title", "description"):
            per_edition(("site", key), site.get(key))
    for index, topic in topics:
        unknown(("feeds", "topics", index, "sources"), topic.get("sources"), sources, "source")
        per_edition(("feeds", "topics", index, "title"), topic.get("title"))
    repeated(("feeds", "topics"), topics)
    glossary_problems(data, problem, line)
    partners = _entries(data, "partners")
    for index, partner in partners:
        where = ("partners", index)
        if isinstance(data.get("editions"), list):
            unknown((*where, "editions"), partner.get("editions"), editions, "edition")
        unknown((*where, "sources"), partner.get("sources"), sources, "source")
        unknown((*where, "topics"), partner.get("topics"), topic_ids, "topic (feeds.topics)")
        for key, all_of in (
            ("editions", "every edition"),
            ("sources", "every source"),
            ("topics", "stories of any topic"),
        ):
            # Neither nothing nor everything: left empty while a contract is renegotiated, the
            # list would read as no limit, the whole catalogue (or, empty, give no feed).
            if key in partner and partner[key] in ([], None):
                problem(
                    (*where, key),
                    f"partners.{index}.{key}: "
                    + ("an empty list" if partner[key] == [] else "no value")
                    + f": name at least one {key[:-1]}, or remove the key to give {all_of}",
                )
    repeated(("partners",), partners)


def glossary_problems(
    data: dict[str, Any], problem: Problem, line: Callable[[tuple[Any, ...]], int]
) -> None:
    """What in `translation.glossary` and `keep` would match nothing or damage a translation:
    a key that is no language a story may be in (nor `kk-Latn`/`zh-Hant`), an empty form (the
    name would go out in the source's script), a form two entries give (the first would win,
    silently), an empty `keep` word; each at its own line."""
    seen: dict[tuple[str, str], int] = {}  # (language, form) -> the entry that gave it
    entries = _entries(data, "translation", "glossary")
    forms_of: dict[int, dict[str, str]] = {}
    for index, entry in entries:
        where = f"translation.glossary.{index}"
        forms: dict[str, str] = {}
        for key, form in entry.items():
            language = glossary_language(key) if isinstance(key, str) else None
            if language is None:
                # A form under any language a story may be in (ru: Kazakh news spells Russian
                # names so); a key that is none of them is a typo that matches nothing.
                country = isinstance(key, str) and canonical_tag(key).split("-")[0] in COUNTRY_CODES
                problem(
                    ("translation", "glossary", index, key),
                    f"{where}.{key}: "
                    + (
                        _country_code(key)
                        if country
                        else "not a language tag a story may be in; expected tags such as "
                        "kk, ru, zh or en (kk-Latn, zh-Hant: forms an original in that script "
                        "writes)"
                    ),
                )
            elif language in forms:
                problem(
                    ("translation", "glossary", index, key),
                    f"{where}.{key}: a second form in {language}; give one",
                )
            elif isinstance(form, str) and not form.strip():
                problem(
                    ("translation", "glossary", index, key),
                    f"{where}.{key}: an empty form (the name would be published as the "
                    f"story writes it); give its form in {language}, or leave {key} out",
                )
            elif isinstance(form, str):
                forms[language] = form.strip()
        forms_of[index] = forms
        for language, form in forms.items():
            first = seen.get((language, form))
            if first is None:
                continue
            other = forms_of[first]
            differ = [
                f"{lang} {other[lang]} there, {forms[lang]} here"
                for lang in forms
                if lang in other and other[lang] != forms[lang]
            ]
            problem(
                ("translation", "glossary", index),
                f"{where}: {form} ({language}) is the name of translation.glossary.{first} "
                f"(line {line(('translation', 'glossary', first))}) too"
                + (f" ({'; '.join(differ)})" if differ else "")
                + ": a name has one entry, with its one form per language; merge them",
            )
            break
        for language, form in forms.items():
            seen.setdefault((language, form), index)
    translation = data.get("translation")
    keep = translation.get("keep") if isinstance(translation, dict) else None
    for index, word in enumerate(keep if isinstance(keep, list) else []):
        if isinstance(word, str) and not word.strip():
            problem(
                ("translation", "keep", index),
                f"translation.keep.{index}: an empty word; give a word never to translate, or "
                "leave the entry out",
            )


_DEFAULT_STORE = "sqlite:///data/syndication.db"


class Settings(Strict):
    site: SiteSettings = Field(default_factory=SiteSettings)
    editions: list[str]
    store: str = _DEFAULT_STORE
    output: Annotated[Path | S3Location, BeforeValidator(_output)] = Path("public")
    output_options: OutputOptions | None = None
    feeds: FeedSettings = Field(default_factory=FeedSettings)
    fetch: FetchSettings = Field(default_factory=FetchSettings)
    sources: list[SourceSettings] = Field(min_length=1)
    translation: TranslationSettings = Field(default_factory=TranslationSettings)
    publish: PublishSettings = Field(default_factory=PublishSettings)
    serve: ServeSettings = Field(default_factory=ServeSettings)
    partners: list[PartnerSettings] = Field(default_factory=list)
    fleet: FleetSettings = Field(default_factory=FleetSettings)

    @model_validator(mode="before")
    @classmethod
    def _default_every(cls, data: Any) -> Any:
        """A source without `every:` polls at `fetch.every`."""
        if not isinstance(data, dict):
            return data
        fetch = data.get("fetch")
        default = fetch.get("every") if isinstance(fetch, dict) else None
        if default is None or not isinstance(data.get("sources"), list):
            return data
        try:
            parse_duration(default)
        except (ValueError, TypeError):
            return data  # reported once, at fetch.every, not again for every source
        return {
            **data,
            "sources": [
                {**s, "every": default}
                if isinstance(s, dict) and "every" not in s and "cron" not in s
                else s
                for s in data["sources"]
            ],
        }

    @field_validator("store")
    @classmethod
    def _store_url(cls, url: str) -> str:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            make_url(url)
        except ArgumentError:
            raise ValueError(
                "expected a SQLAlchemy URL such as sqlite:///data/syndication.db or "
                "postgresql+psycopg://user:${PASSWORD}@host/db"
            ) from None
        return url

    @field_validator("output_options")
    @classmethod
    def _options_for_s3(
        cls, options: OutputOptions | None, info: ValidationInfo
    ) -> OutputOptions | None:
        if options is not None and not isinstance(info.data.get("output"), S3Location | None):
            raise ValueError("output_options apply to an s3:// output only; output: is a folder")
        return options

    @field_validator("editions")
    @classmethod
    def _editions(cls, editions: list[str]) -> list[str]:
        # Every mistake of the line in one message: fixing one must not reveal the next.
        known = EDITIONS
        mistakes = []
        bad = [e for e in editions if e not in known]
        if bad:
            mistakes.append(
                f"unknown edition {', '.join(bad)}; expected some of {', '.join(known)}"
            )
        for derived, base in DERIVED.items():
            if derived in editions and base not in editions:
                mistakes.append(f"edition {derived} is derived from {base}: add {base} too")
        repeated = sorted({e for e in editions if editions.count(e) > 1})
        if not editions or repeated:
            mistakes.append(
                "expected a list of distinct editions such as [kk, zh, en]"
                + (f" ({', '.join(repeated)} repeated)" if repeated else "")
            )
        if mistakes:
            raise ValueError("; ".join(mistakes))
        return editions

    @property
    def languages(self) -> list[str]:
        """The languages stories are translated into (derived editions need none of their own)."""
        return [e for e in self.editions if e in BASE_LANGUAGES]

    @cached_property
    def translatable(self) -> frozenset[str]:
        """The languages a story may be in and still reach every edition: each pair into a
        base edition has a provider in its chain (routes included) that translates it."""
        return frozenset(
            language
            for language in known_languages()
            if all(
                any(
                    provider_supports(p, language, target)
                    for p in self.translation.chain_for(language, target)
                )
                for target in self.languages
                if target != language
            )
        )

    def source(self, source_id: str) -> SourceSettings:
        return self._sources_by_id[source_id]

    def find_source(self, source_id: str) -> SourceSettings | None:
        """The source as configured now; None for one removed or renamed in the YAML (its
        stories stay in the store)."""
        return self._sources_by_id.get(source_id)

    def rights(self, source_id: str) -> str:
        """What may be republished of a source's stories (`full`, `summary`, `title`).

        `full` for a source no longer configured: publishing lists configured sources only,
        so its stories reach no feed whatever this says."""
        source = self._sources_by_id.get(source_id)
        return source.rights if source is not None else "full"

    @cached_property
    def _sources_by_id(self) -> dict[str, SourceSettings]:
        return {s.id: s for s in self.sources}


@dataclass(frozen=True)
class Config:
    """Validated settings plus where they came from; paths are already absolute."""

    path: Path
    settings: Settings
    secrets: frozenset[str] = frozenset()  # values taken from the environment
    lines: dict[tuple[Any, ...], int] = field(default_factory=dict, compare=False, repr=False)
    name: str = field(default="", compare=False)  # the path as the operator wrote it

    @property
    def shown(self) -> str:
        """The file as problems name it: as the operator gave it, like load()'s own."""
        return self.name or str(self.path)

    def redact(self, text: str) -> str:
        """`text` with every environment-given value and URL password masked."""
        return _redact(text, self.secrets)

    def in_use(self) -> dict[str, Any]:
        """What `status` shows of this configuration when the YAML on disk no longer loads:
        `run` and `once` record it in the store (secrets masked) when they start with it."""
        s = self.settings
        return {
            "path": str(self.path),
            "recorded": datetime.now(UTC).isoformat(),
            "editions": list(s.editions),
            "languages": s.languages,
            "sources": [
                {
                    "id": source.id,
                    "kind": source.kind,
                    "location": self.redact(source.location),
                    "schedule": source.schedule,
                }
                for source in s.sources
            ],
            # Who may pull what (never a token or its digest), for `status`.
            "partners": [partner_summary(p, s.editions) for p in s.partners],
        }

    def is_secret(self, text: str) -> bool:
        return self.redact(text) != text

    def line(self, *loc: Any) -> int:
        return line_for(tuple(loc), self.lines)

    def routing_problems(self) -> list[str]:
        """Language pairs the configured chains cannot translate, and routes that can never
        apply: errors, not surprises. In line order, one line per source language."""
        s = self.settings
        problems: list[str] = []

        def problem(loc: tuple[Any, ...], message: str) -> None:
            problems.append(f"{self.shown}:{self.line(*loc)}: {message}")

        dead_routes(
            [(route.source, route.to) for route in s.translation.routes], s.editions, problem
        )
        # A language only a source declares is that source's mistake as likely as the
        # chain's: the problem is placed at its `language:` line. A source's tag is read as
        # ingest reads it (`kk-Latn` is Kazakh, `zh-TW` Chinese).
        declared: dict[str, tuple[int, str]] = {}
        for index, src in enumerate(s.sources):
            language = normalise_language(src.language)
            if language and language not in s.languages:
                declared.setdefault(language, (index, src.language or language))
        for source in sorted(set(declared) | set(s.languages)):
            if source in declared:
                index, written = declared[source]
                loc: tuple[Any, ...] = ("sources", index, "language")
                where = f"sources.{index}.language: {written}"
            else:
                loc, where = ("translation", "chain"), "translation"
            missing = [
                (target, chain)
                for target in s.languages
                if target != source
                for chain in [s.translation.chain_for(source, target)]
                if not any(provider_supports(p, source, target) for p in chain)
            ]
            if missing:
                gaps = ", ".join(
                    f"{source}→{target} [{', '.join(chain)}]" for target, chain in missing
                )
                problem(
                    loc,
                    f"{where}: no provider in the chain translates {gaps}; add one that does "
                    "to translation.chain or translation.routes (google covers kk, zh, en, ru "
                    "and more)",
                )
        return sorted(problems, key=_problem_order)

    @property
    def output(self) -> Path | S3Location:
        """The output folder (absolute), or the object store's bucket and prefix."""
        return self.settings.output

    @property
    def folder(self) -> Path | None:
        """The output folder; None when the output is an object store."""
        output = self.settings.output
        return output if isinstance(output, Path) else None

    @property
    def store_url(self) -> str:
        return self.settings.store


def dead_routes(
    routes: list[tuple[list[str], list[str]] | None], editions: list[str], problem: Problem
) -> None:
    """Routes no translation can ever take, given as (from, to) per route (None: a route too
    malformed to say; it takes no pair). Their pairs are (from, to) with `to` a language
    stories are translated into; a `from:` no source declares is fine (a partner's feed may
    be in any language), a `to:` that is not such a language is a mistake."""
    languages = [e for e in editions if e in BASE_LANGUAGES]
    for index, route in enumerate(routes):
        if route is None:
            continue
        sources, tos = route

        def say(key: str | None, message: str, index: int = index) -> None:
            loc = ("translation", "routes", index) + ((key,) if key else ())
            problem(loc, f"{'.'.join(str(part) for part in loc)}: {message}")

        wrong = [t for t in tos if t != "*" and t not in languages]
        for target in wrong:
            if target in DERIVED:
                base = DERIVED[target]
                say(
                    "to",
                    f"{target} is derived from {base} without translation (never a "
                    f"translation target): route to {base} instead",
                )
            else:
                say(
                    "to",
                    f"{target} is not an edition (editions: {', '.join(editions)}): "
                    "nothing is ever translated into it",
                )
        for key, values in (("from", sources), ("to", tos)):
            if not values:
                say(key, "an empty list matches no language: this route never applies")
        if wrong or not sources or not tos:
            continue
        targets = languages if "*" in tos else tos
        if "*" not in sources and all(a == b for a in sources for b in targets):
            # only X→X: a story is never translated into its own language
            say(None, f"{sources[0]}→{targets[0]} is never translated: this route never applies")
            continue
        # First match wins: a route whose every pair an earlier one matches is dead.
        pairs = [
            (src, target)
            for target in targets
            for src in (["*"] if "*" in sources else sources)
            if src != target
        ]
        taken: set[int] = set()
        for src, target in pairs:
            first = next(
                (
                    i
                    for i, r in enumerate(routes[:index])
                    if r is not None and _covers(r, src, target)
                ),
                None,
            )
            if first is None:
                break
            taken.add(first)
        else:
            shown = ", ".join(f"routes.{i}" for i in sorted(taken))
            say(
                None,
                f"every pair it matches is taken by {shown} before it (the first matching "
                "route wins): this route never applies",
            )


def _raw_routes(data: dict[str, Any]) -> list[tuple[list[str], list[str]] | None]:
    """`translation.routes` as written, for `dead_routes` when the settings do not validate:
    each route's from/to as lists of tags, None for a route whose from/to is malformed."""
    translation = data.get("translation")
    routes = translation.get("routes") if isinstance(translation, dict) else None
    found: list[tuple[list[str], list[str]] | None] = []
    for route in routes if isinstance(routes, list) else []:
        if not isinstance(route, dict):
            found.append(None)
            continue
        ends = [_as_list(route.get(key, ["*"])) for key in ("from", "to")]
        if all(isinstance(e, list) and all(isinstance(t, str) for t in e) for e in ends):
            found.append((_route_from(ends[0]), _route_to(ends[1])))
        else:
            found.append(None)
    return found


def _covers(route: Route | tuple[list[str], list[str]], source: str, target: str) -> bool:
    """Whether `route` (from, to) matches source→target; `source` "*" stands for every
    language."""
    sources, tos = (route.source, route.to) if isinstance(route, Route) else route
    if source == "*":
        return "*" in sources and ("*" in tos or target in tos)
    return ("*" in sources or source in sources) and ("*" in tos or target in tos)


IN_USE = "config_in_use"  # the store's record of `Config.in_use()`


def _redact(text: str, secrets: frozenset[str]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return _URL_PASSWORD.sub(r"\1***@", text)


@dataclass(frozen=True)
class Salvaged:
    """What can still be read from a YAML that does not load: where its store is (so that
    `status` can report on a worker still running on the previous one), or why not, and the
    environment values to mask in what is printed."""

    path: Path
    store_url: str | None
    why_not: str = ""
    secrets: frozenset[str] = frozenset()

    def redact(self, text: str) -> str:
        return _redact(text, self.secrets)


_STORE_LINE = re.compile(r"^store:[ \t]*(.*?)[ \t]*(?:[ \t]#.*)?$", re.MULTILINE)
_TOP_KEY = re.compile(r"^([A-Za-z_][\w-]*)[ \t]*:")


def salvage(path: Path) -> Salvaged:
    """The store URL of a YAML that `load` refuses, as `load` would have read it: `${VAR}`
    expanded (a variable this shell lacks leaves it unknown), relative to the file's folder,
    the default when there is no `store:`. A file that is not even YAML is read line by line
    for its top-level `store:`."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return Salvaged(path, None, f"cannot read {path}: {exc}")
    reader = _Reader(str(path), yaml.SafeLoader(text), lenient=True)
    raw: Any
    try:
        node = reader.loader.get_single_node()
        data = reader.python(node, ()) if node is not None else None
        raw = data.get("store", _DEFAULT_STORE) if isinstance(data, dict) else _DEFAULT_STORE
        secrets = frozenset(reader.secrets)
    except yaml.YAMLError:
        match = _STORE_LINE.search(text)
        raw = match.group(1).strip("'\"") if match else _DEFAULT_STORE
        raw = reader._expand(raw, ("store",))
        secrets = _secrets_by_line(text)
    if not isinstance(raw, str) or not raw:
        return Salvaged(path, None, "store: is not a URL", secrets)
    unset = unset_variables(raw)
    if unset:
        return Salvaged(path, None, f"store: needs {', '.join(unset)}, not set here", secrets)
    return Salvaged(path, resolve_store_url(raw, path.resolve().parent), secrets=secrets)


def unset_variables(text: str) -> list[str]:
    """The `${VAR}`s left as written in `text`: a lenient load leaves those this shell lacks."""
    return sorted({match.group(1) for match in _ENV_REF.finditer(text)})


def _secrets_by_line(text: str) -> frozenset[str]:
    """The environment values a file that is not YAML refers to, but for those in sections
    that are printed by design (by the top-level key above each line, as `_public` rules)."""
    secrets = set()
    section = ""
    for line in text.splitlines():
        top = _TOP_KEY.match(line)
        if top:
            section = top.group(1)
        for match in _ENV_REF.finditer(line):
            value = os.environ.get(match.group(1), "")
            if len(value) >= 4 and not _public((section,), value):
                secrets.add(value)
    return frozenset(secrets)


def config_path(option: Path | None) -> Path:
    if option is not None:
        return option
    env = os.environ.get(ENV_CONFIG)
    return Path(env) if env else DEFAULT_CONFIG


#: How `load` takes an environment variable this shell lacks: an error (False), left as
#: `${VAR}` anywhere (True), or left so only where a secret belongs ("secrets").
Leniency = bool | Literal["secrets"]


def load(path: Path, *, lenient_env: Leniency = False) -> Config:
    """Read, expand and validate the YAML at `path`; raise ConfigError listing every mistake.

    `lenient_env`: for commands that only look (status, sources list): an environment
    variable that is not set stays `${VAR}` in the value instead of being an error (the
    worker's environment, not the operator's shell, holds the secrets). "secrets": for
    commands that publish from the store without fetching or translating (withdraw, restore,
    publish): lenient only in a source's url/file/articles, translation.providers and a
    partner's token, which the published files never carry; a variable any other setting
    needs (site.base_url, store, output…) is still an error."""
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{name}: no such file"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{name}: cannot read: {exc}"]) from None
    reader = _Reader(name, _FAST_LOADER(text), lenient=lenient_env)  # type: ignore[arg-type]
    try:
        try:
            node = reader.loader.get_single_node()
        except yaml.YAMLError:
            # Said as the pure-Python parser says it: it names the character or token found.
            reader.loader = yaml.SafeLoader(text)
            node = reader.loader.get_single_node()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{name}:{mark.line + 1}" if mark else name
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([f"{where}: invalid YAML: {problem}"]) from None
    if node is None:
        raise ConfigError([f"{name}:1: the file is empty; expected editions: and sources:"])
    try:
        data = reader.python(node, ())
    except yaml.YAMLError as exc:  # a tag no safe loader constructs (`!custom`), a bad merge
        mark = getattr(exc, "problem_mark", None)
        where = f"{name}:{mark.line + 1}" if mark else name
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([f"{where}: invalid YAML: {problem}"]) from None
    if not isinstance(data, dict):
        raise ConfigError([f"{name}:1: expected a mapping with editions: and sources:"])
    reader.check_repeated_ids(data)
    reader.check_partner_tokens(data)
    settings: Settings | None = None
    salvaged: Settings | None = None
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_input=False, include_url=False)
        for error in errors:
            loc = tuple(error["loc"])
            dotted = ".".join(str(part) for part in loc) or "(top level)"
            reader.problem(loc, f"{dotted}: {_message(error)}")
        salvaged = _salvage(data, errors)
    reference_problems(data, reader.problem, lambda loc: line_for(loc, reader.lines))
    base = path.resolve().parent
    if reader.problems:
        shaped_settings = settings or salvaged
        if shaped_settings is not None:
            # Every mistake at once: the chain's gaps too, which the caller asks for after.
            shaped = Config(path.resolve(), shaped_settings, lines=reader.lines, name=name)
            reader.problems.extend(shaped.routing_problems())
        elif isinstance(data.get("editions"), list):
            # The routes as written: which ones can never apply needs no valid chain (but the
            # editions, or every `to:` would read as no edition).
            editions = [e for e in _names(data.get("editions")) if e in EDITIONS]
            dead_routes(_raw_routes(data), editions, reader.problem)
        raise ConfigError(sorted(set(reader.problems), key=_problem_order))
    assert settings is not None  # a validation error is a problem
    settings = _resolve_paths(settings, base)
    secrets = frozenset(reader.secrets)
    for source in settings.sources:
        masked = _redact(source.location, secrets)
        if masked != source.location:
            digest = hashlib.sha256(source.location.encode("utf-8")).hexdigest()[:16]
            source._stored_location = f"{masked} (sha256 {digest})"
    return Config(
        path=path.resolve(),
        settings=settings,
        secrets=secrets,
        lines=reader.lines,
        name=name,
    )


def _problem_order(problem: str) -> tuple[int, str]:
    match = re.search(r":(\d+):", problem)
    return (int(match.group(1)) if match else 0, problem)


def _message(error: Any) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown key (check its spelling and indentation)"
    if kind == "missing":
        return "required key is missing"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return "expected a whole number"
    if kind in ("float_parsing", "float_type"):
        return "expected a number"
    msg = str(error["msg"])
    return msg.removeprefix("Value error, ")


def line_for(loc: tuple[Any, ...], lines: dict[tuple[Any, ...], int]) -> int:
    # pydantic may add a model-level suffix to loc; walk up to the nearest node we know.
    for cut in range(len(loc), -1, -1):
        if loc[:cut] in lines:
            return lines[loc[:cut]]
    return 1


# Settings that are printed and published by design (where the service listens, its public
# URL, folders, a store URL, whose password the URL rule masks): an environment value there
# is configuration, not a secret, and masking it would garble every URL `run` prints.
_PUBLIC_SECTIONS = frozenset(
    (
        "serve",
        "site",
        "output",
        "output_options",
        "store",
        "editions",
        "fetch",
        "publish",
        "feeds",
        "fleet",
    )
)

# As the message of a `${VAR}` out of place names them: every section above, in one list.
_SECTIONS_SAID = ", ".join(sorted(_PUBLIC_SECTIONS)[:-1]) + f" and {sorted(_PUBLIC_SECTIONS)[-1]}"


def _secret_slot(path: tuple[Any, ...]) -> bool:
    """Where a secret from the environment belongs: a source's location, a provider's keys,
    a partner's token."""
    return (
        (len(path) == 3 and path[0] == "sources" and path[2] in ("url", "file", "articles"))
        or (len(path) >= 3 and path[:2] == ("translation", "providers"))
        or _partner_token(path)
    )


def _published_text(path: tuple[Any, ...]) -> bool:
    """Words of those sections that are published as they are: the site's and the topic
    feeds' titles and descriptions, a topic's keywords and tags."""
    if path[:1] == ("site",):
        return len(path) >= 2 and path[1] in ("title", "description")
    return path[:2] == ("feeds", "topics") and len(path) >= 4 and path[3] != "sources"


def _partner_token(path: tuple[Any, ...]) -> bool:
    return len(path) == 3 and path[0] == "partners" and path[2] == "token"


def _public(path: tuple[Any, ...], value: str) -> bool:
    # In `store:` only a whole URL is public (its password is masked as a URL's); a value
    # spliced into one (`postgresql://u:${PASSWORD}@db/x`) is the secret itself.
    return bool(path) and path[0] in _PUBLIC_SECTIONS and (path[0] != "store" or "://" in value)


# libyaml's parser where PyYAML was built with it: composing the nodes of a YAML of 2,000
# sources takes 0.02 s instead of 0.19 s (the same nodes and lines; constructing stays Python).
_FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass
class _Reader:
    """Turns composed YAML into Python data, remembering each path's line and every value
    that came from the environment (a secret until proven otherwise)."""

    name: str
    loader: yaml.SafeLoader
    lines: dict[tuple[Any, ...], int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    secrets: set[str] = field(default_factory=set)
    # A missing environment variable is left as `${VAR}`, not an error (see `Leniency`).
    lenient: Leniency = False
    unset: set[str] = field(default_factory=set)
    # Partners' tokens written as one `${VAR}` and nothing else: wholly from the environment.
    tokens_from_env: set[tuple[Any, ...]] = field(default_factory=set)
    # What of a partner's token that names a variable the file still holds (see `_token_from`).
    tokens_in_file: dict[tuple[Any, ...], str] = field(default_factory=dict)

    def problem(self, loc: tuple[Any, ...], message: str) -> None:
        self.problems.append(f"{self.name}:{line_for(loc, self.lines)}: {message}")

    def python(self, node: yaml.Node, path: tuple[Any, ...]) -> Any:
        self.lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            # `<<: *anchor` merges (YAML 1.1, as every PyYAML loader reads them): the
            # entries the mapping takes from the anchor come first, its own keys winning.
            own = sum(1 for key, _ in node.value if key.tag != "tag:yaml.org,2002:merge")
            self.loader.flatten_mapping(node)
            merged = {
                self.loader.construct_object(key) for key, _ in node.value[: len(node.value) - own]
            }
            result: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = self.loader.construct_object(key_node)
                if key in result and key in merged:
                    merged.discard(key)  # its own value overrides the anchor's
                elif key in result:
                    line = key_node.start_mark.line + 1
                    self.problems.append(f"{self.name}:{line}: {key}: repeated key")
                result[key] = self.python(value_node, (*path, key))
                # A key's own line is more useful than its value's when the value spans lines.
                self.lines[(*path, key)] = key_node.start_mark.line + 1
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.python(item, (*path, i)) for i, item in enumerate(node.value)]
        value = self.loader.construct_object(node)
        if isinstance(value, str):
            value = self._expand(value, path)
        return value

    def _expand(self, value: str, path: tuple[Any, ...]) -> str:
        def replace(match: re.Match[str]) -> str:
            var, default = match.group(1), match.group(2)
            dotted = ".".join(str(p) for p in path)
            settings = bool(path) and path[0] in _PUBLIC_SECTIONS and not _published_text(path)
            if not settings and not _secret_slot(path):
                # Anything else is published or printed (a title, a glossary entry): an
                # environment value there would leak the very secrets `${…}` is for.
                self.problem(
                    path,
                    f"{dotted}: ${{{var}}}: environment values are read only in a source's "
                    "url/file/articles, translation.providers, a partner's token and the "
                    f"{_SECTIONS_SAID} settings (not a title, a description or a topic's "
                    "words, which are published); write this value in the YAML",
                )
                return match.group(0)
            if var in os.environ:
                if len(os.environ[var]) >= 4 and not _public(path, os.environ[var]):
                    self.secrets.add(os.environ[var])
                return os.environ[var]
            if default is not None:
                return default
            if self.lenient is True or (self.lenient == "secrets" and _secret_slot(path)):
                self.unset.add(var)
                if self.lenient == "secrets":
                    # Kept from print and publish as the value would have been: an atom:source
                    # link holding `${VAR}` is as wrong as one holding the secret.
                    self.secrets.add(match.group(0))
                return match.group(0)
            self.problem(path, f"{dotted}: environment variable {var} is not set")
            # A partner's token stays `${VAR}`: "not set" is the problem, not its length.
            return match.group(0) if _partner_token(path) else ""

        if _partner_token(path):
            self._token_from(value, path)
        return _ENV_REF.sub(replace, value)

    def _token_from(self, value: str, path: tuple[Any, ...]) -> None:
        """Whether a partner's token as written comes wholly from the environment: one
        `${VAR}`, without a `:-default` (a token in the file, which a server whose environment
        lacks VAR lets in, and every copy of the file carries) or text around it (part of the
        secret in the file). Judged by how it is written, whether VAR is set here or not."""
        whole = _ENV_REF.fullmatch(value)
        if whole and whole.group(2) is None:
            self.tokens_from_env.add(path)
        elif whole:
            self.tokens_in_file[path] = (
                f"${{{whole.group(1)}:-…}}: the default after ':-' is a token written in the "
                f"YAML, let in whenever {whole.group(1)} is not set"
            )
        elif found := _ENV_REF.search(value):
            # (Only the variable is named: the text around it is part of the secret.)
            self.tokens_in_file[path] = (
                f"the text around ${{{found.group(1)}}} is part of the token, written in the YAML"
            )

    def check_partner_tokens(self, data: dict[str, Any]) -> None:
        """A partner's token written into the YAML itself, wholly or in part (a `:-default`,
        text around `${VAR}`): it belongs in the environment (or only its SHA-256 in the YAML),
        where a copy of the file does not carry it."""
        partners = data.get("partners")
        if not isinstance(partners, list):
            return
        holders: dict[str, int] = {}
        for index, partner in enumerate(partners):
            if not isinstance(partner, dict):
                continue
            path = ("partners", index, "token")
            if "token" in partner and path not in self.tokens_from_env:
                why = self.tokens_in_file.get(path)
                self.problem(
                    path,
                    f"partners.{index}.token: " + (f"{why}; " if why else "") + "write the "
                    "whole secret in the environment and the YAML as token: ${VAR} alone, or "
                    "give only its SHA-256 as token_sha256:",
                )
            key = _partner_digest(partner)
            if key is None:
                continue
            if key in holders:
                # One key for two partners opens each one's entitled feeds to the other.
                name = "token_sha256" if "token_sha256" in partner else "token"
                first = line_for(("partners", holders[key]), self.lines)
                self.problem(
                    ("partners", index, name),
                    f"partners.{index}.{name}: the same token as the partner on line {first}; "
                    "each partner needs a token of its own",
                )
            else:
                holders[key] = index

    def check_repeated_ids(self, data: dict[str, Any]) -> None:
        """A repeated source id, reported at the repeating entry's own line."""
        sources = data.get("sources")
        if not isinstance(sources, list):
            return
        seen: dict[str, int] = {}
        for index, source in enumerate(sources):
            sid = source.get("id") if isinstance(source, dict) else None
            if not isinstance(sid, str):
                continue
            if sid in seen:
                first = line_for(("sources", seen[sid], "id"), self.lines)
                self.problem(
                    ("sources", index, "id"),
                    f"sources.{index}.id: {sid!r} is already the id of the source on line "
                    f"{first}; ids must be unique",
                )
            else:
                seen[sid] = index


# What the chain's gaps are worked out from: a mistake elsewhere (a typo under `fetch:`) must
# not hide them until it is fixed.
_ROUTING_KEYS = frozenset({"editions", "sources", "translation"})


def _salvage(data: dict[str, Any], errors: Sequence[Any]) -> Settings | None:
    """The settings without the top-level sections that failed (their defaults instead), when
    the failures are all outside what translation routing reads; else None."""
    failed = {error["loc"][0] if error["loc"] else None for error in errors}
    if None in failed or failed & _ROUTING_KEYS:
        return None
    try:
        return Settings.model_validate({k: v for k, v in data.items() if k not in failed})
    except ValidationError:
        return None


def _partner_digest(partner: dict[str, Any]) -> str | None:
    """The SHA-256 (hex) of a partner's token as the YAML gives it, if it gives one."""
    token, digest = partner.get("token"), partner.get("token_sha256")
    if isinstance(token, str) and token:
        return hashlib.sha256(token.encode("utf-8")).hexdigest()
    return digest.lower() if isinstance(digest, str) and digest else None


def _resolve_paths(settings: Settings, base: Path) -> Settings:
    sources = [
        source.model_copy(
            update={
                "file": (base / source.file).resolve() if source.file is not None else None,
                "articles": (
                    (base / source.articles).resolve() if source.articles is not None else None
                ),
            }
        )
        for source in settings.sources
    ]
    return settings.model_copy(
        update={
            "sources": sources,
            "output": (base / settings.output).resolve()
            if isinstance(settings.output, Path)
            else settings.output,
            "store": resolve_store_url(settings.store, base),
        }
    )


def resolve_store_url(url: str, base: Path) -> str:
    """A relative SQLite path is relative to the YAML's folder, like every other path."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url != prefix + ":memory:":
        rest = url[len(prefix) :]
        path, sep, query = rest.partition("?")
        return f"{prefix}{(base / path).resolve()}{sep}{query}"
    return url
