"""What a feed holds, as plain data: building a feed needs no database and no files."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

# XML 1.0 allows tab, newline, carriage return, U+0020-D7FF, U+E000-FFFD and U+10000-10FFFF;
# anything else cannot be written. Spelled as what it forbids: the same set, and a tenth of the
# negated class's compiling at each command's start (6 ms).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_safe(text: str) -> str:
    """The text without the characters XML 1.0 forbids (most C0 controls, lone surrogates)."""
    return _NOT_XML.sub("", text)


def one_line(text: str) -> str:
    """A title is one line of plain text: forbidden characters gone, white space collapsed."""
    return " ".join(xml_safe(text).split())


def trimmed(text: str) -> str:
    """A summary keeps its line breaks; forbidden characters go, and the ends are trimmed."""
    return xml_safe(text).strip()


@dataclass(frozen=True)
class Link:
    href: str
    rel: str
    type: str | None = None
    title: str | None = None


@dataclass(frozen=True)
class FeedItem:
    id: str  # the release's permanent tag: URI
    title: str
    link: str
    published: datetime
    updated: datetime
    summary: str = ""
    image_url: str | None = None
    image_type: str | None = None
    image_credit: str | None = None
    category: str | None = None
    countries: tuple[str, ...] = ()  # its countries' codes (ISO 3166-1 alpha-2)
    content_html: str | None = None  # the release's full text, cleaned when it was imported


# The scheme of a category that is a country's code: a feed reader, and our own import, can tell
# it from a category of words (ingest/feed.py reads it back).
COUNTRY_SCHEME = "https://www.iso.org/iso-3166-country-codes.html"


@dataclass(frozen=True)
class FeedMeta:
    """A feed's own fields. `self_url` is where this very file is served."""

    code: str  # "cn", "mn", "all"
    title: str
    subtitle: str
    self_url: str
    site_url: str
    language: str
    author: str
    updated: datetime
    icon: str | None = None
    logo: str | None = None
    hub: str | None = None
    links: tuple[Link, ...] = field(default=())  # archive navigation (RFC 5005)
    is_archive: bool = False
