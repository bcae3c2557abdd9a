"""Bounces that come back as mail: read one from standard input (an MTA's pipe)."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from sqlalchemy.exc import OperationalError

from publisher.cli.app import App, cli, pass_app
from publisher.clock import utc_now as now
from publisher.errors import StoreError
from publisher.jobs.bounces import fetch_maildir, take_message

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
    raw = sys.stdin.buffer.read()
    try:
        taken = take_message(app.sessions, app.config, raw, "pipe", now())
    except (StoreError, OperationalError) as exc:  # the MTA keeps the message meanwhile
        reason = exc.orig if isinstance(exc, OperationalError) else exc
        click.echo(f"try again later: the database cannot be reached ({reason})", err=True)
        sys.exit(EX_TEMPFAIL)
    click.echo(taken.line)


@bounces.command("fetch")
@pass_app
def bounces_fetch(app: App) -> None:
    """Read every message of the bounces.maildir folder, apply each, and move it to the
    folder's `.handled` or `.rejected` subfolder.

    Example: publisher bounces fetch
    """
    if not app.config.bounces.maildir:
        raise click.UsageError("set bounces.maildir to the Maildir folder the bounce address delivers into")
    folder = Path(app.config.bounces.maildir)
    if not (folder / "cur").is_dir():
        raise click.UsageError(f"{folder}: not a Maildir folder (no cur/ in it)")
    click.echo(fetch_maildir(app.sessions, app.config, folder, now()).line(str(folder)))
