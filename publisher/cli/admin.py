"""The database schema and the config: db upgrade, config check."""

from __future__ import annotations

import click

from publisher.cli.app import App, cli, pass_app
from publisher.clock import utc_now
from publisher.dates import counted
from publisher.run.schedules import schedules
from publisher.store.db import database_url, display_url, make_engine, upgrade


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
    """Load the config and report what it holds; exit code 2 when it is invalid.

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
