"""An operator signing in to the console: a session opened for the right address and password,
and every attempt in the audit log (a failed one with the address as typed, and from where)."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from publisher.operators.accounts import password_operator
from publisher.operators.audit import record
from publisher.operators.sessions import open_session

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
