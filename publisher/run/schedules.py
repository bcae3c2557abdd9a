"""What runs when: the schedules the config defines, and their fire times. Pure: no database.

Fire times follow the wall clock of each schedule's own zone, once per wall-clock time: when
clocks go back, the repeated hour does not fire a second time (APScheduler's CronTrigger would),
and when they go forward, a time that does not exist fires once, at the same instant after the
jump.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger

from publisher.config import Config


class WallClockCronTrigger(BaseTrigger):
    """A five-field cron expression in a zone, firing once per wall-clock time."""

    def __init__(self, expression: str, zone: ZoneInfo) -> None:
        self.expression, self.zone = expression, zone
        self._cron = CronTrigger.from_crontab(expression, timezone=zone)

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        candidate: datetime | None = self._cron.get_next_fire_time(previous_fire_time, now)
        while candidate is not None and (
                _second_occurrence(candidate, self.zone)
                or (previous_fire_time is not None and candidate <= previous_fire_time)):
            # Skip the repeated hour (its times already fired), or a time already returned.
            now = max(now, candidate) + timedelta(minutes=1)
            candidate = self._cron.get_next_fire_time(None, now.replace(second=0, microsecond=0))
        return candidate

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
