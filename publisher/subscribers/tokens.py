"""Signed tokens for the links in mail (confirm, preferences, unsubscribe).

A token is `{subscriber id}.{issued, unix seconds}.{signature}`, the signature being
HMAC-SHA256 over the purpose, the id and the time, so a token is bound to one subscriber and
one purpose and cannot be altered. Confirmation links check the age. The key comes from the
environment; without the variable, a random key is made once and kept in `secrets.key_file`
(readable by its owner only), so a single machine works out of the box.
"""

from __future__ import annotations

import base64
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


class TokenError(PublisherError):
    """A token that is forged, altered, expired or meant for something else."""


def signing_key(config: Config, environ: Mapping[str, str] = os.environ) -> str:
    key = environ.get(config.secrets.signing_key_env)
    if key:
        return key
    path = Path(config.secrets.key_file)
    try:
        return path.read_text("utf-8").strip()
    except FileNotFoundError:
        pass
    key = secrets.token_urlsafe(48)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return path.read_text("utf-8").strip()
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(key + "\n")
    log.warning("%s is not set: made a signing key in %s (set the variable in production)",
                config.secrets.signing_key_env, path)
    return key


class Signer:
    def __init__(self, key: str, clock: Callable[[], datetime] = utc_now) -> None:
        self._clock = clock
        # One derived key per purpose: a token made for one purpose never verifies for another.
        self._keys = {purpose: hmac.digest(key.encode(), f"publisher {purpose}".encode(), "sha256")
                      for purpose in PURPOSES}

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

    def _mac(self, purpose: str, payload: str) -> str:
        digest = hmac.digest(self._keys[purpose], payload.encode(), "sha256")[:18]
        return base64.urlsafe_b64encode(digest).decode()
