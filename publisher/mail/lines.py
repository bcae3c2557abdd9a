"""Short lines, so that message parts can travel as 8bit (RFC 5321: at most 998 bytes a line).

Both run once per edition. Per-recipient values (an address, two links) are added later and
can lengthen a line by a few hundred bytes, hence the margin.
"""

from __future__ import annotations

import textwrap

MAX_LINE = 998
HTML_WRAP = 250  # bytes; leaves room for the per-recipient values put in later
TEXT_WIDTH = 76


def wrap_html(html: str, limit: int = HTML_WRAP) -> str:
    """Break long lines where a line break means the same as the space it replaces: at spaces
    in text and between attributes, never inside a quoted attribute value."""
    return "\n".join(_wrap_html_line(line, limit) for line in html.split("\n"))


def _wrap_html_line(line: str, limit: int) -> str:
    if len(line.encode()) <= limit:
        return line
    out, start, size = [], 0, 0
    in_tag, quote = False, ""
    last_break = -1
    for i, char in enumerate(line):
        size += len(char.encode())
        if quote:
            quote = "" if char == quote else quote
        elif in_tag and char in "\"'":
            quote = char
        elif char == "<":
            in_tag = True
        elif char == ">":
            in_tag = False
        elif char == " ":
            last_break = i
        if size > limit and last_break >= start:
            out.append(line[start:last_break])
            start = last_break + 1
            size = len(line[start:i + 1].encode())
            last_break = -1
    out.append(line[start:])
    return "\n".join(out)


def wrap_text(text: str, width: int = TEXT_WIDTH) -> str:
    """Wrap long lines of the text part at word boundaries; long words (links) stay whole."""
    wrapped = []
    for line in text.split("\n"):
        if len(line) <= width:
            wrapped.append(line)
        else:
            wrapped.extend(textwrap.wrap(line, width, break_long_words=False,
                                         break_on_hyphens=False) or [""])
    return "\n".join(wrapped)


def fits_8bit(part: str, mark: str, per_mark: int) -> bool:
    """Every line, each `mark` in it replaced by up to `per_mark` bytes, within the SMTP limit."""
    return all(len(line.encode()) + line.count(mark) * per_mark <= MAX_LINE
               for line in part.split("\n"))
