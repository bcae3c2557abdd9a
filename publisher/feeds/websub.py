"""WebSub publish pings: tell the hub which feeds changed. Bounded in time, never fatal."""

from __future__ import annotations

import logging
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger(__name__)

PING_TIMEOUT = 5.0


def ping_hub(hub: str, urls: Sequence[str], timeout: float = PING_TIMEOUT) -> int:
    """POST `hub.mode=publish` for each URL, in parallel; returns how many the hub accepted.

    The build is already written when this runs; a hub that is slow or down costs at most
    `timeout` seconds and a log line.
    """
    if not urls:
        return 0
    with ThreadPoolExecutor(max_workers=min(8, len(urls))) as pool:
        accepted = list(pool.map(lambda url: _ping(hub, url, timeout), urls))
    return sum(accepted)


def _ping(hub: str, url: str, timeout: float) -> bool:
    body = urllib.parse.urlencode({"hub.mode": "publish", "hub.url": url}).encode()
    request = urllib.request.Request(hub, data=body, method="POST", headers={
        "Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status: int = response.status
            return 200 <= status < 300
    except (urllib.error.URLError, OSError, ValueError) as exc:
        log.warning("WebSub hub %s: ping for %s failed: %s", hub, url, exc)
        return False
