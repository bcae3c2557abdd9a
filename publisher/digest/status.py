"""How the editions' deliveries stand, for `publisher status`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from publisher.store.models import Delivery, Edition
from publisher.store.statuses import DeliveryStatus


@dataclass(frozen=True)
class EditionProgress:
    digest: str
    number: int
    status: str
    counts: tuple[int, int, int, int, int, int]  # queued, sending, sent, failed, skipped, unknown


def delivery_status(session: Session, now: datetime, limit: int) -> list[EditionProgress]:
    """The newest `limit` editions; "sending" counts deliveries a live claim holds."""
    claimed = and_(Delivery.status == DeliveryStatus.QUEUED, Delivery.claimed_until > now)
    free = and_(Delivery.status == DeliveryStatus.QUEUED,
                or_(Delivery.claimed_until.is_(None), Delivery.claimed_until <= now))
    kinds = [
        func.sum(case((free, 1), else_=0)),
        func.sum(case((claimed, 1), else_=0)),
        func.sum(case((Delivery.status == DeliveryStatus.SENT, 1), else_=0)),
        func.sum(case((Delivery.status == DeliveryStatus.FAILED, 1), else_=0)),
        func.sum(case((Delivery.status == DeliveryStatus.SKIPPED, 1), else_=0)),
        func.sum(case((Delivery.status == DeliveryStatus.UNKNOWN, 1), else_=0)),
    ]
    recent = select(Edition.id).order_by(Edition.id.desc()).limit(limit).subquery()
    rows = session.execute(
        select(Edition.digest, Edition.number, Edition.status, *kinds)
        .outerjoin(Delivery, Delivery.edition_id == Edition.id)
        .where(Edition.id.in_(select(recent.c.id)))
        .group_by(Edition.id, Edition.digest, Edition.number, Edition.status)
        .order_by(Edition.id.desc())).all()
    return [EditionProgress(r[0], r[1], r[2], _counts(r[3:])) for r in rows]


def _counts(values: Sequence[int | None]) -> tuple[int, int, int, int, int, int]:
    queued, sending, sent, failed, skipped, unknown = (int(n or 0) for n in values)
    return queued, sending, sent, failed, skipped, unknown
