"""Request limits: so many events per key in a sliding window, counted in the database, so
they hold across every web process (`publisher serve` workers, several servers)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from publisher.jobs.limits import allowed


class RateLimit:
    def __init__(self, sessions: sessionmaker[Session], bucket: str, events: int, window: timedelta,
                 clock: Callable[[], datetime]) -> None:
        self.sessions, self.bucket, self.events, self.window, self.clock = sessions, bucket, events, window, clock

    def allow(self, key: str) -> bool:
        """Count one event for `key`; False when it already had `events` in the window."""
        return allowed(self.sessions, self.bucket, key, self.events, self.window, self.clock())
