"""How `publisher serve` and `publisher run` serve the app: what it writes written by a process of its
own (web/offload.py), and uvicorn started with logging through ours, no Server header, the fastest
parser and event loop, and the forwarded headers believed only from the proxies the config names
(web.trusted_proxies)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from starlette.types import ASGIApp

from publisher.config import Config, Web
from publisher.logs import line_in_use
from publisher.store.db import database_url
from publisher.web.offload import Offload


@contextmanager
def served_app(config: Config, sessions: sessionmaker[Session]) -> Iterator[ASGIApp]:
    """The app as `serve` and `run` serve it, with the access log when web.access_log is on; its
    writing process ends after it (when the server has stopped: its last batches written)."""
    from publisher.web.app import create_app  # FastAPI and the routes: for the commands that serve only

    with Offload(database_url(config), line_in_use()) as offload:
        yield create_app(config, sessions, offload=offload, access_log=config.web.access_log)


def settle_heap() -> None:
    """Once the app is made, before serving: what start-up made (the app and its routes, the
    libraries' caches; most of the heap, all of it long-lived) is set aside from the cyclic garbage
    collector, which then runs less often. A request's own objects die young, but the clicks and
    access-log lines held for their next write (up to a second's) pushed the collector into full
    passes over the whole heap, each stalling every answer for tens of milliseconds (measured: 25%
    more counted-link redirects a second, benchmarks/clicks.py). The writing process (web/scribe.py)
    does the same once it has loaded the store's libraries: a second's clicks made thousands of
    tuples, and the collector's passes over those libraries were a sixth of its CPU."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)


def server_options(web: Web) -> dict[str, Any]:
    # httptools and uvloop: measured 3-4x h11 and asyncio for a feed (benchmarks/web.py).
    # Its loggers go through publisher's (publisher/logs.py): time-stamped lines, text or JSON,
    # and at INFO its start-up line with the address. The access log is ours (web/accesslog.py).
    # No WebSocket route: no WebSocket library loaded either (where one is installed, uvicorn's
    # "auto" loaded it into every server, 20 ms of its start).
    return {"log_config": None, "log_level": "info" if web.access_log else "warning",
            "access_log": False, "server_header": False, "http": "httptools", "loop": "uvloop", "ws": "none",
            "proxy_headers": bool(web.trusted_proxies),
            "forwarded_allow_ips": list(web.trusted_proxies) or None}
