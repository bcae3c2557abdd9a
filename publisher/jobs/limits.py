"""A request counted against its limit (so many in a window, per key), in the database: the limit
holds across every web process and machine."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from publisher.store.limits import count_request


def allowed(sessions: sessionmaker[Session], bucket: str, key: str, events: int, window: timedelta,
            now: datetime) -> bool:
    """Count one event for `key`; False (nothing counted) when it already had `events` in the window."""
    with sessions.begin() as session:
        return count_request(session, bucket, key, events, window, now)
