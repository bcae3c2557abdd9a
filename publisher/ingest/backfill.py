"""A feed's older entries, for a first import (`publisher import URL --backfill`): the documents
it names as holding them (RFC 5005 archived feeds' `prev-archive`, paged feeds' `next`, a JSON
Feed's `next_url`) fetched one after another before anything is stored, each as a source is
fetched (its time and size limits), at most MAX_PAGES of them and MAX_BYTES in all, never one
twice. An entry found on several pages is taken from the first, the newest."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from publisher.ingest.entry import Entry
from publisher.ingest.feed import older_pages

log = logging.getLogger(__name__)

MAX_PAGES = 100  # besides the first
MAX_BYTES = 100_000_000


@dataclass
class Pages:
    """The documents of a feed, the first and those it led to, in the order they were read."""
    documents: list[tuple[str, str]] = field(default_factory=list)  # (address, text)
    stopped: str = ""  # why more were not followed, when a limit was reached

    @property
    def older(self) -> int:
        return max(len(self.documents) - 1, 0)


def follow(url: str, text: str, fetch_text: Callable[[str], str],
           max_pages: int = MAX_PAGES, max_bytes: int = MAX_BYTES) -> Pages:
    """The first document and every older one it leads to, within the limits."""
    pages = Pages([(url, text)])
    seen, size = {url}, len(text)
    for address, document in pages.documents:  # (grows as it goes: each page's links in turn)
        for older in older_pages(document, address):
            if older in seen:
                continue
            if pages.older >= max_pages or size >= max_bytes:
                pages.stopped = (f"stopped after {pages.older} older pages ({size:,} characters): "
                                 f"{older} and any after it were not read")
                log.warning("%s: %s", url, pages.stopped)
                return pages
            seen.add(older)
            fetched = fetch_text(older)
            size += len(fetched)
            pages.documents.append((older, fetched))
    return pages


def entries_of(pages: Pages, parse: Callable[[str, str], Iterator[Entry]]) -> Iterator[Entry]:
    """Every page's entries (each parsed with its own address, for messages), each once."""
    seen: set[str] = set()
    for address, text in pages.documents:
        for entry in parse(text, address):
            if entry.source_key not in seen:
                seen.add(entry.source_key)
                yield entry
