"""What a request notes on its way (an access-log line, a click), written in batches by a thread of
its own every few seconds, and what is left when the server stops: the request only appends."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.types import Message, Send

T = TypeVar("T")


class Drain(Generic[T]):
    """Items added from the event loop, handed to `write` as one list every `every` seconds by a
    thread started with the first item, and at `stop`."""

    def __init__(self, write: Callable[[list[T]], None], every: float, name: str) -> None:
        self._write, self._every, self._name = write, every, name
        self.items: deque[T] = deque()  # appends and pops are atomic: no lock on a request's way
        self._lock = threading.Lock()  # one batch written at a time
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, item: T) -> None:
        self.items.append(item)
        if self._thread is None:
            self.start()

    def start(self) -> None:
        """The thread started, if it is not (for those who append to `items` themselves)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._drain_forever, name=self._name, daemon=True)
            self._thread.start()

    def _drain_forever(self) -> None:
        while not self._stopped.wait(self._every):
            self.flush()

    def flush(self) -> None:
        with self._lock:
            batch = [self.items.popleft() for _ in range(len(self.items))]
            if batch:
                self._write(batch)

    def stop(self) -> None:
        self._stopped.set()
        self.flush()


def on_shutdown(send: Send, action: Callable[[], None]) -> Send:
    """`send`, running `action` (in a worker thread) just before the server's lifespan shutdown
    completes: the last of what a drain holds is written before the process ends."""
    async def sending(message: Message) -> None:
        if message["type"] == "lifespan.shutdown.complete":
            await run_in_threadpool(action)
        await send(message)

    return sending
