"""The schema: migrations create exactly the models, run on start, and are idempotent."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import inspect

from publisher.cli import cli
from publisher.store.db import make_engine, upgrade
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
