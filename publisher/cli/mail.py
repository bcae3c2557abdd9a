"""Commands about mail: subscribers and digests."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from rich.progress import Progress
from rich.table import Table
from sqlalchemy.exc import OperationalError

from publisher.cli.app import App, cli, pass_app, print_table
from publisher.clock import utc_now as now
from publisher.digest.status import delivery_status
from publisher.errors import InputError, InvalidValue
from publisher.jobs.digests import (
    help_send,
    plan_digest,
    send_digest,
    unfinished_editions,
)
from publisher.jobs.samples import preview_digest, send_test_copy
from publisher.run.processes import Presence, recent_processes
from publisher.store.statuses import ProcessRole, ProcessState, SubscriberStatus
from publisher.subscribers.people import (
    STATUSES,
    SubscriberRow,
    export_csv,
    list_subscribers,
    normalize_email,
    parse_countries,
    parse_subscriber_csv,
    remove_subscriber,
    save_subscribers,
)

log = logging.getLogger("publisher.worker")


@cli.group()
def subscribers() -> None:
    """Manage the people who receive digests."""


def _status(pending: bool) -> SubscriberStatus:
    return SubscriberStatus.PENDING if pending else SubscriberStatus.CONFIRMED


@subscribers.command("add")
@click.argument("email")
@click.option("--countries", required=True, help='Country codes, e.g. "CN MN".')
@click.option("--pending", is_flag=True, help="Not confirmed yet (the default: confirmed).")
@pass_app
def subscribers_add(app: App, email: str, countries: str, pending: bool) -> None:
    """Add a subscriber, or change the countries of a known one.

    Example: publisher subscribers add someone@example.org --countries "CN MN"
    """
    try:
        row = SubscriberRow(normalize_email(email), parse_countries(countries, app.config.country_codes))
    except InvalidValue as exc:
        raise click.BadParameter(str(exc)) from None
    with app.sessions.begin() as session:
        counts = save_subscribers(session, [row], _status(pending), now())
    verb = "added" if counts.new else "updated" if counts.updated else "unchanged:"
    click.echo(f"{verb} {row.email} ({' '.join(row.countries)})")


@subscribers.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--pending", is_flag=True, help="Import as not confirmed (default: confirmed).")
@pass_app
def subscribers_import(app: App, csv_file: Path, pending: bool) -> None:
    """Import subscribers from a CSV file with the columns email,countries (and optionally
    status); a bad row stops the import and nothing is stored.

    Example: publisher subscribers import people.csv
    """
    try:
        text = csv_file.read_text("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(str(csv_file), "", "not UTF-8 text") from None
    rows = parse_subscriber_csv(text, str(csv_file), app.config.country_codes)
    with app.sessions.begin() as session:
        counts = save_subscribers(session, rows, _status(pending), now())
    click.echo(f"imported {counts.new} new, {counts.updated} updated, {counts.unchanged} "
               f"unchanged from {csv_file}")


@subscribers.command("export")
@click.argument("csv_file", type=click.Path(dir_okay=False, path_type=Path))
@pass_app
def subscribers_export(app: App, csv_file: Path) -> None:
    """Write every subscriber to a CSV file (email,countries,status).

    Example: publisher subscribers export people.csv
    """
    with app.sessions() as session:
        found = list_subscribers(session)
        csv_file.write_text(export_csv(found), "utf-8")
    click.echo(f"exported {len(found)} subscribers to {csv_file}")


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
        table = Table("Email", "Countries", "Status", "Since")
        for subscriber in found:
            table.add_row(subscriber.email, " ".join(subscriber.country_codes), subscriber.status,
                          subscriber.status_since.strftime("%Y-%m-%d"))
    print_table(table)
    click.echo(f"{len(found)} subscribers")


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
    with app.sessions.begin() as session:
        if not remove_subscriber(session, address):
            raise click.ClickException(f"no subscriber {address}")
    click.echo(f"removed {address}")


@cli.group()
def digest() -> None:
    """Send and preview digest emails."""


@contextmanager
def _progress(total: int) -> Iterator[Callable[[int], None] | None]:
    """A progress bar on a terminal; nothing otherwise (logs and pipes stay clean)."""
    if not sys.stdout.isatty():
        yield None
        return
    with Progress(transient=True) as progress:
        task = progress.add_task("sending", total=total)
        yield lambda n: progress.advance(task, n)


@digest.command("send")
@click.argument("name")
@click.option("--dry-run", is_flag=True, help="Say what would be sent; send and record nothing.")
@click.option("--to", "to", metavar="ADDRESS", help="Send a test copy to ADDRESS only; record nothing.")
@pass_app
def digest_send(app: App, name: str, dry_run: bool, to: str | None) -> None:
    """Send the next edition of digest NAME now (finishing an unfinished one first).

    Example: publisher digest send china-weekly --dry-run
    """
    if to is not None:
        _send_test_copy(app, name, to)
        return
    plan = plan_digest(app.sessions, app.config, name)
    if plan is None:
        click.echo(f"{name}: no new releases since the last edition; nothing sent")
        return
    if dry_run:
        what = "would resume" if plan.resumed else "would send"
        releases = plan.resumed.release_count if plan.resumed else len(plan.selection.releases)
        click.echo(f"{name} edition {plan.number}: {what} {releases} releases to "
                   f"{plan.recipients} recipients (dry run, nothing sent)")
        return
    _favour_senders()
    with _progress(plan.recipients) as progress:
        totals = send_digest(app.sessions, app.config, name, now=now(), progress=progress)
    click.echo(totals.line() if totals else f"{name}: no new releases; nothing sent")


def _favour_senders() -> None:
    """Let a thread waiting on the network (a commit, an SMTP reply) have the interpreter back
    within 0.5 ms instead of 5: the senders mostly wait, and a result commit that waits on a
    busy thread holds up every connection (measured: +15% messages per second)."""
    sys.setswitchinterval(0.0005)


def _send_test_copy(app: App, name: str, address: str) -> None:
    try:
        reply = send_test_copy(app.sessions, app.config, name, address, now())
    except InvalidValue as exc:
        raise click.BadParameter(str(exc), param_hint="--to") from None
    if reply is None:
        click.echo(f"{name}: no new releases; no test copy to send")
    else:
        click.echo(f"{name}: test copy sent to {address} ({reply})")


@digest.command("preview")
@click.argument("name")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write NAME.html, NAME.txt and NAME.eml into.")
@pass_app
def digest_preview(app: App, name: str, out: Path) -> None:
    """Write the HTML, the text and the complete .eml of what the next edition would be.

    Example: publisher digest preview china-weekly --out preview/
    """
    written = preview_digest(app.sessions, app.config, name, out, now())
    if written is None:
        click.echo(f"{name}: no new releases; nothing to preview")
    else:
        click.echo(f"wrote {', '.join(str(path) for path in written)}")


@cli.command()
@click.option("--poll", default=2.0, show_default=True, type=click.FloatRange(0.1, 3600),
              help="Seconds between looks for editions to send.")
@click.option("--batch", default=250, show_default=True, type=click.IntRange(1, 10_000),
              help="Deliveries claimed at a time, per connection (smaller shares a small "
                   "edition more evenly among workers).")
@pass_app
def worker(app: App, poll: float, batch: int) -> None:
    """Send queued deliveries of every unfinished edition, until SIGTERM or Ctrl-C. Run any
    number of workers, on any machine, against one database (scheduler.send_in_process =
    false leaves all sending to them).

    Example: publisher worker
    """
    stop = threading.Event()
    _favour_senders()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    with Presence(app.sessions, ProcessRole.WORKER, ProcessState.IDLE) as presence:
        log.info("worker %s started", presence.name)
        while not stop.is_set():
            try:
                _worker_round(app, presence, stop, batch)
            except OperationalError:  # the database went away as the worker was told to stop
                if not stop.is_set():
                    raise
            stop.wait(poll)
    log.info("worker stopped")


def _worker_round(app: App, presence: Presence, stop: threading.Event, batch: int) -> None:
    editions = unfinished_editions(app.sessions, app.config, stop)
    presence.set_state(ProcessState.SENDING if editions else ProcessState.IDLE)
    for edition in editions:
        totals = help_send(app.sessions, app.config, edition, stop=stop,
                                progress=presence.handled, batch=batch)
        log.info("worker: %s", totals.line())


@cli.command()
@click.option("--limit", type=click.IntRange(min=1), default=10, show_default=True)
@pass_app
def status(app: App, limit: int) -> None:
    """Per edition, how many deliveries are queued, being sent, sent and failed; and the
    workers and schedulers seen in the last two minutes.

    Example: publisher status
    """
    moment = now()
    with app.sessions() as session:
        editions = delivery_status(session, moment, limit)
        processes = recent_processes(session, moment)
    table = Table("Edition", "Status", "Queued", "Sending", "Sent", "Failed", "Skipped")
    for row in editions:
        table.add_row(f"{row.digest} {row.number}", row.status, *map(str, row.counts))
    print_table(table)
    table = Table("Process", "Role", "State", "Seen", "Deliveries")
    for process in processes:
        ago = int((moment - process.seen).total_seconds())
        table.add_row(process.name, process.role, process.state, f"{ago} s ago", str(process.handled))
    print_table(table)
    workers = sum(process.role is ProcessRole.WORKER for process in processes)
    click.echo(f"{len(editions)} editions; {workers} workers and "
               f"{len(processes) - workers} schedulers seen in the last two minutes")
