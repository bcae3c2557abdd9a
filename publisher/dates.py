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
