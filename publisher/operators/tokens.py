"""Bearer tokens for /api/v1: random, shown once, stored as their SHA-256 (a token has 256 bits
of chance, so a fast hash is enough), revocable; a revoked token fails from the next request."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from publisher.errors import PublisherError
from publisher.store.models import ApiToken, Operator

PREFIX = "pub_"  # recognisable in a leaked file or a secret scanner


class UnknownToken(PublisherError):
    """No token has that number."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def make_token(session: Session, operator: Operator, label: str, now: datetime) -> tuple[ApiToken, str]:
    """A new token of `operator`: its row, and the token itself (not stored)."""
    token = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(operator_id=operator.id, label=label, token_hash=token_hash(token), created=now)
    session.add(row)
    session.flush()
    return row, token


def token_operator(session: Session, token: str, now: datetime) -> Operator | None:
    """The operator a live token belongs to (noting its use), else None."""
    if not token.startswith(PREFIX) or len(token) > 200:
        return None
    row = session.scalars(select(ApiToken).where(ApiToken.token_hash == token_hash(token),
                                                 ApiToken.revoked.is_(None))).first()
    if row is None:
        return None
    row.used = now
    return session.get(Operator, row.operator_id)


def tokens_of(session: Session, operator: Operator) -> Sequence[ApiToken]:
    return session.scalars(select(ApiToken).where(ApiToken.operator_id == operator.id)
                           .order_by(ApiToken.id)).all()


def revoke_token(session: Session, token_id: int, now: datetime) -> ApiToken:
    row = session.get(ApiToken, token_id)
    if row is None:
        raise UnknownToken(f"no API token has the number {token_id}")
    if row.revoked is None:
        row.revoked = now
    return row
