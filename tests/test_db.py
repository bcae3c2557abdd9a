"""The schema: migrations create exactly the models, run on start, and are idempotent."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import inspect, text

from publisher.cli import cli
from publisher.store.db import HEAD, make_engine, upgrade
from publisher.store.models import Base


@pytest.mark.empty_database
def test_migrations_create_exactly_the_models(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    upgrade(engine)  # a second start changes nothing
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []
    assert {"countries", "releases", "release_countries", "alembic_version"} <= set(
        inspect(engine).get_table_names())


def test_head_is_the_newest_migration() -> None:
    """open_store skips Alembic when a store is at HEAD: HEAD must be Alembic's head."""
    from importlib import resources

    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory(str(resources.files("publisher.store").joinpath("migrations")))
    assert scripts.get_heads() == [HEAD]


@pytest.mark.empty_database
def test_db_upgrade_command(config_path, db_url) -> None:  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(cli, ["--config", str(config_path), "db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("database ") and result.output.endswith(" is up to date\n")
    assert "releases" in inspect(make_engine(db_url)).get_table_names()


def test_unreachable_database_is_a_clear_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from helpers import write_config

    path = write_config(tmp_path, "postgresql+psycopg://nobody:secret@127.0.0.1:1/none")
    result = CliRunner().invoke(cli, ["--config", str(path), "releases", "list"])
    assert result.exit_code == 1
    assert "cannot open the database postgresql+psycopg://nobody:***@127.0.0.1:1/none" in result.stderr
    assert "secret" not in result.stderr


def test_a_database_url_without_a_driver_is_a_config_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from helpers import write_config

    path = write_config(tmp_path, "nodb://x")
    result = CliRunner().invoke(cli, ["--config", str(path), "db", "upgrade"])
    assert result.exit_code == 2 and "database.url: not a database URL" in result.stderr


@pytest.mark.empty_database
def test_editions_sent_before_variants_keep_what_they_sent(db_url: str) -> None:
    """0010 turns each earlier edition into one variant for everyone, remembers which releases
    it covered (they are not mailed again), and keeps its Message-IDs (a resumed edition sends
    the same ones). Nothing that refers to a table SQLite copies to alter is lost (0008 and 0010
    copy subscribers and editions: with foreign keys on, their countries and deliveries went)."""
    engine = make_engine(db_url)
    upgrade(engine, "0007")
    at = "2026-11-01 00:00:00.000000"
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO countries (code, name, timezone, language) "
                                "VALUES ('CN', 'China', 'Asia/Shanghai', 'en')"))
        for number in (1, 2, 3):
            connection.execute(text(
                "INSERT INTO releases (id, source_key, permanent_id, slug, title, summary, url, "
                "published, updated, source, content_hash) VALUES (:n, :key, :key, :key, 'Title', "
                "'', 'https://example.org/', :at, :at, 'test', '')"),
                {"n": number, "key": f"release-{number}", "at": at})
        connection.execute(text(
            "INSERT INTO subscribers (id, email, email_key, status, status_since, created) "
            "VALUES (7, 'a@example.org', 'a@example.org', 'confirmed', :at, :at)"), {"at": at})
        connection.execute(text("INSERT INTO subscriber_countries (subscriber_id, country_code) "
                                "VALUES (7, 'CN')"))
        for number, watermark in ((1, 2), (2, 3)):
            connection.execute(text(
                "INSERT INTO editions (id, digest, number, period, status, created, watermark, "
                "release_count, more_count, first_published, last_published, subject, html, text) "
                "VALUES (:n, 'weekly', :n, :period, 'sending', :at, :w, 1, 0, :at, :at, 'Subject', "
                "'<p>html</p>', 'text')"), {"n": number, "period": f"p{number}", "at": at, "w": watermark})
            connection.execute(text("INSERT INTO deliveries (edition_id, subscriber_id, status, "
                                    "attempts) VALUES (:n, 7, 'queued', 0)"), {"n": number})
    upgrade(engine)
    with engine.connect() as connection:
        variants = connection.execute(text(
            "SELECT edition_id, countries, subject, html, text FROM edition_variants ORDER BY edition_id")).all()
        assert [tuple(row) for row in variants] == [(1, "*", "Subject", "<p>html</p>", "text"),
                                                    (2, "*", "Subject", "<p>html</p>", "text")]
        carried = connection.execute(text(
            "SELECT edition_id, release_id FROM edition_releases ORDER BY release_id")).all()
        assert [tuple(row) for row in carried] == [(1, 1), (1, 2), (2, 3)]
        keys = connection.execute(text("SELECT id, message_key FROM editions ORDER BY id")).all()
        assert [tuple(row) for row in keys] == [(1, "1"), (2, "2")]
        assert connection.execute(text(
            "SELECT COUNT(*) FROM deliveries d JOIN edition_variants v ON v.id = d.variant_id "
            "AND v.edition_id = d.edition_id")).scalar() == 2
        assert connection.execute(text("SELECT COUNT(*) FROM subscriber_countries")).scalar() == 1


def test_times_are_written_as_before_and_read_back_in_utc(db_url: str) -> None:
    """On SQLite the text is the one SQLAlchemy's DATETIME wrote (stores written before compare
    with it as text); on both, an aware time comes back as the same instant in UTC."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from sqlalchemy import bindparam, select
    from sqlalchemy.dialects import sqlite

    from publisher.store.models import UTCDateTime

    engine = make_engine(db_url)
    times = [datetime(2022, 6, 16, tzinfo=ZoneInfo("Asia/Shanghai")),
             datetime(2026, 12, 4, 13, 5, 7, 123456, tzinfo=UTC), datetime(1001, 1, 1, 0, 0, 1, tzinfo=UTC)]
    with engine.connect() as connection:
        for when in times:
            back = connection.execute(select(bindparam("when", when, type_=UTCDateTime()))).scalar_one()
            assert back == when and back.tzinfo is UTC
            if engine.dialect.name == "sqlite":
                raw = connection.execute(text("SELECT :when").bindparams(
                    bindparam("when", when, type_=UTCDateTime()))).scalar_one()
                before = sqlite.DATETIME().bind_processor(engine.dialect)  # type: ignore[no-untyped-call]
                assert raw == before(when.astimezone(UTC).replace(tzinfo=None))


@pytest.mark.empty_database
@pytest.mark.slow  # starts processes
def test_processes_starting_at_once_on_a_fresh_store_all_start(db_url: str, tmp_path: Path) -> None:
    """SQLite failed 4 of 15 ("table countries already exists": its DDL ran outside any
    transaction), PostgreSQL 1 of 9 (two processes adding the same country)."""
    import subprocess
    import sys

    from helpers import write_config

    path = write_config(tmp_path, db_url)
    code = ("import sys; from publisher.config import load_config; from publisher.store.db import open_store; "
            f"open_store(load_config(__import__('pathlib').Path({str(path)!r}), environ={{}}))")
    for _ in range(2):  # two rounds: the first on nothing, the second at HEAD
        processes = [subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE) for _ in range(6)]
        results = [(process.wait(timeout=120), process.stderr.read()) for process in processes]  # type: ignore[union-attr]
        assert [returncode for returncode, _ in results] == [0] * 6, results


@pytest.mark.empty_database
def test_html_stored_before_it_was_cleaned_is_cleaned_by_the_upgrade(db_url: str) -> None:
    """0029: a release's body_html from an import before safehtml.py, cleaned in place."""
    engine = make_engine(db_url)
    upgrade(engine, "0028")
    at = "2026-11-01 00:00:00.000000"
    with engine.begin() as connection:
        for number, body in ((1, '<p onclick="x()">Fine <a href="/more">more</a></p><script>alert(1)</script>'),
                             (2, "<p>Already clean</p>")):
            connection.execute(text(
                "INSERT INTO releases (id, source_key, permanent_id, slug, title, summary, url, published, updated, "
                "source, content_hash, body_html) VALUES (:n, :key, :key, :key, 'Title', '', "
                "'https://www.ilo.org/beijing/a', :at, :at, 'test', '', :body)"),
                {"n": number, "key": f"release-{number}", "at": at, "body": body})
    upgrade(engine)
    with engine.connect() as connection:
        bodies = dict(connection.execute(text("SELECT id, body_html FROM releases")).all())
    assert bodies == {1: '<p>Fine <a href="https://www.ilo.org/more" rel="noopener noreferrer nofollow">more</a></p>',
                      2: "<p>Already clean</p>"}
