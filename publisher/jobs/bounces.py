"""Bounces and complaints that come back as mail (a pipe, a Maildir, an IMAP mailbox): each
message read, matched to the delivery it is about by its signed VERP return path, applied once
(by its Message-ID), or kept aside with the reason when it cannot be understood or matched."""

from __future__ import annotations

import logging
import mailbox
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from email.message import Message
from pathlib import Path
from typing import BinaryIO, TypeVar

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session, sessionmaker

from publisher.config import Config
from publisher.mail.imap import ImapMailbox
from publisher.mail.reports import (
    MAX_REPORT_BYTES,
    Unreadable,
    complaint_return_paths,
    envelope_addresses,
    message_id_of,
    parse_headers,
    parse_message,
    read_report,
)
from publisher.operators.audit import record
from publisher.store.models import BounceEvent, Delivery, RejectedMessage, Subscriber
from publisher.store.statuses import BounceKind, SubscriberStatus
from publisher.subscribers.bounces import Bounce, kept_aside, record_bounce, seen
from publisher.subscribers.keys import signing_key
from publisher.subscribers.people import unsubscribe_subscriber
from publisher.subscribers.tokens import Signer
from publisher.subscribers.verp import CONFIRMATION, Forged, Mark, nonce_stamp, read_unsubscribe, read_verp

log = logging.getLogger(__name__)

_KEPT_BYTES = 256_000  # of a message kept aside: its headers and first parts say what it was
_MESSAGE_ID_CHARS = 500  # the columns' length (a real Message-ID is under 100): a longer one is cut


@dataclass(frozen=True)
class Taken:
    applied: bool
    line: str  # what happened, in one line
    aside: str | None = None  # why it was kept aside, when it was

    @property
    def kept_aside(self) -> bool:
        return self.aside is not None


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
K = TypeVar("K")
_BATCH = 200  # messages taken in one transaction (and fetched over IMAP in one round trip)
_BATCH_BYTES = 32_000_000  # ... and no more bytes than these (five 40 MB messages once took 727 MB)


def fetch_bounces(sessions: sessionmaker[Session], config: Config, now: datetime,
                  progress: Progress | None = None, environ: Mapping[str, str] = os.environ) -> Iterator[Fetched]:
    """Every configured way in (bounces.maildir, bounces.imap), each read to its end and told
    as soon as it is (an IMAP server that is away does not hide what the Maildir held)."""
    if config.bounces.maildir:
        yield fetch_maildir(sessions, config, Path(config.bounces.maildir), now, progress)
    if config.bounces.imap.host:
        yield fetch_imap(sessions, config, ImapMailbox(config.bounces.imap, environ), now, progress)


def fetch_maildir(sessions: sessionmaker[Session], config: Config, folder: Path, now: datetime,
                  progress: Progress | None = None) -> Fetched:
    """Every message in the Maildir `folder`, taken a batch at a time, each then moved to its
    `.handled` or `.rejected` subfolder (Maildir++). A crash before the move leaves a message
    to be read again, and its Message-ID keeps it from counting twice. No message is read
    further than a report can be long, and a batch holds at most _BATCH_BYTES."""
    maildir = mailbox.Maildir(folder, create=False)
    folders = {False: maildir.add_folder("handled"), True: maildir.add_folder("rejected")}
    fetched = Fetched(str(folder))
    taker = _Taker(sessions, config, "maildir", now)
    read = ((key, _head(maildir, key)) for key in list(maildir.iterkeys()))
    for batch in map(dict, _batches(read, len)):
        for key, taken in taker.take(batch.items()):
            fetched.count(taken)
            if len(batch[key]) > MAX_REPORT_BYTES:  # moved whole, as it came, not as it was read
                with maildir.get_file(key) as handle:
                    folders[taken.kept_aside].add(handle)
            else:
                folders[taken.kept_aside].add(batch[key])
            maildir.discard(key)
        if progress:
            progress(len(batch))
    return fetched


V = TypeVar("V")


def _batches(items: Iterable[tuple[K, V]], size: Callable[[V], int]) -> Iterator[list[tuple[K, V]]]:
    """`items` a batch at a time: up to _BATCH of them and _BATCH_BYTES (by `size`)."""
    batch: list[tuple[K, V]] = []
    held = 0
    for item in items:
        if batch and (len(batch) == _BATCH or held >= _BATCH_BYTES):
            yield batch
            batch, held = [], 0
        batch.append(item)
        held += size(item[1])
    if batch:
        yield batch


def _head(maildir: mailbox.Maildir, key: str) -> bytes:
    """A message as far as a report can be long (one byte more says it is longer)."""
    with maildir.get_file(key) as handle:
        return handle.read(MAX_REPORT_BYTES + 1)


def bounded_read(stream: BinaryIO, limit: int) -> bytes:
    """At most `limit` bytes of `stream`; the rest is read and dropped (an MTA's pipe expects
    the whole message to be taken)."""
    head = stream.read(limit)
    while stream.read(1 << 20):
        pass
    return head


def fetch_imap(sessions: sessionmaker[Session], config: Config, box: ImapMailbox, now: datetime,
               progress: Progress | None = None) -> Fetched:
    """Every message in the IMAP folder, taken a batch at a time; each batch then moved to the
    handled or rejected folder. As with a Maildir, a crash before the move means it is read
    again."""
    imap, fetched = config.bounces.imap, Fetched(box.where)
    taker = _Taker(sessions, config, "imap", now)
    with box:
        # (a message counted at most as far as it is read)
        for batch in _batches(box.sizes(), lambda size: min(size, MAX_REPORT_BYTES + 1)):
            outcomes = taker.take(box.messages([uid for uid, _ in batch], MAX_REPORT_BYTES + 1))
            for _, taken in outcomes:
                fetched.count(taken)
            box.move([uid for uid, taken in outcomes if not taken.kept_aside], imap.handled_folder)
            box.move([uid for uid, taken in outcomes if taken.kept_aside], imap.rejected_folder)
            if progress:
                progress(len(outcomes))
    return fetched


@dataclass(frozen=True)
class _Incoming:
    """A message as it came, parsed once, and the signed addresses it came to read once.
    One that cannot be parsed keeps why (`unreadable`), and is kept aside with it."""
    raw: bytes
    message: Message | None
    message_id: str | None
    unsubscribes: tuple[Mark | Forged, ...]  # List-Unsubscribe addresses
    marks: tuple[Mark | Forged, ...]  # VERP return paths
    unreadable: str | None = None

    @classmethod
    def parse(cls, raw: bytes, config: Config, signer: Signer) -> _Incoming:
        """Never raises: whatever came to the bounce address, however hostile, is read or kept
        aside, and the rest of its batch is applied."""
        try:
            message = parse_message(raw)
            message_id = (message_id_of(message) or "")[:_MESSAGE_ID_CHARS] or None
            envelope = envelope_addresses(message)  # where it came to: our signed addresses
            # A complaint comes to the feedback loop's mailbox: our mark is inside it.
            addresses = envelope + complaint_return_paths(message)
        except Exception as exc:  # noqa: BLE001 (Unreadable, or a slip of the parser on odd input)
            reason = str(exc) if isinstance(exc, Unreadable) else f"could not be parsed ({type(exc).__name__})"
            return cls(raw, None, _header_message_id(raw), (), (), reason)
        unsubscribes = (read_unsubscribe(config.mail.bounce_address, signer, address) for address in envelope)
        marks = (read_verp(config.mail.bounce_address, signer, address) for address in addresses)
        return cls(raw, message, message_id, tuple(u for u in unsubscribes if u is not None),
                   tuple(m for m in marks if m is not None))

    @property
    def deliveries(self) -> set[tuple[int, int]]:
        """The (edition, subscriber) pairs its verified marks name."""
        return {(mark.edition_id, mark.subscriber_id) for mark in (*self.unsubscribes, *self.marks)
                if isinstance(mark, Mark) and mark.edition_id != CONFIRMATION}

    @property
    def subscriber_ids(self) -> set[int]:
        """The subscribers its verified addresses name."""
        return {mark.subscriber_id for mark in (*self.unsubscribes, *self.marks) if isinstance(mark, Mark)}


@dataclass
class _Taker:
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
        incoming = [(key, _Incoming.parse(raw, self.config, self.signer)) for key, raw in batch]
        with self.sessions.begin() as session:
            message_ids = [one.message_id for _, one in incoming if one.message_id]
            applied, aside = seen(session, message_ids), kept_aside(session, message_ids)
            # Held to the end: the session's identity map keeps them only while referenced.
            subscribers = self._subscribers(session, [one for _, one in incoming])
            delivered = _delivered(session, [one for _, one in incoming])
            with session.no_autoflush:  # every insert of the batch goes at its end, together
                outcomes = [(key, self._take(session, one, applied, aside, delivered)) for key, one in incoming]
            del subscribers
        return outcomes

    def _subscribers(self, session: Session, incoming: list[_Incoming]) -> list[Subscriber]:
        """The subscribers the batch's signed addresses name, loaded at once."""
        ids = set().union(*(one.subscriber_ids for one in incoming))
        return list(session.scalars(select(Subscriber).where(Subscriber.id.in_(ids)))) if ids else []

    def _take(self, session: Session, one: _Incoming, applied: set[str], aside: set[str],
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

    def _apply(self, session: Session, one: _Incoming, delivered: set[tuple[int, int]]) -> Taken:
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
        found = _whose(session, one.marks, delivered)
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


def _header_message_id(raw: bytes) -> str | None:
    """The Message-ID of a message that cannot be parsed whole, from its header block alone (it
    is kept aside once, not again each time it is read)."""
    try:
        return (message_id_of(parse_headers(raw)) or "")[:_MESSAGE_ID_CHARS] or None
    except Exception:  # noqa: BLE001 (not even a header block)
        return None


def read_message(sessions: sessionmaker[Session], config: Config, raw: bytes, source: str,
                 now: datetime) -> Taken:
    """One message in a transaction of its own (an MTA's pipe)."""
    [(_, taken)] = _Taker(sessions, config, source, now).take([(None, raw)])
    return taken


def _unsubscribe_by_mail(session: Session, one: _Incoming, source: str, asked: Mark | Forged,
                         now: datetime, delivered: set[tuple[int, int]]) -> Taken:
    """A mail to a List-Unsubscribe address: the subscriber the edition went to leaves (RFC
    2369 mailto)."""
    found = _marked(session, asked, delivered)
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


def _whose(session: Session, marks: tuple[Mark | Forged, ...], delivered: set[tuple[int, int]]
           ) -> tuple[Subscriber, int | None] | str:
    """The subscriber (and edition) the report is about, or why it cannot be said. Only a
    signed mark says it: anyone can write to a bounce address and name anybody."""
    if not marks:
        return "no VERP mark of ours: whose delivery it was cannot be trusted"
    mark = next((mark for mark in marks if isinstance(mark, Forged)), marks[0])
    found = _marked(session, mark, delivered)
    if isinstance(found, str):
        return found
    assert isinstance(mark, Mark)  # _marked refused a Forged one
    return found, mark.edition_id or None


def _delivered(session: Session, incoming: list[_Incoming]) -> set[tuple[int, int]]:
    """Which of the (edition, subscriber) pairs the batch's marks name went out, in one query."""
    pairs = set().union(*(one.deliveries for one in incoming))
    if not pairs:
        return set()
    found = session.execute(select(Delivery.edition_id, Delivery.subscriber_id).where(
        tuple_(Delivery.edition_id, Delivery.subscriber_id).in_(sorted(pairs))))
    return {(edition, subscriber) for edition, subscriber in found}


def _marked(session: Session, mark: Mark | Forged, delivered: set[tuple[int, int]]) -> Subscriber | str:
    """The subscriber a verified mark names, when it still names them: the edition went to
    them, or (a confirmation) their subscription is the one it was made for. Else why not."""
    if isinstance(mark, Forged):
        return f"a forged or altered {mark.what}"
    subscriber = session.get(Subscriber, mark.subscriber_id)
    if subscriber is None:
        return f"subscriber {mark.subscriber_id} is no longer stored"
    if mark.edition_id == CONFIRMATION:
        if mark.stamp != nonce_stamp(subscriber.token_nonce):
            return f"a confirmation mark of an earlier subscription (subscriber {mark.subscriber_id})"
        return subscriber
    if (mark.edition_id, subscriber.id) not in delivered:
        return f"edition id {mark.edition_id} never went to subscriber {mark.subscriber_id}"
    return subscriber


def _keep_aside(reason: str) -> Taken:
    """Not applied: the caller keeps the message aside with `reason`, once."""
    return Taken(False, f"kept aside: {reason}", reason)
