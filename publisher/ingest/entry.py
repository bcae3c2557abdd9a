"""What every importer produces: one release as the input described it, before it is stored."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property


@dataclass(frozen=True)
class Entry:
    title: str
    published: datetime  # timezone-aware
    summary: str = ""
    url: str | None = None
    countries: tuple[str, ...] | None = None  # None: the tagging rules decide
    image_url: str | None = None
    image_credit: str | None = None
    category: str | None = None  # a kicker line, such as the report or campaign it belongs to
    body_html: str | None = None
    where: str = ""  # "line 12" or "record 3", for messages about this entry

    @cached_property  # asked for several times per entry by an import
    def source_key(self) -> str:
        """How a later import recognises the same release: its URL, else date and title."""
        if self.url:
            return "url:" + self.url
        return f"title:{self.published.date().isoformat()}:{normalize_title(self.title)}"


def normalize_space(text: str) -> str:
    return " ".join(text.split())  # str.split's whitespace is the same as the regex \s


def normalize_title(title: str) -> str:
    return normalize_space(unicodedata.normalize("NFKC", title)).casefold()
