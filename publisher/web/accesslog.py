"""The access log of `publisher serve` and `publisher run` (web.access_log): a line per request, as
uvicorn's own reads (`127.0.0.1:50000 - "GET /feeds/all.atom HTTP/1.1" 200`), in the process's log
format, made without `logging`.

uvicorn's access log made a LogRecord per request (finding its caller on the stack, formatting,
quoting the path): measured, a quarter of a feed poll's rate (benchmarks/web.py). Here a request
only notes its parts; a thread turns them into lines and writes them a few times a second, and
whatever is left when the server stops."""

from __future__ import annotations

import functools
import sys
import time
import urllib.parse
from typing import Any

from starlette.types import Message, Scope, Send

from publisher.logs import Line, line_in_use
from publisher.urls import CLICK_PATH
from publisher.web.drains import Drain
from publisher.web.offload import Offload

_LOGGER = "uvicorn.access"  # the name uvicorn's own lines carried: a log collector's filters stay true
_EVERY = 0.2  # seconds between writes

# client, method, path, query string, HTTP version, status
_Noted = tuple[float, Any, str, str, bytes, str, int]


class AccessLog:
    """The lines of the answers web/front.py notes: one it gives itself when it has given it,
    the app's when its response starts (as uvicorn did)."""

    def __init__(self, line: Line | None = None, offload: Offload | None = None) -> None:
        self.line = line or line_in_use()
        self.drain: Drain[_Noted] = Drain(offload.writer("access", self._write) if offload else self._write,
                                          _EVERY, "access-log")
        self.drain.start()  # a served app's: its requests come next
        self._add = self.drain.items.append  # an append, on every request's way

    def note(self, scope: Scope, status: int) -> None:
        self._add((time.time(), *_request(scope), status))

    def noting(self, scope: Scope, send: Send) -> Send:
        """`send`, noting the status of the response it starts."""
        note, request = self._add, _request(scope)  # the request as it came: routing changes the scope

        async def noting(message: Message) -> None:
            if message["type"] == "http.response.start":
                note((time.time(), *request, message["status"]))
            await send(message)

        return noting

    def stop(self) -> None:
        self.drain.stop()

    def _write(self, noted: list[_Noted]) -> None:
        write_lines(self.line, noted)


def _request(scope: Scope) -> tuple[Any, str, str, bytes, str]:
    return (scope.get("client"), scope["method"], scope.get("root_path", "") + scope["path"], scope["query_string"],
            scope["http_version"])


def write_lines(line: Line, noted: list[_Noted]) -> None:
    stream = sys.stderr  # whatever it is now (a test runner may swap it)
    stream.write("".join(line(created, "INFO", _LOGGER, _message(*rest)) + "\n" for created, *rest in noted))
    stream.flush()


def _message(client: Any, method: str, path: str, query: bytes, version: str, status: int) -> str:
    where = f"{client[0]}:{client[1]}" if client else ""
    if path.startswith(CLICK_PATH):  # a counted link: its message's random value is nobody's business
        path = ".".join(path.split(".")[:3])
    return f'{where} - "{method} {_target(path, query)} HTTP/{version}" {status}'


@functools.lru_cache(maxsize=1024)  # a few paths are most requests: the feeds, an edition's links
def _target(path: str, query: bytes) -> str:
    return urllib.parse.quote(path) + ("?" + query.decode("ascii") if query else "")
