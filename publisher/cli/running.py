"""The main job and its schedules: run, schedule (the web app it serves: cli/serving.py; the
workers beside it: cli/sending.py)."""

from __future__ import annotations

import contextlib
import logging
import sys

import click

from publisher.cli.app import App, cli, pass_app, print_lines, print_table
from publisher.cli.serving import start_web
from publisher.cli.stacks import dump_threads_on_request
from publisher.clock import utc_now as now
from publisher.jobs.digest_settings import divergences
from publisher.jobs.feeds import rebuild_feeds
from publisher.jobs.imports import ImportOutcome, import_sources
from publisher.jobs.source_settings import source_divergences
from publisher.run.reachable import warn_unless_served
from publisher.run.scheduler import describe_schedules, run_forever

log = logging.getLogger("publisher")


@cli.command()
@pass_app
def run(app: App) -> None:
    """The main job, until SIGTERM or Ctrl-C: import the configured sources, build the feeds,
    send any digest missed while it was down, then run every schedule of the config.

    Example: publisher run
    """
    dump_threads_on_request()

    def start() -> None:
        rebuilt = False
        for source, outcome in import_sources(app.sessions, app.config, now()):
            if isinstance(outcome, ImportOutcome):
                print_lines(outcome.lines())
                rebuilt = rebuilt or outcome.feeds is not None
            else:  # tried again on its next fire time (or the next start)
                log.error("source %s: %s", source.name, outcome)
        if not rebuilt:  # the imports changed nothing; the config may have
            click.echo(rebuild_feeds(app.sessions, app.config).line())
        for line in divergences(app.sessions, app.config):  # (config.toml does not rule these)
            log.warning("digest %s; `publisher digests apply config.toml` takes the file's", line)
        for line in source_divergences(app.sessions, app.config):
            log.warning("%s; the console's setting is in effect", line)

    with contextlib.ExitStack() as stack:
        web = start_web(app, stack) if app.config.web.enabled else None
        warn_unless_served(app.config.site.base_url)
        try:
            code = run_forever(app.sessions, app.config, on_start=start)
        finally:
            if web is not None:
                server, thread = web
                server.should_exit = True
                thread.join(timeout=15)  # its shutdown hands over the clicks and access-log lines it holds
    sys.exit(code)


@cli.command("schedule")
@pass_app
def schedule_command(app: App) -> None:
    """Print every job with its next three fire times (in its zone and in UTC), when it last
    ran, the last edition of each digest and what its next would hold.

    Example: publisher schedule
    """
    with app.sessions() as session:
        rows = describe_schedules(session, app.config, now())
    print_table(("Job", "When", "Next fire times (own zone / UTC)", "Last run", "Last edition"),
                ([row.id, row.when, "\n".join(row.next_fires), row.last_run, row.last_edition] for row in rows))
    for row in rows:  # what each digest would send now, and what it leaves out (long: unwrapped)
        if row.next_edition:
            click.echo(f"If sent now: {row.next_edition}")
    click.echo(f"{len(rows)} jobs")
