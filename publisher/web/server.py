"""How `publisher serve` and `publisher run` start uvicorn: logging through ours, no Server header, the fastest
parser and event loop, and the forwarded headers believed only from the proxies the config names
(web.trusted_proxies)."""

from __future__ import annotations

from typing import Any

from publisher.config import Web


def server_options(web: Web) -> dict[str, Any]:
    # httptools and uvloop: measured 3-4x h11 and asyncio for a feed (benchmarks/web.py).
    # Its loggers go through publisher's (publisher/logs.py): time-stamped lines, text or JSON,
    # and at INFO its start-up line with the address, and the access log (web.access_log).
    return {"log_config": None, "log_level": "info" if web.access_log else "warning",
            "access_log": web.access_log, "server_header": False, "http": "httptools", "loop": "uvloop",
            "proxy_headers": bool(web.trusted_proxies),
            "forwarded_allow_ips": list(web.trusted_proxies) or None}
