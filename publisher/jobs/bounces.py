"""Bounces and complaints that come back as mail (a pipe, a Maildir, an IMAP mailbox): each
message read, matched to the delivery it is about by its signed VERP return path, applied once
(by its Message-ID), or kept aside with the reason when it cannot be understood or matched."""

from __future__ import annotations

import mailbox
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from publisher.config import Config
from publisher.mail.imap import ImapMailbox
from publisher.mail.reports import (
    Report,
    Unreadable,
    envelope_addresses,
    message_id_of,
    parse_message,
    read_report,
)
from publisher.store.models import BounceEvent, RejectedMessage, Subscriber, new_nonce
from publisher.store.statuses import BounceKind, SubscriberStatus
from publisher.subscribers.bounces import Bounce, record_bounce, seen
from publisher.subscribers.keys import signing_key
from publisher.subscribers.people import email_key, set_status
from publisher.subscribers.tokens import Signer
from publisher.subscribers.verp import read_unsubscribe, read_verp

_KEPT_BYTES = 1_000_000  # of a message kept aside


@dataclass(frozen=True)
class Taken:
    applied: bool
    line: str  # what happened, in one line

    @property
    def kept_aside(self) -> bool:
        return self.line.startswith("kept aside")


@dataclass
class Fetched:
    where: str
    applied: int = 0
    unchanged: int = 0  # already applied, or a report of no failure
    kept_aside: int = 0

    def count(self, taken: Taken) -> None:
        if taken.applied:
            self.applied += 1
        elif taken.kept_aside:
            self.kept_aside += 1
        else:
            self.unchanged += 1

    def line(self) -> str:
        return (f"bounces: {self.applied} applied, {self.unchanged} unchanged, "
                f"{self.kept_aside} kept aside from {self.where}")


Progress = Callable[[int], None]
_IMAP_BATCH = 200  # messages fetched in one round trip, then moved in one


def fetch_bounces(sessions: sessionmaker[Session], config: Config, now: datetime,
                  progress: Progress | None = None, environ: Mapping[str, str] = os.environ) -> list[Fetched]:
    """Every configured way in (bounces.maildir, bounces.imap), each read to its end."""
    fetched = []
    if config.bounces.maildir:
        fetched.append(fetch_maildir(sessions, config, Path(config.bounces.maildir), now, progress))
    if config.bounces.imap.host:
        fetched.append(fetch_imap(sessions, config, ImapMailbox(config.bounces.imap, environ), now, progress))
    return fetched


def fetch_maildir(sessions: sessionmaker[Session], config: Config, folder: Path, now: datetime,
                  progress: Progress | None = None) -> Fetched:
    """Every message in the Maildir `folder`, each taken, then moved to its `.handled` or
    `.rejected` subfolder (Maildir++). A crash between the two leaves it to be read again, and
    its Message-ID keeps it from counting twice."""
    maildir = mailbox.Maildir(folder, create=False)
    handled, rejected = maildir.add_folder("handled"), maildir.add_folder("rejected")
    fetched = Fetched(str(folder))
    signer = Signer(signing_key(config))  # the key read once, not per message
    for key in list(maildir.iterkeys()):
        raw = maildir.get_bytes(key)
        taken = take_message(sessions, config, raw, "maildir", now, signer)
        (rejected if taken.kept_aside else handled).add(raw)
        maildir.discard(key)
        fetched.count(taken)
        if progress:
            progress(1)
    return fetched


def fetch_imap(sessions: sessionmaker[Session], config: Config, box: ImapMailbox, now: datetime,
               progress: Progress | None = None) -> Fetched:
    """Every message in the IMAP folder, taken in batches; each batch then moved to the handled
    or rejected folder. As with a Maildir, a crash before the move means it is read again."""
    imap, fetched = config.bounces.imap, Fetched(box.where)
    signer = Signer(signing_key(config))
    with box:
        uids = box.uids()
        for start in range(0, len(uids), _IMAP_BATCH):
            handled: list[int] = []
            rejected: list[int] = []
            for uid, raw in box.messages(uids[start:start + _IMAP_BATCH]):
                taken = take_message(sessions, config, raw, "imap", now, signer)
                (rejected if taken.kept_aside else handled).append(uid)
                fetched.count(taken)
            box.move(handled, imap.handled_folder)
            box.move(rejected, imap.rejected_folder)
            if progress:
                progress(len(handled) + len(rejected))
    return fetched


def take_message(sessions: sessionmaker[Session], config: Config, raw: bytes, source: str,
                 now: datetime, signer: Signer | None = None) -> Taken:
    signer = signer or Signer(signing_key(config))
    message = parse_message(raw)
    asked = [found for found in (read_unsubscribe(config, signer, address)
                                 for address in envelope_addresses(message)) if found is not None]
    if asked:
        return _unsubscribe_by_mail(sessions, raw, source, asked[0], message_id_of(message), now)
    try:
        report = read_report(raw)
    except Unreadable as exc:
        return _keep_aside(sessions, raw, source, None, str(exc), now)
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


def _unsubscribe_by_mail(sessions: sessionmaker[Session], raw: bytes, source: str,
                         asked: int | bool, message_id: str | None, now: datetime) -> Taken:
    """A mail to a List-Unsubscribe address: the signed subscriber leaves (RFC 2369 mailto)."""
    if isinstance(asked, bool):  # False: the mark did not verify
        return _keep_aside(sessions, raw, source, message_id, "a forged or altered unsubscribe address", now)
    with sessions.begin() as session:
        if message_id and seen(session, message_id):
            return Taken(False, f"already applied: {message_id}")
        subscriber = session.get(Subscriber, asked)
        if subscriber is None:
            session.add(_rejected(raw, source, message_id, f"subscriber {asked} is no longer stored", now))
            return Taken(False, f"kept aside: subscriber {asked} is no longer stored")
        session.add(BounceEvent(subscriber_id=subscriber.id, kind=BounceKind.UNSUBSCRIBE, source=source,
                                at=now, message_id=message_id, diagnostic="unsubscribed by mail"))
        if subscriber.status != SubscriberStatus.UNSUBSCRIBED:
            set_status(subscriber, SubscriberStatus.UNSUBSCRIBED, now)
            subscriber.token_nonce = new_nonce()  # as the web page does: old links stop working
        return Taken(True, f"unsubscribed {subscriber.email} (by mail)")


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
