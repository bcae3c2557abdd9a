"""Whether an operator paused the digest being sent: looked at before each batch is claimed,
and once a second while one is sent (a batch at a slow relay's pace can take minutes)."""

from __future__ import annotations

import threading

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from publisher.store.pauses import pause_of

CHECK_SECONDS = 1.0  # how often a sender looks whether its digest was paused mid-batch


class PauseWatch:
    def __init__(self, sessions: sessionmaker[Session], digest: str) -> None:
        self._sessions, self._digest = sessions, digest
        self.halted = threading.Event()  # paused while a batch was sent: send nothing more of it

    def paused_now(self, session: Session) -> bool:
        """Looked at before a batch is claimed (in the claim's transaction)."""
        return pause_of(session, self._digest) is not None

    def watch(self, done: threading.Event) -> None:
        """Until `done` (a thread's loop): once paused, `halted` is set for good, even if the
        digest is resumed within the second (the send would otherwise spin on a halted batch)."""
        while not done.wait(CHECK_SECONDS):
            try:
                with self._sessions() as session:
                    paused = self.paused_now(session)
            except SQLAlchemyError:  # the database is away: the next claim looks again
                continue
            if paused:
                self.halted.set()
                return
