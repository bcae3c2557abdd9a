"""What every importer produces: one release as the input described it, before it is stored."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Generic, TypeVar, overload

T = TypeVar("T")


class once(Generic[T]):  # noqa: N801 (a decorator, named as functools' are)
    """functools.cached_property without the lock Python 3.11 takes on every first read (an
    import reads a few per entry: a tenth of its parsing time went to the lock). Not for objects
    shared between threads while the value is computed."""

    def __init__(self, compute: Callable[[Any], T]) -> None:
        self.compute, self.name = compute, compute.__name__

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> once[T]: ...

    @overload
    def __get__(self, instance: object, owner: type | None = None) -> T: ...

    def __get__(self, instance: object, owner: type | None = None) -> T | once[T]:
        if instance is None:
            return self
        value = self.compute(instance)
        instance.__dict__[self.name] = value  # from now on found before this descriptor
        return value


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
    ends: date | None = None  # the last day of an event of several days (published: its first)
    guid: str | None = None  # a feed entry's own id (Atom id, RSS guid, JSON Feed id)
    undated: bool = False  # its source gave no date: `published` is when it was first read
    categories: tuple[str, ...] = ()  # a feed entry's categories: one that names a country tags it

    @once  # asked for several times per entry by an import
    def source_key(self) -> str:
        """How a later import recognises the same release: a feed entry's id, else its URL, else
        date and title."""
        if self.guid:
            return "id:" + self.guid
        if self.url:
            return "url:" + self.url
        return f"title:{self.published.date().isoformat()}:{normalize_title(self.title)}"


def normalize_space(text: str) -> str:
    return " ".join(text.split())  # str.split's whitespace is the same as the regex \s


def normalize_title(title: str) -> str:
    return normalize_space(unicodedata.normalize("NFKC", title)).casefold()
