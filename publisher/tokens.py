"""Signed tokens for the links in mail (confirm, preferences, unsubscribe).

A token is bound to one subscriber and one purpose, signed with the secret key from the
environment. Without the variable, a random key is made once and kept in `secrets.key_file`
(readable by its owner only), so a single machine works out of the box.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

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
    def __init__(self, key: str) -> None:
        self._serializers = {purpose: URLSafeTimedSerializer(key, salt=f"publisher-{purpose}")
                             for purpose in PURPOSES}

    def sign(self, purpose: str, subscriber_id: int) -> str:
        return str(self._serializers[purpose].dumps(subscriber_id))

    def verify(self, purpose: str, token: str, max_age: float | None = None) -> int:
        """The subscriber id the token was made for; TokenError if it is not genuine."""
        try:
            value = self._serializers[purpose].loads(token, max_age=max_age)
        except SignatureExpired:
            raise TokenError("this link has expired") from None
        except BadSignature:
            raise TokenError("this link is not valid") from None
        if not isinstance(value, int):
            raise TokenError("this link is not valid")
        return value
