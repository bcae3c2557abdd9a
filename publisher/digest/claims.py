"""Claims on deliveries: several senders (threads of one process, `digest send` run twice, or
separate processes) share an edition without ever taking the same delivery.

A sender claims a batch for a lease it keeps renewing while it runs; a delivery is free when it
is queued, due, and its lease (if any) has ended, so a sender that dies leaves its batch to the
others once the lease runs out. On PostgreSQL the claim skips rows another transaction is
claiming at that moment (FOR UPDATE SKIP LOCKED); SQLite has one writer at a time anyway.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.orm import Session

from publisher.store.db import RETRY_PAUSE_MAX
from publisher.store.models import Delivery
from publisher.store.statuses import DeliveryStatus


def claim(session: Session, edition_id: int, owner: str, now: datetime, lease: timedelta,
          limit: int, after: int = 0) -> list[int]:
    """Claim up to `limit` free deliveries of the edition with ids above `after`; their ids, in
    order. A sender passes the last id it claimed, so that its claim does not walk again over
    every delivery the edition has sent so far (see Claimer._claim_next in claimer.py).

    Another sender's claim that ran out is not taken at once: that sender may have sent the
    message and still be waiting for the database to record it (an outage longer than the
    lease). It is given `takeover_wait(lease)` first, and what it records in that time is never
    sent again."""
    free = (select(Delivery.id, Delivery.claimed_by)
            .where(Delivery.edition_id == edition_id, Delivery.id > after, *_free(now))
            .order_by(Delivery.id).limit(limit))
    if session.get_bind().dialect.name == "postgresql":
        free = free.with_for_update(skip_locked=True)
    found = session.execute(free).all()
    lapsed = [row.id for row in found if row.claimed_by not in (None, owner)]
    if lapsed:
        session.execute(update(Delivery).where(Delivery.id.in_(lapsed), *_free(now))
                        .values(claimed_by=None, claimed_until=None, next_attempt=now + takeover_wait(lease))
                        .execution_options(synchronize_session=False))
    ours = [row.id for row in found if row.claimed_by in (None, owner)]
    if not ours:
        return []
    # The conditions again: on SQLite another process may have claimed them since the read.
    claimed = session.execute(
        update(Delivery).where(Delivery.id.in_(ours), *_free(now))
        .values(claimed_by=owner, claimed_until=now + lease)
        .returning(Delivery.id).execution_options(synchronize_session=False))
    return sorted(claimed.scalars())


def takeover_wait(lease: timedelta) -> timedelta:
    """How long a claim that ran out waits before another sender takes it: longer than a
    sender waiting for the database pauses between tries (db.RETRY_PAUSE_MAX), so that it
    records what it sent first; at most the lease itself (a short lease chooses speed)."""
    return min(lease, timedelta(seconds=RETRY_PAUSE_MAX + 5))


def _free(now: datetime) -> tuple[ColumnElement[bool], ...]:
    return (Delivery.status == DeliveryStatus.QUEUED,
            Delivery.next_attempt.is_(None) | (Delivery.next_attempt <= now),
            Delivery.claimed_until.is_(None) | (Delivery.claimed_until < now))


def renew(session: Session, owner: str, now: datetime, lease: timedelta) -> None:
    session.execute(update(Delivery).where(Delivery.claimed_by == owner, Delivery.status == DeliveryStatus.QUEUED)
                    .values(claimed_until=now + lease).execution_options(synchronize_session=False))


def release(session: Session, owner: str) -> None:
    """Give back what this sender claimed and did not finish (it is stopping)."""
    session.execute(update(Delivery).where(Delivery.claimed_by == owner, Delivery.status == DeliveryStatus.QUEUED)
                    .values(claimed_by=None, claimed_until=None)
                    .execution_options(synchronize_session=False))


def next_chance(session: Session, edition_id: int, now: datetime) -> datetime | None:
    """When a queued delivery of the edition may next be free (now, if one is); None when
    nothing is left queued."""
    queued = Delivery.edition_id == edition_id, Delivery.status == DeliveryStatus.QUEUED
    if not session.scalar(select(func.count()).where(*queued)):
        return None
    waits = [session.scalar(select(func.min(column)).where(*queued, column > now))
             for column in (Delivery.next_attempt, Delivery.claimed_until)]
    free_now = session.scalar(select(func.count()).where(
        *queued, Delivery.next_attempt.is_(None) | (Delivery.next_attempt <= now),
        Delivery.claimed_until.is_(None) | (Delivery.claimed_until <= now)))
    if free_now:
        return now
    return min((wait for wait in waits if wait is not None), default=now)
