"""One active scheduler per database: whoever holds the lock schedules; others stand by.

SQLite: an exclusive lock on a file beside the database (the kernel drops it when the holder
dies). PostgreSQL: a session advisory lock held on a connection of its own (dropped when that
connection ends). Either way a standby process takes over after the holder is gone.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from pathlib import Path
from typing import Protocol

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from publisher.store import locks

log = logging.getLogger(__name__)


class Leadership(Protocol):
    description: str

    def try_acquire(self) -> bool: ...

    def still_held(self) -> bool: ...

    def release(self) -> None: ...


class FileLeadership:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.description = f"lock file {path}"
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def still_held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the lock
            self._fd = None


class AdvisoryLeadership:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._connection: Connection | None = None
        self.description = "PostgreSQL advisory lock"

    def try_acquire(self) -> bool:
        try:
            connection = self._engine.connect()
            held = connection.execute(text("SELECT pg_try_advisory_lock(:key)"),
                                      {"key": locks.SCHEDULER}).scalar()
            connection.commit()  # the session lock outlives the transaction
        except DBAPIError as exc:
            log.warning("cannot ask PostgreSQL for the scheduler lock: %s", exc.orig)
            return False
        if held:
            self._connection = connection
            return True
        connection.close()
        return False

    def still_held(self) -> bool:
        if self._connection is None:
            return False
        try:
            self._connection.execute(text("SELECT 1"))
            self._connection.commit()
            return True
        except DBAPIError:
            self._connection = None
            return False

    def release(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(DBAPIError):
                self._connection.close()  # ending the session drops the lock
            self._connection = None


class SoleLeadership:
    """A database nothing else can open (SQLite in memory): always the leader."""

    description = "single process"

    def try_acquire(self) -> bool:
        return True

    def still_held(self) -> bool:
        return True

    def release(self) -> None:
        pass


def leadership_for(engine: Engine) -> Leadership:
    url = engine.url
    if url.get_backend_name() == "postgresql":
        return AdvisoryLeadership(engine)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return FileLeadership(Path(f"{url.database}.scheduler.lock"))
    if url.get_backend_name() != "sqlite":
        log.warning("no scheduler lock for %s: run a single `publisher run`", url.get_backend_name())
    return SoleLeadership()
