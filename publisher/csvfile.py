"""Reading a CSV file with a header row, strictly, for every importer that takes CSV: a column
the header names twice or does not know, a row with more values than the header has columns,
or a quote never closed is an error naming the file and line, not a value quietly lost."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence

from publisher.errors import InputError


def csv_records(text: str, source: str, columns: Sequence[str],
                required: Sequence[str] = ()) -> Iterator[tuple[str, dict[str, str]]]:
    """("line N", {column: value}) for each row; only `columns` may be in the header, and
    `required` must be."""
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    header = [name.strip() for name in reader.fieldnames or []]
    if not header:
        raise InputError(source, "line 1", "expected a header row naming the columns")
    for i, name in enumerate(header):
        if name not in columns:
            raise InputError(source, "line 1", f"unknown column {name!r}; expected some of {', '.join(columns)}")
        if name in header[:i]:
            raise InputError(source, "line 1", f"the column {name!r} is named twice")
    for name in required:
        if name not in header:
            raise InputError(source, "line 1", f"the header has no column {name!r}; expected "
                             f"{', '.join(required)} and optionally {', '.join(c for c in columns if c not in required)}")
    last_line = reader.line_num
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            problem = "a quoted value is never closed" if "end of data" in str(exc) else f"not valid CSV: {exc}"
            raise InputError(source, f"line {last_line + 1}", problem) from None
        where = f"line {reader.line_num}"
        if None in row:
            raise InputError(source, where, "more values than the header has columns")
        for name in required:
        if name not in header:
            raise InputError(source, "line 1", f"the header has no column {name!r}; expected "
                             f"{', '.join(required)} and optionally {', '.join(c for c in columns if c not in required)}")
    last_line = reader.line_num
        yield where, {key.strip(): value for key, value in row.items() if key is not None}
