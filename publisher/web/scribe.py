"""The writing process of a served app (`python -m publisher.web.scribe`, started by
web/offload.py): reads the config, then batches of clicks and access-log lines from its stdin,
and writes them (the clicks to the store every second, the lines to stderr as they come) until
the pipe closes; then it writes the rest and ends.

It ignores SIGTERM and SIGINT: a service manager that stops the whole group, or a Ctrl-C, ends the
server, whose pipe then closes; ended first, this process would lose what it holds."""

import signal

signal.signal(signal.SIGTERM, signal.SIG_IGN)  # before the imports below, which take a moment
signal.signal(signal.SIGINT, signal.SIG_IGN)

import os  # noqa: E402

os.nice(10)  # writing may lag a moment behind; answering may not: the server comes first for a core

import sys  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

from sqlalchemy.orm import sessionmaker  # noqa: E402

from publisher.logs import json_line, setup_logging  # noqa: E402
from publisher.store.db import database_url, make_engine  # noqa: E402
from publisher.web.accesslog import write_lines  # noqa: E402
from publisher.web.clicks import ClickRecorder  # noqa: E402
from publisher.web.offload import read_batch, read_config  # noqa: E402


def main() -> None:
    source = sys.stdin.buffer
    first = read_config(source)
    if first is None:
        return
    config, line = first
    setup_logging(fmt="json" if line is json_line else "text")
    recorder = ClickRecorder(sessionmaker(make_engine(database_url(config)), expire_on_commit=False))
    writers: dict[str, Callable[[list[Any]], None]] = {
        "clicks": recorder.note_all, "access": lambda batch: write_lines(line, batch)}
    try:
        while (frame := read_batch(source)) is not None:
            kind, batch = frame
            writers[kind](batch)
    finally:
        recorder.stop()


if __name__ == "__main__":
    main()
