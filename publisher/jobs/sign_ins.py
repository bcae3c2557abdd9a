"""An operator signing in to the console: a session opened for the right address and password,
and every attempt in the audit log (a failed one with the address as typed, and from where); the
operator of a console session or an API token, whose use is noted (idle time, last use); signing
out."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from publisher.operators.accounts import password_operator
from publisher.operators.audit import record
from publisher.operators.sessions import close_session, open_session, session_operator
from publisher.operators.tokens import token_operator
from publisher.store.models import Operator

log = logging.getLogger(__name__)


def sign_in(sessions: sessionmaker[Session], email: str, password: str, client: str, now: datetime) -> str | None:
    """A new session's secret, or None when the address and password do not match."""
    typed = " ".join(email.split())[:320]  # as typed, on one line: it goes into the log and the audit
    with sessions.begin() as session:
        operator = password_operator(session, email, password)
        if operator is None:
            record(session, f"sign-in from {client}", "operator.sign_in_failed", typed, now)
            log.warning("console sign-in refused for %r from %s", typed, client)
            return None
        secret = open_session(session, operator, now)
        record(session, operator.email, "operator.sign_in", f"from {client}", now)
    return secret


def console_operator(sessions: sessionmaker[Session], secret: str, now: datetime, idle: timedelta,
                     lifetime: timedelta) -> Operator | None:
    """The operator of a live console session, its idle time starting again; else None."""
    with sessions.begin() as session:
        return session_operator(session, secret, now, idle, lifetime)


def api_operator(sessions: sessionmaker[Session], token: str, now: datetime) -> tuple[Operator, tuple[str, ...]] | None:
    """The operator a live API token belongs to and what it may do (its use noted); else None."""
    with sessions.begin() as session:
        return token_operator(session, token, now)


def sign_out(sessions: sessionmaker[Session], secret: str) -> None:
    with sessions.begin() as session:
        close_session(session, secret)
