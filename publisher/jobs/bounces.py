"""Bounces and complaints that come back as mail: each message read, matched to the delivery
it is about by its signed VERP return path, applied once (by its Message-ID), or kept aside
with the reason when it cannot be understood or matched."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from publisher.config import Config
from publisher.mail.reports import Report, Unreadable, read_report
from publisher.store.models import RejectedMessage, Subscriber
from publisher.subscribers.bounces import Bounce, record_bounce, seen
from publisher.subscribers.keys import signing_key
from publisher.subscribers.people import email_key
from publisher.subscribers.tokens import Signer
from publisher.subscribers.verp import read_verp

_KEPT_BYTES = 1_000_000  # of a message kept aside


@dataclass(frozen=True)
class Taken:
    applied: bool
    line: str  # what happened, in one line


def take_message(sessions: sessionmaker[Session], config: Config, raw: bytes, source: str,
                 now: datetime) -> Taken:
    try:
        report = read_report(raw)
    except Unreadable as exc:
        return _keep_aside(sessions, raw, source, None, str(exc), now)
    signer = Signer(signing_key(config))
    with sessions.begin() as session:
        if report.message_id and seen(session, report.message_id):
            return Taken(False, f"already applied: {report.message_id}")
        found = _whose(session, config, signer, report)
        if isinstance(found, str):
            session.add(_rejected(raw, source, report.message_id, found, now))
            return Taken(False, f"kept aside: {found}")
        subscriber, edition_id = found
        if report.kind is None:
            return Taken(False, f"no change: {report.diagnostic or 'a report of no failure'}")
        record_bounce(session, subscriber, Bounce(report.kind, source, report.diagnostic, edition_id,
                                                  report.message_id), now, config.bounces.soft_limit)
        return Taken(True, f"{report.kind} for {subscriber.email}"
                           + (f" (edition id {edition_id})" if edition_id else ""))


def _whose(session: Session, config: Config, signer: Signer, report: Report
           ) -> tuple[Subscriber, int | None] | str:
    """The subscriber (and edition) the report is about, or why it cannot be said."""
    marks = [mark for mark in (read_verp(config, signer, address) for address in report.envelope)
             if mark is not None]
    if any(mark is False for mark in marks):
        return "a forged or altered VERP mark"
    if marks:
        edition_id, subscriber_id = marks[0]  # type: ignore[misc]
        subscriber = session.get(Subscriber, subscriber_id)
        if subscriber is None:
            return f"subscriber {subscriber_id} is no longer stored"
        return subscriber, edition_id or None
    if config.mail.bounce_address:  # without a mark, anybody could have written it
        return "no VERP mark of ours: whose delivery it was cannot be trusted"
    for address in report.recipients:  # no VERP configured: the address the report names
        subscriber = session.scalars(select(Subscriber).where(
            Subscriber.email_key == email_key(address))).first()
        if subscriber is not None:
            return subscriber, None
    return "it names no subscriber"


def _keep_aside(sessions: sessionmaker[Session], raw: bytes, source: str, message_id: str | None,
                reason: str, now: datetime) -> Taken:
    with sessions.begin() as session:
        session.add(_rejected(raw, source, message_id, reason, now))
    return Taken(False, f"kept aside: {reason}")


def _rejected(raw: bytes, source: str, message_id: str | None, reason: str, now: datetime) -> RejectedMessage:
    return RejectedMessage(source=source, at=now, message_id=(message_id or "")[:500] or None,
                           reason=reason, raw=raw[:_KEPT_BYTES])
