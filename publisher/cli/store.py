"""Commands about the store and the feeds: run, import, feeds, releases, db, config."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from typing import Any

import click
from rich.table import Table

from publisher.cli.app import App, cli, pass_app, print_table
from publisher.clock import utc_now as now
from publisher.config import Config
from publisher.feeds.build import build_feeds
from publisher.ingest.read import PARSERS
from publisher.jobs.imports import (
    ImportOutcome,
    ImportRequest,
    import_files,
    import_sources,
)
from publisher.run.scheduler import describe_schedules, run_forever
from publisher.store.db import database_url, display_url, make_engine, upgrade
from publisher.store.models import Release
from publisher.store.releases import newest_releases

log = logging.getLogger("publisher")


def _print_import(outcome: ImportOutcome) -> None:
    for line in outcome.lines():
        click.echo(line)


@cli.command()
@pass_app
def run(app: App) -> None:
    """The main job, until SIGTERM or Ctrl-C: import the configured sources, build the feeds,
    send any digest missed while it was down, then run every schedule of the config.

    Example: publisher run
    """
    def start() -> None:
        rebuilt = False
        for source, outcome in import_sources(app.sessions, app.config, now()):
            if isinstance(outcome, ImportOutcome):
                _print_import(outcome)
                rebuilt = rebuilt or outcome.feeds is not None
            else:  # tried again on its next fire time (or the next start)
                log.error("source %s: %s", source.name, outcome)
        if not rebuilt:  # the imports changed nothing; the config may have
            click.echo(build_feeds(app.sessions, app.config).line())

    web = _start_web(app) if app.config.web.enabled else None
    try:
        code = run_forever(app.sessions, app.config, on_start=start)
    finally:
        if web is not None:
            web.should_exit = True
    sys.exit(code)


def _start_web(app: App) -> Any:
    """The web app in a thread of this process (web.enabled): it stops with the scheduler."""
    import threading

    import uvicorn

    from publisher.web.app import create_app

    server = uvicorn.Server(uvicorn.Config(
        create_app(app.config, app.sessions), host=app.config.web.host, port=app.config.web.port,
        log_level="warning", server_header=False))
    threading.Thread(target=server.run, name="web", daemon=True).start()
    log.info("serving http://%s:%d/", app.config.web.host, app.config.web.port)
    return server


@cli.command()
@click.option("--host", help="Address to listen on. Default: web.host (127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), help="Default: web.port (8080).")
@pass_app
def serve(app: App, host: str | None, port: int | None) -> None:
    """Serve the feeds, release pages and subscription pages over HTTP (uvicorn).

    Example: publisher serve --host 127.0.0.1 --port 8080
    """
    import uvicorn

    from publisher.web.app import create_app

    web = create_app(app.config, app.sessions)
    uvicorn.run(web, host=host or app.config.web.host, port=port or app.config.web.port,
                log_level="warning", server_header=False)


@cli.command("schedule")
@pass_app
def schedule_command(app: App) -> None:
    """Print every job with its next three fire times (in its zone and in UTC), when it last
    ran, and the last edition of each digest.

    Example: publisher schedule
    """
    with app.sessions() as session:
        rows = describe_schedules(session, app.config, now())
    table = Table("Job", "Next fire times (own zone / UTC)", "Last run", "Last edition")
    for row in rows:
        table.add_row(row.id, "\n".join(row.next_fires), row.last_run, row.last_edition)
    print_table(table)
    click.echo(f"{len(rows)} jobs")


@cli.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(sorted(PARSERS)),
              help="Input format. Default: from the extension (.txt listing, .json, .csv).")
@pass_app
def import_(app: App, files: tuple[str, ...], fmt: str | None) -> None:
    """Import releases from FILES, all in one transaction.

    Example: publisher import news.txt releases.csv
    """
    requests = [ImportRequest(location, fmt) for location in files]
    _print_import(import_files(app.sessions, app.config, requests, now()))


@cli.group()
def feeds() -> None:
    """Build the feeds."""


@feeds.command("build")
@pass_app
def feeds_build(app: App) -> None:
    """Write every feed that changed (Atom, RSS, JSON Feed, index.html, feeds.opml).

    Example: publisher feeds build
    """
    click.echo(build_feeds(app.sessions, app.config).line())


@cli.group()
def releases() -> None:
    """Look at stored releases."""


@releases.command("list")
@click.option("--country", help="Only this country's releases (a code such as CN).")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@pass_app
def releases_list(app: App, country: str | None, limit: int) -> None:
    """Print the newest releases as a table.

    Example: publisher releases list --country MN --limit 5
    """
    if country is not None:
        country = country.upper()
        if country not in app.config.country_codes:
            raise click.BadParameter(f"unknown country {country!r}; the config has "
                                     f"{', '.join(app.config.country_codes)}", param_hint="--country")
    _print_releases(app, country, limit)


def _print_releases(app: App, country: str | None, limit: int) -> None:
    with app.sessions() as session:
        found = newest_releases(session, country, limit)
        table = _release_table(found, app.config)
    print_table(table)
    noun = "release" if len(found) == 1 else "releases"
    click.echo(f"{len(found)} {noun}{f' of {country}' if country else ''}")


def _release_table(found: Sequence[Release], config: Config) -> Table:
    table = Table("Published", "Countries", "Title")
    zone = config.site.zone
    for release in found:
        table.add_row(release.published.astimezone(zone).strftime("%Y-%m-%d"),
                      " ".join(release.country_codes), release.title)
    return table


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
    click.echo(f"config OK: {len(config.countries)} countries, {len(config.digests)} digests, "
               f"{len(config.sources)} sources, database "
               f"{display_url(database_url(config))}")
