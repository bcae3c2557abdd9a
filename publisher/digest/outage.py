"""What a sender's connections do while the mail server is away.

An unreachable server (refused or lost connections, a 421 reply) is not the recipients' fault:
their deliveries keep their attempts and wait. One connection probes the server after a pause
that doubles up to `smtp.reconnect_max`; the others wait for its answer, since they could only
fail the same way and would shorten nobody's wait.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from publisher.mail.transport import Reply

log = logging.getLogger(__name__)

FIRST_PAUSE = 1.0  # seconds; doubled after every failed probe


class Outage:
    def __init__(self, longest: float, stop: threading.Event,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._longest, self._stop, self._clock = longest, stop, clock
        self._changed = threading.Condition()
        self._retry_at: float | None = None  # None: the server is answering
        self._pause = 0.0
        self._probing = False

    def enter(self) -> bool:
        """Block until this connection may talk to the server: it is answering, or it is this
        connection's turn to probe. False once the sender is stopping."""
        with self._changed:
            while not self._stop.is_set():
                if self._retry_at is None:
                    return True
                wait = self._retry_at - self._clock()
                if wait <= 0 and not self._probing:
                    self._probing = True
                    return True
                # Wake at least twice a second to notice `stop`.
                self._changed.wait(min(max(wait, 0.0), 0.5) if not self._probing else 0.5)
            return False

    def up(self) -> None:
        """The server answered (whatever it said about the recipient)."""
        with self._changed:
            if self._retry_at is not None:
                log.warning("the mail server answers again; sending resumes")
            self._retry_at, self._pause, self._probing = None, 0.0, False
            self._changed.notify_all()

    def down(self, reply: Reply) -> None:
        """The server could not be reached. A connection that was mid-message when the server
        went away does not lengthen a pause that has begun; a failed probe does."""
        with self._changed:
            if self._retry_at is not None and not self._probing:
                return
            self._pause = min(max(self._pause * 2, FIRST_PAUSE), self._longest)
            self._retry_at, self._probing = self._clock() + self._pause, False
            log.warning("the mail server is away (%s); trying again in %.0f s", reply, self._pause)
            self._changed.notify_all()
