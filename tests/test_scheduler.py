"""The scheduler: fire times across DST, catch-up after downtime, one active process, SIGTERM."""

from __future__ import annotations

import collections
import logging
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from helpers import (
    READERS,
    add_releases,
    editions,
    mail_config,
    prepare_scheduled,
    set_keys,
    setup_store,
    sqlite_store,
    start_run,
    stop,
    wait_until,
)
from sqlalchemy import func, select

from publisher.cli import cli
from publisher.jobs.digest_settings import change_digest
from publisher.run.scheduler import ScheduleRunner, build_scheduler
from publisher.run.schedules import Schedule, schedules
from publisher.store.models import Delivery, Edition, ScheduleRun


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York", "Australia/Sydney"])
def test_a_daily_0230_fires_once_every_day_across_dst_changes(zone: str) -> None:
    tz = ZoneInfo(zone)
    daily = Schedule("digest:x", "digest", "x", "30 2 * * *", tz)
    fires = daily.next_fire_times(datetime(2026, 1, 1, tzinfo=tz), 365)
    per_day = collections.Counter(fire.astimezone(tz).date() for fire in fires)
    assert len(per_day) == 365 and set(per_day.values()) == {1}
    quarter_hourly = Schedule("feeds", "feeds", "", "*/15 * * * *", tz)
    changes = _offset_changes(tz, 2026)
    assert len(changes) == 2  # one spring forward, one fall back
    for change in changes:  # three days around each change of the clock
        fires = quarter_hourly.next_fire_times(change - timedelta(days=1), 4 * 24 * 3)
        wall_times = collections.Counter(f.astimezone(tz).replace(tzinfo=None) for f in fires)
        assert set(wall_times.values()) == {1}  # the repeated hour does not fire twice
        assert fires == sorted(set(fires))
        assert fires[-1] - fires[0] >= timedelta(days=2, hours=23)  # no gap: every day is there


def _offset_changes(zone: ZoneInfo, year: int) -> list[datetime]:
    """The midnights (local) of the days on which the zone's UTC offset changes."""
    days = [datetime(year, 1, 1, tzinfo=zone) + timedelta(days=n) for n in range(365)]
    return [day for day in days if day.utcoffset() != (day + timedelta(hours=23, minutes=59)).utcoffset()]


def test_latest_fire_time_is_the_period_a_run_stands_for() -> None:
    weekly = Schedule("digest:x", "digest", "x", "0 9 * * MON", ZoneInfo("Asia/Shanghai"))
    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)  # a Friday
    assert weekly.latest_fire_time(now) == datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
    assert weekly.next_fire_times(now, 1) == [datetime(2026, 11, 30, 1, 0, tzinfo=UTC)]


def test_jobs_come_from_the_config_under_stable_ids(tmp_path, db_url) -> None:  # type: ignore[no-untyped-def]
    path = mail_config(tmp_path, db_url, None)
    config, sessions = setup_store(path, {})
    runner = ScheduleRunner(sessions, config, threading.Event())
    for _ in range(2):  # a restart builds the same jobs, never more
        ids = [job.id for job in build_scheduler(runner, config).get_jobs()]
        assert sorted(ids) == ["digest:china-weekly", "digest:mongolia-monthly", "feeds"]
    assert [s.id for s in schedules(config)] == ["digest:china-weekly", "digest:mongolia-monthly", "feeds"]


def _runner(path: Path, clock: list[datetime]) -> tuple[ScheduleRunner, object]:
    config, sessions = setup_store(path, {"cn@example.org": ("CN", "confirmed")})
    return ScheduleRunner(sessions, config, threading.Event(), clock=lambda: clock[0]), sessions


def test_missed_fire_times_give_exactly_one_catch_up_edition(tmp_path, db_url, mail_server) -> None:  # type: ignore[no-untyped-def]
    path = mail_config(tmp_path, db_url, mail_server)
    clock = [datetime(2026, 11, 2, 12, 0, tzinfo=UTC)]
    runner, sessions = _runner(path, clock)
    assert runner.catch_up() == []  # first start: schedules registered, nothing was missed
    clock[0] = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)  # down for three Mondays; 2 h late
    assert runner.catch_up() == ["china-weekly edition 1: 19 releases, 1 sent, 0 failed"]
    assert runner.catch_up() == []
    with sessions() as session:  # type: ignore[attr-defined]
        assert session.scalars(select(Edition.period)).all() == ["2026-11-23T01:00:00+00:00"]
        run = session.get(ScheduleRun, "digest:china-weekly")
    assert run.last_fire == datetime(2026, 11, 23, 1, 0, tzinfo=UTC) and run.finished is not None
    assert len(mail_server.received) == 1


def test_a_fire_time_missed_by_more_than_the_grace_waits_for_the_next(tmp_path, db_url, mail_server) -> None:  # type: ignore[no-untyped-def]
    path = mail_config(tmp_path, db_url, mail_server)
    clock = [datetime(2026, 11, 2, 12, 0, tzinfo=UTC)]
    runner, _sessions = _runner(path, clock)
    runner.catch_up()
    clock[0] = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)  # 7 hours late, grace is 6
    assert runner.catch_up() == []
    assert mail_server.received == []
    china = next(s for s in schedules(runner.config) if s.id == "digest:china-weekly")
    clock[0] = datetime(2026, 11, 30, 1, 0, 5, tzinfo=UTC)
    runner.when_due(china)  # the next fire time: nothing was lost meanwhile
    assert len(mail_server.received) == 1
    assert mail_server.received[0].message["Subject"].startswith("ILO China: 19 new releases")


def test_a_fire_time_runs_once_and_a_schedule_changed_since_does_not_run(tmp_path, db_url, mail_server, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.INFO, "publisher.run.scheduler")
    path = mail_config(tmp_path, db_url, mail_server)
    clock = [datetime(2026, 11, 2, 12, 0, tzinfo=UTC)]
    runner, sessions = _runner(path, clock)
    runner.catch_up()
    china = next(s for s in schedules(runner.config) if s.id == "digest:china-weekly")
    clock[0] = datetime(2026, 11, 9, 1, 0, 1, tzinfo=UTC)
    runner.when_due(china)
    add_releases(sessions, runner.config, tmp_path, {"title": "Late news", "countries": ["CN"],
                                                     "published": clock[0].isoformat()})
    clock[0] += timedelta(seconds=2)
    runner.when_due(china)  # (a second call for the same fire time: APScheduler's, or a stale job's)
    assert len(mail_server.received) == 1
    assert "job digest:china-weekly: ran for 2026-11-09T09:00+08:00 already; not run again" in caplog.text
    change_digest(sessions, runner.config, "press@example.org", "china-weekly", {"cron": "0 9 * * FRI"}, clock[0])
    clock[0] = datetime(2026, 11, 16, 1, 0, 1, tzinfo=UTC)
    runner.when_due(china)  # the old job, before the scheduler replaced it: the change holds
    assert len(mail_server.received) == 1
    assert "job digest:china-weekly: changed or retired since it was scheduled; not run for 2026-11-16" in caplog.text
    with sessions() as session:  # type: ignore[attr-defined]
        assert session.scalars(select(Edition.period)).all() == ["2026-11-09T01:00:00+00:00"]


def test_schedule_command_shows_next_fire_times_and_last_editions(tmp_path, db_url) -> None:  # type: ignore[no-untyped-def]
    path = mail_config(tmp_path, db_url, None)
    setup_store(path, {})
    result = CliRunner().invoke(cli, ["--config", str(path), "schedule"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "digest:china-weekly" in out and "digest:mongolia-monthly" in out and "feeds" in out
    assert out.count("Asia/Shanghai =") >= 6 and out.count("UTC") >= 9
    assert "none yet" in out and out.endswith("3 jobs\n")
    assert "If sent now: china-weekly edition 1: would send 19 releases to 0 readers in 0 variants\n" in out


# --- whole processes -------------------------------------------------------------------------


@pytest.mark.slow
def test_two_schedulers_send_one_edition_and_the_standby_takes_over(tmp_path, db_url, mail_server) -> None:  # type: ignore[no-untyped-def]
    path, sessions = prepare_scheduled(tmp_path, db_url, mail_server)
    first = start_run(path, tmp_path / "first.log")
    wait_until(lambda: "active scheduler" in (tmp_path / "first.log").read_text())
    second = start_run(path, tmp_path / "second.log")
    try:
        wait_until(lambda: "standing by" in (tmp_path / "second.log").read_text())
        wait_until(lambda: editions(sessions) == [(1, "complete")])
        assert sorted(r.recipients[0] for r in mail_server.received) == sorted(READERS)
        first.send_signal(signal.SIGKILL)  # the active one dies; the standby takes over
        wait_until(lambda: "active scheduler" in (tmp_path / "second.log").read_text(), 15)
    finally:
        first.wait(timeout=30)
        assert stop(second) == 0
    assert editions(sessions) == [(1, "complete")]
    assert len(mail_server.received) == len(READERS)


def test_sigusr1_writes_every_threads_stack_to_the_log_and_the_run_goes_on(tmp_path, db_url, mail_server) -> None:  # type: ignore[no-untyped-def]
    path, _sessions = prepare_scheduled(tmp_path, db_url, mail_server)
    log = tmp_path / "run.log"
    process = start_run(path, log)
    try:
        wait_until(lambda: "scheduler running" in log.read_text())
        process.send_signal(signal.SIGUSR1)
        wait_until(lambda: '"MainThread" (most recent call last)' in log.read_text()
                   and "run_forever" in log.read_text())
        assert process.poll() is None
    finally:
        assert stop(process) == 0


_CHURN = """
import sys, threading
from publisher.cli.stacks import dump_threads_on_request
dump_threads_on_request()
told = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), told.set()), daemon=True).start()
print("ready", flush=True)
while not told.is_set():  # until its input closes: every signal comes while threads come and go
    threads = [threading.Thread(target=sum, args=(range(200),)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
"""


@pytest.mark.slow
def test_sigusr1_while_threads_start_and_end_writes_the_stacks_and_the_process_lives() -> None:
    """A send starts and ends threads; faulthandler's dump of them killed such a process with
    SIGSEGV (five tries of five, CPython 3.11)."""
    process = subprocess.Popen([sys.executable, "-c", _CHURN], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline() == "ready\n"
    for _ in range(100):
        process.send_signal(signal.SIGUSR1)
        time.sleep(0.01)
    _out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err[-2000:]
    assert "the stack of every thread (kill -USR1)" in err and '"MainThread" (most recent call last)' in err


@pytest.mark.slow
def test_sigterm_mid_send_then_restart_delivers_everyone_exactly_once(tmp_path, db_url, mail_server) -> None:  # type: ignore[no-untyped-def]
    path, sessions = prepare_scheduled(tmp_path, db_url, mail_server)
    mail_server.delay = 0.05
    process = start_run(path, tmp_path / "run.log")
    wait_until(lambda: len(mail_server.received) >= 8)
    started = time.monotonic()
    assert stop(process) == 0
    assert time.monotonic() - started < 10  # in-flight messages finish; no new ones start
    assert editions(sessions) == [(1, "sending")]
    sent_before = len(mail_server.received)
    assert sent_before < len(READERS)
    with sessions() as session:
        assert session.scalar(select(func.count()).where(Delivery.status == "sent")) == sent_before
    mail_server.delay = 0.0
    restarted = start_run(path, tmp_path / "again.log")
    try:
        wait_until(lambda: editions(sessions) == [(1, "complete")])
    finally:
        assert stop(restarted) == 0
    assert sorted(r.recipients[0] for r in mail_server.received) == sorted(READERS)


@pytest.mark.slow
def test_run_serves_the_web_app_when_enabled(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import httpx
    from mailserver import free_port

    path = mail_config(tmp_path, sqlite_store(tmp_path), None)
    port = free_port()
    set_keys(path, "web", enabled="true", port=str(port))
    process = start_run(path, tmp_path / "run.log")
    try:
        wait_until(lambda: "scheduler running" in (tmp_path / "run.log").read_text())

        def healthy() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/healthz").json()["database"] == "ok"
            except httpx.HTTPError:
                return False

        wait_until(healthy, 15)
        assert httpx.get(f"http://127.0.0.1:{port}/feeds/cn/atom.xml").status_code == 200
    finally:
        assert stop(process) == 0


@pytest.mark.slow
def test_run_with_its_port_taken_stops_with_one_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """It logged "serving", then uvicorn's bind error, and went on as a bare scheduler."""
    import socket
    import subprocess
    import sys

    path = mail_config(tmp_path, sqlite_store(tmp_path), None)
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        set_keys(path, "web", enabled="true", port=str(port))
        result = subprocess.run([sys.executable, "-m", "publisher", "--config", str(path), "run"],
                                capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    [line] = result.stderr.strip().splitlines()
    assert f"cannot serve http://127.0.0.1:{port}/" in line and "scheduler running" not in result.stderr


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_long_send_logs_how_it_goes(tmp_path, db_url, mail_server, caplog) -> None:  # type: ignore[no-untyped-def]
    import logging
    import re

    path = mail_config(tmp_path, db_url, mail_server, connections="1")
    set_keys(path, "scheduler", progress_every='"0.3s"')
    config, sessions = setup_store(path, {f"reader{i:02d}@example.org": ("CN", "confirmed") for i in range(30)})
    mail_server.delay = 0.05  # 30 messages over one connection: about a second and a half
    [job] = [s for s in schedules(config) if s.id == "digest:china-weekly"]
    caplog.set_level(logging.INFO, "publisher.run.progress")
    outcome = ScheduleRunner(sessions, config, threading.Event()).run(job, datetime.now(UTC))
    assert outcome.endswith("30 sent, 0 failed")
    lines = [r.getMessage() for r in caplog.records if r.name == "publisher.run.progress"]
    assert len(lines) >= 2, lines
    counts = [re.fullmatch(r"china-weekly edition 1: (\d+) sent, 0 failed, (\d+) to go; \d+ a second", line)
              for line in lines]
    assert all(counts) and all(int(m.group(1)) + int(m.group(2)) == 30 for m in counts if m), lines
    assert [int(m.group(1)) for m in counts if m] == sorted(int(m.group(1)) for m in counts if m)


def test_a_job_that_never_ran_says_never_and_a_source_imported_by_hand_says_when(tmp_path, db_url) -> None:  # type: ignore[no-untyped-def]
    """The first start's registration showed as a run ("registered") on the dashboard, in
    `publisher schedule` and /metrics; an import by hand left the source's "last run: never"."""
    from publisher.jobs.controls import import_now
    from publisher.run.scheduler import describe_schedules
    from publisher.store.metrics import store_counts
    from publisher.store.runs import last_run

    path = mail_config(tmp_path, db_url, None)
    clock = [datetime(2026, 11, 2, 12, 0, tzinfo=UTC)]
    runner, sessions = _runner(path, clock)
    config = runner.config
    assert runner.catch_up() == []  # registers every schedule
    with sessions() as session:  # type: ignore[attr-defined]
        assert {view.last_run for view in describe_schedules(session, config, clock[0])} == {"never"}
        assert store_counts(session).runs == []
    source = config.sources[0]
    import_now(sessions, config, "ana@ilo.org", source.name, clock[0])  # type: ignore[arg-type]
    with sessions() as session:  # type: ignore[attr-defined]
        run = last_run(session, f"source:{source.name}")
    assert run is not None and run.outcome is not None and run.outcome.startswith("imported")
