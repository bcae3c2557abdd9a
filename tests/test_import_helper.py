"""A large file read and prepared by a helper process (ingest/helper.py) stores what reading it
in the importing process stores; its errors, repeats and progress reach the importer; an
importer that stops stops its helper."""

from __future__ import annotations

import logging
import multiprocessing
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import SQLITE_ONLY, sqlite_store, write_config
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from test_import import NOW

from publisher.cli import cli
from publisher.config import load_config
from publisher.errors import InputError
from publisher.ingest.helper import HELPER_FROM_BYTES, chunks_from_helper
from publisher.ingest.rules import IngestConfig
from publisher.ingest.tagging import Tagger
from publisher.jobs.imports import ImportRequest, import_files
from publisher.store.db import open_store
from publisher.store.models import Release

pytestmark = SQLITE_ONLY  # processes and files; the store is the same code on both

TITLES = ["ILO and partners on skills in Beijing", "中国体面劳动与社会保障研讨会",
          "Монголын хөдөлмөрийн зах зээлийн тайлан", "Youth employment forum in Ulaanbaatar, Mongolia",
          "Safety and health at work in Inner Mongolia"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December"]


def listing(size: int, *, repeat_at: int | None = None, bad_date_at: int | None = None) -> str:
    """`size` items over years, newest first; titles recur (their slugs collide), every fifth
    item has an image credit."""
    out = ["News and press releases", ""]
    for number in range(size):
        year = 2025 - number // 300
        if number % 300 == 0:
            out += [str(year), ""]
        item = number - (number == repeat_at)  # the same title and day as the one before
        day = f"{1 + item % 28} {MONTHS[item % 300 // 28]} {year}" if number != bad_date_at else "31 Smarch 2020"
        paragraphs = ([f"© ILO/Photographer {item}"] if item % 5 == 0 else []) + [
            f"{TITLES[item % len(TITLES)]} {item // 40}", day, f"Summary of release {item} on decent work."]
        out += [f"  {number % 300 + 1}. {paragraphs[0]}", ""]
        out += [line for paragraph in paragraphs[1:] for line in (f"    {paragraph}", "")]
    return "\n".join(out) + "\n"


def stored(sessions: sessionmaker[Session]) -> list[tuple[object, ...]]:
    with sessions() as session:
        releases = session.scalars(select(Release).order_by(Release.source_key))
        return [(r.source_key, r.slug, r.permanent_id, r.title, r.summary, r.image_credit, r.content_hash,
                 tuple(r.country_codes), r.published) for r in releases]


def second_store(tmp_path: Path) -> sessionmaker[Session]:
    folder = tmp_path / "other"
    folder.mkdir()
    return open_store(load_config(write_config(folder, sqlite_store(folder, "other.db")), environ={}))


def test_a_helper_stores_what_the_importer_would(tmp_path, sessions, config) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "listing.txt"
    path.write_text(listing(1500), "utf-8")
    seen: list[int] = []
    ours = import_files(sessions, config, [ImportRequest(str(path))], NOW, seen.append, helper_from=0)
    assert ours.files[0][1].new == 1500 and sum(seen) == path.stat().st_size
    alone = second_store(tmp_path)
    import_files(alone, config, [ImportRequest(str(path))], NOW, helper_from=path.stat().st_size + 1)
    assert stored(sessions) == stored(alone)
    slugs = [row[1] for row in stored(sessions)]
    assert len(set(slugs)) == 1500 and any(str(slug).startswith("zhong-guo-ti-mian") for slug in slugs)


def test_an_error_in_the_helper_names_the_line_and_stores_nothing(tmp_path, sessions, config) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "listing.txt"
    text = listing(3000, bad_date_at=2500)  # past the first chunks: they were stored, and are rolled back
    path.write_text(text, "utf-8")
    line = text.splitlines().index("    31 Smarch 2020") + 1
    with pytest.raises(InputError) as error:
        import_files(sessions, config, [ImportRequest(str(path))], NOW, helper_from=0)
    assert str(error.value) == (f"{path}: line {line}: expected a date such as '16 June 2022' or '21-22 September "
                                f"2015', got '31 Smarch 2020'")
    assert stored(sessions) == []
    assert multiprocessing.active_children() == []


def test_a_repeat_read_by_the_helper_is_warned_about_and_stored_once(tmp_path, sessions, config, caplog) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "listing.txt"
    text = listing(100, repeat_at=60)
    path.write_text(text, "utf-8")
    with caplog.at_level(logging.WARNING):
        [(_, counts)] = import_files(sessions, config, [ImportRequest(str(path))], NOW, helper_from=0).files
    assert counts.new == 99
    [warning] = [r.getMessage() for r in caplog.records if "same release" in r.getMessage()]
    assert warning.startswith(f"{path}: line ") and "is the same release as line " in warning


def test_an_importer_that_stops_early_stops_its_helper(tmp_path, config) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "listing.txt"
    path.write_text(listing(10_000), "utf-8")
    chunks = chunks_from_helper(str(path), None, config.site.zone, Tagger(IngestConfig.of(config)))
    assert len(next(chunks).prepared) == 2000
    chunks.close()  # as an error while storing the first chunk would
    assert multiprocessing.active_children() == []


def test_the_command_line_imports_a_large_listing_through_a_helper(tmp_path, config_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "listing.txt"
    size = 1000
    while len((text := listing(size)).encode()) < HELPER_FROM_BYTES:  # past the size a helper starts at
        size *= 2
    path.write_text(text, "utf-8")
    result = CliRunner().invoke(cli, ["--config", str(config_path), "import", str(path)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"imported {size} new, 0 updated, 0 unchanged from {path}\n")


def test_the_helpers_warnings_are_logged_as_the_importers_are(tmp_path, config_path) -> None:  # type: ignore[no-untyped-def]
    """A warning made in the helper process (HTML with a script in it) reaches the operator as
    every other log line does: time-stamped, leveled, named."""
    import csv
    import re
    import subprocess
    import sys

    path = tmp_path / "releases.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["title", "published", "summary", "body_html"])
        writer.writerow(["Green jobs in Beijing", "2026-11-20", "Jobs.", "<p>Jobs<script>alert(1)</script></p>"])
        number = 0
        while out.tell() < HELPER_FROM_BYTES:  # past the size a helper starts at
            number += 1
            writer.writerow([f"Decent work report {number}", "2026-11-19", f"Summary of release {number}.", ""])
    done = subprocess.run([sys.executable, "-m", "publisher", "--config", str(config_path), "import", str(path)],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    [warning] = [line for line in done.stderr.splitlines() if "held scripts" in line]
    stamped = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z WARNING publisher\.ingest\.prepare: "
    assert re.match(stamped + r".*: line 2: its HTML", warning), warning
