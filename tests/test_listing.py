"""The office's listing format: the seed page, its error messages, and a round trip."""

from __future__ import annotations

import io
import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from helpers import SEED
from hypothesis import given, settings
from hypothesis import strategies as st

from publisher.errors import InputError
from publisher.ingest.dates import parse_days
from publisher.ingest.entry import Entry, normalize_space
from publisher.ingest.listing import format_listing, parse_listing

SHANGHAI = ZoneInfo("Asia/Shanghai")


def seed_entries() -> list[Entry]:
    return parse_listing(SEED.read_text("utf-8"), "seed.txt", SHANGHAI)


def test_seed_has_twenty_releases_with_titles_dates_and_summaries() -> None:
    entries = seed_entries()
    assert len(entries) == 20
    first = entries[0]
    assert first.title == ("ILO supports inclusion of musculoskeletal disorders into the list of "
                           "occupational diseases in China")
    assert first.published == datetime(2022, 6, 16, tzinfo=SHANGHAI)
    assert first.summary == ("ILO and its Chinese partners join hands to address key issues and "
                             "obstacles of expansion of the national list of occupational diseases.")
    assert entries[2].title == "Seminar on digital transformation of social insurance in China organized online"
    assert entries[2].summary == ""
    assert entries[4].published.date() == date(2021, 12, 1)  # "01 December 2021"
    assert entries[-1].title.startswith("Expert Workshop on the Adaptation of ILO Quality")
    assert entries[-1].summary.endswith("China New Enterprise-based Apprenticeship Program")
    assert [e.published.year for e in entries].count(2022) == 2


def test_image_credit_belongs_to_the_tourism_release_only() -> None:
    entries = seed_entries()
    credited = [e for e in entries if e.image_credit]
    assert len(credited) == 1
    tourism = credited[0]
    assert tourism.image_credit == "© ShutterStock 2023"
    assert tourism.title == ("ILO research highlights massive COVID-19 impact on tourism "
                             "employment in Asia and the Pacific")
    assert tourism.published.date() == date(2021, 11, 18)
    assert tourism.summary.startswith("Asia–Pacific tourism industry")
    assert all("©" not in e.title for e in entries)


@pytest.mark.parametrize(("written", "first", "last"), [
    ("21-22 September 2015", date(2015, 9, 21), date(2015, 9, 22)),
    ("21 – 22 September 2015", date(2015, 9, 21), date(2015, 9, 22)),
    ("30 September - 2 October 2015", date(2015, 9, 30), date(2015, 10, 2)),
    ("30 September–2 October 2015", date(2015, 9, 30), date(2015, 10, 2)),
    ("28 Feb - 1 Mar 2016", date(2016, 2, 28), date(2016, 3, 1)),
    ("31 Dec - 2 Jan 2016", date(2015, 12, 31), date(2016, 1, 2)),
    ("30 December 2015 — 2 January 2016", date(2015, 12, 30), date(2016, 1, 2)),
])
def test_a_meeting_of_several_days_is_one_release_dated_its_first_day(written: str, first: date, last: date) -> None:
    text = f"2015\n\n  1. Tripartite meeting\n\n    {written}\n\n    Its summary.\n\n  2. Next\n\n    1 May 2015\n"
    meeting, other = parse_listing(text, "news.txt", SHANGHAI)
    assert (meeting.published, meeting.ends, meeting.summary) == (datetime.combine(first, datetime.min.time(),
                                                                                   SHANGHAI), last, "Its summary.")
    assert other.ends is None


@pytest.mark.parametrize(
    ("text", "where", "expected"),
    [
        ("2022\n\n  1. A title\n\n    Summary without a date\n", "line 5", "expected a date"),
        # A category and a title, then no date: the third paragraph is out of place.
        ("2022\n\n  1. A\n\n    B\n\n    C\n\n    16 June 2022\n", "line 5", "got 'B'"),
        ("2022\n\n  1. A title\n", "line 3", "expected a date such as '16 June 2022' or '21-22 September 2015' "
                                        "after the title"),
        ("2022\n\n  1. © Photo credit\n", "line 3", "expected the item's title after its image credit"),
        ("2022\n\nStray text\n", "line 3", "expected a numbered item"),
        ("2022\n\n  1. A\n\n    31 February 2022\n", "line 5", "got '31 February 2022'"),
        ("2022\n\n  1. A\n\n    22-21 June 2022\n", "line 5", "got '22-21 June 2022'"),  # (the last day first)
        # A kicker, a title, and a date that cannot be read: the date's line is named.
        ("2022\n\n  1. A\n\n    B\n\n    21-22 Sept 2022 to 3 Oct\n\n    C\n", "line 7",
         "got '21-22 Sept 2022 to 3 Oct'"),
    ],
)
def test_errors_name_the_file_and_line(text: str, where: str, expected: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_listing(text, "news.txt", SHANGHAI)
    assert str(caught.value).startswith(f"news.txt: {where}: ")
    assert expected in str(caught.value)


def test_preamble_is_skipped_and_wrapped_lines_are_joined() -> None:
    text = ("News\n\nIntro text.\n\n2020\n\n  1. A long title\n     that wraps\n\n"
            "    3 Sept 2020\n\n    First part\n    of summary.\n\n    Second paragraph.\n")
    [entry] = parse_listing(text, "x.txt", SHANGHAI)
    assert entry.title == "A long title that wraps"
    assert entry.published.date() == date(2020, 9, 3)
    assert entry.summary == "First part of summary.\n\nSecond paragraph."


def test_a_category_line_before_the_title_is_the_releases_category() -> None:
    """The office's home page: a kicker line above each title ("What's new")."""
    text = ("What's new\n\n  1. World Employment and Social Outlook 2015\n\n"
            "    ILO warns of widespread insecurity in the global labour market\n\n"
            "    19 May 2015\n\n    Only a quarter of workers have a stable job.\n\n"
            "  2. © ILO/M. Crozet\n\n    Decent work for domestic workers\n\n"
            "    Decent work in Asia\n\n    16 June 2015\n")
    first, second = parse_listing(text, "home.txt", SHANGHAI)
    assert (first.category, first.title, first.published.date(), first.summary) == (
        "World Employment and Social Outlook 2015",
        "ILO warns of widespread insecurity in the global labour market", date(2015, 5, 19),
        "Only a quarter of workers have a stable job.")
    assert (second.image_credit, second.category, second.title) == (
        "© ILO/M. Crozet", "Decent work for domestic workers", "Decent work in Asia")


def _clean(text: str) -> str:
    return normalize_space(text)


def _line_of_its_own(text: str) -> bool:
    """Text that can stand as a title or category line: not a credit, a date or a year."""
    return (text != "" and not text.startswith("©") and parse_days(text) is None
            and not (len(text) == 4 and text.isdigit()))


# Any text, CJK, Cyrillic and markup included (all of Unicode but lone surrogates).
texts = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=60).map(_clean)
titles = texts.filter(_line_of_its_own)
summaries = st.lists(texts.filter(bool), max_size=3).map("\n\n".join)
credits = st.none() | texts.map(lambda t: _clean("© " + t))
categories = st.none() | titles
lengths = st.none() | st.integers(min_value=1, max_value=400)  # a meeting's further days
entries = st.builds(
    lambda title, day, summary, credit, category, length: Entry(
        title=title, published=datetime(day.year, day.month, day.day, tzinfo=SHANGHAI),
        summary=summary, image_credit=credit, category=category,
        ends=day + timedelta(days=length) if length else None,
    ),
    titles, st.dates(min_value=date(1000, 1, 1), max_value=date(9998, 12, 31)), summaries, credits,
    categories, lengths,
)


def _fields(entry: Entry) -> tuple[object, ...]:
    return entry.title, entry.published, entry.summary, entry.image_credit, entry.category, entry.ends


@settings(max_examples=300)
@given(st.lists(st.lists(entries, max_size=6), min_size=1, max_size=2), st.booleans())
def test_any_listing_written_out_parses_back_to_the_same_releases(
        pages: list[list[Entry]], year_headings: bool) -> None:
    """Two lists on one page (numbering starts again), with or without year headings."""
    text = "\n".join(format_listing(items, SHANGHAI) for items in pages)
    if not year_headings:
        text = "\n".join(line for line in text.splitlines() if not re.fullmatch(r"\d{4}", line))
    parsed = parse_listing(text, "generated.txt", SHANGHAI)
    assert [_fields(e) for e in parsed] == [_fields(e) for page in pages for e in page]


def test_the_seed_survives_a_round_trip() -> None:
    entries = seed_entries()
    again = parse_listing(format_listing(entries, SHANGHAI), "again.txt", SHANGHAI)
    assert [_fields(e) for e in again] == [_fields(e) for e in entries]


@pytest.mark.parametrize("text", [
    "2021\r\n\r\n  1. Title\r\n\r\n    16 June 2021\r\n",
    "2021\n\n  1. Title\r\r\n    16 June 2021\n\x0c\n  2. Other\u2028\n    17 June 2021",
    "  1. Title\n\n    16 June 2021\n\n    Summary\x85more\n\n",
])
def test_lines_read_from_a_file_split_and_number_as_the_whole_text_does(text: str) -> None:
    """A file is read line by line (split at \\n only); the listing still sees the lines
    str.splitlines gives for the whole text, so line numbers in messages agree."""
    from publisher.ingest.listing import _split

    as_read = [raw.decode() for raw in io.BytesIO(text.encode())]
    assert list(_split(as_read)) == text.splitlines()
