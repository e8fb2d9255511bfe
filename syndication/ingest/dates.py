"""Feed date strings feedparser misreads: our own reading of a feed's dates.

Owns: `read_date`, the moment a date string of a feed or JSON Feed names, in UTC, and
`dates_notes`, the source's notes on the dates that do not date their stories: those it could
not read, and those read but out of range (more than a day ahead, or before 1971: see
`model.effective_date`), whose stories are filed when first seen alike. feedparser's lenient
ISO 8601 handler, the last it tries, reads what it does not know as something else
(`2020/1/10 14:33:00` as 2020-12-01, a Unix timestamp as the year 1748, month 13 as the next
January), it knows no Russian or Kazakh month, and it reads a zone abbreviation of our
partners' region (`ALMT`, `MSK`, ...) as UTC. So the raw string is read here: the numeric forms
of the region (`2020/1/10 14:33`, `2025年6月1日 10:00`, `01.06.2025`, 10-digit Unix seconds and
13-digit milliseconds), RFC 822 dates with Russian or Kazakh day and month names and with a
regional zone (applied as it was on that date: Almaty was UTC+6 until March 2024, +5 since; an
abbreviation naming different zones in different places, such as CST, is left as feedparser
reads it), then feedparser's strict handlers and Python's ISO 8601 reader. An impossible date
(month 13, hour 99, 31 February) is no date. A date without a zone is UTC, as feedparser takes
it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
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
}

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
_REGIONAL = re.compile(r"(?P<date>.*\d:\d\d(?::\d\d(?:\.\d+)?)?)\s*(?P<zone>[A-Za-z]{3,5})")
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


def read_date(value: object) -> datetime | None:
    """The moment a feed's date (a string, or a JSON number of Unix seconds) names, in UTC
    to the second; None for no date, a form not known or an impossible date."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        return None
    text = " ".join(value.split())
    try:
        return _read(text)
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
    if _UNIX.fullmatch(text):
        return datetime.fromtimestamp(int(text) // (1000 if len(text) == 13 else 1), UTC)
    for pattern in _NUMERIC:
        match = pattern.fullmatch(text)
        if match:
            return datetime(
                *(int(match.group(k)) for k in ("year", "month", "day")),
                *(int(match.group(k) or 0) for k in ("hour", "minute", "second")),
                tzinfo=UTC,
            )
    match = _WORDED.fullmatch(text)
    if match:
        month = match.group("month")
        if not month.isascii():
            month = MONTHS.get(month[:3].lower(), "")
            if not month:
                return None
        text = f"{match.group('day')} {month} {match.group('rest')}"
    regional = _regional(text)
    if regional is not None:
        return regional
    for handler in _FEEDPARSER:
        try:
            parsed = handler(text)
        except (KeyError, OverflowError, ValueError, AttributeError, IndexError):
            continue
        if parsed:
            return datetime(*parsed[:6], tzinfo=UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0)


def _regional(text: str) -> datetime | None:
    """An RFC 822 date whose zone is one of `ZONES`, in UTC; None for any other."""
    match = _REGIONAL.fullmatch(text)
    if match is None or match.group("zone").upper() not in ZONES:
        return None
    as_utc = _parse_date_rfc822(f"{match.group('date')} +0000")
    if as_utc is None:
        return None
    local = datetime(*as_utc[:6], tzinfo=ZoneInfo(ZONES[match.group("zone").upper()]))
    return local.astimezone(UTC)
