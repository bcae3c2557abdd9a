"""The writing process of a served app (`python -m publisher.web.scribe`, started by
web/offload.py): reads the database's URL and the log's line format, then batches of clicks and
access-log lines from its stdin, and writes them (the clicks to the store every second, the lines
to stderr as they come) until the pipe closes; then it writes the rest and ends.

It ignores SIGTERM and SIGINT: a service manager that stops the whole group, or a Ctrl-C, ends the
server, whose pipe then closes; ended first, this process would lose what it holds. It starts in
a tenth of a second: the store's libraries are loaded with the first click."""

import signal

signal.signal(signal.SIGTERM, signal.SIG_IGN)  # before the imports below, which take a moment
signal.signal(signal.SIGINT, signal.SIG_IGN)

import os  # noqa: E402

os.nice(10)  # writing may lag a moment behind; answering may not: the server comes first for a core

import sys  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

from publisher.logs import json_line, setup_logging  # noqa: E402
from publisher.web.accesslog import write_lines  # noqa: E402
from publisher.web.offload import read_batch, read_start  # noqa: E402


class Clicks:
    """The clicks' writer, made with the first of them."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.recorder: Any = None

    def note_all(self, batch: list[Any]) -> None:
        if self.recorder is None:
            from sqlalchemy.orm import sessionmaker

            from publisher.store.db import make_engine
            from publisher.web.recorder import ClickRecorder
            from publisher.web.server import settle_heap

            self.recorder = ClickRecorder(sessionmaker(make_engine(self.database_url), expire_on_commit=False))
            settle_heap()  # the store's libraries now loaded: as the server's own heap, set aside
        self.recorder.note_all(batch)

    def stop(self) -> None:
        if self.recorder is not None:
            self.recorder.stop()


def main() -> None:
    source = sys.stdin.buffer
    start = read_start(source)
    if start is None:
        return
    database_url, line = start
    setup_logging(fmt="json" if line is json_line else "text")
    clicks = Clicks(database_url)
    writers: dict[str, Callable[[list[Any]], None]] = {
        "clicks": clicks.note_all, "access": lambda batch: write_lines(line, batch)}
    try:
        while (frame := read_batch(source)) is not None:
            kind, batch = frame
            writers[kind](batch)
    finally:
        clicks.stop()


if __name__ == "__main__":
    main()
