"""The people who run the console and the API, and their API tokens: added, removed, made and
revoked (the command line's `publisher operators`), each change audited."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from publisher.operators.accounts import add_operator, checked_password, existing_operator, remove_operator
from publisher.operators.audit import record
from publisher.operators.tokens import make_token, revoke_token
from publisher.store.models import ApiToken, Operator


def add(sessions: sessionmaker[Session], actor: str, email: str, password: str, now: datetime) -> Operator:
    """A new operator; InvalidValue for a short password or a known address."""
    with sessions.begin() as session:
        operator = add_operator(session, email, checked_password(password), now)
        record(session, actor, "operator.add", operator.email, now, after={"email": operator.email})
    return operator


def remove(sessions: sessionmaker[Session], actor: str, email: str, now: datetime) -> Operator:
    """Their console sessions and API tokens stop working at once."""
    with sessions.begin() as session:
        operator = remove_operator(session, email)
        record(session, actor, "operator.remove", operator.email, now, before={"email": operator.email})
    return operator


def new_token(sessions: sessionmaker[Session], actor: str, email: str, label: str, scopes: tuple[str, ...],
              now: datetime) -> tuple[ApiToken, str, str]:
    """A token of the operator `email` that may do `scopes`: its row, the token (shown once) and
    the operator's address as stored."""
    with sessions.begin() as session:
        operator = existing_operator(session, email)
        row, token = make_token(session, operator, label.strip()[:200] or "api", now, scopes)
        record(session, actor, "token.add", f"API token #{row.id} of {operator.email}", now,
               after={"label": row.label, "scopes": row.scopes})
    return row, token, operator.email


def revoke(sessions: sessionmaker[Session], actor: str, token_id: int, now: datetime) -> None:
    with sessions.begin() as session:
        row = revoke_token(session, token_id, now)
        record(session, actor, "token.revoke", f"API token #{row.id}", now)
