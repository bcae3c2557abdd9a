"""Dates as people read them in feeds' pages, mail and the listing: `01 December 2021`."""

from __future__ import annotations

from datetime import date

_MONTH_NAMES = [
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
]


def format_day_month_year(day: date) -> str:
    """The listing's own form, independent of the machine's locale."""
    return f"{day.day:02d} {_MONTH_NAMES[day.month - 1]} {day.year}"


def event_days(first: date, last: date) -> str:
    """`21–22 September 2015`, `30 September – 2 October 2015`, `30 December 2015 – 2
    January 2016`: each part once, as the office writes a meeting's days."""
    if (first.year, first.month) == (last.year, last.month):
        return f"{first.day}–{format_day_month_year(last).lstrip('0')}"
    if first.year == last.year:
        return f"{first.day} {_MONTH_NAMES[first.month - 1]} – {format_day_month_year(last).lstrip('0')}"
    return f"{format_day_month_year(first).lstrip('0')} – {format_day_month_year(last).lstrip('0')}"


def short_date_range(first: date, last: date) -> str:
    """`16 Jun 2022`, `16 Jun – 28 Jun 2022`, or `28 Jun 2021 – 16 Jun 2022`: the year on both
    sides when they differ, one date when the range is one day."""
    def short(day: date) -> str:
        return f"{day.day:02d} {_MONTH_NAMES[day.month - 1][:3]}"
    if first == last:
        return f"{short(last)} {last.year}"
    if first.year == last.year:
        return f"{short(first)} – {short(last)} {last.year}"
    return f"{short(first)} {first.year} – {short(last)} {last.year}"


def counted(count: int, singular: str, plural: str | None = None) -> str:
    """`1 new release`, `19 new releases`."""
    return f"{count} {singular if count == 1 else plural or singular + 's'}"
