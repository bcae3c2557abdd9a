"""What runs when: the schedules the config defines, and their fire times. Pure: no database.

Fire times follow the wall clock of each schedule's own zone, as crontab(5) reads the expression
(crontab.py), once per wall-clock time: when clocks go back, the repeated hour does not fire a
second time, and when they go forward, a time that does not exist fires once, as the clock jumps.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger

from publisher.config import Config
from publisher.crontab import fires_after, in_words


class WallClockCronTrigger(BaseTrigger):
    """A cron expression (crontab(5)'s reading: crontab.py) in a zone, firing once per
    wall-clock time."""

    def __init__(self, expression: str, zone: ZoneInfo) -> None:
        self.expression, self.zone = expression, zone

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        """The first fire time at or after `now` (and after `previous_fire_time`), skipping the
        repeated hour when clocks go back (its times already fired)."""
        start = now if previous_fire_time is None else max(now, previous_fire_time + timedelta(seconds=1))
        # (a second early: the iteration gives times after its start, and `now` itself may fire)
        for candidate in fires_after(self.expression, (start - timedelta(seconds=1)).astimezone(self.zone)):
            if candidate >= start and not _second_occurrence(candidate, self.zone):
                return candidate
        return None

    def __str__(self) -> str:
        return f"cron[{self.expression}] in {self.zone.key}"


def _second_occurrence(moment: datetime, zone: tzinfo) -> bool:
    """The instant falls in an hour that the clock goes through twice, the second time."""
    local = moment.astimezone(zone).replace(tzinfo=None)
    first, second = (local.replace(fold=fold, tzinfo=zone).utcoffset() for fold in (0, 1))
    return first != second and moment.astimezone(zone).utcoffset() == second


@dataclass(frozen=True)
class Schedule:
    id: str  # stable: "digest:NAME", "feeds", "source:NAME", "bounces"
    kind: str  # digest, feeds, source, bounces
    target: str  # the digest or source name ("" for feeds)
    cron: str
    zone: ZoneInfo

    @property
    def in_words(self) -> str:
        """`0 9 * * MON` in Asia/Shanghai -> "At 09:00, only on Monday (Asia/Shanghai; 0 9 * * MON)"."""
        return f"{in_words(self.cron)} ({self.zone.key}; {self.cron})"

    @property
    def trigger(self) -> WallClockCronTrigger:
        return WallClockCronTrigger(self.cron, self.zone)

    def next_fire_times(self, after: datetime, count: int) -> list[datetime]:
        trigger, times, previous = self.trigger, [], None
        now = after
        for _ in range(count):
            fire = trigger.get_next_fire_time(previous, now)
            if fire is None:
                break
            times.append(fire)
            previous, now = fire, fire + timedelta(seconds=1)
        return times

    def latest_fire_time(self, now: datetime) -> datetime | None:
        """The last fire time at or before `now`: the period a run at `now` stands for."""
        for lookback in (timedelta(hours=2), timedelta(days=2), timedelta(days=32),
                         timedelta(days=367)):
            found: datetime | None = None
            for fire in self._fires_between(now - lookback, now):
                found = fire
            if found is not None:
                return found
        return None

    def _fires_between(self, start: datetime, end: datetime) -> Iterator[datetime]:
        trigger, previous, now = self.trigger, None, start
        while (fire := trigger.get_next_fire_time(previous, now)) is not None and fire <= end:
            yield fire
            previous, now = fire, fire + timedelta(seconds=1)


def schedules(config: Config) -> list[Schedule]:
    site_zone = config.site.zone
    found = [Schedule(f"digest:{d.name}", "digest", d.name, d.cron, ZoneInfo(d.timezone))
             for d in config.digests]
    found.append(Schedule("feeds", "feeds", "", config.feeds.cron, site_zone))
    found += [Schedule(f"source:{s.name}", "source", s.name, s.cron, site_zone)
              for s in config.sources if s.cron]
    if config.bounces.cron and (config.bounces.maildir or config.bounces.imap.host):
        found.append(Schedule("bounces", "bounces", "", config.bounces.cron, site_zone))
    return found


def next_digest(config: Config, now: datetime) -> tuple[datetime, str] | None:
    """The next fire time of any digest, and that digest's name."""
    digests = [(fires[0], s.target) for s in schedules(config) if s.kind == "digest"
               if (fires := s.next_fire_times(now, 1))]
    return min(digests, default=None)
