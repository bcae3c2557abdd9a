"""Bounces that come back as mail: one from standard input (an MTA's pipe), or all of a
Maildir folder and an IMAP mailbox."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from sqlalchemy.exc import OperationalError

from publisher.cli.app import App, cli, pass_app
from publisher.cli.progress import progress_bar
from publisher.clock import utc_now as now
from publisher.errors import StoreError
from publisher.jobs.bounces import read_message
from publisher.jobs.mailboxes import bounded_read, fetch_bounces
from publisher.mail.reports import MAX_REPORT_BYTES

EX_TEMPFAIL = 75  # sysexits.h: the MTA keeps the message and tries again later


@cli.group()
def bounces() -> None:
    """Bounces, complaints and mailed unsubscribes."""


@bounces.command("read")
@pass_app
def bounces_read(app: App) -> None:
    """Read one message from standard input and apply it: a bounce (DSN or another format),
    a complaint (ARF); one that cannot be understood is kept aside. Exit 0 when taken, 75 when
    it must be tried again later (the database is away), as an MTA's pipe expects.

    Example (Postfix master.cf pipe): publisher bounces read
    """
    if not app.config.mail.bounce_address:
        raise click.UsageError("bounces are read only when mail.bounce_address is set (its signed return "
                               "paths say whose delivery a report is about)")
    raw = bounded_read(sys.stdin.buffer, MAX_REPORT_BYTES + 1)
    try:
        taken = read_message(app.sessions, app.config, raw, "pipe", now())
    except (StoreError, OperationalError) as exc:  # the MTA keeps the message meanwhile
        reason = exc.orig if isinstance(exc, OperationalError) else exc
        click.echo(f"try again later: the database cannot be reached ({reason})", err=True)
        sys.exit(EX_TEMPFAIL)
    click.echo(taken.line)


@bounces.command("fetch")
@pass_app
def bounces_fetch(app: App) -> None:
    """Read every message of the bounces.maildir folder and of the bounces.imap mailbox, apply
    each, and move it aside: to the folder's `.handled` or `.rejected` subfolder, or to the
    mailbox's handled_folder or rejected_folder. One line per place read.

    Example: publisher bounces fetch
    """
    bounces = app.config.bounces
    if not bounces.maildir and not bounces.imap.host:
        raise click.UsageError("set bounces.maildir or bounces.imap.host to where the bounce address's mail arrives")
    if bounces.maildir and not (Path(bounces.maildir) / "cur").is_dir():
        raise click.UsageError(f"{bounces.maildir}: not a Maildir folder (no cur/ in it)")
    with progress_bar("reading bounces", None) as progress:
        for fetched in fetch_bounces(app.sessions, app.config, now(), progress):
            click.echo(fetched.line())
