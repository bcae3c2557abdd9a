"""Bounces and complaints that come back as mail (an MTA's pipe, or fetched from a mailbox by
jobs/mailboxes.py): each message read, matched to the delivery it is about by its signed VERP
return path (subscribers/returned.py), applied once (by its Message-ID), or kept aside with the
reason when it cannot be understood or matched. A batch at a time, each in one transaction."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from publisher.config import Config
from publisher.mail.reports import Unreadable, read_report
from publisher.operators.audit import record
from publisher.store.models import BounceEvent, RejectedMessage, Subscriber
from publisher.store.statuses import BounceKind, SubscriberStatus
from publisher.subscribers.bounces import Bounce, kept_aside, record_bounce, seen
from publisher.subscribers.keys import signing_key
from publisher.subscribers.people import unsubscribe_subscriber
from publisher.subscribers.returned import Incoming, deliveries_made, marked, whose
from publisher.subscribers.tokens import Signer
from publisher.subscribers.verp import Forged, Mark

log = logging.getLogger(__name__)

_KEPT_BYTES = 256_000  # of a message kept aside: its headers and first parts say what it was
K = TypeVar("K")


@dataclass(frozen=True)
class Taken:
    applied: bool
    line: str  # what happened, in one line
    aside: str | None = None  # why it was kept aside, when it was

    @property
    def kept_aside(self) -> bool:
        return self.aside is not None


@dataclass
class Taker:
    """Takes messages a batch at a time, each batch in one transaction, with what it needs
    from the database (messages already applied, the subscribers named) read in one go."""
    sessions: sessionmaker[Session]
    config: Config
    source: str
    now: datetime

    def __post_init__(self) -> None:
        self.signer = Signer(signing_key(self.config.secrets))  # the key read once, not per message

    def take(self, batch: Iterable[tuple[K, bytes]]) -> list[tuple[K, Taken]]:
        """What became of each message, once the batch is committed (only then may a message
        be moved)."""
        incoming = [(key, Incoming.parse(raw, self.config.mail.bounce_address, self.signer)) for key, raw in batch]
        with self.sessions.begin() as session:
            message_ids = [one.message_id for _, one in incoming if one.message_id]
            applied, aside = seen(session, message_ids), kept_aside(session, message_ids)
            # Held to the end: the session's identity map keeps them only while referenced.
            subscribers = self._subscribers(session, [one for _, one in incoming])
            delivered = deliveries_made(session, [one for _, one in incoming])
            with session.no_autoflush:  # every insert of the batch goes at its end, together
                outcomes = [(key, self._take(session, one, applied, aside, delivered)) for key, one in incoming]
            del subscribers
        return outcomes

    def _subscribers(self, session: Session, incoming: list[Incoming]) -> list[Subscriber]:
        """The subscribers the batch's signed addresses name, loaded at once."""
        ids = set().union(*(one.subscriber_ids for one in incoming))
        return list(session.scalars(select(Subscriber).where(Subscriber.id.in_(ids)))) if ids else []

    def _take(self, session: Session, one: Incoming, applied: set[str], aside: set[str],
              delivered: set[tuple[int, int]]) -> Taken:
        if one.message_id and one.message_id in applied:
            return Taken(False, f"already applied: {one.message_id}")
        taken = self._apply(session, one, delivered)
        if taken.applied and one.message_id:
            applied.add(one.message_id)  # the same message twice in a batch
        if taken.aside is not None:
            # Read again after a crash before its move, or piped twice: looked at again (the
            # config may have changed since), but kept once.
            if one.message_id in aside:
                return Taken(False, f"{taken.line} (kept once already)", taken.aside)
            session.add(RejectedMessage(source=self.source, at=self.now, message_id=one.message_id,
                                        reason=taken.aside, raw=one.raw[:_KEPT_BYTES]))
            if one.message_id:
                aside.add(one.message_id)
        return taken

    def _apply(self, session: Session, one: Incoming, delivered: set[tuple[int, int]]) -> Taken:
        config, source, now = self.config, self.source, self.now
        if one.unsubscribes:
            return _unsubscribe_by_mail(session, one, source, one.unsubscribes[0], now, delivered)
        if one.message is None:
            return _keep_aside(one.unreadable or "could not be parsed")
        try:
            report = read_report(one.message)
        except Unreadable as exc:
            return _keep_aside(str(exc))
        except Exception as exc:  # noqa: BLE001 (a reader's slip on odd input must not stop every later fetch)
            reason = f"could not be read ({type(exc).__name__}: {exc})"[:500]
            log.warning("%s: %s (kept aside with its bytes, to be looked into)", one.message_id or "a message", reason)
            return _keep_aside(reason)
        found = whose(session, one.marks, delivered)
        if isinstance(found, str):
            return _keep_aside(found)
        subscriber, edition_id = found
        if report.kind is None:
            return Taken(False, f"no change: {report.diagnostic or 'a report of no failure'}")
        status = subscriber.status
        record_bounce(session, subscriber, Bounce(report.kind, source, report.diagnostic, edition_id,
                                                  one.message_id), now, config.bounces.soft_limit)
        _audit_status(session, subscriber, status, f"mail ({source})", f"subscriber.{report.kind}", now)
        return Taken(True, f"{report.kind} for {subscriber.email}"
                           + (f" (edition id {edition_id})" if edition_id else ""))


def read_message(sessions: sessionmaker[Session], config: Config, raw: bytes, source: str,
                 now: datetime) -> Taken:
    """One message in a transaction of its own (an MTA's pipe)."""
    [(_, taken)] = Taker(sessions, config, source, now).take([(None, raw)])
    return taken


def _unsubscribe_by_mail(session: Session, one: Incoming, source: str, asked: Mark | Forged,
                         now: datetime, delivered: set[tuple[int, int]]) -> Taken:
    """A mail to a List-Unsubscribe address: the subscriber the edition went to leaves (RFC
    2369 mailto)."""
    found = marked(session, asked, delivered)
    if isinstance(found, str):
        return _keep_aside(found)
    subscriber = found
    session.add(BounceEvent(subscriber_id=subscriber.id, kind=BounceKind.UNSUBSCRIBE, source=source,
                            at=now, message_id=one.message_id, diagnostic="unsubscribed by mail"))
    if subscriber.status != SubscriberStatus.UNSUBSCRIBED:
        status = subscriber.status
        unsubscribe_subscriber(subscriber, now)
        _audit_status(session, subscriber, status, f"mail ({source})", "subscriber.unsubscribe", now)
    return Taken(True, f"unsubscribed {subscriber.email} (by mail)")


def _audit_status(session: Session, subscriber: Subscriber, before: SubscriberStatus, actor: str, action: str,
                  now: datetime) -> None:
    """A status that mail changed goes into the audit log, as the console's changes do (the
    bounce events keep every report; this, what changed for the reader)."""
    if subscriber.status != before:
        record(session, actor, action, subscriber.email, now, before={"status": str(before)},
               after={"status": str(subscriber.status)})


def _keep_aside(reason: str) -> Taken:
    """Not applied: the caller keeps the message aside with `reason`, once."""
    return Taken(False, f"kept aside: {reason}", reason)
