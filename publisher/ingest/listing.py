"""The office's news listing as text: year headings, numbered items, title, date, summary.

    2021

      6. © ShutterStock 2023

        ILO research highlights massive COVID-19 impact on tourism employment

        18 November 2021

        Asia–Pacific tourism industry left reeling from job losses.

A numbered line (indented less than four spaces) opens an item. The item's text is split into
paragraphs at blank lines, each paragraph's lines joined with single spaces. The title is the
paragraph just before the date; before the title may come an image credit (a paragraph that
begins with `©`) and a category (a "kicker" such as `World Employment and Social Outlook 2015`,
as the office's home page shows), each at most once. The date may be a meeting's days
(`21-22 September 2015`, `30 September - 2 October 2015`): the release is dated the first, and
the last is kept for its page. After the date comes an optional summary
(several paragraphs are kept apart by a blank line). Anything before the first year heading or
item is the page's preamble and is skipped; a year heading is optional.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import tzinfo

from publisher.dates import format_day_month_year
from publisher.errors import InputError
from publisher.ingest.dates import looks_like_a_date, midnight, parse_days
from publisher.ingest.entry import Entry, normalize_space, once

_YEAR = re.compile(r"\d{4}")
_ITEM = re.compile(r"( {0,3})(\d{1,4})\.\s+(\S.*)")
_CREDIT = "©"
_OTHER_BREAKS = re.compile("[\r\v\f\x1c-\x1e\x85\u2028\u2029]")
_DATE_EXAMPLE = "a date such as '16 June 2022' or '21-22 September 2015'"


@dataclass
class _Paragraph:
    line: int
    parts: list[str] = field(default_factory=list)

    @once  # read once the item is complete
    def text(self) -> str:
        return normalize_space(" ".join(self.parts))


@dataclass
class _Item:
    line: int
    paragraphs: list[_Paragraph] = field(default_factory=list)
    open: bool = True  # False after a blank line: the next text starts a new paragraph

    def add(self, number: int, text: str) -> None:
        if not self.open or not self.paragraphs:
            self.paragraphs.append(_Paragraph(number))
            self.open = True
        self.paragraphs[-1].parts.append(text)


def parse_listing(text: str, source: str, zone: tzinfo) -> list[Entry]:
    """Every item of the listing, in the listing's order; dates are midnight in `zone`."""
    return list(listing_entries(text.splitlines(), source, zone))


def listing_entries(lines: Iterable[str], source: str, zone: tzinfo) -> Iterator[Entry]:
    """The same, as the lines come (a file read line by line): one item in memory at a time.
    Lines are split as str.splitlines splits a whole text, so both number them alike."""
    return (_entry(item, source, zone) for item in _items(lines, source))


def _split(lines: Iterable[str]) -> Iterator[str]:
    for physical in lines:
        line = physical[:-1] if physical.endswith("\n") else physical
        if _OTHER_BREAKS.search(line):  # rare: a \r, or what else str.splitlines breaks at
            yield from physical.splitlines()
        else:
            yield line


def _items(lines: Iterable[str], source: str) -> Iterator[_Item]:
    item: _Item | None = None
    in_preamble = True
    for number, raw in enumerate(_split(lines), start=1):
        line = raw.rstrip()
        if not line.strip():
            if item is not None:
                item.open = False
            continue
        if _YEAR.fullmatch(line):
            if item is not None:
                yield item
            item, in_preamble = None, False
            continue
        match = _ITEM.fullmatch(line)
        if match:
            if item is not None:
                yield item
            item, in_preamble = _Item(number), False
            item.add(number, match.group(3))
        elif item is not None:
            item.add(number, line.strip())
        elif not in_preamble:
            raise InputError(source, f"line {number}",
                             f"expected a numbered item such as '1. Title', got {line.strip()!r}")
    if item is not None:
        yield item


def _entry(item: _Item, source: str, zone: tzinfo) -> Entry:
    paragraphs = list(item.paragraphs)
    credit = paragraphs.pop(0).text if paragraphs[0].text.startswith(_CREDIT) else None
    if not paragraphs:
        raise InputError(source, f"line {item.line}", "expected the item's title after its image credit")
    category = None
    if len(paragraphs) >= 3 and _is_date(paragraphs[2]) and not _is_date(paragraphs[1]):
        category = paragraphs.pop(0).text  # a kicker line, then the title, then the date
    title = paragraphs.pop(0)
    if not paragraphs:
        raise InputError(source, f"line {title.line}",
                         f"expected {_DATE_EXAMPLE} after the title {title.text!r}")
    date_paragraph = paragraphs.pop(0)
    days = parse_days(date_paragraph.text)
    if days is None and not looks_like_a_date(date_paragraph.text):
        # (a kicker, a title, then a date this cannot read: the date's line is the one to name)
        date_paragraph = next((p for p in paragraphs[:1] if looks_like_a_date(p.text)), date_paragraph)
    if days is None:
        raise InputError(source, f"line {date_paragraph.line}",
                         f"expected {_DATE_EXAMPLE}, got {date_paragraph.text!r}")
    return Entry(
        title=title.text,
        published=midnight(days[0], zone),
        ends=days[1],
        summary="\n\n".join(p.text for p in paragraphs),
        image_credit=credit,
        category=category,
        where=f"line {item.line}",
    )


def _is_date(paragraph: _Paragraph) -> bool:
    return parse_days(paragraph.text) is not None


def format_listing(entries: Iterable[Entry], zone: tzinfo) -> str:
    """Write entries in the listing format, a year heading whenever the year changes.

    Only what the format holds is written: image credit, category, title, date and summary.
    """
    out: list[str] = []
    year = None
    number = 0
    for entry in entries:
        day = entry.published.astimezone(zone).date()
        if day.year != year:
            year, number = day.year, 0
            out += [str(year), ""]
        number += 1
        first, *rest = [part for part in (entry.image_credit, entry.category, entry.title) if part]
        out += [f"  {number}. {first}", ""]
        when = format_day_month_year(day) + (f" - {format_day_month_year(entry.ends)}" if entry.ends else "")
        for paragraph in [*rest, when, *_paragraphs(entry.summary)]:
            out += [f"    {paragraph}", ""]
    return "\n".join(out)


def _paragraphs(summary: str) -> list[str]:
    return [normalize_space(p) for p in summary.split("\n\n") if p.strip()]
