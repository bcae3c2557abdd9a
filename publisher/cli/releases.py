"""Releases and feeds: import, feeds build, releases list."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from publisher.cli.app import App, cli, pass_app, print_lines, print_table
from publisher.cli.progress import progress_bar
from publisher.clock import utc_now as now
from publisher.config.model import INPUT_FORMATS

if TYPE_CHECKING:
    from publisher.config import Config
    from publisher.store.models import Release


@cli.command("import")
@click.argument("files", nargs=-1, required=True, metavar="FILE_OR_URL...")
@click.option("--format", "fmt", type=click.Choice(sorted(INPUT_FORMATS)),
              help="Input format. Default: from the extension (.txt listing, .json, .csv, "
                   ".html), or a URL's Content-Type.")
@click.option("--backfill", is_flag=True,
              help="For a feed's URL: also its older pages (RFC 5005 archives and pages, a JSON Feed's "
                   "next_url), at most 100.")
@pass_app
def import_(app: App, files: tuple[str, ...], fmt: str | None, backfill: bool) -> None:
    """Import releases from files or http(s) URLs, all in one transaction.

    Example: publisher import news.txt https://www.ilo.org/beijing/news.html
    """
    from publisher.jobs.imports import ImportRequest, import_files  # each command loads what it uses

    requests = [ImportRequest(location, fmt, backfill) for location in files]
    with progress_bar("importing", _local_bytes(files)) as progress:
        outcome = import_files(app.sessions, app.config, requests, now(), progress)
    print_lines(outcome.lines())


def _local_bytes(files: tuple[str, ...]) -> int | None:
    """The size of the local files (what the progress bar counts); None when there are none."""
    sizes = [Path(name).stat().st_size for name in files if Path(name).is_file()]
    return sum(sizes) or None


@cli.group()
def feeds() -> None:
    """Build the feeds."""


@feeds.command("build")
@pass_app
def feeds_build(app: App) -> None:
    """Write every feed that changed (Atom, RSS, JSON Feed, index.html, feeds.opml).

    Example: publisher feeds build
    """
    from publisher.jobs.feeds import rebuild_feeds

    click.echo(rebuild_feeds(app.sessions, app.config).line())


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
    from publisher.store.releases import newest_releases

    with app.sessions() as session:
        found = newest_releases(session, country, limit)
        rows = _release_rows(found, app.config)
    print_table(("Published", "Countries", "Title"), rows)
    noun = "release" if len(found) == 1 else "releases"
    click.echo(f"{len(found)} {noun}{f' of {country}' if country else ''}")


def _release_rows(found: Sequence[Release], config: Config) -> list[list[str]]:
    zone = config.site.zone
    return [[release.published.astimezone(zone).strftime("%Y-%m-%d"), " ".join(release.country_codes),
             release.title] for release in found]
