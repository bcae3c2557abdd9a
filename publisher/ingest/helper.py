"""A large file's entries read and prepared in a second process, a chunk ahead of the one that
stores them: on two cores reading, tagging and slugging 100,000 releases overlaps with writing
them (benchmarks/imports.py). The pipe holds at most about a chunk, so neither process holds
the file."""

from __future__ import annotations

import logging
import multiprocessing
import signal
import traceback
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from zoneinfo import ZoneInfo

from publisher.errors import PublisherError
from publisher.ingest.prepare import Chunk, prepared_chunks
from publisher.ingest.read import LINE_PARSERS, detect_format, read_entries
from publisher.ingest.tagging import Tagger
from publisher.logs import json_line, line_in_use, setup_logging

# Below this a helper costs more than it saves: starting one takes a quarter of a second, the
# time to import some 5,000 releases.
HELPER_FROM_BYTES = 2_000_000


class HelperStopped(PublisherError):
    """The helper process ended without saying why (killed, or out of memory)."""


def worth_a_helper(location: str, fmt: str | None, size: int, threshold: int = HELPER_FROM_BYTES) -> bool:
    """Whether a local file is read line by line (listings, CSV) and large enough."""
    return (fmt or detect_format(location)) in LINE_PARSERS and size >= threshold


def chunks_from_helper(location: str, fmt: str | None, zone: ZoneInfo, tagger: Tagger,
                       progress: Callable[[int], None] | None = None) -> Iterator[Chunk]:
    """The file's prepared chunks, as `prepared_chunks(read_entries(...))` gives them here, and
    its errors raised here. Stopping early (an error while storing) stops the helper."""
    context = multiprocessing.get_context("spawn")  # no fork: the caller may run threads
    receiving, sending = context.Pipe(duplex=False)
    logs = ("json" if line_in_use() is json_line else "text", logging.getLogger().level)  # as this process logs
    helper = context.Process(target=_prepare, args=(sending, location, fmt, zone, tagger, logs),
                             name="publisher-import-helper", daemon=True)
    helper.start()
    sending.close()  # the helper's end: when it exits, recv() here sees the end of the pipe
    try:
        while True:
            kind, value, read = _received(receiving, helper, location)
            if progress and read:
                progress(read)
            if kind == "done":
                return
            if isinstance(value, BaseException):
                raise value
            assert isinstance(value, Chunk)
            yield value
    finally:
        receiving.close()
        helper.join(timeout=5)
        if helper.is_alive():  # stopped early: it may be waiting to send the next chunk
            helper.terminate()
            helper.join()


def _received(receiving: Connection, helper: multiprocessing.process.BaseProcess,
              location: str) -> tuple[str, object, int]:
    try:
        return receiving.recv()  # type: ignore[no-any-return]
    except EOFError:
        helper.join()
        raise HelperStopped(f"{location}: the process reading it stopped (exit code "
                            f"{helper.exitcode}); nothing was imported") from None


def _prepare(sending: Connection, location: str, fmt: str | None, zone: ZoneInfo, tagger: Tagger,
             logs: tuple[str, int]) -> None:
    """In the helper: send ("chunk", Chunk, bytes read) as each is ready, then ("done", ...),
    or ("error", the PublisherError, ...). Its warnings are logged as the importer's are."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the importer's to handle: it stops us
    log_format, level = logs
    setup_logging(level == logging.DEBUG, log_format)
    read = 0

    def count(size: int) -> None:
        nonlocal read
        read += size

    def send(kind: str, value: object) -> None:
        nonlocal read
        sending.send((kind, value, read))
        read = 0

    try:
        for chunk in prepared_chunks(read_entries(location, fmt, zone, count), tagger, location):
            send("chunk", chunk)
        send("done", None)
    except BrokenPipeError:
        return  # the importer stopped reading
    except PublisherError as exc:
        send("error", exc)
    except Exception:  # noqa: BLE001 (a bug: the importer reports it, with this process's traceback)
        send("error", RuntimeError(f"reading {Path(location).name} failed:\n{traceback.format_exc()}"))
    finally:
        sending.close()
