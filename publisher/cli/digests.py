"""Digest editions by hand: send (or a dry run, or a test copy) and preview."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from rich.progress import Progress

from publisher.cli.app import App, cli, favour_senders, pass_app
from publisher.clock import utc_now as now
from publisher.dates import counted
from publisher.errors import InvalidValue
from publisher.jobs.digests import plan_digest, send_digest
from publisher.jobs.samples import preview_digest, send_test_copy


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
        click.echo(f"{name} edition {plan.number}: {what} {counted(releases, 'release')} to "
                   f"{counted(plan.recipients, 'recipient')} (dry run, nothing sent)")
        return
    favour_senders()
    with _progress(plan.recipients) as progress:
        totals = send_digest(app.sessions, app.config, name, now=now(), progress=progress)
    click.echo(totals.line() if totals else f"{name}: no new releases; nothing sent")


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
