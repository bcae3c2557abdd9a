"""The `publisher` command: thin click commands, each calling one use case and printing one line."""

import contextlib
import gc
import logging
import os
import sys
import threading

from publisher.cli.app import cli  # each command's module is imported when it is used (app.COMMANDS)

__all__ = ["cli", "main"]


# A command loads some two thousand modules, and long-running ones hold a large heap of objects
# that live as long as they do: at Python's default (a young collection every 700 new objects)
# the collector ran hundreds of times over it while they were made, and found nothing to free.
GC_THRESHOLDS = (50_000, 20, 100)


def main() -> None:
    # Until the command's module is loaded (app.PublisherGroup.resolve_command) every object made
    # lives as long as the process: the collector is off while they are made, then they are set
    # aside from its passes.
    gc.disable()
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        cli(prog_name="publisher")
    except SystemExit as exc:
        _leave(exc)


def _leave(leaving: SystemExit) -> None:
    """Exit without the interpreter freeing every object one by one: with SQLAlchemy and
    pydantic loaded that takes 0.2 s, a quarter of a short command. The command has closed the
    store (App.close); logs and output are flushed first. A command that left threads running
    exits the usual way, which waits for them."""
    if any(thread.is_alive() and not thread.daemon for thread in threading.enumerate()
           if thread is not threading.main_thread()):
        raise leaving
    code = leaving.code
    if not isinstance(code, int):  # None (success) or a message for stderr, as sys.exit prints it
        if code is not None:
            print(code, file=sys.stderr)
        code = 0 if code is None else 1
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError):  # a reader that went away (| head): nothing more to tell
            stream.flush()
    os._exit(code)
