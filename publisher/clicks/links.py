"""The address of a counted link: `/r/{edition}.{variant}.{link}.{nonce}.{mac}`.

It names the edition, the variant and the link, and a random value made for the one message it
was mailed in (the same for all that message's links): never the reader. The MAC, keyed by the
site's signing key, covers all four, so a changed or made-up address is refused; where it leads
is only ever what the edition stored for that link."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

_MAC_SIZE = 12  # bytes: 96 bits, 16 characters
_NONCE_SIZE = 9  # bytes: 72 bits, 12 characters
_MAX_PART = 12  # digits of an id


@dataclass(frozen=True)
class LinkTarget:
    """Where a variant's link leads: its address, what it is, and the release it reads."""

    target: str
    kind: str  # release, more, feed, feeds, site
    release_id: int | None = None


@dataclass(frozen=True)
class Click:
    edition: int
    variant: int
    link: int
    nonce: str


class LinkSigner:
    """Makes and checks the MAC of counted links (a key of its own, derived from the site's)."""

    def __init__(self, secret: str) -> None:
        self._key = hashlib.blake2b(secret.encode(), person=b"counted links", digest_size=32).digest()

    def mac(self, edition: int, variant: int, link: int, nonce: str) -> str:
        message = f"{edition}.{variant}.{link}.{nonce}".encode()
        digest = hashlib.blake2b(message, key=self._key, digest_size=_MAC_SIZE).digest()
        return base64.urlsafe_b64encode(digest).decode()

    def check(self, tail: str) -> Click | None:
        """The click the part after /r/ stands for, when its MAC is right; else None."""
        parts = tail.split(".")
        if len(parts) != 5 or not all(part.isdigit() and len(part) <= _MAX_PART for part in parts[:3]):
            return None
        edition, variant, link, nonce, mac = int(parts[0]), int(parts[1]), int(parts[2]), parts[3], parts[4]
        if not secrets.compare_digest(mac, self.mac(edition, variant, link, nonce)):
            return None
        return Click(edition, variant, link, nonce)


class MessageLinks:
    """The counted links of one variant, for one message at a time: each call makes a new
    random value, so each message's links are its own."""

    def __init__(self, signer: LinkSigner, prefix: str, edition: int, variant: int,
                 marks: Mapping[int, str]) -> None:
        self._signer, self._prefix = signer, prefix
        self._edition, self._variant = edition, variant
        self._marks = marks  # link number -> the mark in the rendered parts

    def __call__(self) -> dict[str, str]:
        nonce = secrets.token_urlsafe(_NONCE_SIZE)
        mac = self._signer.mac
        edition, variant = self._edition, self._variant
        return {mark: f"{self._prefix}{edition}.{variant}.{number}.{nonce}.{mac(edition, variant, number, nonce)}"
                for number, mark in self._marks.items()}


def reader_of(nonce: str, key: str) -> str:
    """What a click keeps of its message's random value: a hash keyed by the edition's click key,
    which is deleted when counting ends (after that, not even the message itself leads to it)."""
    return hashlib.blake2b(nonce.encode(), key=bytes.fromhex(key), digest_size=16).hexdigest()
