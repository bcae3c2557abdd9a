"""Bearer tokens for /api/v1: random, shown once, stored as their SHA-256 (a token has 256 bits
of chance, so a fast hash is enough), revocable; a revoked token fails from the next request."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from publisher.errors import InvalidValue, PublisherError
from publisher.store.models import ApiToken, Operator

PREFIX = "pub_"  # recognisable in a leaked file or a secret scanner


class UnknownToken(PublisherError):
    """No token has that number."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# What a token may do. A content system that posts releases needs "releases", and nothing
# that hands out readers' addresses; those take "subscribers".
SCOPES = {
    "read": "read releases, digests, schedules and sources (no reader's address)",
    "releases": "add, change and withdraw releases; create, change, retire and import sources",
    "subscribers": "read, add, change, import and export subscribers; edition reports; the audit log",
    "sending": "create, change and retire digests; pause, resume and send them; test copies",
    "all": "everything",
}


def parse_scopes(text: str) -> tuple[str, ...]:
    """Scopes as given (`releases subscribers`, or with commas); InvalidValue naming the unknown."""
    scopes = tuple(dict.fromkeys(text.replace(",", " ").split()))
    unknown = [scope for scope in scopes if scope not in SCOPES]
    if unknown or not scopes:
        problem = f"unknown scope {unknown[0]!r}" if unknown else "no scope"
        raise InvalidValue(f"{problem}; choose from {', '.join(SCOPES)}")
    return scopes


def make_token(session: Session, operator: Operator, label: str, now: datetime,
               scopes: tuple[str, ...]) -> tuple[ApiToken, str]:
    """A new token of `operator` that may do `scopes`: its row, and the token itself (not stored)."""
    token = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(operator_id=operator.id, label=label, token_hash=token_hash(token), created=now,
                   scopes=" ".join(parse_scopes(" ".join(scopes))))
    session.add(row)
    session.flush()
    return row, token


def token_operator(session: Session, token: str, now: datetime) -> tuple[Operator, tuple[str, ...]] | None:
    """The operator a live token belongs to and what it may do (noting its use), else None."""
    if not token.startswith(PREFIX) or len(token) > 200:
        return None
    row = session.scalars(select(ApiToken).where(ApiToken.token_hash == token_hash(token),
                                                 ApiToken.revoked.is_(None))).first()
    if row is None:
        return None
    row.used = now
    operator = session.get(Operator, row.operator_id)
    return None if operator is None else (operator, tuple(row.scopes.split()))


def allows(scopes: tuple[str, ...], needed: str) -> bool:
    return "all" in scopes or needed in scopes


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
