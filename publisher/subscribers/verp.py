"""Return paths that say whose delivery a bounce is about (VERP, with a signed mark)."""

from __future__ import annotations

from collections.abc import Callable

from publisher.config import Config
from publisher.subscribers.tokens import Signer

CONFIRMATION = 0  # the "edition" of confirmation mails


def verp_address(config: Config, signer: Signer, edition_id: int) -> Callable[[int], str]:
    """`bounces+12.345.<mark>@example.org` for subscriber 345 of edition 12: a bounce sent back
    to it says whose delivery failed, and the mark (signed) that nobody made it up. Without
    `mail.bounce_address`, empty (the sender's address is the return path)."""
    return _marked_address(config, lambda subscriber: signer.mark("bounce", edition_id, subscriber))


def unsubscribe_address(config: Config, signer: Signer) -> Callable[[int], str]:
    """`bounces+u.345.<mark>@example.org`: mail to it unsubscribes subscriber 345 (the
    List-Unsubscribe mailto); empty without `mail.bounce_address`."""
    return _marked_address(config, lambda subscriber: "u." + signer.mark("mailto", subscriber))


def _marked_address(config: Config, mark: Callable[[int], str]) -> Callable[[int], str]:
    """`{local}+{mark(subscriber)}@{domain}` of mail.bounce_address; empty when there is none."""
    local, _, domain = config.mail.bounce_address.rpartition("@")
    if not config.mail.bounce_address:
        return lambda _subscriber: ""
    return lambda subscriber: f"{local}+{mark(subscriber)}@{domain}"


def read_verp(config: Config, signer: Signer, address: str) -> tuple[int, int] | bool | None:
    """(edition, subscriber) of a VERP address of ours; None when `address` is not one of
    ours; False when it is, but its mark is forged or altered."""
    mark = _our_mark(config, address)
    if mark is None or mark.startswith("u."):
        return None
    numbers = signer.unmark("bounce", mark, 2)
    return False if numbers is None else (numbers[0], numbers[1])


def read_unsubscribe(config: Config, signer: Signer, address: str) -> int | bool | None:
    """The subscriber an unsubscribe address of ours names; None when `address` is none;
    False when its mark is forged or altered."""
    mark = _our_mark(config, address)
    if mark is None or not mark.startswith("u."):
        return None
    numbers = signer.unmark("mailto", mark[2:], 1)
    return False if numbers is None else numbers[0]


def _our_mark(config: Config, address: str) -> str | None:
    """What follows `bounces+` in an address at the bounce address's domain, else None."""
    local, _, domain = config.mail.bounce_address.rpartition("@")
    their_local, _, their_domain = address.strip().strip("<>").rpartition("@")
    prefix = f"{local}+".lower()
    if not local or their_domain.lower() != domain.lower() or not their_local.lower().startswith(prefix):
        return None
    return their_local[len(prefix):].lower()
