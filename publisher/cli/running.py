"""Long-running processes and what they are doing: run, serve, worker, status, schedule."""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import threading
import traceback
from typing import Any

import click
from sqlalchemy.exc import OperationalError

from publisher.cli.app import App, cli, favour_senders, pass_app, print_lines, print_table
from publisher.clock import utc_now as now
from publisher.dates import counted
from publisher.digest.status import delivery_status
from publisher.jobs.digest_settings import divergences
from publisher.jobs.digests import help_send, unfinished_editions
from publisher.jobs.feeds import rebuild_feeds
from publisher.jobs.imports import ImportOutcome, import_sources
from publisher.jobs.source_settings import source_divergences
from publisher.run.reachable import warn_unless_served
from publisher.run.scheduler import describe_schedules, run_forever
from publisher.store.processes import Presence, recent_processes
from publisher.store.statuses import ProcessRole, ProcessState
from publisher.web.server import served_app, server_options, settle_heap

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
        web = _start_web(app, stack) if app.config.web.enabled else None
        warn_unless_served(app.config.site.base_url)
        try:
            code = run_forever(app.sessions, app.config, on_start=start)
        finally:
            if web is not None:
                server, thread = web
                server.should_exit = True
                thread.join(timeout=15)  # its shutdown hands over the clicks and access-log lines it holds
    sys.exit(code)


def _start_web(app: App, stack: contextlib.ExitStack) -> Any:
    """The web app in a thread of this process (web.enabled): it stops with the scheduler, and
    its writing process when `stack` closes."""
    import socket
    import threading

    import uvicorn

    host, port = app.config.web.host, app.config.web.port
    try:  # bound here, before anything runs: a taken port stops `run`, not just its web thread
        listening = socket.create_server((host, port))
    except OSError as exc:
        raise click.ClickException(f"cannot serve http://{host}:{port}/ ({exc.strerror or exc}): is another "
                                   "process using that port? (web.host, web.port)") from None
    served = stack.enter_context(served_app(app.config, app.sessions))
    settle_heap()
    server = uvicorn.Server(uvicorn.Config(served, host=host, port=port, **server_options(app.config.web)))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]}, name="web", daemon=True)
    thread.start()
    log.info("serving http://%s:%d/", host, port)
    return server, thread


@cli.command()
@click.option("--host", help="Address to listen on. Default: web.host (127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), help="Default: web.port (8080).")
@pass_app
def serve(app: App, host: str | None, port: int | None) -> None:
    """Serve the feeds, release pages and subscription pages over HTTP (uvicorn).

    Example: publisher serve --host 127.0.0.1 --port 8080
    """
    import uvicorn

    with served_app(app.config, app.sessions) as web:
        settle_heap()
        warn_unless_served(app.config.site.base_url)
        uvicorn.run(web, host=host or app.config.web.host, port=port or app.config.web.port,
                    **server_options(app.config.web))


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
    print_table(("Edition", "Status", "Queued", "Sending", "Sent", "Failed", "Skipped", "Unknown"),
                ([f"{row.digest} {row.number}", row.status, *map(str, row.counts)] for row in editions))
    print_table(("Process", "Role", "State", "Seen", "Deliveries"),
                ([process.name, process.role, process.state,
                  f"{int((moment - process.seen).total_seconds())} s ago", str(process.handled)]
                 for process in processes))
    workers = sum(process.role is ProcessRole.WORKER for process in processes)
    click.echo(f"{counted(len(editions), 'edition')}; {counted(workers, 'worker')} and "
               f"{counted(len(processes) - workers, 'scheduler')} seen in the last two minutes")


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


def dump_threads_on_request() -> None:
    """`kill -USR1 PID` writes every thread's stack to the log: what a process that does not
    stop is waiting for. Written by Python, from a thread of its own, not by faulthandler: its
    dump reads the other threads' frames from inside the signal handler while they change, and
    a process starting and ending threads (as a send does) died of it with SIGSEGV (CPython
    gh-116008; fixed in 3.15 only)."""
    def on_signal(_signum: int, _frame: object) -> None:
        with contextlib.suppress(RuntimeError):  # (the process is exiting: no thread starts, and none is asked about)
            threading.Thread(target=_log_stacks, name="stacks", daemon=True).start()

    with contextlib.suppress(ValueError):  # (not the main thread: a command run in-process)
        signal.signal(signal.SIGUSR1, on_signal)


def _log_stacks() -> None:
    names = {thread.ident: thread.name for thread in threading.enumerate()}
    here = threading.get_ident()
    stacks = [f'Thread {ident:#x} "{names.get(ident, "?")}" (most recent call last):\n'
              + "".join(traceback.format_stack(frame))
              for ident, frame in sys._current_frames().items() if ident != here]
    log.warning("the stack of every thread (kill -USR1):\n%s", "\n".join(stacks).rstrip())
