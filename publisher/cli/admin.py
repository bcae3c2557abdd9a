"""The database schema and the config: db upgrade, config check."""

from __future__ import annotations

import click
from sqlalchemy.exc import SQLAlchemyError

from publisher.cli.app import App, cli, pass_app
from publisher.clock import utc_now
from publisher.config import Config
from publisher.dates import counted
from publisher.jobs.digest_settings import divergences
from publisher.jobs.source_settings import source_divergences
from publisher.run.schedules import schedules
from publisher.store.db import database_url, display_url, engine_of, make_engine, stored_as_is, upgrade
from publisher.store.effect import file_changes


@cli.group()
def db() -> None:
    """Manage the database schema."""


@db.command("upgrade")
@pass_app
def db_upgrade(app: App) -> None:
    """Apply any pending migrations (they also run on every start).

    Example: publisher db upgrade
    """
    url = database_url(app.config)
    upgrade(make_engine(url))
    click.echo(f"database {display_url(url)} is up to date")


@cli.group("config")
def config_group() -> None:
    """Inspect the configuration."""


@config_group.command("check")
@pass_app
def config_check(app: App) -> None:
    """Load the config and report what it holds, and where the digests and sources in effect
    differ from it (changed in the console, the API or with `digests apply`, or changed in the
    file since a command last started: the database is read, never written); exit code 2 when
    it is invalid.

    Example: publisher --config /etc/publisher/config.toml config check
    """
    config = app.config
    click.echo(f"config OK: {counted(len(config.countries), 'country', 'countries')}, "
               f"{counted(len(config.digests), 'digest')}, {counted(len(config.sources), 'source')}, database "
               f"{display_url(database_url(config))}")
    for schedule in schedules(config):  # each as crontab(5) reads it, and when it next fires
        fires = schedule.next_fire_times(utc_now(), 1)
        then = f"{fires[0].astimezone(schedule.zone):%a %Y-%m-%d %H:%M}" if fires else "never"
        click.echo(f"  {schedule.id}: {schedule.in_words}; next {then}")
    for line in _not_the_files(config):
        click.echo(line)


def _not_the_files(config: Config) -> list[str]:
    """The settings in effect that are not the file's (an operator's, or the file's changes not
    taken yet), so that the schedules above are not taken for the ones that fire; nothing when
    the store has none to read yet."""
    try:
        sessions = stored_as_is(config)
        if sessions is None:
            return []
        try:
            instead = [f"  digest {line}" for line in divergences(sessions, config)]
            instead += [f"  {line}" for line in source_divergences(sessions, config)]
            with sessions() as session:
                pending = [f"  {line}" for line in file_changes(session, config)]
        finally:
            engine_of(sessions).dispose()
    except SQLAlchemyError as exc:
        return [f"the settings in effect were not compared: cannot read the database ({exc.__class__.__name__})"]
    return ((["in effect instead (changed in the console, the API or with `digests apply`; "
              "`publisher schedule` shows what fires):", *instead] if instead else [])
            + (["not in effect yet (the next start of a publisher command takes them):", *pending]
               if pending else []))
