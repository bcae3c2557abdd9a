"""Input an attacker or a bad day could give: refused with the file and the entry named, the
store unchanged, and every command after it still working (issue: no poisoned store)."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import NOW
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from publisher.cli import cli
from publisher.config import Config
from publisher.errors import InputError
from publisher.jobs.imports import ImportRequest, import_files
from publisher.store.models import Release


def _record(**fields: object) -> dict[str, object]:
    return {"title": "China jobs", "published": "2022-06-16", "countries": ["CN"], **fields}


BAD_RECORDS = {
    "a date past what time zones can reach": _record(published="9999-12-31T20:00:00+00:00"),
    "year one": _record(published="0001-01-01"),
    "a javascript link": _record(url="javascript:alert(1)"),
    "a data link": _record(image_url="data:text/html,<script>alert(1)</script>"),
    "a link with a newline": _record(url="https://www.ilo.org/a\nb"),
    "a NUL in the title": _record(title="China\x00 jobs"),
    "a bell in the summary": _record(summary="ring \x07"),
    "a terminal escape in the credit": _record(image_credit="© someone\x1b[31m"),
    "a link too long to be a key": _record(url="https://www.ilo.org/" + "a" * 600),
    "half a surrogate pair in the title (JSON's \\ud800)": _record(title="China \ud800 jobs"),
    "half a surrogate pair in a link": _record(url="https://www.ilo.org/\udfff"),
}


def _stored(sessions) -> int:  # type: ignore[no-untyped-def]
    with sessions() as session:
        return session.query(Release).count()


def _everything_after_works(config_path: Path) -> None:
    for command in (["feeds", "build"], ["releases", "list"], ["digest", "preview", "china-weekly",
                                                                 "--out", str(config_path.parent / "preview")]):
        result = CliRunner().invoke(cli, ["--config", str(config_path), *command])
        assert result.exit_code == 0, (command, result.output, result.exception)


def test_each_bad_value_is_refused_naming_file_and_record(tmp_path: Path, config_path: Path,
                                                         config: Config, sessions) -> None:  # type: ignore[no-untyped-def]
    for case, record in BAD_RECORDS.items():
        path = tmp_path / "bad.json"
        path.write_text(json.dumps([_record(title="Fine"), record]), "utf-8")
        with pytest.raises(InputError) as raised:
            import_files(sessions, config, [ImportRequest(str(path))], NOW)
        assert str(raised.value).startswith(f"{path}: record 2: "), case
        assert _stored(sessions) == 0, case
    _everything_after_works(config_path)


@pytest.mark.parametrize(("document", "message"), [
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ('[{"title": "x", "published": ' + "9" * 5000 + "}]", "cannot be read"),
])
def test_documents_a_parser_cannot_hold_are_a_clear_error(document: str, message: str, tmp_path: Path,
                                                          config: Config, sessions) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "huge.json"
    path.write_text(document, "utf-8")
    with pytest.raises(InputError, match=message) as raised:
        import_files(sessions, config, [ImportRequest(str(path))], NOW)
    assert str(raised.value).startswith(f"{path}: ")


def test_the_html_importer_refuses_a_script_link(tmp_path: Path, config: Config, sessions) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "news.html"
    path.write_text("<ul><li><a href='javascript:alert(1)'>ILO and China</a> <span>16 June 2022</span>"
                    "</li></ul>", "utf-8")
    with pytest.raises(InputError, match="item 1: url: expected an absolute http"):
        import_files(sessions, config, [ImportRequest(str(path))], NOW)
    assert _stored(sessions) == 0


def test_a_title_that_looks_like_markup_is_listed_as_written(tmp_path: Path, config_path: Path,
                                                             config: Config, sessions) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "markup.json"
    path.write_text(json.dumps([_record(title="China [/bold] jobs [red]now")]), "utf-8")
    import_files(sessions, config, [ImportRequest(str(path))], NOW)
    result = CliRunner().invoke(cli, ["--config", str(config_path), "releases", "list"])
    assert result.exit_code == 0, result.output
    assert "China [/bold] jobs [red]now" in result.output


# --- fuzzing: whatever a document holds, the import is refused naming the file, or all works --

_ANY_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
_TITLE = st.one_of(st.sampled_from(["ILO in China", "Decent work & <b>green</b> jobs", "就业 Монгол [/bold]"]),
                   st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=40),
                   _ANY_TEXT)
_GOOD_DAY = st.dates(min_value=date(1990, 1, 1), max_value=date(2030, 12, 31))
_DATE_TEXT = st.one_of(_GOOD_DAY.map(str), _GOOD_DAY.map(str),
                       st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
                       st.sampled_from(["16 June 2022", "0001-01-01", "9999-12-31T20:00:00+00:00", "2022-02-30",
                                        "1 Sept. 2020"]), _ANY_TEXT)
_URL_TEXT = st.one_of(st.sampled_from(["https://www.ilo.org/a", "https://www.ilo.org/b?x=1&y=<2>",
                                       "javascript:alert(1)", "http://x/\n", "ftp://x/y", "https://" + "a" * 600]),
                      _ANY_TEXT)
_VALUE = st.one_of(_ANY_TEXT, st.integers(), st.floats(allow_nan=True), st.none(), st.booleans(),
                   st.lists(_ANY_TEXT, max_size=3))
_RECORD = st.fixed_dictionaries(
    {"title": _TITLE, "published": _DATE_TEXT, "countries": st.sampled_from(["CN", "MN", "CN MN"])},
    optional={"summary": _ANY_TEXT, "url": _URL_TEXT, "image_url": _URL_TEXT, "image_credit": _ANY_TEXT,
              "body_html": _ANY_TEXT})
_ODD_RECORD = _RECORD.flatmap(lambda record: st.fixed_dictionaries(
    {**{key: st.just(value) for key, value in record.items()},
     "countries": st.one_of(st.sampled_from(["XX", ""]), st.lists(_ANY_TEXT, max_size=2)), "colour": _VALUE}))
_JSON = st.one_of(st.lists(_RECORD, min_size=1, max_size=4).map(json.dumps),
                  st.lists(st.one_of(_RECORD, _ODD_RECORD), max_size=4).map(json.dumps),
                  st.recursive(_VALUE, lambda inner: st.lists(inner, max_size=3), max_leaves=6).map(json.dumps),
                  _ANY_TEXT)


def _csv_document(rows: list[dict[str, object]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["title", "published", "summary", "url", "countries"],
                            extrasaction="ignore")
    writer.writeheader()
    writer.writerows({k: v if isinstance(v, str) else json.dumps(v) for k, v in row.items()} for row in rows)
    return out.getvalue()


_CSV = st.one_of(st.lists(_RECORD, min_size=1, max_size=4).map(_csv_document),
                 st.lists(_RECORD, min_size=1, max_size=4).map(_csv_document).map(lambda text: text[:-3]),
                 _ANY_TEXT)


def _listing(items: list[tuple[str, date, str, bool]]) -> str:
    lines = ["News", ""]
    for number, (title, day, summary, credit) in enumerate(items, start=1):
        lines += ([f"  {number}. © ShutterStock", title] if credit else [f"  {number}. {title}"])
        lines += [f"{day.day:02d} {day:%B %Y}", summary, ""]
    return "\n".join(lines)


_LISTING = st.one_of(
    st.lists(st.tuples(_TITLE, _GOOD_DAY, _ANY_TEXT, st.booleans()), min_size=1, max_size=4).map(_listing),
    st.lists(st.one_of(st.sampled_from(["2022", "  1. ILO in China", "16 June 2022", ""]), _ANY_TEXT),
             max_size=10).map("\n".join))


@pytest.mark.parametrize(("suffix", "documents"), [(".json", _JSON), (".csv", _CSV), (".txt", _LISTING)])
def test_any_document_is_refused_naming_the_file_or_everything_after_works(
        suffix: str, documents: st.SearchStrategy[str], tmp_path: Path, config_path: Path, config: Config,
        sessions) -> None:  # type: ignore[no-untyped-def]
    from publisher.jobs.feeds import rebuild_feeds
    from publisher.jobs.samples import preview_digest

    path = tmp_path / f"fuzz{suffix}"

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(documents)
    def check(document: str) -> None:
        path.write_text(document, "utf-8")
        try:
            import_files(sessions, config, [ImportRequest(str(path))], NOW)
        except InputError as exc:
            assert str(exc).startswith(str(path)), exc
            return
        rebuild_feeds(sessions, config)
        result = CliRunner().invoke(cli, ["--config", str(config_path), "releases", "list", "--limit", "50"])
        assert result.exit_code == 0, result.output
        preview_digest(sessions, config, "china-weekly", tmp_path / "preview", NOW)

    check()
