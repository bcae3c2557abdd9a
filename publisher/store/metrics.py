"""The counts /metrics reports, each one grouped query over the store."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from publisher.store.models import Delivery, Edition, Release, ScheduleRun, Subscriber
from publisher.store.runs import REGISTERED


@dataclass(frozen=True)
class StoreCounts:
    deliveries: dict[str, int]  # by status, pruned editions' included
    editions: dict[str, int]
    subscribers: dict[str, int]
    releases: int  # not withdrawn
    runs: list[ScheduleRun]


def store_counts(session: Session) -> StoreCounts:
    deliveries: Counter[str] = Counter({str(status): count for status, count in session.execute(
        select(Delivery.status, func.count()).group_by(Delivery.status))})
    for counts in session.scalars(select(Edition.delivery_counts).where(Edition.pruned.is_not(None))):
        deliveries.update(json.loads(counts or "{}"))
    return StoreCounts(
        deliveries=dict(deliveries),
        editions=_by_status(session, Edition.status),
        subscribers=_by_status(session, Subscriber.status),
        releases=session.scalar(select(func.count()).where(Release.withdrawn.is_(None))) or 0,
        runs=list(session.scalars(select(ScheduleRun).where(ScheduleRun.outcome != REGISTERED)  # no run yet
                                  .order_by(ScheduleRun.schedule_id))))


def _by_status(session: Session, column: object) -> dict[str, int]:
    return {str(status): count for status, count in session.execute(
        select(column, func.count()).group_by(column))}  # type: ignore[call-overload]


def seconds(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()
