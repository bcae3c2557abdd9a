"""Cron expressions as crontab(5) reads them (through cronsim): minute, hour, day of month,
month, day of week; 0 and 7 are Sunday, names (MON, JAN), ranges, steps and lists; when both
day fields are restricted, a day that matches either fires; `@daily` and the other macros.
(APScheduler's own reading counts weekdays from Monday = 0 and wants both day fields to match:
`0 9 * * 0` fired on Mondays.) And the expression in words (cron-descriptor)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

MACROS = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
          "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"}


def expanded(expression: str) -> str:
    """The five fields a macro stands for (the expression itself otherwise), in one spacing."""
    text = " ".join(expression.split())
    return MACROS.get(text.lower(), text)


def checked(expression: str) -> str:
    """`expression` when crontab(5) can read it and it ever fires; else ValueError saying why."""
    from cronsim import CronSim, CronSimError

    text = expanded(expression)
    if text.startswith("@"):
        raise ValueError(f"unknown macro {text!r}; known: {', '.join(MACROS)}")
    if len(text.split()) != 5:
        raise ValueError(f"expected 5 fields, got {len(text.split())} (minute hour day-of-month month day-of-week)")
    try:
        CronSim(text, datetime(2000, 1, 1))
    except CronSimError as exc:
        raise ValueError(f"bad cron expression {expression!r}: {exc}") from None
    return expression


def fires_after(expression: str, moment: datetime) -> Iterator[datetime]:
    """Its fire times after `moment` (an aware datetime: in that zone's wall clock), in order."""
    from cronsim import CronSim

    return iter(CronSim(expanded(expression), moment))


def in_words(expression: str) -> str:
    """`0 9 * * 1-5` -> "At 09:00 AM, Monday through Friday"."""
    from cron_descriptor import Options, get_description

    options = Options()
    options.use_24hour_time_format = True
    return str(get_description(expanded(expression), options))
