"""JSON and CSV imports: fields, dates, countries and errors that name the record or line."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from publisher.errors import InputError
from publisher.ingest.tabular import parse_csv, parse_json

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_json_records_with_every_field() -> None:
    text = json.dumps([
        {"title": "  A  title ", "published": "2024-03-05", "summary": "Sum",
         "url": "https://example.org/a", "countries": ["cn", "MN"],
         "image_url": "https://example.org/a.jpg", "image_credit": "© Someone",
         "body_html": "<p>Body</p>"},
        {"title": "B", "published": "2024-03-06T10:30:00+00:00", "countries": "MN"},
        {"title": "C", "published": "7 March 2024"},
    ])
    a, b, c = parse_json(text, "in.json", SHANGHAI)
    assert a.title == "A title"
    assert a.published == datetime(2024, 3, 5, tzinfo=SHANGHAI)
    assert (a.summary, a.url, a.countries) == ("Sum", "https://example.org/a", ("CN", "MN"))
    assert (a.image_url, a.image_credit, a.body_html) == (
        "https://example.org/a.jpg", "© Someone", "<p>Body</p>")
    assert b.published == datetime(2024, 3, 6, 10, 30, tzinfo=UTC)
    assert b.countries == ("MN",)
    assert c.published.date() == date(2024, 3, 7) and c.countries is None


def test_csv_with_header_row() -> None:
    text = 'title,published,countries,url\n"Hello, world",2024-01-02,CN MN,\nOther,2024-01-03,,https://x.org/o\n'
    first, second = parse_csv(text, "in.csv", SHANGHAI)
    assert (first.title, first.countries, first.url) == ("Hello, world", ("CN", "MN"), None)
    assert (second.countries, second.url) == (None, "https://x.org/o")


@pytest.mark.parametrize(
    ("parse", "text", "message"),
    [
        (parse_json, '[{"title": "A", "published": "2024-01-01"}, {"title": "B"}]',
         "in.data: record 2: missing required field 'published'"),
        (parse_json, '[{"title": "A", "published": "yesterday"}]',
         "in.data: record 1: field 'published': expected an ISO 8601 date"),
        (parse_json, '[{"title": "A", "published": "2024-01-01", "colour": "red"}]',
         "in.data: record 1: unknown field 'colour'"),
        (parse_json, '[{"title": "A", "published": "2024-01-01", "url": "/relative"}]',
         "in.data: record 1: field 'url': expected an absolute http(s) URL"),
        (parse_json, '{"title": "A"}', "in.data: expected a JSON list"),
        (parse_json, '[{"title": "A",\n "published": }]', "in.data: line 2: not valid JSON"),
        (parse_json, '[{"title": 5, "published": "2024-01-01"}]',
         "in.data: record 1: field 'title': expected text, got int"),
        (parse_csv, "title,published\nA,2024-01-01\nB,not a date\n",
         "in.data: line 3: field 'published'"),
        (parse_csv, "title,publish\nA,2024-01-01\n", "in.data: line 1: unknown field 'publish'"),
        (parse_csv, "title,published\nA,2024-01-01,extra\n",
         "in.data: line 2: more values than the header has columns"),
        (parse_csv, "title,published\n  ,2024-01-01\n", "in.data: line 2: field 'title' is empty"),
        (parse_csv, 'title,published\nA,2024-01-01\n"B,2024-01-02\n',
         "in.data: line 3: a quoted value is never closed"),
        (parse_csv, "title,published,title\nA,2024-01-01,B\n", "in.data: line 1: the column 'title' is named twice"),
    ],
)
def test_errors_name_the_record_or_line(parse, text: str, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError) as caught:
        parse(text, "in.data", SHANGHAI)
    assert str(caught.value).startswith(message)


words = st.text(st.characters(exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp")), min_size=1, max_size=30)
rows = st.fixed_dictionaries({
    "title": words, "published": st.dates(min_value=date(1900, 1, 1)).map(date.isoformat),
    "summary": st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\r"), max_size=80).map(str.strip),
})


@given(st.lists(rows, max_size=5))
def test_csv_written_by_the_csv_module_reads_back(records: list[dict[str, str]]) -> None:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["title", "published", "summary"])
    writer.writeheader()
    writer.writerows(records)
    parsed = parse_csv(out.getvalue(), "gen.csv", SHANGHAI)
    assert [(e.title, e.published.date().isoformat(), e.summary) for e in parsed] == [
        (r["title"], r["published"], r["summary"]) for r in records
    ]
