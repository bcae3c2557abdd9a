"""Input an attacker or a bad day could give: refused with the file and the entry named, the
store unchanged, and every command after it still working (issue: no poisoned store)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import NOW

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
