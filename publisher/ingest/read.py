"""Reads an input file (or the bundled sample) in the format its name or the caller says."""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from publisher.config import BUNDLED_PREFIX
from publisher.config.model import INPUT_FORMATS
from publisher.errors import InputError
from publisher.ingest.checks import checked
from publisher.ingest.entry import Entry
from publisher.ingest.html_page import parse_html_page
from publisher.ingest.listing import parse_listing
from publisher.ingest.tabular import parse_csv, parse_json

PARSERS = {"listing": parse_listing, "json": parse_json, "csv": parse_csv, "html": parse_html_page}
assert set(PARSERS) == set(INPUT_FORMATS), "a parser for each format the config and the CLI offer"
_EXTENSIONS = {".txt": "listing", ".json": "json", ".csv": "csv", ".html": "html", ".htm": "html"}
_CONTENT_TYPES = {"text/plain": "listing", "application/json": "json", "text/csv": "csv",
                  "text/html": "html", "application/xhtml+xml": "html"}


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


def read_entries(location: str, fmt: str | None, zone: ZoneInfo) -> Sequence[Entry]:
    return parse(fmt or detect_format(location), read_text(location), location, zone)


def parse(fmt: str, text: str, location: str, zone: ZoneInfo) -> Sequence[Entry]:
    """The entries of `text` in format `fmt`, checked; InputError naming `location` otherwise
    (also for documents too deep or numbers too long for the parser to hold)."""
    try:
        return checked(PARSERS[fmt](text, location, zone), location)
    except RecursionError:
        raise InputError(location, "", "nested too deeply to read") from None
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        raise InputError(location, "", f"cannot be read: {exc}") from None
