"""How `publisher serve` and `publisher run` start uvicorn: logging through ours, no Server header, the fastest
parser and event loop, and the forwarded headers believed only from the proxies the config names
(web.trusted_proxies)."""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp

from publisher.config import Web
from publisher.web.accesslog import AccessLog


def served_app(app: ASGIApp, web: Web) -> ASGIApp:
    """The app as `serve` and `run` serve it: with the access log when web.access_log is on."""
    return AccessLog(app) if web.access_log else app


def server_options(web: Web) -> dict[str, Any]:
    # httptools and uvloop: measured 3-4x h11 and asyncio for a feed (benchmarks/web.py).
    # Its loggers go through publisher's (publisher/logs.py): time-stamped lines, text or JSON,
    # and at INFO its start-up line with the address. The access log is ours (web/accesslog.py).
    return {"log_config": None, "log_level": "info" if web.access_log else "warning",
            "access_log": False, "server_header": False, "http": "httptools", "loop": "uvloop",
            "proxy_headers": bool(web.trusted_proxies),
            "forwarded_allow_ips": list(web.trusted_proxies) or None}
