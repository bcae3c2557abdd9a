"""Reads an input file (or the bundled sample) in the format its name or the caller says."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from publisher.bundled import BUNDLED_PREFIX
from publisher.errors import InputError
from publisher.ingest.checks import checked
from publisher.ingest.entry import Entry
from publisher.ingest.feed import is_json_feed, parse_feed
from publisher.ingest.html_page import parse_html_page
from publisher.ingest.listing import listing_entries, parse_listing
from publisher.ingest.tabular import csv_entries, parse_csv, parse_json

Parser = Callable[[str, str, ZoneInfo], Iterable[Entry]]
PARSERS: dict[str, Parser] = {"listing": parse_listing, "json": parse_json, "csv": parse_csv,
                              "html": parse_html_page, "feed": parse_feed}
# Formats read line by line as a file streams by: memory stays flat in the file's size. (JSON
# and HTML pages are read whole; they are pages, not archives.)
LINE_PARSERS = {"listing": listing_entries, "csv": csv_entries}
_EXTENSIONS = {".txt": "listing", ".json": "json", ".csv": "csv", ".html": "html", ".htm": "html",
               ".xml": "feed", ".atom": "feed", ".rss": "feed", ".rdf": "feed"}
_CONTENT_TYPES = {"text/plain": "listing", "application/json": "json", "text/csv": "csv",
                  "text/html": "html", "application/xhtml+xml": "html", "application/atom+xml": "feed",
                  "application/rss+xml": "feed", "application/rdf+xml": "feed", "application/xml": "feed",
                  "text/xml": "feed", "application/feed+json": "feed"}


def detect_format(location: str, content_type: str = "") -> str:
    """From the file name (or URL path), else from the response's Content-Type."""
    suffix = Path(urlsplit(location).path if "://" in location else location).suffix.lower()
    if suffix in _EXTENSIONS:
        return _EXTENSIONS[suffix]
    if content_type in _CONTENT_TYPES:
        return _CONTENT_TYPES[content_type]
    raise InputError(location, "", "cannot tell the format from the name; "
                     f"use --format (or format = ...) {' or '.join(PARSERS)}")


def read_text(location: str) -> str:
    try:
        if location.startswith(BUNDLED_PREFIX):
            name = location.removeprefix(BUNDLED_PREFIX)
            return resources.files("publisher").joinpath("data", name).read_text("utf-8")
        return Path(location).read_text("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(location, f"byte {exc.start}", "not UTF-8 text") from None
    except OSError as exc:
        raise InputError(location, "", f"cannot read: {exc.strerror or exc}") from None


def read_entries(location: str, fmt: str | None, zone: ZoneInfo,
                 progress: Callable[[int], None] | None = None, now: datetime | None = None) -> Iterator[Entry]:
    """The entries of a file (or the bundled sample), checked, as they are read; `progress` is
    told the bytes read of a file read line by line; `now` dates a feed's undated entries."""
    fmt = fmt or detect_format(location)
    if fmt in LINE_PARSERS and not location.startswith(BUNDLED_PREFIX):
        return _guarded(checked(LINE_PARSERS[fmt](_lines(location, progress), location, zone), location), location)
    return parse(fmt, read_text(location), location, zone, now)


def parse(fmt: str, text: str, location: str, zone: ZoneInfo, now: datetime | None = None) -> Iterator[Entry]:
    """The entries of `text` in format `fmt`, checked; InputError naming `location` otherwise
    (also for documents too deep or numbers too long for the parser to hold). `now` dates a
    feed's undated entries (without it they are refused)."""
    return _guarded(checked(_parsed(fmt, text, location, zone, now), location), location)


def _parsed(fmt: str, text: str, location: str, zone: ZoneInfo, now: datetime | None) -> Iterator[Entry]:
    if fmt == "json" and is_json_feed(text):  # a .json file may be a JSON Feed: its version says so
        fmt = "feed"
    if fmt == "feed":
        yield from parse_feed(text, location, zone, now)
        return
    yield from PARSERS[fmt](text, location, zone)


def _guarded(entries: Iterable[Entry], location: str) -> Iterator[Entry]:
    try:
        yield from entries
    except RecursionError:
        raise InputError(location, "", "nested too deeply to read") from None
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        raise InputError(location, "", f"cannot be read: {exc}") from None


def _lines(location: str, progress: Callable[[int], None] | None) -> Iterator[str]:
    """A file's lines (with their ends) as they are read, each decoded on its own: a byte that
    is not UTF-8 is reported with its line."""
    try:
        with Path(location).open("rb") as file:
            for number, raw in enumerate(file, start=1):
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError:
                    raise InputError(location, f"line {number}", "not UTF-8 text") from None
                yield line.removeprefix("\ufeff") if number == 1 else line
                if progress:
                    progress(len(raw))
    except OSError as exc:
        raise InputError(location, "", f"cannot read: {exc.strerror or exc}") from None
