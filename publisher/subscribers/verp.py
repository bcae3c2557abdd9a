"""Return paths that say whose delivery a bounce is about (VERP, with a signed mark).

A mark names a delivery (an edition and a subscriber: the edition must have gone to them), or,
for a confirmation mail, a subscription: the subscriber with a stamp of their nonce, which a
new subscription (an id used again) does not share. Never a subscriber id alone."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from publisher.subscribers.tokens import Signer

CONFIRMATION = 0  # the "edition" of confirmation mails


@dataclass(frozen=True)
class Mark:
    """What a verified mark names: a delivery of `edition_id`, or (edition CONFIRMATION) the
    subscription whose nonce has `stamp`."""
    edition_id: int
    subscriber_id: int
    stamp: int | None = None


@dataclass(frozen=True)
class Forged:
    """One of our addresses whose mark did not verify (forged, altered, or of an older form)."""
    what: str


def nonce_stamp(nonce: str) -> int:
    """A short number that tells one subscription's nonce from another's (not a secret: the
    mark's signature covers it)."""
    return int.from_bytes(hashlib.sha256(nonce.encode()).digest()[:4], "big")


def verp_address(bounce_address: str, signer: Signer, edition_id: int) -> Callable[[int], str]:
    """`bounces+12.345.<mark>@example.org` for subscriber 345 of edition 12: a bounce sent back
    to it says whose delivery failed, and the mark (signed) that nobody made it up. Without
    `mail.bounce_address`, empty (the sender's address is the return path)."""
    return _marked_address(bounce_address, lambda subscriber: signer.mark("bounce", edition_id, subscriber))


def confirmation_address(bounce_address: str, signer: Signer, subscriber_id: int, nonce: str) -> str:
    """`bounces+0.345.<stamp>.<mark>@example.org`: the return path of a confirmation mail."""
    return _marked_address(bounce_address, lambda subscriber: signer.mark(
        "bounce", CONFIRMATION, subscriber, nonce_stamp(nonce)))(subscriber_id)


def unsubscribe_address(bounce_address: str, signer: Signer, edition_id: int) -> Callable[[int], str]:
    """`bounces+u.12.345.<mark>@example.org`: mail to it unsubscribes subscriber 345, to whom
    edition 12 went (the List-Unsubscribe mailto); empty without `mail.bounce_address`."""
    return _marked_address(bounce_address, lambda subscriber: "u." + signer.mark("mailto", edition_id, subscriber))


def _marked_address(bounce_address: str, mark: Callable[[int], str]) -> Callable[[int], str]:
    """`{local}+{mark(subscriber)}@{domain}` of mail.bounce_address; empty when there is none."""
    local, _, domain = bounce_address.rpartition("@")
    if not bounce_address:
        return lambda _subscriber: ""
    return lambda subscriber: f"{local}+{mark(subscriber)}@{domain}"


def read_verp(bounce_address: str, signer: Signer, address: str) -> Mark | Forged | None:
    """What a VERP address of ours names; None when `address` is not one of ours; Forged when
    it is, but its mark does not verify."""
    mark = _our_mark(bounce_address, address)
    if mark is None or mark.startswith("u."):
        return None
    if mark.startswith(f"{CONFIRMATION}."):
        numbers = signer.unmark("bounce", mark, 3)
        return Forged("VERP mark") if numbers is None else Mark(CONFIRMATION, numbers[1], numbers[2])
    numbers = signer.unmark("bounce", mark, 2)
    return Forged("VERP mark") if numbers is None else Mark(numbers[0], numbers[1])


def read_unsubscribe(bounce_address: str, signer: Signer, address: str) -> Mark | Forged | None:
    """The delivery an unsubscribe address of ours names; None when `address` is none;
    Forged when its mark does not verify."""
    mark = _our_mark(bounce_address, address)
    if mark is None or not mark.startswith("u."):
        return None
    numbers = signer.unmark("mailto", mark[2:], 2)
    return Forged("unsubscribe address") if numbers is None else Mark(numbers[0], numbers[1])


def _our_mark(bounce_address: str, address: str) -> str | None:
    """What follows `bounces+` in an address at the bounce address's domain, else None."""
    local, _, domain = bounce_address.rpartition("@")
    their_local, _, their_domain = address.strip().strip("<>").rpartition("@")
    prefix = f"{local}+".lower()
    if not local or their_domain.lower() != domain.lower() or not their_local.lower().startswith(prefix):
        return None
    return their_local[len(prefix):].lower()
