"""Reading a CSV file with a header row, strictly, for every importer that takes CSV: a column
the header names twice or does not know, a row with more values than the header has columns,
or a quote never closed is an error naming the file and line, not a value quietly lost. And
writing one that a spreadsheet opens without running any cell as a formula."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence

from publisher.errors import InputError


def csv_records(text: str | Iterable[str], source: str, columns: Sequence[str],
                required: Sequence[str] = ()) -> Iterator[tuple[str, dict[str, str]]]:
    """("line N", {column: value}) for each row; only `columns` may be in the header, and
    `required` must be. `text` is the whole text, or its lines with their line ends (a file
    read as it streams by)."""
    lines = io.StringIO(text, newline="") if isinstance(text, str) else _universal(text)
    reader = csv.DictReader(lines, strict=True)
    try:
        header = reader.fieldnames or []
    except csv.Error as exc:
        raise InputError(source, "line 1", f"not valid CSV: {exc}") from None
    _check_header([name.strip() for name in header], source, columns, required)
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
        last_line = reader.line_num
        yield where, {key.strip(): value for key, value in row.items() if key is not None}


def _universal(lines: Iterable[str]) -> Iterator[str]:
    """Lines split at \\r as well, as a whole text read with newline="" is (a file read by
    lines splits at \\n only)."""
    for line in lines:
        if "\r" in line:
            yield from io.StringIO(line, newline="")
        else:
            yield line


def _check_header(header: list[str], source: str, columns: Sequence[str], required: Sequence[str]) -> None:
    if not header or any(name not in header for name in required):
        wanted = f"the columns {', '.join(required)}" if required else "naming the columns"
        raise InputError(source, "line 1", f"expected a header row with {wanted}")
    for i, name in enumerate(header):
        if name not in columns:
            raise InputError(source, "line 1", f"unknown field {name!r}; expected some of {', '.join(columns)}")
        if name in header[:i]:
            raise InputError(source, "line 1", f"the column {name!r} is named twice")


# A cell a spreadsheet would run as a formula (=, +, -, @, or a tab or return before one):
# an address may begin with "=" or "+", and a server's reply is anyone's text. Written with a
# leading apostrophe, which spreadsheets show as text; `unguarded` takes it off again on import.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def guarded(cell: str) -> str:
    return "'" + cell if cell.startswith(_FORMULA_START) else cell


def unguarded(cell: str) -> str:
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(_FORMULA_START) else cell


def write_rows(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """CSV text (LF line ends), every cell guarded against being run as a formula."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([guarded(cell) for cell in row] for row in rows)
    return out.getvalue()
