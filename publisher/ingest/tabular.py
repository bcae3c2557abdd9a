"""JSON (a list of objects) and CSV (a header row) with the same fields.

Fields: title and published are required; summary, url, countries, image_url, image_credit,
category, body_html and ends (the last day of a meeting of several days, `published` its first)
are optional. An unknown field is an error, so a misspelt column is not silently lost.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, tzinfo
from typing import Any

from publisher.csvfile import csv_records
from publisher.errors import InputError
from publisher.ingest.checks import link_problem
from publisher.ingest.dates import parse_day_month_year, parse_published
from publisher.ingest.entry import Entry, normalize_space

FIELDS = ("title", "published", "summary", "url", "countries", "image_url", "image_credit",
          "category", "body_html", "ends")
_REQUIRED = ("title", "published")


def parse_json(text: str, source: str, zone: tzinfo) -> list[Entry]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(source, f"line {exc.lineno}", f"not valid JSON: {exc.msg}") from None
    if not isinstance(data, list):
        raise InputError(source, "", "expected a JSON list of release objects")
    entries = []
    for number, record in enumerate(data, start=1):
        where = f"record {number}"
        if not isinstance(record, dict):
            raise InputError(source, where, f"expected an object, got {type(record).__name__}")
        entries.append(_entry(record, source, where, zone))
    return entries


def parse_csv(text: str, source: str, zone: tzinfo) -> list[Entry]:
    return list(csv_entries(io.StringIO(text, newline=""), source, zone))


def csv_entries(lines: Iterable[str], source: str, zone: tzinfo) -> Iterator[Entry]:
    """The rows of a CSV text given line by line (with line ends), as they come."""
    return (_entry({key: value for key, value in row.items() if value not in ("", None)}, source, where, zone)
            for where, row in csv_records(lines, source, FIELDS))


def _check_fields(names: Iterable[str], source: str, where: str) -> None:
    for name in names:
        if name not in FIELDS:
            raise InputError(source, where,
                             f"unknown field {name!r}; expected some of {', '.join(FIELDS)}")


def _entry(record: Mapping[str, Any], source: str, where: str, zone: tzinfo) -> Entry:
    _check_fields(record, source, where)
    for name in _REQUIRED:
        if name not in record:
            raise InputError(source, where, f"missing required field {name!r}")
    text = {name: _text(record, name, source, where) for name in FIELDS if name != "countries"}
    title = normalize_space(text["title"] or "")
    if not title:
        raise InputError(source, where, "field 'title' is empty")
    published = parse_published(text["published"] or "", zone)
    if published is None:
        raise InputError(source, where, "field 'published': expected an ISO 8601 date such as "
                         f"2022-06-16 or '16 June 2022', got {text['published']!r}")
    return Entry(
        title=title,
        published=published,
        summary=(text["summary"] or "").strip(),
        url=_url(text["url"], "url", source, where),
        countries=_countries(record.get("countries"), source, where),
        image_url=_url(text["image_url"], "image_url", source, where),
        image_credit=normalize_space(text["image_credit"] or "") or None,
        category=normalize_space(text["category"] or "") or None,
        body_html=text["body_html"],
        where=where,
        ends=_ends(text["ends"], source, where),
    )


def _ends(value: str | None, source: str, where: str) -> date | None:
    if value is None or not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        ends = parse_day_month_year(value)
    if ends is None:
        raise InputError(source, where, f"field 'ends': expected a day such as 2015-09-22, got {value!r}")
    return ends


def _text(record: Mapping[str, Any], name: str, source: str, where: str) -> str | None:
    value = record.get(name)
    if value is None or isinstance(value, str):
        return value
    raise InputError(source, where, f"field {name!r}: expected text, got {type(value).__name__}")


def _url(value: str | None, name: str, source: str, where: str) -> str | None:
    if value is None or not value.strip():
        return None
    value = value.strip()
    problem = link_problem(value)
    if problem:
        raise InputError(source, where, f"field {name!r}: {problem}")
    return value


def _countries(value: Any, source: str, where: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        codes = value.replace(",", " ").split()
    elif isinstance(value, list) and all(isinstance(code, str) for code in value):
        codes = value
    else:
        raise InputError(source, where, "field 'countries': expected codes such as \"CN MN\" "
                         "or a list of codes")
    return tuple(dict.fromkeys(code.strip().upper() for code in codes)) or None
