"""Which `publisher worker` and `publisher run` processes are at work, for `publisher status`:
each keeps its row in `processes` fresh while it runs, and marks it stopped on the way out. A
process killed outright simply stops being seen."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from types import TracebackType

from sqlalchemy import delete, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from publisher.clock import utc_now
from publisher.identity import process_name
from publisher.store.models import Process
from publisher.store.statuses import ProcessState

log = logging.getLogger(__name__)

HEARTBEAT = 5.0  # seconds between reports
RECENT = timedelta(minutes=2)  # what `publisher status` counts as seen recently
FORGOTTEN = timedelta(days=7)  # rows of processes gone this long are deleted


class Presence:
    def __init__(self, sessions: sessionmaker[Session], role: str, state: str,
                 clock: Callable[[], datetime] = utc_now, *, name: str = "",
                 final_state: str = ProcessState.STOPPED) -> None:
        self.sessions, self.role, self.state, self.clock = sessions, role, state, clock
        # (a part of a process that reports on its own, a console send, is named apart)
        self.name, self.started = f"{process_name()} {name}".strip(), clock()
        self.final_state = final_state
        self._handled = 0
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="presence", daemon=True)

    def __enter__(self) -> Presence:
        self._report(forget_old=True)
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._done.set()
        self._thread.join()
        self.state = self.final_state
        self._report()  # once: its state and its count as it ended

    def handled(self, count: int) -> None:
        """Count deliveries this process finished (a progress callback of the sender)."""
        with self._lock:
            self._handled += count

    def set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self._report()

    def _beat(self) -> None:
        while not self._done.wait(HEARTBEAT):
            self._report()

    def _report(self, forget_old: bool = False) -> None:
        """Best effort: a database that is away only makes this process look absent."""
        with self._lock:
            handled = self._handled
        try:
            with self.sessions.begin() as session:
                now = self.clock()
                if forget_old:
                    session.execute(delete(Process).where(Process.seen < now - FORGOTTEN))
                session.merge(Process(name=self.name, role=self.role, state=self.state,
                                      started=self.started, seen=now, handled=handled))
        except SQLAlchemyError as exc:
            log.warning("could not report this process's state: %s", exc)


def recent_processes(session: Session, now: datetime) -> list[Process]:
    return list(session.scalars(select(Process).where(Process.seen >= now - RECENT,
                                                      Process.state != ProcessState.STOPPED)
                                .order_by(Process.role, Process.started)))
