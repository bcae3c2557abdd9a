"""A long send, told as it goes: every `scheduler.progress_every`, `publisher run` logs one line
of how the edition stands (sent, failed, left) and the rate since the line before. (`digest
send` on a terminal shows a bar instead.)"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from publisher.clock import utc_now
from publisher.digest.status import delivery_status

log = logging.getLogger("publisher.run.progress")


class SendProgress:
    """The sender's progress callback (it counts the messages done, from any sender thread)."""

    def __init__(self, sessions: sessionmaker[Session], every: timedelta,
                 clock: Callable[[], float] = time.monotonic, now: Callable[[], datetime] = utc_now,
                 credit: Callable[[int], None] = lambda _count: None) -> None:
        self.sessions, self.every, self.clock, self.now = sessions, every.total_seconds(), clock, now
        self.credit = credit  # the process's own count, for `publisher status`
        self._lock = threading.Lock()
        self._done = 0
        self._since = (clock(), 0)  # when the last line was logged, and the count then

    def __call__(self, count: int) -> None:
        self.credit(count)
        with self._lock:
            self._done += count
            at, done_then = self._since
            elapsed = self.clock() - at
            if elapsed < self.every:
                return
            self._since = (self.clock(), self._done)
            rate = (self._done - done_then) / elapsed
        self._log(rate)

    def _log(self, rate: float) -> None:
        with self.sessions() as session:
            newest = delivery_status(session, self.now(), 1)  # the edition being sent
        if newest:
            edition = newest[0]
            queued, sending, sent, failed, _skipped, _unknown = edition.counts
            log.info("%s edition %d: %d sent, %d failed, %d to go; %.0f a second",
                     edition.digest, edition.number, sent, failed, queued + sending, rate)
