"""One sender's claims on an edition's deliveries: the next batch claimed (onwards from where it
claimed last), its lease renewed, what it holds given back, and the wait for a retry to fall due.
Only the handing-out thread claims; the lease keeper renews through `renew`."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from publisher.digest.claims import claim, next_chance, release, renew
from publisher.digest.deliver import Job
from publisher.digest.lease import Lease
from publisher.digest.pausewatch import PauseWatch
from publisher.identity import process_name
from publisher.store.models import Delivery, Subscriber
from publisher.store.statuses import DeliveryStatus, SubscriberStatus


class Claimer:
    def __init__(self, sessions: sessionmaker[Session], edition_id: int, lease: Lease, claim_size: int,
                 pause: PauseWatch, clock: Callable[[], datetime], stop: threading.Event,
                 progress: Callable[[int], None]) -> None:
        self.sessions, self.edition_id, self.lease, self.claim_size = sessions, edition_id, lease, claim_size
        self.pause, self.clock, self.stop, self.progress = pause, clock, stop, progress
        self.owner = process_name()  # a process may run several senders: each its own
        self.claimed_up_to = 0  # the last delivery id claimed
        self.paused = False  # the last claim found the digest paused: nothing was claimed

    def ready_jobs(self) -> list[Job] | None:
        """Claim the next batch of free deliveries; None when none is free now, or the
        digest was paused (checked before each batch; PauseWatch looks during one)."""
        with self.sessions.begin() as session:
            now = self.clock()
            if self.lease.lapsed:
                release(session, self.owner)
            self.paused = self.pause.paused_now(session)
            if self.paused:
                return None
            ids = self._claim_next(session, now)
            if not ids:
                return None
            self.lease.taken(now)
            rows = session.execute(
                select(Delivery.id, Delivery.subscriber_id, Delivery.variant_id, Subscriber.email,
                       Subscriber.status, Delivery.attempts, Subscriber.token_nonce,
                       Delivery.last_error)
                .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
                .where(Delivery.id.in_(ids)).order_by(Delivery.id)).all()
            # Someone who unsubscribed since the edition was made gets nothing.
            gone = [row.id for row in rows if row.status != SubscriberStatus.CONFIRMED]
            if gone:
                session.execute(update(Delivery).where(Delivery.id.in_(gone)).values(
                    status=DeliveryStatus.SKIPPED, last_error="no longer subscribed", claimed_by=None,
                    claimed_until=None))
                self.progress(len(gone))
        return [Job(row.id, row.subscriber_id, row.variant_id, row.email, row.attempts,
                    row.token_nonce, row.last_error)
                for row in rows if row.status == SubscriberStatus.CONFIRMED]

    def _claim_next(self, session: Session, now: datetime) -> list[int]:
        """Claim onwards from the last id this sender claimed; once nothing is left there,
        from the start again: batches given back, and retries now due, lie behind it."""
        lease = self.lease.length
        ids = claim(session, self.edition_id, self.owner, now, lease, self.claim_size, after=self.claimed_up_to)
        if not ids and self.claimed_up_to:
            ids = claim(session, self.edition_id, self.owner, now, lease, self.claim_size)
        self.claimed_up_to = ids[-1] if ids else 0
        return ids

    def renew(self, now: datetime) -> None:
        with self.sessions.begin() as session:
            renew(session, self.owner, now, self.lease.length)

    def release(self) -> None:
        with self.sessions.begin() as session:
            release(session, self.owner)

    def wait_for_retries(self) -> bool:
        """Sleep until a queued delivery may be free (a retry falls due, or another sender's
        lease ends); False when nothing is left queued."""
        with self.sessions() as session:
            due = next_chance(session, self.edition_id, self.clock())
        if due is None:
            return False
        # Look again at least every second: another sender may finish its batch long before
        # its lease would end.
        self.stop.wait(min(max(0.0, (due - self.clock()).total_seconds()), 1.0))
        return True
