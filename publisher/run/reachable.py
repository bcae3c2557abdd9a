"""Whether `site.base_url` answers: every link in feeds and mail leads there, so a base_url
that nothing serves is worth a warning at start-up (not an error: the proxy in front may simply
start later)."""

from __future__ import annotations

import logging
import threading
import time
import urllib.error
import urllib.request

from publisher.urls import HEALTH_PATH

log = logging.getLogger(__name__)


def answers(base_url: str, timeout: float) -> str | None:
    """None when `{base_url}/healthz` answers 200; else why not, in a few words."""
    try:
        with urllib.request.urlopen(base_url + HEALTH_PATH, timeout=timeout) as response:
            return None if response.status == 200 else f"HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}"
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        return str(getattr(exc, "reason", exc))


def warn_unless_served(base_url: str, *, within: float = 10.0) -> threading.Thread:
    """In the background: look until `within` seconds have passed (a server starting beside
    this one needs a moment), then warn once if base_url never answered."""
    def look() -> None:
        deadline = time.monotonic() + within
        while (why := answers(base_url, timeout=min(5.0, within))) is not None:
            if time.monotonic() >= deadline:
                log.warning("site.base_url %s does not answer (%s): the links in feeds and mail "
                            "lead there; serve it (web.enabled, or `publisher serve` behind a "
                            "proxy) or set site.base_url to where the service is served",
                            base_url, why)
                return
            time.sleep(min(0.5, within / 4))

    thread = threading.Thread(target=look, name="base-url-check", daemon=True)
    thread.start()
    return thread
