"""Console sessions: a random secret in the (signed) cookie, its hash in the store. A session
ends when the operator logs out, is removed, stays idle longer than the configured timeout, or
has lasted its configured lifetime."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from publisher.store.models import Operator, OperatorSession


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def open_session(session: Session, operator: Operator, now: datetime) -> str:
    """A new session of `operator`; the secret for its cookie."""
    secret = secrets.token_urlsafe(32)
    # Sessions idle for a day, or older than a week, are forgotten here (web.session_lifetime is at
    # most a week), so the table holds only live ones.
    session.execute(delete(OperatorSession).where(
        (OperatorSession.seen < now - timedelta(days=1)) | (OperatorSession.created < now - timedelta(days=7))))
    session.add(OperatorSession(id_hash=_hash(secret), operator_id=operator.id, created=now, seen=now))
    return secret


def session_operator(session: Session, secret: str, now: datetime, idle: timedelta,
                     lifetime: timedelta) -> Operator | None:
    """The operator of a live session (its idle time starting again), else None. A session
    ends after `lifetime` however busy (a stolen cookie is not good for ever)."""
    row = session.get(OperatorSession, _hash(secret))
    if row is None or row.seen + idle < now or row.created + lifetime < now:
        return None
    row.seen = now
    return session.get(Operator, row.operator_id)


def close_session(session: Session, secret: str) -> None:
    session.execute(delete(OperatorSession).where(OperatorSession.id_hash == _hash(secret)))
