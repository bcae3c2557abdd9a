"""`kill -USR1 PID`: every thread's stack to the log, for the processes that run long."""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import threading
import traceback

log = logging.getLogger("publisher")


def dump_threads_on_request() -> None:
    """`kill -USR1 PID` writes every thread's stack to the log: what a process that does not
    stop is waiting for. Written by Python, from a thread of its own, not by faulthandler: its
    dump reads the other threads' frames from inside the signal handler while they change, and
    a process starting and ending threads (as a send does) died of it with SIGSEGV (CPython
    gh-116008; fixed in 3.15 only)."""
    def on_signal(_signum: int, _frame: object) -> None:
        with contextlib.suppress(RuntimeError):  # (the process is exiting: no thread starts, and none is asked about)
            threading.Thread(target=_log_stacks, name="stacks", daemon=True).start()

    with contextlib.suppress(ValueError):  # (not the main thread: a command run in-process)
        signal.signal(signal.SIGUSR1, on_signal)


def _log_stacks() -> None:
    names = {thread.ident: thread.name for thread in threading.enumerate()}
    here = threading.get_ident()
    stacks = [f'Thread {ident:#x} "{names.get(ident, "?")}" (most recent call last):\n'
              + "".join(traceback.format_stack(frame))
              for ident, frame in sys._current_frames().items() if ident != here]
    log.warning("the stack of every thread (kill -USR1):\n%s", "\n".join(stacks).rstrip())
