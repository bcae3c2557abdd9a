"""smtp.rate_limit across every sender of every process: one row per mail server holds the next
free sending slot, and a sender takes a block of slots (a quarter of a second's worth) at a time.

Slots are handed out once each, `1 / rate` apart, so no two senders share one. A sender sends
each message at its slot or, when it was busy, up to STALE later; a slot older than that is let
go. So in any second at most `1.25 * rate + 1` messages leave, whatever the number of workers.
On PostgreSQL the slots are on the database server's clock, so the workers' own clocks need not
agree; SQLite serves one machine, whose clock they share.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from typing import Any, cast

from sqlalchemy import ColumnElement, Connection, Engine, Table, func, literal, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from publisher.store.db import retrying
from publisher.store.models import SendRate

_TABLE = cast(Table, SendRate.__table__)

BLOCK_SECONDS = 0.25
STALE = 0.25  # seconds a slot may be used late


class SharedRate:
    def __init__(self, engine: Engine, server: str, rate: float, stop: threading.Event) -> None:
        self._engine, self._server, self._stop = engine, server, stop
        self._interval = 1.0 / rate if rate > 0 else 0.0
        self._block = max(1, math.ceil(rate * BLOCK_SECONDS))
        self._slots: deque[float] = deque()  # time.monotonic() values
        self._lock = threading.Lock()

    def wait(self) -> None:
        """Return at this caller's slot (at once without a limit, or once stopping)."""
        if not self._interval:
            return
        with self._lock:
            while True:
                now = time.monotonic()
                while self._slots and self._slots[0] < now - STALE:
                    self._slots.popleft()
                if self._slots:
                    slot = self._slots.popleft()
                    break
                self._slots.extend(retrying(self._reserve, self._stop, "pacing the mail server"))
        self._stop.wait(max(0.0, slot - time.monotonic()))

    def _reserve(self) -> list[float]:
        """The next block of slots, on this process's monotonic clock."""
        span = self._block * self._interval
        table = _TABLE
        with self._engine.begin() as connection:
            clock: ColumnElement[Any]
            if connection.dialect.name == "postgresql":
                clock = func.extract("epoch", func.statement_timestamp())
                later = func.greatest(table.c.next_slot, clock)
            else:
                clock = literal(time.time())
                later = func.max(table.c.next_slot, clock)
            taking = (update(table).where(table.c.server == self._server)
                      .values(next_slot=later + span)
                      .returning(table.c.next_slot - span, clock))
            row = connection.execute(taking).first()
            if row is None:  # the first sender to this server
                self._add_row(connection)
                row = connection.execute(taking).one()
        first, database_now = float(row[0]), float(row[1])
        start = time.monotonic() + (first - database_now)
        return [start + n * self._interval for n in range(self._block)]

    def _add_row(self, connection: Connection) -> None:
        dialect_insert = postgresql_insert if connection.dialect.name == "postgresql" else sqlite_insert
        connection.execute(dialect_insert(_TABLE)
                           .values(server=self._server, next_slot=0.0).on_conflict_do_nothing())
