"""The audit log: every change an operator makes, with the thing before and after."""

from __future__ import annotations

import getpass
import os

from sqlalchemy import select
from sqlalchemy.orm import Session

from publisher.store.audit import record
from publisher.store.models import AuditEntry
from publisher.store.paging import paged


def command_line() -> str:
    """The actor of a change made with the `publisher` command: the operating-system user who
    ran it."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container)
        user = f"uid {os.getuid()}"
    return f"{user} (command line)"


def entries(session: Session, page: int, per_page: int) -> tuple[list[AuditEntry], int]:
    """The newest entries first, and how many there are in all."""
    return paged(session, select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc()), page, per_page)


__all__ = ["command_line", "entries", "record"]
