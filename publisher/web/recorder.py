"""The clicks a server notes, written (jobs/clicks.py) every second by a thread of their own: in
the server's process, or, behind `publisher serve` and `publisher run`, in its writing process
(web/offload.py, web/scribe.py), which imports this and not the web app."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

from publisher.jobs.clicks import Noted, record_clicks
from publisher.web.drains import Drain
from publisher.web.offload import HAND_OVER, Offload

log = logging.getLogger(__name__)

_EVERY = 1.0  # seconds between writes of the noted clicks (a kill -9 loses at most these)
_MAX_NOTED = 1_000_000  # clicks held while the store cannot take them; more are dropped, and said


class ClickRecorder:
    """Holds the noted clicks and writes them (jobs/clicks.py) every second from a thread of
    its own; what the database cannot take yet waits for the next write. With an `offload`,
    the clicks are handed to the writing process instead (web/offload.py), whose own recorder
    writes them."""

    def __init__(self, sessions: sessionmaker[Session], offload: Offload | None = None) -> None:
        self.sessions = sessions
        self.drain: Drain[Noted] = (Drain(offload.writer("clicks", self._record), HAND_OVER, "clicks")
                                    if offload else Drain(self._record, _EVERY, "clicks"))
        self.dropped = 0

    def note(self, click: Noted) -> None:
        if len(self.drain.items) >= _MAX_NOTED:
            self.dropped += 1  # said at the next write
            return
        self.drain.add(click)

    def noting(self) -> Callable[[Noted], None]:
        """How the redirect notes a click at the cost of an append (web/clicks.py), once it has
        started the writing (`start`); what is held is bounded when a write fails instead."""
        return self.drain.items.append

    def start(self) -> None:
        self.drain.start()

    def note_all(self, clicks: list[Noted]) -> None:
        for click in clicks:
            self.note(click)

    def _record(self, batch: list[Noted]) -> None:
        if self.dropped:
            log.warning("%d clicks were not counted: the database could not take them, and at most %d are kept "
                        "waiting for it; trying %d now", self.dropped, _MAX_NOTED, len(batch))
            self.dropped = 0
        try:
            record_clicks(self.sessions, batch)
        except Exception:  # the database is away: they wait for the next write, as many as are held
            log.exception("%d clicks could not be written; trying again", len(batch))
            room = max(_MAX_NOTED - len(self.drain.items), 0)
            self.dropped += max(len(batch) - room, 0)
            self.drain.items.extendleft(reversed(batch[:room]))

    def stop(self) -> None:
        self.drain.stop()
