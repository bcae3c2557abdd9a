"""The office's news page as HTML: the listing format, with each title a link.

What is read: every list item (`<li>`) that holds a link and a date line is a release. In it,
the first link is the title and its `href` the release URL (made absolute against the page's
address); the first line that is a date (`16 June 2022`, or a meeting's days: `21-22 September
2015`) is the date; a line beginning with `©` before it is the image credit, and another line
before the title its category (a kicker); the lines after the date are the summary (paragraphs
kept apart).
List items without a date, such as menus, are not releases. Lines are what a browser shows on
separate lines: block elements, line breaks, and links, dates (`<time>`) and small print each
on their own.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import tzinfo

import lxml.html
from lxml import etree

from publisher.errors import InputError
from publisher.ingest.dates import midnight, parse_days
from publisher.ingest.entry import Entry, normalize_space

_BLOCKS = {"p", "div", "li", "ol", "ul", "h1", "h2", "h3", "h4", "h5", "h6", "figure",
           "figcaption", "section", "article", "header", "footer", "blockquote", "table",
           "tr", "td", "dl", "dt", "dd"}
_OWN_LINE = {"a", "time", "span", "small", "br", "img"}
_SKIP = {"script", "style", "noscript", "template"}
_CREDIT = "©"


@dataclass
class _Line:
    block: int  # which block element it sits in: lines of one block make one paragraph
    text: str
    href: str | None = None


def parse_html_page(text: str, source: str, zone: tzinfo) -> list[Entry]:
    try:
        document = lxml.html.document_fromstring(text, base_url=source)
    except (etree.ParserError, ValueError) as exc:
        raise InputError(source, "", f"not an HTML page: {exc}") from None
    if source.startswith(("http://", "https://")):
        document.make_links_absolute(source, resolve_base_href=True)
    entries = []
    for number, item in enumerate(document.iter("li"), start=1):
        if item.getparent() is not None and any(a.tag == "li" for a in item.iterancestors()):
            continue  # a nested list belongs to its item
        entry = _entry(list(_lines(item)), zone, f"item {number}")
        if entry is not None:
            entries.append(entry)
    if not entries:
        raise InputError(source, "", "no releases found: expected list items (<li>) holding a "
                         "linked title and a date such as '16 June 2022'")
    return entries


def _entry(lines: list[_Line], zone: tzinfo, where: str) -> Entry | None:
    link = next((i for i, line in enumerate(lines) if line.href), None)
    day_at = next((i for i, line in enumerate(lines)
                   if link is not None and i > link and parse_days(line.text)), None)
    if link is None or day_at is None:
        return None
    days = parse_days(lines[day_at].text)
    assert days is not None
    credit = next((line.text for line in lines[:day_at] if line.text.startswith(_CREDIT)), None)
    kicker = next((line.text for line in lines[:link] if not line.text.startswith(_CREDIT)), None)
    return Entry(title=lines[link].text, published=midnight(days[0], zone), ends=days[1],
                 summary=_paragraphs(lines[day_at + 1:]), url=lines[link].href,
                 image_credit=credit, category=kicker, where=where)


def _paragraphs(lines: list[_Line]) -> str:
    paragraphs: list[list[str]] = []
    previous = None
    for line in lines:
        if line.block != previous:
            paragraphs.append([])
            previous = line.block
        paragraphs[-1].append(line.text)
    return "\n\n".join(normalize_space(" ".join(p)) for p in paragraphs)


def _lines(item: etree._Element) -> Iterator[_Line]:
    """The item's text as a browser would break it into lines."""
    pieces: list[str] = []
    block, href = id(item), None

    def flush() -> Iterator[_Line]:
        text = normalize_space("".join(pieces))
        pieces.clear()
        if text:
            yield _Line(block, text, href)

    def walk(element: etree._Element, current_block: int) -> Iterator[_Line]:
        nonlocal block, href
        for child in element:
            if not isinstance(child.tag, str) or child.tag in _SKIP:  # comments, scripts
                pieces.append(child.tail or "")
                continue
            breaks = child.tag in _BLOCKS or child.tag in _OWN_LINE
            child_block = id(child) if child.tag in _BLOCKS else current_block
            if breaks:
                yield from flush()
            block = child_block
            link = child.get("href") if child.tag == "a" else None
            if link:
                href = link
            pieces.append(child.text or "")
            yield from walk(child, child_block)
            if breaks:
                yield from flush()
            href, block = None, current_block
            pieces.append(child.tail or "")

    pieces.append(item.text or "")
    yield from walk(item, id(item))
    yield from flush()
