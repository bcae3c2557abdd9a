"""How an edition went, recipient by recipient (`publisher report`): sent, failed, bounced,
complained, and who unsubscribed since."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from publisher.csvfile import write_rows
from publisher.dates import counted
from publisher.digest.prune import kept_counts
from publisher.errors import NotFound
from publisher.store.editions import delivery_counts, edition_numbered
from publisher.store.models import BounceEvent, Delivery, Edition, Subscriber
from publisher.store.statuses import BounceKind, SubscriberStatus


@dataclass(frozen=True)
class Outcome:
    email: str
    delivery: str  # sent, failed, ...
    reply: str
    bounce: str  # hard, soft, complaint, unsubscribe, or ""
    unsubscribed_since: bool


@dataclass(frozen=True)
class EditionReport:
    edition: Edition
    outcomes: list[Outcome]

    @property
    def bounces(self) -> Counter[str]:
        """Its recipients by what came back: hard, soft, complaint, unsubscribe."""
        return Counter(outcome.bounce for outcome in self.outcomes)

    @property
    def unsubscribed_since(self) -> int:
        return sum(outcome.unsubscribed_since for outcome in self.outcomes)

    def line(self) -> str:
        edition = self.edition
        deliveries = Counter(outcome.delivery for outcome in self.outcomes) if edition.pruned is None \
            else Counter(kept_counts(edition))
        bounces = self.bounces
        pruned = f" (deliveries pruned {edition.pruned:%Y-%m-%d}: counts only)" if edition.pruned else ""
        return (f"{edition.digest} edition {edition.number} ({edition.created:%Y-%m-%d}){pruned}: "
                f"{counted(deliveries.total(), 'recipient')}: "
                + ", ".join(f"{count} {status}" for status, count in sorted(deliveries.items()))
                + f"; bounced {bounces[BounceKind.HARD]} hard, {bounces[BounceKind.SOFT]} soft; "
                f"{bounces[BounceKind.COMPLAINT]} complained; {self.unsubscribed_since} unsubscribed since")

    def csv(self) -> str:
        return write_rows(("email", "delivery", "reply", "bounce", "unsubscribed_since"),
                          ((outcome.email, outcome.delivery, outcome.reply, outcome.bounce,
                            "yes" if outcome.unsubscribed_since else "") for outcome in self.outcomes))


def edition_report(session: Session, digest: str, number: int | None) -> EditionReport | None:
    """The edition `number` of `digest` (default: its newest); None when there is none."""
    edition = edition_numbered(session, digest, number)
    if edition is None:
        return None
    bounced = dict(session.execute(select(BounceEvent.subscriber_id, BounceEvent.kind)
                                   .where(BounceEvent.edition_id == edition.id)
                                   .order_by(BounceEvent.id)).all())
    rows = session.execute(
        select(Subscriber.id, Subscriber.email, Subscriber.status, Subscriber.status_since,
               Delivery.status, Delivery.reply)
        .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .where(Delivery.edition_id == edition.id).order_by(Subscriber.email_key))
    outcomes = [Outcome(email, str(status), reply or "", str(bounced.get(subscriber_id, "")),
                        status_now == SubscriberStatus.UNSUBSCRIBED and since >= edition.created)
                for subscriber_id, email, status_now, since, status, reply in rows]
    return EditionReport(edition, outcomes)


def existing_report(session: Session, digest: str, number: int) -> EditionReport:
    """Edition `number` of `digest`, or NotFound."""
    found = edition_report(session, digest, number)
    if found is None:
        raise _no_edition(digest, number)
    return found


def existing_edition(session: Session, digest: str, number: int) -> Edition:
    """Edition `number` of `digest` without its recipients, or NotFound."""
    edition = edition_numbered(session, digest, number)
    if edition is None:
        raise _no_edition(digest, number)
    return edition


def _no_edition(digest: str, number: int) -> NotFound:
    return NotFound(f"digest {digest} has no edition {number}")


def edition_counts(session: Session, edition: Edition) -> dict[str, int]:
    """Its deliveries by status: counted, or as they were kept when they were pruned."""
    return kept_counts(edition) if edition.pruned else delivery_counts(session, edition.id)
