"""The audit log: every change an operator makes, with the thing before and after."""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

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


def record(session: Session, actor: str, action: str, subject: str, now: datetime, *,
           before: Mapping[str, Any] | None = None, after: Mapping[str, Any] | None = None) -> None:
    """Write one entry in the caller's transaction: the change and its record commit together."""
    session.add(AuditEntry(at=now, actor=actor, action=action, subject=subject,
                           before=_json(before), after=_json(after)))


def entries(session: Session, page: int, per_page: int) -> tuple[list[AuditEntry], int]:
    """The newest entries first, and how many there are in all."""
    return paged(session, select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc()), page, per_page)


def _json(values: Mapping[str, Any] | None) -> str | None:
    return None if values is None else json.dumps(values, ensure_ascii=False, sort_keys=True, default=str)
