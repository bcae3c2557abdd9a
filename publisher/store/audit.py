"""An audit entry written in the caller's transaction (the log itself is operators/audit.py's)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from publisher.store.models import AuditEntry


def record(session: Session, actor: str, action: str, subject: str, now: datetime, *,
           before: Mapping[str, Any] | None = None, after: Mapping[str, Any] | None = None) -> None:
    """Write one entry in the caller's transaction: the change and its record commit together."""
    session.add(AuditEntry(at=now, actor=actor, action=action, subject=subject,
                           before=_json(before), after=_json(after)))


def _json(values: Mapping[str, Any] | None) -> str | None:
    return None if values is None else json.dumps(values, ensure_ascii=False, sort_keys=True, default=str)
