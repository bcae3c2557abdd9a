"""The address of a counted link: `/r/{edition}.{variant}.{link}.{nonce}.{mac}`.

It names the edition, the variant and the link, and a random value made for the one message it
was mailed in (the same for all that message's links): never the reader. The MAC, keyed by the
site's signing key, covers all four, so a changed or made-up address is refused; where it leads
is only ever what the edition stored for that link."""

from __future__ import annotations

import binascii
import hashlib
import hmac
import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

_MAC_SIZE = 12  # bytes: 96 bits, 16 characters
_NONCE_SIZE = 9  # bytes: 72 bits, 12 characters
_MAX_PART = 12  # digits of an id
_URLSAFE = bytes.maketrans(b"+/", b"-_")  # base64's URL-safe alphabet (RFC 4648 5)
_ID = re.compile(rf"\d{{1,{_MAX_PART}}}", re.ASCII)
_MAX_TAIL = 3 * _MAX_PART + 4 * _NONCE_SIZE // 3 + 4 * _MAC_SIZE // 3 + 4  # the ids, the value, the MAC, the dots


@dataclass(frozen=True)
class LinkTarget:
    """Where a variant's link leads: its address, what it is, and the release it reads."""

    target: str
    kind: str  # release, more, feed, feeds, site
    release_id: int | None = None


class Click(NamedTuple):  # made on every redirect: a tuple costs half a frozen dataclass
    edition: int
    variant: int
    link: int
    nonce: str


class LinkSigner:
    """Makes and checks the MAC of counted links (a key of its own, derived from the site's)."""

    def __init__(self, secret: str) -> None:
        key = hashlib.blake2b(secret.encode(), person=b"counted links", digest_size=32).digest()
        self._keyed = hashlib.blake2b(key=key, digest_size=_MAC_SIZE)  # copied for each MAC: a third cheaper

    def mac_of(self, signed: bytes) -> str:
        """The MAC of an address's signed part, `edition.variant.link.nonce` as it spells them."""
        return self._mac(signed).decode()

    def _mac(self, signed: bytes) -> bytes:
        mac = self._keyed.copy()
        mac.update(signed)
        return _urlsafe(mac.digest())

    def check(self, tail: str) -> Click | None:
        """The click the part after /r/ stands for, when its MAC is right and it names ids; else None."""
        parts = self.signed(tail)
        if parts is None or not all(spells_an_id(part) for part in parts[:3]):
            return None
        return Click(int(parts[0]), int(parts[1]), int(parts[2]), parts[3])

    def signed(self, tail: str) -> list[str] | None:
        """The parts of the part after /r/, `[edition, variant, link, nonce, mac]` as it spells them,
        when its MAC is right; else None. The redirect's own check (web/clicks.py): no pattern, no
        ids made of the digits (those are the edition's and its links' own spellings, met as
        they are), a third of `check`'s cost."""
        if len(tail) > _MAX_TAIL:  # nothing longer was ever signed: not hashed
            return None
        parts = tail.split(".")
        if len(parts) != 5:
            return None
        mac = parts[4]
        # The ids as the address spells them: one spelling per link ("01" is not "1").
        if not hmac.compare_digest(mac.encode("ascii", "replace"), self._mac(tail[:-len(mac) - 1].encode())):
            return None
        return parts


class MessageLinks:
    """The counted links of one variant, for one message at a time: each call makes a new
    random value, so each message's links are its own."""

    def __init__(self, signer: LinkSigner, prefix: str, edition: int, variant: int,
                 marks: Mapping[int, str]) -> None:
        self._mac = signer.mac_of
        # Each link's mark, its address up to the message's value, and the start of what its MAC
        # signs: made once, not for every message (a third of the links' cost, measured).
        self._links = [(mark, f"{prefix}{edition}.{variant}.{number}.", f"{edition}.{variant}.{number}.".encode())
                       for number, mark in marks.items()]
        self._random = _RandomValues()

    def __call__(self) -> dict[str, str]:
        value, mac = self._random.take(), self._mac
        nonce = value.decode()
        return {mark: f"{address}{nonce}.{mac(signed + value)}" for mark, address, signed in self._links}


class _RandomValues:
    """Messages' random values (what secrets.token_urlsafe would make), drawn from the system's
    source a few kilobytes at a time: os.urandom for each message let the other sending
    threads take over the interpreter at every message (it releases the lock for its system
    call), and those hand-overs cost the send more than the values."""

    _AT_ONCE = 512  # values per draw

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._drawn: list[bytes] = []

    def take(self) -> bytes:
        """12 URL-safe characters (72 random bits), never handed out twice."""
        with self._lock:
            if not self._drawn:
                pool = os.urandom(_NONCE_SIZE * self._AT_ONCE)
                self._drawn = [_urlsafe(pool[at:at + _NONCE_SIZE]) for at in range(0, len(pool), _NONCE_SIZE)]
            return self._drawn.pop()


def spells_an_id(part: str) -> bool:
    """Whether a part of a counted link's address is an id's digits (as few as 1, as many as 12)."""
    return _ID.fullmatch(part) is not None


def _urlsafe(data: bytes) -> bytes:
    """Base64 in its URL-safe alphabet; no padding for the sizes used here (multiples of 3)."""
    return binascii.b2a_base64(data, newline=False).translate(_URLSAFE)


class ReaderHashes:
    """What clicks keep of their messages' random values: a hash keyed by the edition's click key,
    which is deleted when counting ends (after that, not even the message itself leads to it).
    Made for one batch of clicks: each edition's keyed hash made once and copied for each click
    (the key's own block hashed once, not for every click), and dropped with the batch."""

    def __init__(self) -> None:
        self._keyed: dict[str, hashlib.blake2b] = {}  # click key: a hash keyed by it

    def __call__(self, nonce: str, key: str) -> str:
        keyed = self._keyed.get(key)
        if keyed is None:
            keyed = self._keyed[key] = hashlib.blake2b(key=bytes.fromhex(key), digest_size=16)
        reader = keyed.copy()
        reader.update(nonce.encode())
        return reader.hexdigest()
