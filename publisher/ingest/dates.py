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


_DASH = r"\s*[-\u2013\u2014]\s*"  # a hyphen, en or em dash, with or without spaces
_DAYS_OF_MONTH = re.compile(rf"(\d{{1,2}}){_DASH}(\d{{1,2}})\s+([A-Za-z]+)\.?,?\s+(\d{{4}})")
_DAY_MONTH = re.compile(rf"(\d{{1,2}})\s+([A-Za-z]+)\.?{_DASH}(\d{{1,2}}\s+[A-Za-z]+\.?,?\s+\d{{4}})")
_TWO_DATES = re.compile(rf"(\d{{1,2}}\s+[A-Za-z]+\.?,?\s+\d{{4}}){_DASH}(\d{{1,2}}\s+[A-Za-z]+\.?,?\s+\d{{4}})")


def parse_days(text: str) -> tuple[date, date | None] | None:
    """A date, or the days of a meeting as the office writes them: `21-22 September 2015`,
    `30 September - 2 October 2015`, `28 Feb - 1 Mar 2016`, `30 December 2015 – 2 January
    2016` (hyphens or dashes, spaced or not). (first day, last day or None for one day); None
    when the text is no such date, or the last day is not after the first."""
    text = text.strip()
    one = parse_day_month_year(text)
    if one is not None:
        return one, None
    first = last = None
    if match := _DAYS_OF_MONTH.fullmatch(text):
        day, end, month, year = match.groups()
        first, last = parse_day_month_year(f"{day} {month} {year}"), parse_day_month_year(f"{end} {month} {year}")
    elif match := _DAY_MONTH.fullmatch(text):
        last = parse_day_month_year(match.group(3))
        first = parse_day_month_year(f"{match.group(1)} {match.group(2)} {last.year}") if last else None
        if first and last and first > last:  # `31 Dec - 2 Jan 2016`: the year is the last day's
            first = parse_day_month_year(f"{match.group(1)} {match.group(2)} {last.year - 1}")
    elif match := _TWO_DATES.fullmatch(text):
        first, last = parse_day_month_year(match.group(1)), parse_day_month_year(match.group(2))
    if first is None or last is None or last <= first:
        return None
    return first, last


_MONTH_WORD = re.compile(rf"\b(?:{'|'.join(_MONTHS)})\b", re.IGNORECASE)


def looks_like_a_date(text: str) -> bool:
    """A short line with a day, a month's name and a year: meant as a date, read or not."""
    return len(text) <= 60 and bool(re.search(r"\b\d{1,2}\b", text) and re.search(r"\b\d{4}\b", text)
                                    and _MONTH_WORD.search(text))


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
