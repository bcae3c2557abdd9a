"""Several `publisher worker` processes share an edition: one killed mid-edition, or the mail
server or the database going away for a while, loses and doubles nothing."""

from __future__ import annotations

import bisect
import json
import signal
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import (
    FAST_FIRE_EVERY,
    editions,
    mail_config,
    prepare_scheduled,
    set_keys,
    setup_store,
    start_run,
    start_worker,
    start_workers,
    stop_all,
    wait_until,
)
from helpers import READERS as SCHEDULED
from mailserver import MailServer, start
from pgcluster import Cluster
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from publisher.cli import cli
from publisher.config import load_config
from publisher.jobs.digests import help_send, queue_digest
from publisher.jobs.imports import ImportRequest, import_files
from publisher.store.db import engine_of
from publisher.store.models import Delivery, Edition

pytestmark = pytest.mark.slow  # worker processes, a PostgreSQL cluster of its own

READERS = {f"reader{i:02d}@example.org": ("CN", "confirmed") for i in range(60)}


def test_kill_9_one_of_three_workers_and_every_recipient_gets_it_once(
        tmp_path: Path, db_url: str, mail_server: MailServer) -> None:
    path = mail_config(tmp_path, db_url, mail_server, connections="2", lease='"1s"')
    set_keys(path, "scheduler", send_in_process="false")
    config, sessions = setup_store(path, READERS)
    edition = queue_digest(sessions, config, "china-weekly", now=datetime.now(UTC))
    assert edition is not None and mail_server.received == []  # queued, not sent
    mail_server.delay = 0.03
    workers = [start_worker(path, tmp_path / f"worker{n}.log") for n in range(3)]
    # After 15 messages the server answers nothing but 421, and, once the replies it gave have
    # reached the workers, worker 0 is killed holding its claimed batch. (Killed at a random
    # instant, it could die between a 250 and its commit: the one window README owns up to.)
    mail_server.stop_after = 15
    mail_server.on_stop = lambda: workers[0].send_signal(signal.SIGKILL)
    try:
        wait_until(lambda: workers[0].poll() is not None)
        status = CliRunner().invoke(cli, ["--config", str(path), "status"]).stdout
        assert "china-weekly 1" in status and "sending" in status
        mail_server.stop_after, mail_server.stopping = None, False  # the server is back
        wait_until(lambda: editions(sessions) == [(1, "complete")], 60)
    finally:
        codes = stop_all(workers)
    assert codes == [-signal.SIGKILL, 0, 0]
    assert sorted(r.recipients[0] for r in mail_server.received) == sorted(READERS)
    status = CliRunner().invoke(cli, ["--config", str(path), "status"]).stdout
    assert "complete" in status and " 60 " in status


@pytest.mark.postgres  # where workers run; the outage handling is the same on SQLite
def test_the_mail_server_goes_away_and_comes_back(tmp_path: Path, postgres_url: str) -> None:
    db_url = postgres_url
    server = MailServer(delay=0.01)
    controller = start(server)
    # max_attempts = 1: a delivery that counted the outage as an attempt would fail at once.
    path = mail_config(tmp_path, db_url, server, connections="2", max_attempts="1",
                       reconnect_max='"1s"')
    set_keys(path, "scheduler", send_in_process="false")
    config, sessions = setup_store(path, READERS)
    queue_digest(sessions, config, "china-weekly", now=datetime.now(UTC))
    away = threading.Event()

    def go_away() -> None:  # after 15 messages: 421 to everyone, then no server at all
        controller.stop()
        away.set()

    server.stop_after, server.on_stop = 15, lambda: threading.Thread(target=go_away).start()
    workers = [start_worker(path, tmp_path / f"worker{n}.log") for n in range(2)]
    try:
        wait_until(away.is_set)
        time.sleep(2.5)  # the workers keep knocking on a closed port meanwhile
        accepted = len(server.received)  # 15, or 16 if two were in the server at once
        assert _delivery_counts(sessions) == {"sent": accepted, "queued": 60 - accepted}
        server.stop_after, server.stopping = None, False
        controller = start(server, same_port=True)
        wait_until(lambda: editions(sessions) == [(1, "complete")], 60)
    finally:
        codes = stop_all(workers)
        controller.stop(no_assert=True)
    assert codes == [0, 0]
    assert sorted(r.recipients[0] for r in server.received) == sorted(READERS)
    assert _delivery_counts(sessions) == {"sent": 60}
    logs = "".join((tmp_path / f"worker{n}.log").read_text() for n in range(2))
    assert "the mail server is away" in logs and "sending resumes" in logs


def _delivery_counts(sessions: sessionmaker[Session]) -> dict[str, int]:
    with sessions() as session:
        return dict(session.execute(select(Delivery.status, func.count())  # type: ignore[arg-type]
                                    .group_by(Delivery.status)).all())


def test_the_database_restarts_mid_edition_and_the_workers_finish_it(
        tmp_path: Path, pg_cluster: Cluster, mail_server: MailServer) -> None:
    people = {f"reader{i:03d}@example.org": ("CN", "confirmed") for i in range(150)}
    path = mail_config(tmp_path, pg_cluster.url, mail_server, connections="2")
    set_keys(path, "scheduler", send_in_process="false")
    config, sessions = setup_store(path, people)
    queue_digest(sessions, config, "china-weekly", now=datetime.now(UTC))
    engine_of(sessions).dispose()  # the test's own connections would not survive the restart
    mail_server.delay = 0.05
    workers = start_workers(path, tmp_path, 3)  # running, not starting, when the database goes
    try:
        wait_until(lambda: len(mail_server.received) >= 30)
        pg_cluster.stop("fast")  # every connection is cut; transactions in progress roll back
        time.sleep(2)
        pg_cluster.start()
        wait_until(lambda: editions(sessions) == [(1, "complete")], 90)
    finally:
        codes = stop_all(workers)
    assert codes == [0, 0, 0]
    assert sorted(r.recipients[0] for r in mail_server.received) == sorted(people)
    assert _delivery_counts(sessions) == {"sent": 150}
    logs = "".join((tmp_path / f"worker{n}.log").read_text() for n in range(3))
    assert "the database cannot be reached" in logs
    assert logs.count("china-weekly edition 1 complete") == 1  # whichever worker finished it


@pytest.mark.postgres  # workers share a pace on PostgreSQL's clock; SQLite's: test_smtp.py
def test_a_worker_taking_up_an_edition_as_the_database_restarts_waits_for_it(
        tmp_path: Path, pg_cluster: Cluster, mail_server: MailServer) -> None:
    """A worker exited 1 when the database went away as it read what an edition's messages are
    made of (before its first message: the sending itself waited)."""
    path = mail_config(tmp_path, pg_cluster.url, mail_server)
    set_keys(path, "scheduler", send_in_process="false")
    config, sessions = setup_store(path, {"reader@example.org": ("CN", "confirmed")})
    edition = queue_digest(sessions, config, "china-weekly", now=datetime.now(UTC))
    assert edition is not None
    engine_of(sessions).dispose()
    pg_cluster.stop("fast")
    restart = threading.Timer(1.5, pg_cluster.start)
    restart.start()
    try:
        totals = help_send(sessions, config, edition, stop=threading.Event())
    finally:
        restart.join()
    assert (totals.sent, totals.failed) == (1, 0)
    assert [r.recipients[0] for r in mail_server.received] == ["reader@example.org"]


def test_the_rate_limit_holds_across_three_workers_and_status_shows_them(
        tmp_path: Path, postgres_url: str, mail_server: MailServer) -> None:
    path = mail_config(tmp_path, postgres_url, mail_server, connections="2", rate_limit="20.0")
    set_keys(path, "scheduler", send_in_process="false")
    config, sessions = setup_store(path, READERS)
    workers = start_workers(path, tmp_path, 3)  # all three running when the edition is queued
    try:
        queue_digest(sessions, config, "china-weekly", now=datetime.now(UTC))
        wait_until(lambda: len(mail_server.received) >= 20)
        status = CliRunner().invoke(cli, ["--config", str(path), "status"]).stdout
        wait_until(lambda: editions(sessions) == [(1, "complete")], 60)
    finally:
        codes = stop_all(workers)
    assert codes == [0, 0, 0]
    logs = "".join((tmp_path / f"worker{n}.log").read_text() for n in range(3))
    assert logs.count("china-weekly edition 1 complete") == 1
    assert "3 workers and 0 schedulers seen" in status and status.count(" sending ") >= 3
    times = sorted(r.at for r in mail_server.received)
    assert len(times) == 60
    # One pace for all three: 60 messages 1/20 s apart span about 3 s (each worker on its own
    # pace would be done in 1 s); a slot may be used up to 0.25 s late.
    assert times[-1] - times[0] >= 59 / 20 - 0.25 - 0.1
    busiest_second = max(bisect.bisect_right(times, t + 1.0) - i for i, t in enumerate(times))
    assert busiest_second <= 1.25 * 20 + 1 + 1  # (+1: the server's own timing jitter)


@pytest.mark.postgres
def test_two_schedulers_and_three_workers_over_several_fire_times(
        tmp_path: Path, postgres_url: str, mail_server: MailServer) -> None:
    """A digest every few seconds (the trigger injected: tests/fast_fire.py). The first edition
    is the start-up catch-up; then a new release before each of the next two fire times, and
    the active scheduler killed between them."""
    path, sessions = prepare_scheduled(tmp_path, postgres_url, mail_server)
    set_keys(path, "digests", cron='"* * * * *"')
    set_keys(path, "scheduler", send_in_process="false")
    config = load_config(path, environ={})
    schedulers = [start_run(path, tmp_path / f"scheduler{n}.log", fast_fire=True) for n in range(2)]
    workers = [start_worker(path, tmp_path / f"worker{n}.log") for n in range(3)]
    try:
        wait_until(lambda: editions(sessions) == [(1, "complete")])
        for number in (2, 3):
            release = tmp_path / f"release{number}.json"
            release.write_text(json.dumps([{"title": f"China news {number}",
                                            "published": datetime.now(UTC).isoformat(),
                                            "countries": ["CN"]}]))
            import_files(sessions, config, [ImportRequest(str(release))], datetime.now(UTC))
            wait_until(lambda n=number: len(editions(sessions)) == n, 30)
            if number == 2:
                active = next(n for n in range(2) if "active scheduler" in
                              (tmp_path / f"scheduler{n}.log").read_text())
                schedulers[active].send_signal(signal.SIGKILL)
        wait_until(lambda: editions(sessions) == [(1, "complete"), (2, "complete"), (3, "complete")], 30)
        time.sleep(FAST_FIRE_EVERY + 1)  # a fire time passes with nothing new: no fourth edition
        assert len(editions(sessions)) == 3
    finally:
        codes = stop_all(schedulers + workers)
    assert sorted(codes) == [-signal.SIGKILL, 0, 0, 0, 0]
    with sessions() as session:
        periods = session.scalars(select(Edition.period).order_by(Edition.number)).all()
    fires = [datetime.fromisoformat(period) for period in periods]
    assert len(set(periods)) == 3 and all(fire.second % FAST_FIRE_EVERY == 0 for fire in fires)
    got = sorted((r.message["Message-ID"].split(".")[1], r.recipients[0]) for r in mail_server.received)
    assert got == sorted((str(n), reader) for n in (1, 2, 3) for reader in SCHEDULED)
