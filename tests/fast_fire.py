"""`publisher ...` with every digest and source whose cron is every minute (`* * * * *`) firing every
FAST_FIRE_SECONDS seconds (default 2) instead: the scheduler tests inject this trigger rather
than wait for real minutes. Everything else (catch-up, the lock, editions per fire time) is
the real thing."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from apscheduler.triggers.cron import CronTrigger

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from publisher.cli import main
from publisher.run import schedules

EVERY = int(os.environ.get("FAST_FIRE_SECONDS", "2"))  # helpers.FAST_FIRE_EVERY
_cron_trigger = schedules.Schedule.trigger.fget


def _trigger(schedule: schedules.Schedule) -> schedules.WallClockCronTrigger | CronTrigger:
    if schedule.kind in ("digest", "source") and schedule.cron.split() == ["*"] * 5:
        return CronTrigger(second=f"*/{EVERY}", timezone=schedule.zone)
    return _cron_trigger(schedule)


schedules.Schedule.trigger = property(_trigger)  # type: ignore[assignment,method-assign]

if __name__ == "__main__":
    main()
