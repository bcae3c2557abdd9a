"""What each schedule did when it last fired: the fire time, when the run started and ended, and
how it went (what `publisher status`, the console and /metrics show)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from publisher.store.runs import record_run


def record_fire(sessions: sessionmaker[Session], schedule_id: str, fire: datetime, started: datetime,
                finished: datetime | None, outcome: str) -> None:
    with sessions.begin() as session:
        record_run(session, schedule_id, fire, started, finished, outcome)
