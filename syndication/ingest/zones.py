"""Time-zone abbreviations of our partners' region in feed dates, which feedparser reads as UTC.

Owns: `regional_date`, a feedparser date handler for RFC 822 dates ending in an abbreviation
feedparser does not know (`Mon, 05 May 2025 10:00:00 ALMT`): each stands for an IANA zone, and
the zone's offset on that date is applied (Almaty was UTC+6 until March 2024, +5 since). An
abbreviation that names different zones in different places (CST: China or US Central) is
left to feedparser.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from feedparser.datetimes import _parse_date_rfc822

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

_DATE = re.compile(r"^\s*(?P<date>.*\d:\d\d(?::\d\d(?:\.\d+)?)?)\s*(?P<zone>[A-Za-z]{3,5})\s*$")


def regional_date(value: str) -> time.struct_time | None:
    """The UTC time of an RFC 822 date whose zone is one of `ZONES`; None for any other."""
    match = _DATE.match(value)
    if match is None or match.group("zone").upper() not in ZONES:
        return None
    as_utc = _parse_date_rfc822(f"{match.group('date')} +0000")
    if as_utc is None:
        return None
    local = datetime(*as_utc[:6], tzinfo=ZoneInfo(ZONES[match.group("zone").upper()]))
    return local.astimezone(UTC).timetuple()
