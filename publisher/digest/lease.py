"""A sender's lease on the deliveries it claimed: when it runs out unless renewed, and whether it
ran out once (then the batch in hand is no longer this sender's: another may have claimed it).
The sending threads ask it before each message, a keeper thread renews it, the claimer takes it
afresh with each batch; its state changes only under its lock."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger(__name__)


class Lease:
    def __init__(self, length: timedelta, clock: Callable[[], datetime]) -> None:
        self.length, self._clock = length, clock
        self._lock = threading.Lock()
        self._until = clock()  # when the claims run out, unless renewed
        self._lapsed = False  # they ran out once: the batch in hand is no longer ours

    @property
    def lapsed(self) -> bool:
        with self._lock:
            return self._lapsed

    def taken(self, now: datetime) -> None:
        """A batch was claimed at `now`: the lease runs from there."""
        with self._lock:
            self._until, self._lapsed = now + self.length, False

    def holds(self) -> bool:
        """Whether the claim will outlast a message sent now. It will not when the lease could
        not be renewed for a long while (the database was away): by now another sender may have
        taken the batch, and sending too would send twice."""
        with self._lock:
            if not self._lapsed and self._clock() < self._until - self.length / 3:
                return True
            if not self._lapsed:
                log.warning("the lease on this batch of deliveries ran out; claiming afresh")
            self._lapsed = True
            return False

    def renew(self, write: Callable[[datetime], None]) -> None:
        """`write(now)` the renewal; it counts only if it was committed before the claims ran
        out (a late one, after an outage, may come after another sender took the batch)."""
        now = self._clock()
        with self._lock:
            until = self._until
        if now < until:
            write(now)
        with self._lock:
            if self._clock() < until:
                self._until = now + self.length
            else:
                self._lapsed = True

    def keep(self, done: threading.Event, write: Callable[[datetime], None]) -> None:
        """Renew every third of the lease until `done` (a thread's loop)."""
        while not done.wait(self.length.total_seconds() / 3):
            try:
                self.renew(write)
            except SQLAlchemyError as exc:  # the next renewal, or the lease's end, decides
                log.warning("could not renew the delivery lease: %s", exc)
