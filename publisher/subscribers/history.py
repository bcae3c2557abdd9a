"""What happened to one address: the editions it was sent, its bounces, complaints and mailed
unsubscribes, oldest first (for `publisher subscribers show`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from publisher.store.models import BounceEvent, Delivery, Edition, Subscriber
from publisher.subscribers.people import find_subscriber


@dataclass(frozen=True)
class Event:
    at: datetime | None
    what: str
    detail: str


def history(session: Session, address: str) -> tuple[Subscriber, list[Event]] | None:
    subscriber = find_subscriber(session, address)
    if subscriber is None:
        return None
    deliveries = session.execute(
        select(Edition.digest, Edition.number, Edition.created, Delivery.status, Delivery.sent,
               Delivery.reply)
        .join(Edition, Edition.id == Delivery.edition_id)
        .where(Delivery.subscriber_id == subscriber.id)).all()
    events = [Event(sent or created, f"{digest} edition {number}: {status}", reply or "")
              for digest, number, created, status, sent, reply in deliveries]
    events += [Event(event.at, f"{event.kind} ({event.source})", event.diagnostic)
               for event in session.scalars(select(BounceEvent).where(
                   BounceEvent.subscriber_id == subscriber.id))]
    events.append(Event(subscriber.created, "added", ""))
    events.append(Event(subscriber.status_since, f"status: {subscriber.status}", ""))
    return subscriber, sorted(events, key=lambda event: (event.at is None, event.at))
