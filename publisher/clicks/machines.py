"""Clicks that are not a reader's: a HEAD request, a known crawler (the maintained list of
`crawlerdetect`), or a message whose links were all followed within seconds of each other (mail
security scanners follow every link of a message as it arrives)."""

from __future__ import annotations

import functools
from datetime import timedelta
from typing import Any

HEAD = "head"
CRAWLER = "crawler"
# A message's every link followed within this long of its first click: a machine.
BURST_WITHIN = timedelta(seconds=2)


def set_aside(method: str, user_agent: str) -> str:
    """Why a click is not a reader's, as far as its request tells; empty when it may be one."""
    if method == "HEAD":
        return HEAD
    return CRAWLER if _is_crawler(user_agent) else ""


@functools.lru_cache(maxsize=4096)  # readers' browsers send a few hundred distinct values
def _is_crawler(user_agent: str) -> bool:
    return bool(not user_agent.strip() or _detector().isCrawler(user_agent))


@functools.cache
def _detector() -> Any:
    from crawlerdetect import CrawlerDetect  # its patterns compile in ~20 ms: on first use only

    return CrawlerDetect()
