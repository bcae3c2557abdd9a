"""What a served app writes as it answers (counted clicks, access-log lines), handed to a process
of its own (`publisher/web/scribe.py`) that writes it: `publisher serve` and `publisher run`.

Written in the server's process, it took the server's own time: the store's inserts, the keyed
hashes and the log lines ran under its one interpreter lock, between the answers (measured, 0.53x
a bare redirect's rate, 0.71x with nothing written; benchmarks/clicks.py). The writing process
runs on another core. The database's URL crosses a pipe first, pickled with the log's line format;
then each batch, as marshal data (plain tuples: a third of a pickle's cost), each with its length
before it. The process stops when the pipe closes: after the last batch when the server stops, and when the server is
killed too, writing what it was handed first; so a kill -9 loses only what the server held (at
most `HAND_OVER` seconds of it). Should the process be gone, the server writes for itself.
"""

from __future__ import annotations

import contextlib
import logging
import marshal
import pickle
import struct
import subprocess
import sys
import threading
from collections.abc import Callable
from types import TracebackType
from typing import IO, Any, BinaryIO, TypeVar, cast

from publisher.logs import Line

log = logging.getLogger(__name__)

HAND_OVER = 0.2  # seconds between batches handed to the writing process
_STOPPING = 120.0  # seconds the writing process is given to write the last of it
_FRAME = struct.Struct("!I")

T = TypeVar("T")


class Offload:
    """The writing process of one served app: started with it, closed after it."""

    def __init__(self, database_url: str, line: Line) -> None:
        self._process = subprocess.Popen([sys.executable, "-m", "publisher.web.scribe"],
                                         stdin=subprocess.PIPE, start_new_session=True)
        assert self._process.stdin is not None
        self._pipe: IO[bytes] = self._process.stdin
        self._lock = threading.Lock()  # one batch at a time: each drain hands over from its own thread
        self._gone = False
        self._write(pickle.dumps((database_url, line), pickle.HIGHEST_PROTOCOL))

    def writer(self, kind: str, here: Callable[[list[T]], None]) -> Callable[[list[T]], None]:
        """A drain's write: the batch handed to the writing process (`kind` names its writer
        there); written `here`, in this process, once that process is gone."""
        def hand_over(batch: list[T]) -> None:
            if not self._write(marshal.dumps((kind, batch))):
                here(batch)

        return hand_over

    def _write(self, data: bytes) -> bool:
        with self._lock:
            if self._gone:
                return False
            try:
                self._pipe.write(_FRAME.pack(len(data)) + data)
                self._pipe.flush()
            except (OSError, ValueError):  # it ended (or was ended): this process writes from now on
                self._gone = True
                log.error("the writing process of the web server has ended (exit status %s); the server "
                          "writes its clicks and access log itself from now on", self._process.poll())
                return False
        return True

    def close(self) -> None:
        """After the app's last batch: the writing process writes the rest and ends."""
        with self._lock:
            self._gone = True
            with contextlib.suppress(OSError):  # it ended already: nothing left to hand over
                self._pipe.close()
        try:
            self._process.wait(_STOPPING)
        except subprocess.TimeoutExpired:
            log.error("the writing process of the web server did not end within %.0f s; stopped", _STOPPING)
            self._process.kill()

    def __enter__(self) -> Offload:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()


def read_start(source: BinaryIO) -> tuple[str, Line] | None:
    """The first frame: the database's URL (its password, from the environment, included: a
    pipe, not the command line) and the log's line format."""
    data = _read(source)
    return None if data is None else cast(tuple[str, Line], pickle.loads(data))


def read_batch(source: BinaryIO) -> tuple[str, list[Any]] | None:
    """The next batch from the pipe and the name of its writer; None when the pipe is closed (a
    frame cut short by a killed server included: what it held is lost with it)."""
    data = _read(source)
    return None if data is None else cast(tuple[str, list[Any]], marshal.loads(data))


def _read(source: BinaryIO) -> bytes | None:
    head = source.read(_FRAME.size)
    if len(head) < _FRAME.size:
        return None
    (size,) = _FRAME.unpack(head)
    data = source.read(size)
    return data if len(data) == size else None
