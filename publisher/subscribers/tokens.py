"""Signed tokens for the links in mail (confirm, preferences, unsubscribe).

A token is `{subscriber id}.{issued, unix seconds}.{signature}`, the signature being
HMAC-SHA256 over the purpose, the id and the time, so a token is bound to one subscriber and
one purpose and cannot be altered. Confirmation links check the age. The key comes from the
environment; without the variable, a random key is made once and kept in `secrets.key_file`
(readable by its owner only), so a single machine works out of the box.
"""

from __future__ import annotations

import base64
import contextlib
import hmac
import logging
import os
import secrets
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path

from publisher.clock import utc_now
from publisher.config import Config
from publisher.errors import PublisherError

log = logging.getLogger(__name__)

PURPOSES = ("confirm", "preferences", "unsubscribe")
_SEAL = "form"  # the key that seals form cookies, apart from every token's


class TokenError(PublisherError):
    """A token that is forged, altered, expired or meant for something else."""


MIN_KEY_LENGTH = 32  # characters; a generated key has 64


class KeyProblem(PublisherError):
    """The signing key cannot be trusted: links signed with it could be forged."""

    exit_code = 2


def signing_key(config: Config, environ: Mapping[str, str] = os.environ) -> str:
    """The key from the variable secrets.signing_key_env names; without it, the one kept in
    secrets.key_file, made (atomically) the first time. An empty or short key is refused."""
    name = config.secrets.signing_key_env
    key = environ.get(name)
    if key is not None:
        return _checked(key, f"the variable {name}")
    path = Path(config.secrets.key_file)
    if not path.exists():
        _make_key_file(path)
        log.warning("%s is not set: made a signing key in %s (set the variable in production)",
                    name, path)
    return _checked(path.read_text("utf-8").strip(), str(path))


def _checked(key: str, where: str) -> str:
    if len(key) < MIN_KEY_LENGTH:
        raise KeyProblem(f"{where}: the signing key is {'empty' if not key else 'too short'} "
                         f"(at least {MIN_KEY_LENGTH} characters are needed); set a long random "
                         "value, or delete the file to have one made")
    return key


def _make_key_file(path: Path) -> None:
    """Write a new key to a temporary file, flush it to disk, then link it into place: the file
    appears whole or not at all, and when several processes start at once the first link wins
    and every process reads that one key."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_urlsafe(48) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):  # another process made it first: keep theirs
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


class Signer:
    def __init__(self, key: str, clock: Callable[[], datetime] = utc_now) -> None:
        self._clock = clock
        # One derived key per purpose: a token made for one purpose never verifies for another.
        self._keys = {purpose: hmac.digest(key.encode(), f"publisher {purpose}".encode(), "sha256")
                      for purpose in (*PURPOSES, _SEAL)}

    def sign(self, purpose: str, subscriber_id: int, issued: int | None = None) -> str:
        """`issued`: unix seconds, default now by the signer's clock."""
        payload = f"{subscriber_id}.{int(self._clock().timestamp()) if issued is None else issued}"
        return f"{payload}.{self._mac(purpose, payload)}"

    def verify(self, purpose: str, token: str, max_age: timedelta | None = None) -> int:
        """The subscriber id the token was made for; TokenError if it is not genuine."""
        payload, _, signature = token.rpartition(".")
        subscriber, _, issued = payload.partition(".")
        if not (subscriber.isdigit() and issued.isdigit() and signature):
            raise TokenError("this link is not valid")
        if not hmac.compare_digest(signature, self._mac(purpose, payload)):
            raise TokenError("this link is not valid")
        if max_age is not None and self._clock().timestamp() - int(issued) > max_age.total_seconds():
            raise TokenError("this link has expired")
        return int(subscriber)

    def seal(self, value: str) -> str:
        """`value` with a signature, so that a cookie set by another site is told apart."""
        return f"{value}.{self._mac(_SEAL, value)}"

    def is_sealed(self, sealed: str) -> bool:
        value, _, signature = sealed.rpartition(".")
        return bool(value) and hmac.compare_digest(signature, self._mac(_SEAL, value))

    def _mac(self, purpose: str, payload: str) -> str:
        digest = hmac.digest(self._keys[purpose], payload.encode(), "sha256")[:18]
        return base64.urlsafe_b64encode(digest).decode()
