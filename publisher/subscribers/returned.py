"""A message that came back to the bounce address, read for whom it concerns: the signed addresses
it came to (a VERP return path, an unsubscribe address) and the delivery or subscription they
name. Only a signed mark says whose a report is: anyone can write to a bounce address and name
anybody."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import Message

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from publisher.mail.reports import (
    Unreadable,
    complaint_return_paths,
    envelope_addresses,
    message_id_of,
    parse_headers,
    parse_message,
)
from publisher.store.models import Delivery, Subscriber
from publisher.subscribers.tokens import Signer
from publisher.subscribers.verp import CONFIRMATION, Forged, Mark, nonce_stamp, read_unsubscribe, read_verp

MESSAGE_ID_CHARS = 500  # the columns' length (a real Message-ID is under 100): a longer one is cut


@dataclass(frozen=True)
class Incoming:
    """A message as it came, parsed once, and the signed addresses it came to read once.
    One that cannot be parsed keeps why (`unreadable`), and is kept aside with it."""
    raw: bytes
    message: Message | None
    message_id: str | None
    unsubscribes: tuple[Mark | Forged, ...]  # List-Unsubscribe addresses
    marks: tuple[Mark | Forged, ...]  # VERP return paths
    unreadable: str | None = None

    @classmethod
    def parse(cls, raw: bytes, bounce_address: str, signer: Signer) -> Incoming:
        """Never raises: whatever came to the bounce address, however hostile, is read or kept
        aside, and the rest of its batch is applied."""
        try:
            message = parse_message(raw)
            message_id = (message_id_of(message) or "")[:MESSAGE_ID_CHARS] or None
            envelope = envelope_addresses(message)  # where it came to: our signed addresses
            # A complaint comes to the feedback loop's mailbox: our mark is inside it.
            addresses = envelope + complaint_return_paths(message)
        except Exception as exc:  # noqa: BLE001 (Unreadable, or a slip of the parser on odd input)
            reason = str(exc) if isinstance(exc, Unreadable) else f"could not be parsed ({type(exc).__name__})"
            return cls(raw, None, _header_message_id(raw), (), (), reason)
        unsubscribes = (read_unsubscribe(bounce_address, signer, address) for address in envelope)
        marks = (read_verp(bounce_address, signer, address) for address in addresses)
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


def _header_message_id(raw: bytes) -> str | None:
    """The Message-ID of a message that cannot be parsed whole, from its header block alone (it
    is kept aside once, not again each time it is read)."""
    try:
        return (message_id_of(parse_headers(raw)) or "")[:MESSAGE_ID_CHARS] or None
    except Exception:  # noqa: BLE001 (not even a header block)
        return None


def whose(session: Session, marks: tuple[Mark | Forged, ...], delivered: set[tuple[int, int]]
           ) -> tuple[Subscriber, int | None] | str:
    """The subscriber (and edition) the report is about, or why it cannot be said. Only a
    signed mark says it: anyone can write to a bounce address and name anybody."""
    if not marks:
        return "no VERP mark of ours: whose delivery it was cannot be trusted"
    mark = next((mark for mark in marks if isinstance(mark, Forged)), marks[0])
    found = marked(session, mark, delivered)
    if isinstance(found, str):
        return found
    assert isinstance(mark, Mark)  # marked() refused a Forged one
    return found, mark.edition_id or None


def deliveries_made(session: Session, incoming: list[Incoming]) -> set[tuple[int, int]]:
    """Which of the (edition, subscriber) pairs the batch's marks name went out, in one query."""
    pairs = set().union(*(one.deliveries for one in incoming))
    if not pairs:
        return set()
    found = session.execute(select(Delivery.edition_id, Delivery.subscriber_id).where(
        tuple_(Delivery.edition_id, Delivery.subscriber_id).in_(sorted(pairs))))
    return {(edition, subscriber) for edition, subscriber in found}


def marked(session: Session, mark: Mark | Forged, delivered: set[tuple[int, int]]) -> Subscriber | str:
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
