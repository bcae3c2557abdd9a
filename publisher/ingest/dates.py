"""Publication dates as the sources write them, made timezone-aware."""

from __future__ import annotations

import re
from datetime import date, datetime, time, tzinfo

_MONTHS = {
    name: number
    for number, names in enumerate(
        [("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"),
         ("may",), ("june", "jun"), ("july", "jul"), ("august", "aug"),
         ("september", "sep", "sept"), ("october", "oct"), ("november", "nov"),
         ("december", "dec")],
        start=1,
    )
    for name in names
}
_DAY_MONTH_YEAR = re.compile(r"(\d{1,2})\s+([A-Za-z]+)\.?,?\s+(\d{4})")


def parse_day_month_year(text: str) -> date | None:
    """`16 June 2022`, `01 December 2021`, `3 Sept. 2020`; None when the text is no such date."""
    match = _DAY_MONTH_YEAR.fullmatch(text.strip())
    if not match:
        return None
    month = _MONTHS.get(match.group(2).lower())
    if month is None:
        return None
    try:
        return date(int(match.group(3)), month, int(match.group(1)))
    except ValueError:
        return None


def midnight(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=zone)


def parse_published(text: str, zone: tzinfo) -> datetime | None:
    """An ISO 8601 date or date-time, or `16 June 2022`. A date alone, or a time without an
    offset, is read in `zone` (the site's time zone). None when the text is no date."""
    text = text.strip()
    day = parse_day_month_year(text)
    if day is not None:
        return midnight(day, zone)
    try:
        if len(text) == 10:
            return midnight(date.fromisoformat(text), zone)
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)
