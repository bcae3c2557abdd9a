"""Personal data handed to an operator (a page or an answer that lists readers' addresses):
nothing changes, but the audit log says who was shown whose addresses, and when, as it does
for an export."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from publisher.operators.audit import record


def disclosed(sessions: sessionmaker[Session], actor: str, action: str, subject: str, now: datetime,
              addresses: int) -> None:
    """`actor` was shown `addresses` readers' addresses by `action` (`subscribers.list`,
    `subscriber.view`, `edition.report`...) about `subject`. Nothing is written when none was
    shown."""
    if not addresses:
        return
    with sessions.begin() as session:
        record(session, actor, action, subject, now, after={"addresses": addresses})
