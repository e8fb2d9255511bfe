"""Feed date strings feedparser misreads: our own reading of a feed's dates.

Owns: `read_date`, the moment a date string of a feed or JSON Feed names, in UTC, and
`dates_notes`, the source's notes on the dates that do not date their stories: those it could
not read, and those read but out of range (more than a day ahead, or before 1971: see
`model.effective_date`), whose stories are filed when first seen alike. feedparser's lenient
ISO 8601 handler, the last it tries, reads what it does not know as something else
(`2020/1/10 14:33:00` as 2020-12-01, a Unix timestamp as the year 1748, month 13 as the next
January), it knows no Russian or Kazakh month, and it reads any zone abbreviation it does not
know (`CET`, `JST`, `ALMT`, `UTC+6`, `XYZ`) as UTC. So the raw string is read here: the
numeric forms of the region (`2020/1/10 14:33`, `2025年6月1日 10:00`, `01.06.2025`, 10-digit
Unix seconds and 13-digit milliseconds), RFC 822 dates with Russian or Kazakh day and month
names, then feedparser's strict handlers and Python's ISO 8601 reader, each given the date and
time alone: the zone written after the time is ours to apply. An offset (`+0500`, `+05:30`,
`UTC+6`, `GMT-3`) is that offset; an abbreviation is read from `OFFSETS` (RFC 822's own, CST
US Central among them, and others that name one offset) or `ZONES` (zones whose offset moved,
applied as it was on that date: Almaty was UTC+6 until March 2024, +5 since); any other (`XYZ`,
`IST` naming three zones) makes no date, never UTC. An impossible date (month 13, hour 99,
31 February) is no date. A date written without a zone (bar the Korean blog forms feedparser
knows, which mean KST) is in the zone it is given: the
source's `timezone:`, UTC by default.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo

from feedparser.datetimes import (
    _parse_date_asctime,
    _parse_date_greek,
    _parse_date_hungarian,
    _parse_date_nate,
    _parse_date_onblog,
    _parse_date_perforce,
    _parse_date_rfc822,
    _parse_date_w3dtf,
)

from syndication.model import plausible_date, utcnow

# Zones whose offset changed over the years, applied as it was on the date written (Almaty
# was UTC+6 until March 2024, +5 since; Moscow +4 from 2011 to 2014); and the United States'
# generic names, whose summer time the date decides.
ZONES = {
    "ALMT": "Asia/Almaty",
    "ALMST": "Asia/Almaty",
    "QYZT": "Asia/Qyzylorda",
    "AQTT": "Asia/Aqtobe",
    "ORAT": "Asia/Oral",
    "KGT": "Asia/Bishkek",
    "UZT": "Asia/Tashkent",
    "TJT": "Asia/Dushanbe",
    "TMT": "Asia/Ashgabat",
    "MSK": "Europe/Moscow",
    "MSD": "Europe/Moscow",
    "BJT": "Asia/Shanghai",
    "HKT": "Asia/Hong_Kong",
    "ULAT": "Asia/Ulaanbaatar",
    "TRT": "Europe/Istanbul",
    "ET": "America/New_York",
    "CT": "America/Chicago",
    "MT": "America/Denver",
    "PT": "America/Los_Angeles",
    "AT": "America/Halifax",
}

# Abbreviations that name one offset wherever they are written, in minutes east of UTC: RFC
# 822's own (its US zones keep their US meaning: CST is US Central, never China), and others
# each used for one zone only. Left out on purpose, so no date rather than a guess: those that
# name several (IST: India, Ireland, Israel; BST: British summer, Bangladesh; AST: Atlantic,
# Arabia; GST: Gulf, South Georgia) and RFC 822's military letters but Z, whose signs RFC 1123
# found written backwards (RFC 2822 reads them as an unknown zone).
OFFSETS = {
    "UT": 0, "UTC": 0, "GMT": 0, "Z": 0,
    "EST": -300, "EDT": -240, "CST": -360, "CDT": -300,
    "MST": -420, "MDT": -360, "PST": -480, "PDT": -420,
    "ADT": -180, "AKST": -540, "AKDT": -480, "HST": -600,
    "WET": 0, "WEST": 60, "CET": 60, "CEST": 120, "MET": 60, "MEST": 120,
    "EET": 120, "EEST": 180, "WAT": 60, "CAT": 120, "SAST": 120, "EAT": 180,
    "IRST": 210, "PKT": 300, "NPT": 345, "ICT": 420, "WIB": 420,
    "SGT": 480, "MYT": 480, "PHT": 480, "AWST": 480, "WITA": 480,
    "JST": 540, "KST": 540, "WIT": 540, "ACST": 570, "ACDT": 630,
    "AEST": 600, "AEDT": 660, "NZST": 720, "NZDT": 780,
}  # fmt: skip
# What may carry an offset after it: `UTC+6`, `GMT+05:30`, `UT-3`.
_OFFSET_BASES = frozenset({"UT", "UTC", "GMT"})

# A month by the first three letters of its name, Russian (`июн`, `июня`, `Июнь`; `мая` and
# `май` both begin `ма`+, March is `мар`) and Kazakh (`мау`, `маусым`).
MONTHS = {
    "янв": "Jan", "фев": "Feb", "мар": "Mar", "апр": "Apr", "май": "May", "мая": "May",
    "июн": "Jun", "июл": "Jul", "авг": "Aug", "сен": "Sep", "окт": "Oct", "ноя": "Nov",
    "дек": "Dec",
    "қаң": "Jan", "ақп": "Feb", "нау": "Mar", "сәу": "Apr", "мам": "May", "мау": "Jun",
    "шіл": "Jul", "там": "Aug", "қыр": "Sep", "қаз": "Oct", "қар": "Nov", "жел": "Dec",
}  # fmt: skip

_TIME = r"(?:[ T]*(?P<hour>\d{1,2})[:：](?P<minute>\d{2})(?:[:：](?P<second>\d{2})(?:\.\d+)?)?)?"
_NUMERIC = [
    re.compile(rf"(?P<year>\d{{4}})/(?P<month>\d{{1,2}})/(?P<day>\d{{1,2}}){_TIME}"),
    re.compile(
        rf"(?P<year>\d{{4}})\s*年\s*(?P<month>\d{{1,2}})\s*月\s*(?P<day>\d{{1,2}})\s*日{_TIME}"
    ),
    # Day first with dots is how Russian and Kazakh write a date.
    re.compile(rf"(?P<day>\d{{1,2}})\.(?P<month>\d{{1,2}})\.(?P<year>\d{{4}})(?:,?){_TIME}"),
]
_UNIX = re.compile(r"\d{10}|\d{13}")
# An RFC 822 date, `[weekday,] day month year rest`: read without its weekday, which says
# nothing the date does not and which feedparser refuses when misspelt (`Wes, 18 Aug 2021`)
# or in another language (`Вс`).
_WORDED = re.compile(
    r"(?:[^\W\d_]+\.?,?\s+)?(?P<day>\d{1,2})\s+(?P<month>[^\W\d_]+)\.?,?\s+"
    r"(?P<rest>\d{2,4}(?:\s.*)?)"
)
# What a date writes after its time (ISO 8601's may be an hour alone: `T10Z`) up to a space,
# a comment (`+0500 (ALMT)`) or the end, if it is not an asctime year: its zone (`_zone`).
_ZONE = re.compile(r"(?>\d:\d\d(?::\d\d(?:\.\d+)?)?|[Tt]\d\d(?!:))\s*(?P<zone>[A-Za-z+-][^\s(]*)")
# A zone as written: an abbreviation (`JST`, `Z`), one with an offset (`UTC+6`, `GMT+05:30`)
# or an offset (`+0500`, `+05:30`, `-03`).
_ZONE_FORM = re.compile(
    r"(?P<name>[A-Za-z]{1,5})?(?:(?P<sign>[+-])(?P<hours>\d{1,2}?):?(?P<minutes>\d\d)?)?"
)
# After ours, feedparser's handlers in its own order, bar the lenient ISO 8601 one.
_FEEDPARSER: tuple[Callable[[str], time.struct_time | None], ...] = (
    _parse_date_w3dtf,
    _parse_date_rfc822,
    _parse_date_asctime,
    _parse_date_perforce,
    _parse_date_hungarian,
    _parse_date_greek,
    _parse_date_nate,
    _parse_date_onblog,
)
# Forms that name no zone yet mean one: Korean blogs' dates are KST, and feedparser applies it.
_ZONE_OF_FORM = frozenset({_parse_date_nate, _parse_date_onblog})


def read_date(value: object, zone: tzinfo = UTC) -> datetime | None:
    """The moment a feed's date (a string, or a JSON number of Unix seconds) names, in UTC
    to the second; None for no date, a form or zone not known or an impossible date. A date
    written without a zone is a time in `zone` (the source's `timezone:`)."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        return None
    text = " ".join(value.split())
    try:
        moment = _read(text)
        if moment is not None and moment.tzinfo is None:
            moment = moment.replace(tzinfo=zone)
        return moment.astimezone(UTC) if moment is not None else None
    except (ValueError, OverflowError, OSError):
        return None  # an impossible date (month 13, hour 99) in a form we know


def dates_notes(dates: list[tuple[str, datetime | None]]) -> list[str]:
    """The source's notes on its items whose dates do not date them, naming what they said:
    `dates` holds, for each item that gives a date, what it wrote and what it was read as
    (None: it could not be read). A date read but out of range is one a story first seen now
    is not filed under (`model.plausible_date`): a partner's clock or a typo (2099, 1900),
    as silently replaced as an unreadable one was before it had a note."""
    now = utcnow()
    unread = [written for written, read in dates if read is None]
    implausible = [written for written, read in dates if read and not plausible_date(read, now)]
    return [
        *_note(unread, "with a date that could not be read"),
        *_note(implausible, "dated more than a day ahead or before 1971"),
    ]


def _note(written: list[str], what: str) -> list[str]:
    if not written:
        return []
    shown = list(dict.fromkeys(" ".join(v.split())[:60] for v in written))
    named = ", ".join(repr(v) for v in shown[:3]) + (", …" if len(shown) > 3 else "")
    return [f"{len(written)} item(s) {what} ({named}): filed when first seen"]


def _read(text: str) -> datetime | None:
    """The moment `text` names: aware when it writes its zone (or its form means one), naive
    (its wall clock) when it writes none."""
    if _UNIX.fullmatch(text):
        return datetime.fromtimestamp(int(text) // (1000 if len(text) == 13 else 1), UTC)
    match = _WORDED.fullmatch(text)
    if match:
        month = match.group("month")
        if not month.isascii():
            month = MONTHS.get(month[:3].lower(), "")
            if not month:
                return None
        text = f"{match.group('day')} {month} {match.group('rest')}"
    written = _ZONE.search(text)
    if written is None:
        return _wall_clock(text)
    zone = _zone(written.group("zone"))
    if zone is None:
        return None  # feedparser reads a zone it does not know as UTC: hours off, silently
    start, end = written.span("zone")
    wall = _wall_clock(text[:start].rstrip() + text[end:], text[:start] + "Z" + text[end:])
    return wall.replace(tzinfo=zone) if wall else None


def _wall_clock(text: str, marked: str | None = None) -> datetime | None:
    """The date and time `text` writes, naive; `marked`: `text` with a `Z` where its zone was
    (the zone is ours to apply: feedparser's handlers read the time before it as written, and
    some want a zone there). Aware (UTC) only for a form that means a zone without writing
    one, or an ISO 8601 offset `_ZONE` does not see (`2025-06-01T10+06:00`)."""
    for pattern in _NUMERIC:
        match = pattern.fullmatch(text)
        if match:
            return datetime(
                *(int(match.group(k)) for k in ("year", "month", "day")),
                *(int(match.group(k) or 0) for k in ("hour", "minute", "second")),
            )
    for handler in _FEEDPARSER:
        try:
            parsed = handler(marked or text)
        except (KeyError, OverflowError, ValueError, AttributeError, IndexError):
            continue
        if parsed:
            # Without a zone, feedparser's handlers give the time as written, as UTC.
            implied = marked is None and handler in _ZONE_OF_FORM
            return datetime(*parsed[:6], tzinfo=UTC if implied else None)
    try:
        moment = datetime.fromisoformat(marked or text)
    except ValueError:
        return None
    return moment.replace(microsecond=0)


@lru_cache(maxsize=256)  # a feed writes one zone on every item
def _zone(written: str) -> tzinfo | None:
    """The zone a date writes after its time (`JST`, `UTC+6`, `+05:30`); None for one not
    known (`XYZ`, `Europe/Berlin`), one naming several (`IST`) or an offset past a day."""
    form = _ZONE_FORM.fullmatch(written)
    if form is None:
        return None
    name = (form.group("name") or "").upper()
    if form.group("sign"):
        if name and name not in _OFFSET_BASES:
            return None  # `CET+1`: which is meant is anyone's guess
        hours, minutes = int(form.group("hours")), int(form.group("minutes") or 0)
        if hours > 23 or minutes > 59:
            return None
        sign = -1 if form.group("sign") == "-" else 1
        return timezone(sign * timedelta(hours=hours, minutes=minutes))
    if name in OFFSETS:
        return timezone(timedelta(minutes=OFFSETS[name]))
    return ZoneInfo(ZONES[name]) if name in ZONES else None
