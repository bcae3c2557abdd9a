"""The sending that runs beside the scheduler, and what it is doing: worker, status. A module of
its own, so that these load neither the scheduler nor the imports."""

from __future__ import annotations

import logging
import signal
import threading

import click
from sqlalchemy.exc import OperationalError

from publisher.cli.app import App, cli, favour_senders, pass_app, print_table
from publisher.cli.stacks import dump_threads_on_request
from publisher.clock import utc_now as now
from publisher.dates import counted
from publisher.digest.status import delivery_status
from publisher.jobs.digests import help_send, unfinished_editions
from publisher.store.processes import Presence, recent_processes
from publisher.store.statuses import ProcessRole, ProcessState

log = logging.getLogger("publisher")


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
    favour_senders()
    dump_threads_on_request()
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
        totals = help_send(app.sessions, app.config, edition, stop=stop, progress=presence.handled, batch=batch)
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
    print_table(("Edition", "Status", "Queued", "Sending", "Sent", "Failed", "Skipped", "Unknown"),
                ([f"{row.digest} {row.number}", row.status, *map(str, row.counts)] for row in editions))
    print_table(("Process", "Role", "State", "Seen", "Deliveries"),
                ([process.name, process.role, process.state,
                  f"{int((moment - process.seen).total_seconds())} s ago", str(process.handled)]
                 for process in processes))
    workers = sum(process.role is ProcessRole.WORKER for process in processes)
    click.echo(f"{counted(len(editions), 'edition')}; {counted(workers, 'worker')} and "
               f"{counted(len(processes) - workers, 'scheduler')} seen in the last two minutes")
