"""What every importer's entries must be before anything is stored, whatever parser read them:
dates in a range every later step can compute with, links a reader can follow (http(s) only),
text without control characters. A parser may accept more; this is the last word, so nothing
an import stores can break a feed build, a page or a digest later."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

from publisher.errors import InputError
from publisher.ingest.entry import Entry

EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)  # far enough; and time-zone arithmetic stays in range
MAX_URL = 500  # characters: a release is recognised by its URL, and that key has to fit
_ANY_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_BUT_LINES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # tab, LF and CR allowed
_NO_CHARACTER = re.compile("[\ud800-\udfff]")
_ONE_LINE = ("title", "image_credit", "category", "guid")
_TEXT = ("summary", "body_html")
_LINKS = ("url", "image_url")


def checked(entries: Iterable[Entry], source: str) -> Iterator[Entry]:
    """`entries`, each as it comes, or InputError naming the file, the entry and what is wrong."""
    for entry in entries:
        problem = entry_problem(entry)
        if problem is not None:
            raise InputError(source, entry.where, problem)
        yield entry


def entry_problem(entry: Entry) -> str | None:
    if not EARLIEST <= entry.published < LATEST:
        return (f"published: {entry.published.date().isoformat()} is not a date between "
                f"{EARLIEST.year} and {LATEST.year - 1}")
    if entry.ends is not None and not entry.published.date() < entry.ends < LATEST.date():
        return f"ends: {entry.ends.isoformat()} is not a day after the first, {entry.published.date().isoformat()}"
    for name in _ONE_LINE + _TEXT + _LINKS:
        value = getattr(entry, name)
        if value and (found := _NO_CHARACTER.search(value)):  # JSON's "\ud800": no UTF-8 holds it
            return f"{name}: holds U+{ord(found.group()):04X}, half of a surrogate pair, which is no character"
    for name in _ONE_LINE + _TEXT:
        value = getattr(entry, name)
        pattern = _ANY_CONTROL if name in _ONE_LINE else _CONTROL_BUT_LINES
        if value and (found := pattern.search(value)):
            return f"{name}: holds the control character U+{ord(found.group()):04X}"
    for name in _LINKS:
        problem = link_problem(getattr(entry, name))
        if problem:
            return f"{name}: {problem}"
    if entry.guid is not None and len(entry.guid) > MAX_URL:
        return f"id: at most {MAX_URL} characters, got {len(entry.guid)}"
    return None


def link_problem(url: str | None) -> str | None:
    """Why `url` is no link to store (None: it is one, or there is none)."""
    if url is None:
        return None
    scheme, _, rest = url.partition("://")
    if scheme.lower() not in ("http", "https") or not rest or rest.startswith("/"):
        return f"expected an absolute http(s) URL, got {url[:100]!r}"
    if _ANY_CONTROL.search(url) or any(c.isspace() for c in url):
        return f"a URL holds no spaces or control characters, got {url[:100]!r}"
    if len(url) > MAX_URL:
        return f"at most {MAX_URL} characters, got {len(url)}"
    return None
