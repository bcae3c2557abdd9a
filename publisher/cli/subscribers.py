"""The people who receive digests: add, import, export, list, remove."""

from __future__ import annotations

from pathlib import Path

import click

from publisher.cli.app import App, cli, pass_app, print_table
from publisher.clock import utc_now as now
from publisher.dates import counted
from publisher.errors import InvalidValue
from publisher.jobs import subscribers as people
from publisher.operators.audit import command_line
from publisher.store.statuses import SubscriberStatus
from publisher.subscribers.history import history
from publisher.subscribers.people import (
    STATUSES,
    SubscriberRow,
    export_csv,
    list_subscribers,
    normalize_email,
    parse_countries,
    parse_digests,
    parse_language,
)


@cli.group()
def subscribers() -> None:
    """Manage the people who receive digests."""


@subscribers.command("add")
@click.argument("email")
@click.option("--countries", required=True, help='Country codes, e.g. "CN MN".')
@click.option("--pending", is_flag=True, help="Not confirmed yet (the default: confirmed).")
@click.option("--language", help="Of their mail: en, zh_Hans or mn (default: en for someone new).")
@click.option("--digests", help='The digests they get, e.g. "mongolia-monthly" (default: every digest of their '
                                "countries for someone new; unchanged for someone known).")
@pass_app
def subscribers_add(app: App, email: str, countries: str, pending: bool, language: str | None,
                    digests: str | None) -> None:
    """Add a subscriber, or change the countries of a known one.

    Example: publisher subscribers add someone@example.org --countries "CN MN"
    """
    try:
        row = SubscriberRow(normalize_email(email), parse_countries(countries, app.config.country_codes),
                            language=parse_language(language),
                            digests=parse_digests(digests, people.digest_names(app.sessions, app.config)))
    except InvalidValue as exc:
        raise click.BadParameter(str(exc)) from None
    counts = people.save(app.sessions, command_line(), row, now(), pending=pending)
    if counts.kept_stopped:
        click.echo(f"unchanged: {row.email} stopped their mail (unsubscribed, complained or bounced); only "
                   "they can come back, by subscribing and confirming")
        return
    verb = "added" if counts.new else "updated" if counts.updated else "unchanged:"
    click.echo(f"{verb} {row.email} ({' '.join(row.countries)})")


@subscribers.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--pending", is_flag=True, help="Import as not confirmed (default: confirmed).")
@pass_app
def subscribers_import(app: App, csv_file: Path, pending: bool) -> None:
    """Import subscribers from a CSV file with the columns email,countries (and optionally
    status, language and digests); a bad row stops the import and nothing is stored.

    Example: publisher subscribers import people.csv
    """
    counts = people.import_csv(app.sessions, app.config, command_line(), csv_file.read_bytes(), str(csv_file), now(),
                               pending=pending)
    stopped = f", {counts.kept_stopped} left stopped (only they can come back)" if counts.kept_stopped else ""
    click.echo(f"imported {counts.new} new, {counts.updated} updated, {counts.unchanged} "
               f"unchanged{stopped} from {csv_file}")


@subscribers.command("export")
@click.argument("csv_file", type=click.Path(dir_okay=False, path_type=Path))
@pass_app
def subscribers_export(app: App, csv_file: Path) -> None:
    """Write every subscriber to a CSV file (email,countries,status,language,digests).

    Example: publisher subscribers export people.csv
    """
    with app.sessions() as session:
        found = list_subscribers(session)
        csv_file.write_text(export_csv(found), "utf-8")
    click.echo(f"exported {counted(len(found), 'subscriber')} to {csv_file}")


@subscribers.command("show")
@click.argument("email")
@pass_app
def subscribers_show(app: App, email: str) -> None:
    """Print one subscriber and their history: editions sent, bounces, complaints, status.

    Example: publisher subscribers show someone@example.org
    """
    with app.sessions() as session:
        found = history(session, email)
        if found is None:
            raise click.BadParameter(f"{email}: no such subscriber", param_hint="EMAIL")
        subscriber, events = found
        click.echo(f"{subscriber.email}: {subscriber.status} since {subscriber.status_since:%Y-%m-%d %H:%M} UTC, "
                   f"{' '.join(subscriber.country_codes)}, {subscriber.language}, "
                   f"{counted(subscriber.soft_bounces, 'soft bounce')} in a row")
    print_table(("When (UTC)", "What", "Detail"),
                ([f"{event.at:%Y-%m-%d %H:%M}" if event.at else "", event.what, event.detail[:120]]
                 for event in events))


@subscribers.command("list")
@click.option("--status", type=click.Choice(STATUSES))
@click.option("--country", help="Only subscribers of this country (a code such as CN).")
@pass_app
def subscribers_list(app: App, status: str | None, country: str | None) -> None:
    """Print subscribers as a table.

    Example: publisher subscribers list --status confirmed --country MN
    """
    with app.sessions() as session:
        found = list_subscribers(session, SubscriberStatus(status) if status else None,
                                 country.upper() if country else None)
        rows = [[subscriber.email, " ".join(subscriber.country_codes), subscriber.status,
                 subscriber.status_since.strftime("%Y-%m-%d")] for subscriber in found]
    print_table(("Email", "Countries", "Status", "Since"), rows)
    click.echo(counted(len(found), "subscriber"))


@subscribers.command("remove")
@click.argument("email")
@pass_app
def subscribers_remove(app: App, email: str) -> None:
    """Delete a subscriber and their delivery history.

    Example: publisher subscribers remove someone@example.org
    """
    try:
        address = normalize_email(email)
    except InvalidValue as exc:
        raise click.BadParameter(str(exc)) from None
    if not people.remove(app.sessions, command_line(), address, now()):
        raise click.ClickException(f"no subscriber {address}")
    click.echo(f"removed {address}")
