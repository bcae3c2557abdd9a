"""Cron lines fire when crontab(5) says: a table of expressions with their fire times, worked
out by hand from crontab(5) (0 and 7 are Sunday; names; ranges, steps, lists; when both day
fields are restricted either matches; the macros), in two zones, and across DST changes."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from publisher.crontab import checked, in_words
from publisher.run.schedules import Schedule

START = (2026, 12, 1, 0, 1)  # a Tuesday, a minute past midnight


def _d(month: int, day: int, hour: int = 9, minute: int = 0, year: int = 2026) -> tuple[int, ...]:
    return (year, month, day, hour, minute)


TABLE = [
    ("0 9 * * 0", [_d(12, 6), _d(12, 13), _d(12, 20)]),  # Sunday (APScheduler: Monday)
    ("0 9 * * 7", [_d(12, 6), _d(12, 13), _d(12, 20)]),  # Sunday too (APScheduler: refused)
    ("0 9 * * SUN", [_d(12, 6), _d(12, 13), _d(12, 20)]),
    ("5 4 * * sun", [_d(12, 6, 4, 5), _d(12, 13, 4, 5), _d(12, 20, 4, 5)]),
    ("0 9 * * 1-5", [_d(12, 1), _d(12, 2), _d(12, 3)]),  # Monday to Friday (APScheduler: Tue-Sat)
    ("0 9 * * MON-FRI", [_d(12, 1), _d(12, 2), _d(12, 3)]),
    ("0 9 * * 6,0", [_d(12, 5), _d(12, 6), _d(12, 12)]),
    ("0 9 * * 5-7", [_d(12, 4), _d(12, 5), _d(12, 6)]),
    ("0 9 * * */2", [_d(12, 1), _d(12, 3), _d(12, 5)]),  # Sun, Tue, Thu, Sat
    ("0 22 * * 1-5", [_d(12, 1, 22), _d(12, 2, 22), _d(12, 3, 22)]),
    ("0 9 1-7 * MON", [_d(12, 1), _d(12, 2), _d(12, 3), _d(12, 4), _d(12, 5), _d(12, 6), _d(12, 7),
                       _d(12, 14)]),  # days 1-7, or any Monday (APScheduler: a first Monday only)
    ("0 9 13 * FRI", [_d(12, 4), _d(12, 11), _d(12, 13), _d(12, 18)]),  # Fridays, and the 13th
    ("0 9 1,15 * 3", [_d(12, 1), _d(12, 2), _d(12, 9), _d(12, 15)]),  # 1st, 15th, Wednesdays
    ("0 9 1 * *", [_d(12, 1), _d(1, 1, year=2027), _d(2, 1, year=2027)]),
    ("30 8 * * *", [_d(12, 1, 8, 30), _d(12, 2, 8, 30), _d(12, 3, 8, 30)]),
    ("*/15 9 * * *", [_d(12, 1, 9, 0), _d(12, 1, 9, 15), _d(12, 1, 9, 30)]),
    ("0 */6 * * *", [_d(12, 1, 6), _d(12, 1, 12), _d(12, 1, 18)]),
    ("0 9-17/4 * * *", [_d(12, 1, 9), _d(12, 1, 13), _d(12, 1, 17)]),
    ("0 9,12,18 * * *", [_d(12, 1, 9), _d(12, 1, 12), _d(12, 1, 18)]),
    ("0 0 * * *", [_d(12, 2, 0), _d(12, 3, 0), _d(12, 4, 0)]),
    ("@daily", [_d(12, 2, 0), _d(12, 3, 0), _d(12, 4, 0)]),
    ("@midnight", [_d(12, 2, 0), _d(12, 3, 0), _d(12, 4, 0)]),
    ("@hourly", [_d(12, 1, 1), _d(12, 1, 2), _d(12, 1, 3)]),
    ("@weekly", [_d(12, 6, 0), _d(12, 13, 0), _d(12, 20, 0)]),  # Sundays
    ("@monthly", [_d(1, 1, 0, year=2027), _d(2, 1, 0, year=2027), _d(3, 1, 0, year=2027)]),
    ("@yearly", [_d(1, 1, 0, year=2027), _d(1, 1, 0, year=2028), _d(1, 1, 0, year=2029)]),
    ("@annually", [_d(1, 1, 0, year=2027), _d(1, 1, 0, year=2028), _d(1, 1, 0, year=2029)]),
    ("0 0 1 1 *", [_d(1, 1, 0, year=2027), _d(1, 1, 0, year=2028), _d(1, 1, 0, year=2029)]),
    ("0 9 * JAN,JUL *", [_d(1, 1, year=2027), _d(1, 2, year=2027), _d(1, 3, year=2027)]),
    ("0 9 1 */3 *", [_d(1, 1, year=2027), _d(4, 1, year=2027), _d(7, 1, year=2027)]),
    ("0 9 29 2 *", [_d(2, 29, year=2028), _d(2, 29, year=2032), _d(2, 29, year=2036)]),
    ("0 9 31 * *", [_d(12, 31), _d(1, 31, year=2027), _d(3, 31, year=2027)]),
]


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "Europe/Berlin"])
@pytest.mark.parametrize(("expression", "expected"), TABLE, ids=[line for line, _ in TABLE])
def test_each_line_fires_when_crontab_says(zone: str, expression: str, expected: list[tuple[int, ...]]) -> None:
    tz = ZoneInfo(zone)
    schedule = Schedule("digest:x", "digest", "x", checked(expression), tz)
    fires = schedule.next_fire_times(datetime(*START, tzinfo=tz), len(expected))
    assert [fire.astimezone(tz).replace(tzinfo=None) for fire in fires] == [datetime(*when) for when in expected]


BERLIN = ZoneInfo("Europe/Berlin")  # clocks forward 2026-03-29 02:00 -> 03:00, back 2026-10-25 03:00 -> 02:00


@pytest.mark.parametrize(("expression", "start", "expected_utc"), [
    # A time the clock skips fires once, as it jumps (03:00 CEST is 01:00 UTC).
    ("30 2 * * *", (2026, 3, 28), [(2026, 3, 28, 1, 30), (2026, 3, 29, 1, 0), (2026, 3, 30, 0, 30)]),
    # A time the clock goes through twice fires once, the first time.
    ("30 2 * * *", (2026, 10, 24), [(2026, 10, 24, 0, 30), (2026, 10, 25, 0, 30), (2026, 10, 26, 1, 30)]),
    # Every hour: the repeated 02:00 does not fire twice.
    ("0 * * * *", (2026, 10, 25, 1, 30), [(2026, 10, 25, 0, 0), (2026, 10, 25, 2, 0), (2026, 10, 25, 3, 0)]),
    ("0 9 * * 0", (2026, 3, 28), [(2026, 3, 29, 7, 0), (2026, 4, 5, 7, 0)]),  # a Sunday in summer time
])
def test_across_a_dst_change(expression: str, start: tuple[int, ...], expected_utc: list[tuple[int, ...]]) -> None:
    schedule = Schedule("digest:x", "digest", "x", expression, BERLIN)
    fires = schedule.next_fire_times(datetime(*start, tzinfo=BERLIN), len(expected_utc))
    assert [fire.astimezone(UTC).replace(tzinfo=None) for fire in fires] == [datetime(*when) for when in expected_utc]


@pytest.mark.parametrize(("expression", "said"), [
    ("0 9 * * 8", "Bad day-of-week"), ("61 * * * *", "Bad minute"), ("0 0 31 2 *", "Bad day-of-month"),
    ("@reboot", "unknown macro '@reboot'"), ("0 9 * *", "expected 5 fields, got 4"),
])
def test_what_crontab_cannot_read_is_refused_saying_why(expression: str, said: str) -> None:
    with pytest.raises(ValueError, match=said):
        checked(expression)


def test_a_line_in_words() -> None:
    assert in_words("0 9 * * 1-5") == "At 09:00, Monday through Friday"
    assert in_words("0 9 1-7 * MON") == "At 09:00, between day 1 and 7 of the month, or on Monday"
    assert in_words("@weekly") == "At 00:00, only on Sunday"
