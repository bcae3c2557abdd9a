"""How every process logs: one line per event on stderr, each with its time (UTC, ISO 8601, to
the millisecond), as text for people or as JSON for a log collector (`--log-format json`).
uvicorn's own loggers (start-up, access log) go through the same handler."""

from __future__ import annotations

import functools
import json
import logging
import sys
from collections.abc import Callable
from datetime import UTC, datetime

FORMATS = ("text", "json")
# Libraries that say too much at INFO; -v shows them.
_CHATTY = ("alembic", "apscheduler", "httpx", "flufl.bounce")  # flufl.bounce: a line per detector tried


# uvicorn's general logger is named "uvicorn.error" (for its history), though it says mostly that
# the server started and stopped: an operator reading "INFO uvicorn.error: Uvicorn running on ..."
# looked for the error. Its lines carry the name "uvicorn".
_SHOWN_AS = {"uvicorn.error": "uvicorn"}


# A line from its parts: the formatters below use these, and so does a writer that makes its lines
# without a LogRecord (web/accesslog.py), in the same format.
Line = Callable[[float, str, str, str], str]


def text_line(created: float, level: str, name: str, message: str) -> str:
    message = " ".join(message.splitlines())  # one event, one line
    return f"{_time(created)} {level} {name}: {message}"


def json_line(created: float, level: str, name: str, message: str) -> str:
    return json.dumps(_entry(created, level, name, message), ensure_ascii=False)


def _entry(created: float, level: str, name: str, message: str) -> dict[str, str]:
    return {"time": _time(created), "level": level, "logger": name, "message": message}


class _TextFormatter(logging.Formatter):
    line: Line = staticmethod(text_line)

    def format(self, record: logging.LogRecord) -> str:
        line = text_line(record.created, record.levelname, _name(record), record.getMessage())
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class _JsonFormatter(logging.Formatter):
    line: Line = staticmethod(json_line)

    def format(self, record: logging.LogRecord) -> str:
        entry = _entry(record.created, record.levelname, _name(record), record.getMessage())
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def _name(record: logging.LogRecord) -> str:
    return _SHOWN_AS.get(record.name, record.name)


def _time(created: float) -> str:
    """ISO 8601 in UTC to the millisecond (truncated, as isoformat does)."""
    whole = int(created)
    return f"{_second(whole)}.{int((created - whole) * 1000):03d}Z"


@functools.lru_cache(maxsize=8)  # an access log writes many lines a second: each second made once
def _second(whole: int) -> str:
    return datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%dT%H:%M:%S")


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is when a record comes (a test runner may swap it)."""

    @property
    def stream(self) -> object:
        return sys.stderr

    @stream.setter
    def stream(self, _value: object) -> None:
        pass


def setup_logging(verbose: bool = False, fmt: str = "text") -> None:
    """The root logger's handler (replacing one set up before; others, such as a test runner's,
    stay), and the levels: INFO, DEBUG with -v."""
    handler = _StderrHandler()
    handler.setFormatter(_JsonFormatter() if fmt == "json" else _TextFormatter())
    remove_handlers()
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):  # through the handler above
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    for chatty in _CHATTY:
        logging.getLogger(chatty).setLevel(logging.DEBUG if verbose else logging.WARNING)


def line_in_use() -> Line:
    """How publisher's handler writes a line (text or JSON, as set up); text when none is set up."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, _StderrHandler) and isinstance(handler.formatter, _JsonFormatter | _TextFormatter):
            return handler.formatter.line
    return text_line


def remove_handlers() -> None:
    """Take publisher's handler off the root logger (others, such as a test runner's, stay)."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _StderrHandler)]:
        root.removeHandler(old)
