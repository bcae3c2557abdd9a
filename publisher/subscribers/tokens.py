"""Signed tokens for the links in mail (confirm, preferences, unsubscribe).

A token is `{subscriber id}.{issued, unix seconds}.{signature}`, the signature being
HMAC-SHA256 over the purpose, the id, the time and the subscriber's random nonce (kept with the
subscriber, never sent): a token is bound to one subscriber and one purpose, cannot be altered,
and stops working when the nonce changes (on unsubscribing) or the subscriber is gone (an id
used again by someone else comes with another nonce). Confirmation links check the age.
"""

from __future__ import annotations

import base64
import hmac
from collections.abc import Callable
from datetime import datetime, timedelta

from publisher.clock import utc_now
from publisher.errors import PublisherError

# (bounce: VERP return paths; mailto: List-Unsubscribe addresses; console: the operator
# console's session cookies and form tokens)
PURPOSES = ("confirm", "preferences", "unsubscribe", "bounce", "mailto", "console")
CLOCK_SKEW = timedelta(minutes=5)  # a token dated later than this is not one we made
_SEAL = "form"  # the key that seals form cookies, apart from every token's
# Test copies of a digest carry real signed links for nobody: subscriber ids start at 1.
TEST_COPY_ID = 0
TEST_COPY_NONCE = "test copy"


class TokenError(PublisherError):
    """A token that is forged, altered, expired or meant for something else."""

    def __init__(self, message: str = "this link is not valid") -> None:
        super().__init__(message)


class TokenExpired(TokenError):
    def __init__(self) -> None:
        super().__init__("this link has expired")


class TestCopyLink(TokenError):
    """A genuine link from a test copy: it belongs to no subscriber, and changes nothing."""

    def __init__(self) -> None:
        super().__init__("this link came in a test copy of a digest")


class Signer:
    def __init__(self, key: str, clock: Callable[[], datetime] = utc_now) -> None:
        self._clock = clock
        # One derived key per purpose: a token made for one purpose never verifies for another.
        # Each key's HMAC is set up once and copied for every signature: hmac.digest would set
        # it up again each time, and it lets other threads run while it does (a digest send
        # signs two tokens a message, from four threads).
        self._keyed = {purpose: hmac.new(hmac.digest(key.encode(), f"publisher {purpose}".encode(), "sha256"),
                                         digestmod="sha256")
                       for purpose in (*PURPOSES, _SEAL)}

    def sign(self, purpose: str, subscriber_id: int, nonce: str, issued: int | None = None) -> str:
        """A token for `purpose` and this subscriber, bound to their current `nonce` (a new
        nonce revokes every token made before it). `issued`: unix seconds, default now."""
        payload = f"{subscriber_id}.{int(self._clock().timestamp()) if issued is None else issued}"
        return f"{payload}.{self._mac(purpose, f'{payload}.{nonce}')}"

    @staticmethod
    def subscriber_id(token: str) -> int:
        """The subscriber a token claims to be for (not yet verified: see `verify`)."""
        subscriber, _, _ = token.partition(".")
        if not _number(subscriber):
            raise TokenError()
        return int(subscriber)

    def verify(self, purpose: str, token: str, nonce: str, max_age: timedelta | None = None) -> None:
        """TokenError unless `token` was made by this key, for `purpose`, with `nonce`, not in
        the future and (with `max_age`) not too long ago."""
        payload, _, signature = token.rpartition(".")
        subscriber, _, issued = payload.partition(".")
        if not (_number(subscriber) and _number(issued) and signature):
            raise TokenError()
        if not same_text(signature, self._mac(purpose, f"{payload}.{nonce}")):
            raise TokenError()
        age = self._clock().timestamp() - int(issued)
        if age < -CLOCK_SKEW.total_seconds():
            raise TokenError()
        if max_age is not None and age > max_age.total_seconds():
            raise TokenExpired()

    def mark(self, purpose: str, *numbers: int) -> str:
        """`12.345.<mac>`: numbers with a short signature, in lower-case letters and digits only
        (it goes into an address's local part, which some mail systems lower-case)."""
        payload = ".".join(str(number) for number in numbers)
        return f"{payload}.{self._short_mac(purpose, payload)}"

    def unmark(self, purpose: str, text: str, count: int) -> tuple[int, ...] | None:
        """The numbers of a mark this key made for `purpose`, else None (forged, altered)."""
        *numbers, signature = text.lower().split(".")
        if len(numbers) != count or not all(_number(number) for number in numbers):
            return None
        if not same_text(signature, self._short_mac(purpose, ".".join(numbers))):
            return None
        return tuple(int(number) for number in numbers)

    def tag(self, purpose: str, value: str) -> str:
        """The signature of `value` for `purpose` (a cookie's, a form's)."""
        return self._mac(purpose, value)

    def _short_mac(self, purpose: str, payload: str) -> str:
        digest = self._digest(purpose, payload)[:12]
        return base64.b32encode(digest).decode().lower().rstrip("=")

    def seal(self, value: str) -> str:
        """`value` with a signature, so that a cookie set by another site is told apart."""
        return f"{value}.{self._mac(_SEAL, value)}"

    def is_sealed(self, sealed: str) -> bool:
        value, _, signature = sealed.rpartition(".")
        return bool(value) and same_text(signature, self._mac(_SEAL, value))

    def _mac(self, purpose: str, payload: str) -> str:
        return base64.urlsafe_b64encode(self._digest(purpose, payload)[:18]).decode()

    def _digest(self, purpose: str, payload: str) -> bytes:
        mac = self._keyed[purpose].copy()
        mac.update(payload.encode())
        return mac.digest()


def _number(text: str) -> bool:
    """ASCII digits only ("²" is a digit to str.isdigit, and no number to int), and not absurdly many."""
    return text.isascii() and text.isdigit() and len(text) <= 12


def same_text(given: str, expected: str) -> bool:
    """A constant-time comparison of a value someone sent (a cookie, a form field, a link's
    token: any characters) with the one expected; compare_digest refuses non-ASCII text."""
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode("utf-8", "surrogateescape"))
