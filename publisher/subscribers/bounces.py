"""What a bounce or complaint does to an address (the policy; README: "Bounces").

A hard bounce or a complaint stops mail to the address at once (`bounced`, `complained`); soft
bounces in `bounces.soft_limit` editions in a row do too, and a delivery that goes through
resets the count. A stopped address is mailed again only after it confirms anew (double
opt-in). Every event is kept with its time, source and the diagnostic it carried.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from publisher.store.models import BounceEvent, Delivery, RejectedMessage, Subscriber
from publisher.store.statuses import BounceKind, DeliveryStatus, SubscriberStatus
from publisher.subscribers.people import set_status

log = logging.getLogger(__name__)

_STOPS = {BounceKind.HARD: SubscriberStatus.BOUNCED, BounceKind.COMPLAINT: SubscriberStatus.COMPLAINED}
_STILL_MAILED = (SubscriberStatus.CONFIRMED, SubscriberStatus.PENDING)


@dataclass(frozen=True)
class Bounce:
    kind: BounceKind
    source: str  # smtp (at send time), pipe, imap, maildir
    diagnostic: str
    edition_id: int | None = None
    message_id: str | None = None  # the bounce message's: applied once


def seen(session: Session, message_ids: Iterable[str]) -> set[str]:
    """Those of `message_ids` already applied."""
    return _stored(session, BounceEvent.message_id, message_ids)


def kept_aside(session: Session, message_ids: Iterable[str]) -> set[str]:
    """Those of `message_ids` already kept aside (messages that could not be applied)."""
    return _stored(session, RejectedMessage.message_id, message_ids)


def _stored(session: Session, column: InstrumentedAttribute[str | None], message_ids: Iterable[str]) -> set[str]:
    wanted = list(message_ids)
    if not wanted:
        return set()
    return {found for found in session.scalars(select(column).where(column.in_(wanted))) if found}


def record_bounce(session: Session, subscriber: Subscriber, bounce: Bounce, now: datetime,
                  soft_limit: int) -> None:
    """Keep the event and apply the policy, in the caller's transaction."""
    soft_again = bounce.kind is BounceKind.SOFT and bounce.edition_id is not None and session.scalar(
        select(BounceEvent.id).where(BounceEvent.subscriber_id == subscriber.id,
                                     BounceEvent.edition_id == bounce.edition_id,
                                     BounceEvent.kind == BounceKind.SOFT).limit(1)) is not None
    session.add(BounceEvent(subscriber_id=subscriber.id, edition_id=bounce.edition_id,
                            kind=bounce.kind, source=bounce.source, at=now,
                            message_id=bounce.message_id, diagnostic=bounce.diagnostic[:4000]))
    stop = _STOPS.get(bounce.kind)
    if bounce.kind is BounceKind.SOFT and not soft_again:  # one per edition counts
        subscriber.soft_bounces += 1
        if subscriber.soft_bounces >= soft_limit:
            stop = SubscriberStatus.BOUNCED
    what = "complaint" if bounce.kind is BounceKind.COMPLAINT else f"{bounce.kind} bounce"
    log.warning("%s: %s (%s): %s%s", subscriber.email, what, bounce.source,
                bounce.diagnostic[:200], f"; no more mail ({stop})" if stop else "")
    if stop is not None and subscriber.status in _STILL_MAILED:
        set_status(subscriber, stop, now)


def settle_send_time_bounces(session: Session, edition_id: int, now: datetime, soft_limit: int) -> None:
    """Once, when an edition completes: each failed delivery is a bounce by its reply (5xx
    hard; 4xx whose retries ran out, soft), and each delivered one resets its soft count."""
    failed = session.execute(
        select(Delivery.reply, Subscriber).join(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .where(Delivery.edition_id == edition_id, Delivery.status == DeliveryStatus.FAILED)).all()
    for reply, subscriber in failed:
        kind = {"5": BounceKind.HARD, "4": BounceKind.SOFT}.get((reply or "")[:1])
        if kind is not None:  # (a failure that is no reply, e.g. an address the relay cannot take)
            record_bounce(session, subscriber, Bounce(kind, "smtp", reply or "", edition_id), now,
                          soft_limit)
    delivered = select(Delivery.subscriber_id).where(Delivery.edition_id == edition_id,
                                                     Delivery.status == DeliveryStatus.SENT)
    session.execute(update(Subscriber).where(Subscriber.id.in_(delivered), Subscriber.soft_bounces > 0)
                    .values(soft_bounces=0).execution_options(synchronize_session=False))
