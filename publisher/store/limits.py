"""Counting requests in the database, so that a limit holds across every web process."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from publisher.store.locks import limit_key, take_turn
from publisher.store.models import RequestEvent


def count_request(session: Session, bucket: str, key: str, limit: int, window: timedelta,
                  now: datetime) -> bool:
    """Count one request for `key`; False (and nothing counted) when it already had `limit`
    in the `window` before `now`. The caller commits."""
    key_hash = hashlib.sha256(f"{bucket}\0{key}".encode()).hexdigest()
    take_turn(session.connection(), limit_key(key_hash))  # two processes count one key in turn
    # Forget what the window has left behind, for every key of the bucket.
    session.execute(delete(RequestEvent).where(RequestEvent.bucket == bucket, RequestEvent.at <= now - window))
    seen = session.scalar(select(func.count()).where(RequestEvent.bucket == bucket,
                                                      RequestEvent.key_hash == key_hash)) or 0
    if seen >= limit:
        return False
    session.execute(insert(RequestEvent).values(bucket=bucket, key_hash=key_hash, at=now))
    return True
