"""When each schedule last ran (restarts catch up from here), and what each http(s) source
last answered (for the next conditional GET)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from publisher.store.models import ScheduleRun, SourceState


def record_run(session: Session, schedule_id: str, fire: datetime, started: datetime,
               finished: datetime | None, outcome: str) -> None:
    row = session.get(ScheduleRun, schedule_id) or ScheduleRun(schedule_id=schedule_id)
    row.last_fire, row.started, row.finished, row.outcome = fire, started, finished, outcome
    if finished is not None and not failed(outcome):
        row.succeeded = finished
    session.add(row)


def failed(outcome: str | None) -> bool:
    """Whether a run's outcome says it failed (the scheduler writes "failed: why")."""
    return bool(outcome and outcome.startswith("failed"))


# The scheduler's note, on its first start, of the fire time it counts missed runs from: no run.
REGISTERED = "registered"


def last_run(session: Session, schedule_id: str) -> ScheduleRun | None:
    """The schedule's last run; None when it never ran (a registration is no run)."""
    run = session.get(ScheduleRun, schedule_id)
    return None if run is None or run.outcome == REGISTERED else run


def last_fire(session: Session, schedule_id: str) -> datetime | None:
    return session.scalar(select(ScheduleRun.last_fire).where(
        ScheduleRun.schedule_id == schedule_id))


def source_validators(session: Session, source: str) -> tuple[str | None, str | None]:
    """The ETag and Last-Modified of the source's last successful import."""
    state = session.get(SourceState, source)
    return (state.etag, state.last_modified) if state else (None, None)


def remember_validators(session: Session, source: str, etag: str | None,
                        last_modified: str | None, fetched: datetime) -> None:
    session.merge(SourceState(source=source, etag=etag, last_modified=last_modified,
                              fetched=fetched))
