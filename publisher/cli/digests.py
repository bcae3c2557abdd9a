"""Digest editions by hand: send (or a dry run, or a test copy) and preview."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import click

from publisher.cli.app import App, cli, favour_senders, pass_app, print_table
from publisher.cli.progress import progress_bar
from publisher.clicks.report import ClickReport, click_report, percent
from publisher.clock import utc_now as now
from publisher.dates import counted, format_day_month_year
from publisher.digest.explain import next_edition
from publisher.digest.report import edition_report
from publisher.errors import InvalidValue
from publisher.jobs.digests import plan_digest, prune_editions, send_digest, start_digest
from publisher.jobs.samples import preview_digest, send_test_copy
from publisher.languages import LANGUAGES
from publisher.operators.audit import command_line
from publisher.store.digests import digest_named


@cli.group()
def digest() -> None:
    """Send and preview digest emails."""


def _countries(value: str | None) -> list[str] | None:
    return value.replace(",", " ").split() if value else None


_COUNTRIES = click.option(
    "--countries", metavar="CODES",
    help="The readers' choice to show, e.g. 'CN MN' (default: every country of the digest).")
_LANGUAGE = click.option("--language", default=LANGUAGES[0], show_default=True,
                         type=click.Choice(LANGUAGES), help="The readers' language.")


@digest.command("send")
@click.argument("name")
@click.option("--dry-run", is_flag=True, help="Say what would be sent; send and record nothing.")
@click.option("--to", "to", metavar="ADDRESS",
              help="Send a test copy ('[Test]' in its subject) to ADDRESS only; record nothing.")
@_COUNTRIES
@_LANGUAGE
@pass_app
def digest_send(app: App, name: str, dry_run: bool, to: str | None, countries: str | None,
                language: str) -> None:
    """Send the next edition of digest NAME now (finishing an unfinished one first).

    Example: publisher digest send china-weekly --dry-run
    """
    if to is not None:
        _send_test_copy(app, name, to, _countries(countries), language)
        return
    plan, pause = plan_digest(app.sessions, app.config, name, now())
    if dry_run or not plan.makes_edition:
        click.echo(next_edition(name, plan, pause) + (" (dry run, nothing sent)" if dry_run else ""))
        return
    favour_senders()
    with progress_bar("sending", plan.recipients) as progress:
        totals = send_digest(app.sessions, app.config, name, now=now(), progress=progress)
    click.echo(totals.line() if totals else f"{name}: nothing new since the last edition")


def _send_test_copy(app: App, name: str, address: str, countries: list[str] | None,
                    language: str) -> None:
    try:
        sent = send_test_copy(app.sessions, app.config, name, address, now(), countries=countries,
                              language=language)
    except InvalidValue as exc:
        raise click.BadParameter(str(exc)) from None
    if sent is None:
        click.echo(f"{name}: nothing new for {' '.join(countries or ()) or 'its readers'}; "
                   "no test copy to send")
        return
    sample, reply = sent
    language_note = "" if language == LANGUAGES[0] else f", {language}"
    click.echo(f"{name}: test copy of edition {sample.edition.number} "
               f"({' '.join(sample.countries)}{language_note}, "
               f"{counted(sample.variant.release_count, 'release')}) "
               f"sent to {address} ({reply})")


@digest.command("preview")
@click.argument("name")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write NAME.html, NAME.txt and NAME.eml into.")
@_COUNTRIES
@_LANGUAGE
@pass_app
def digest_preview(app: App, name: str, out: Path, countries: str | None, language: str) -> None:
    """Write the HTML, the text and the complete .eml of what the next edition would be.

    Example: publisher digest preview china-weekly --out preview/
    """
    try:
        written = preview_digest(app.sessions, app.config, name, out, now(),
                                 countries=_countries(countries), language=language)
    except InvalidValue as exc:
        raise click.BadParameter(str(exc), param_hint="--countries") from None
    if written is None:
        click.echo(f"{name}: no release of its countries yet; nothing to preview")
    elif written.latest:
        click.echo(f"{name}: nothing new; wrote a sample of the latest releases ([Sample] in its subject): "
                   f"{', '.join(str(path) for path in written.files)}")
    else:
        click.echo(f"wrote {', '.join(str(path) for path in written.files)}")


@digest.command("start")
@click.argument("name")
@click.option("--from", "since", required=True, metavar="DATE", type=click.DateTime(["%Y-%m-%d"]),
              help="Releases published from this day on (in the digest's time zone) are news.")
@pass_app
def digest_start(app: App, name: str, since: datetime) -> None:
    """Say where digest NAME starts: its next edition carries releases published from DATE on
    that no edition carried yet (instead of its usual period, or a first edition's window).

    Example: publisher digest start china-weekly --from 2026-11-01
    """
    start = start_digest(app.sessions, command_line(), name, since.date(), now())
    click.echo(f"{name}: the next edition carries releases published from "
               f"{format_day_month_year(since.date())} ({start:%Y-%m-%d %H:%M %Z}) on")


@cli.command("report")
@click.argument("name")
@click.argument("number", type=click.IntRange(1), required=False)
@click.option("--csv", "csv_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write every recipient and their outcome to this CSV file.")
@click.option("--clicks-csv", "clicks_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the clicks per link, language and choice of countries to this CSV file.")
@pass_app
def report(app: App, name: str, number: int | None, csv_file: Path | None, clicks_file: Path | None) -> None:
    """How edition NUMBER of digest NAME went (default: its newest): sent, failed, bounced,
    complained, unsubscribed since; and what readers clicked (per link, language and choice of
    countries, nobody by name).

    Example: publisher report china-weekly 3 --csv edition-3.csv
    """
    with app.sessions() as session:
        digest_named(session, name, retired=True)  # an unknown digest is an error naming the known ones
        found = edition_report(session, name, number)
        clicks = None if found is None else click_report(session, found.edition)
    if found is None:
        raise click.BadParameter(f"{name} has no edition {number or ''}".strip(), param_hint="NUMBER")
    if clicks_file is not None:
        if clicks is None:
            raise click.UsageError(f"edition {found.edition.number}'s links were not counted (track_links = false)")
        clicks_file.write_text(clicks.csv(), "utf-8")
    if csv_file is not None:
        if found.edition.pruned is not None:
            raise click.UsageError(f"edition {found.edition.number}'s deliveries were pruned on "
                                   f"{found.edition.pruned:%Y-%m-%d}: there is no list of recipients to write")
        csv_file.write_text(found.csv(), "utf-8")
    click.echo(found.line() + (f"; {clicks.summary()}" if clicks else ""))
    if clicks is not None and (clicks.total.counted.clicks or clicks.total.counted.automatic):
        _print_clicks(clicks)


def _print_clicks(clicks: ClickReport) -> None:
    for heading, lines in (("link", clicks.links), ("language", clicks.languages),
                           ("countries", clicks.choices)):
        print_table((heading, "delivered", "readers who clicked", "rate", "clicks", "automatic"),
                    ((line.label, "" if line.delivered is None else str(line.delivered), str(line.counted.readers),
                      percent(line.rate), str(line.counted.clicks), str(line.counted.automatic)) for line in lines))


@cli.group()
def editions() -> None:
    """Manage sent editions."""


@editions.command("prune")
@click.option("--older-than", "older_than", default="90d", show_default=True, metavar="AGE",
              help="Editions completed longer ago than this: 90d, 12h, 30m.")
@click.option("--batch", type=click.IntRange(100, 1_000_000), default=10_000, show_default=True,
              help="Deliveries deleted per transaction.")
@pass_app
def editions_prune(app: App, older_than: str, batch: int) -> None:
    """Delete the deliveries of editions completed more than AGE ago, in batches. The editions,
    their pages and their counts by status stay (`publisher report` still tells them).

    Example: publisher editions prune --older-than 90d
    """
    from publisher.config.values import parse_duration

    try:
        age = parse_duration(older_than)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--older-than") from None
    if not isinstance(age, timedelta) or age <= timedelta(0):
        raise click.BadParameter(f"expected an age such as 90d, got {older_than!r}", param_hint="--older-than")
    with progress_bar("pruning", None) as progress:
        pruned = prune_editions(app.sessions, command_line(), age, now(), batch, progress)
    click.echo(pruned.line(older_than))

