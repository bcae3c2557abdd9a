"""Digests kept in the database: seeded from config.toml, following it while nobody changed
them, changed by operators (use cases, `publisher digests`), and followed by a running
scheduler without a restart."""

from __future__ import annotations

import signal
import socket
import time
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from apscheduler.schedulers.blocking import BlockingScheduler
from click.testing import CliRunner
from helpers import (
    add_releases,
    mail_config,
    printed,
    set_keys,
    setup_store,
    sqlite_store,
    start_run,
    stop_all,
    wait_until,
    write_config,
)
from mailserver import MailServer
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from publisher.cli import cli
from publisher.config import Config, load_config
from publisher.errors import ConfigError, InvalidValue, UnknownDigest
from publisher.jobs.digest_settings import change_digest, create_digest, divergences, retire_digest
from publisher.run.scheduler import ScheduleRunner, build_scheduler, follow_changes
from publisher.store.db import open_store
from publisher.store.digests import FILE, OPERATOR, digest_named
from publisher.store.effect import in_effect
from publisher.store.models import AuditEntry, Edition, StoredDigest
from publisher.store.statuses import EditionStatus
from publisher.subscribers.people import find_subscriber, set_digests

NOW = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)
NEW = {"name": "mongolia-weekly", "countries": ["MN"], "cron": "0 9 * * MON", "timezone": "Asia/Ulaanbaatar"}


def audit(sessions: sessionmaker[Session]) -> list[tuple[str, str, str]]:
    with sessions() as session:
        return [(e.actor, e.action, e.subject) for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]


def effective(sessions: sessionmaker[Session], config: Config) -> dict[str, str]:
    """Each digest in effect and its cron."""
    with sessions() as session:
        return {digest.name: digest.cron for digest in in_effect(session, config).digests}


def drop_mongolia_monthly(config_path: Path) -> None:
    """config.toml without its second digest (the last table before [smtp])."""
    text = config_path.read_text()
    start = text.rindex("[[digests]]", 0, text.index('name = "mongolia-monthly"'))
    config_path.write_text(text[:start] + text[text.index("[smtp]"):])


def cli_run(path: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--config", str(path), *args])
    return result.exit_code, printed(result.stdout, result.stderr)


def test_a_new_install_is_seeded_from_the_file_and_follows_it_until_an_operator_changes_a_digest(
        config_path: Path, config: Config, sessions: sessionmaker[Session]) -> None:
    assert effective(sessions, config) == {"china-weekly": "0 9 * * MON", "mongolia-monthly": "0 9 1 * *"}
    assert audit(sessions) == []  # seeding is nobody's change
    set_keys(config_path, "digests", cron='"0 8 * * TUE"')  # the first table: china-weekly
    changed = load_config(config_path, environ={})
    open_store(changed, clock=lambda: NOW)
    assert effective(sessions, config)["china-weekly"] == "0 8 * * TUE"
    assert audit(sessions) == [("config.toml", "digest.change", "digest china-weekly")]

    change_digest(sessions, changed, "cms@example.org", "china-weekly", {"cron": "30 7 * * WED"}, NOW)
    open_store(load_config(config_path, environ={}), clock=lambda: NOW)  # the file says TUE: the operator's stays
    assert effective(sessions, config)["china-weekly"] == "30 7 * * WED"
    with sessions() as session:
        row = session.get(StoredDigest, "china-weekly")
        assert row is not None and (row.origin, row.changed_by) == (OPERATOR, "cms@example.org")
    assert cli_run(config_path, "digests", "diff") == (
        0, "china-weekly.cron: '30 7 * * WED' in effect (by cms@example.org), config.toml: '0 8 * * TUE'\n")


def test_config_check_names_the_settings_in_effect_that_are_not_the_files_and_changes_nothing(
        config_path: Path, config: Config, sessions: sessionmaker[Session]) -> None:
    """Its schedules are the file's: beside them, what an operator changed, read from the store."""
    assert cli_run(config_path, "config", "check")[1].count("in effect") == 0  # all the file's
    change_digest(sessions, config, "cms@example.org", "china-weekly", {"cron": "30 7 * * WED"}, NOW)
    set_keys(config_path, "digests", cron='"0 8 * * TUE"')  # the file changed too: the operator's stays
    before = audit(sessions)
    code, out = cli_run(config_path, "config", "check")
    assert code == 0
    assert "  digest:china-weekly: At 08:00, only on Tuesday" in out  # the file's, as before
    assert out.endswith(
        "in effect instead (changed in the console, the API or with `digests apply`; `publisher schedule` "
        "shows what fires):\n"
        "  digest china-weekly.cron: '30 7 * * WED' in effect (by cms@example.org), config.toml: '0 8 * * TUE'\n")
    assert audit(sessions) == before and effective(sessions, config)["china-weekly"] == "30 7 * * WED"


def test_config_check_names_what_the_file_changes_until_a_command_starts_and_takes_it(
        config_path: Path, config: Config, sessions: sessionmaker[Session]) -> None:
    set_keys(config_path, "digests", cron='"0 8 * * TUE"')  # china-weekly follows the file
    drop_mongolia_monthly(config_path)  # and mongolia-monthly is dropped
    code, out = cli_run(config_path, "config", "check")
    assert code == 0 and out.endswith(
        "not in effect yet (the next start of a publisher command takes them):\n"
        "  digest china-weekly.cron: '0 8 * * TUE' (in effect: '0 9 * * MON')\n"
        "  digest mongolia-monthly: retired\n")
    assert effective(sessions, config) == {"china-weekly": "0 9 * * MON", "mongolia-monthly": "0 9 1 * *"}
    open_store(load_config(config_path, environ={}), clock=lambda: NOW)  # a command starts
    assert "in effect" not in cli_run(config_path, "config", "check")[1]


@pytest.mark.empty_database
def test_config_check_makes_no_database_where_there_is_none(config_path: Path) -> None:
    store = config_path.parent / "store.db"
    code, out = cli_run(config_path, "config", "check")
    assert code == 0 and out.startswith("config OK:") and "in effect" not in out
    assert not store.exists()


@pytest.mark.slow  # (it waits the 5 s out)
def test_config_check_waits_a_few_seconds_at_most_for_a_database_that_does_not_answer(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # listens, never answers
        url = f"postgresql+psycopg://postgres@127.0.0.1:{silent.getsockname()[1]}/test"
        started = time.monotonic()
        code, out = cli_run(write_config(tmp_path, url), "config", "check")
        waited = time.monotonic() - started
    assert code == 0 and out.endswith("the settings in effect were not compared: cannot read the database "
                                      "(OperationalError)\n")
    assert waited < 15


def test_a_digest_the_file_drops_is_retired_and_its_editions_stay_reachable(
        config_path: Path, config: Config, sessions: sessionmaker[Session]) -> None:
    drop_mongolia_monthly(config_path)
    open_store(load_config(config_path, environ={}), clock=lambda: NOW)
    assert list(effective(sessions, config)) == ["china-weekly"]
    with sessions() as session:
        with pytest.raises(UnknownDigest, match="there are: china-weekly"):
            digest_named(session, "mongolia-monthly")
        assert digest_named(session, "mongolia-monthly", retired=True).countries == ("MN",)
    assert audit(sessions) == [("config.toml", "digest.retire", "digest mongolia-monthly")]


def test_operators_changes_are_checked_as_config_check_checks_them_and_audited(
        config: Config, sessions: sessionmaker[Session]) -> None:
    with pytest.raises(ConfigError) as bad:
        create_digest(sessions, config, "cms@example.org",
                      {**NEW, "countries": ["MN", "XX"], "cron": "0 25 * * *", "subject": "{nope}"}, NOW)
    assert [problem.split(":")[0] for problem in bad.value.problems] == ["cron"]  # (the model's checks come first)
    with pytest.raises(ConfigError, match=r"countries\[1\]: unknown country 'XX'"):
        create_digest(sessions, config, "cms@example.org", {**NEW, "countries": ["MN", "XX"]}, NOW)
    with pytest.raises(ConfigError, match=r"subject: unknown placeholder \{nope\}"):
        create_digest(sessions, config, "cms@example.org", {**NEW, "subject": "{nope}"}, NOW)
    with pytest.raises(InvalidValue, match="exists"):
        create_digest(sessions, config, "cms@example.org", {**NEW, "name": "china-weekly"}, NOW)
    with pytest.raises(InvalidValue, match="keeps its name"):
        change_digest(sessions, config, "cms@example.org", "china-weekly", {"name": "other"}, NOW)
    assert audit(sessions) == []  # nothing refused was written

    create_digest(sessions, config, "cms@example.org", NEW, NOW)
    assert change_digest(sessions, config, "cms@example.org", "mongolia-weekly", {"cron": "0 9 * * MON"}, NOW) is None
    assert retire_digest(sessions, "cms@example.org", "mongolia-weekly", NOW)
    assert not retire_digest(sessions, "cms@example.org", "mongolia-weekly", NOW)
    assert audit(sessions) == [("cms@example.org", "digest.create", "digest mongolia-weekly"),
                               ("cms@example.org", "digest.retire", "digest mongolia-weekly")]


def test_export_and_apply_round_trip_and_applying_the_config_file_makes_digests_follow_it_again(
        config_path: Path, config: Config, sessions: sessionmaker[Session], tmp_path: Path) -> None:
    exported = tmp_path / "digests.toml"
    assert cli_run(config_path, "digests", "export", "-o", str(exported)) == (0, f"wrote 2 digests to {exported}\n")
    tables = tomllib.loads(exported.read_text())["digests"]
    assert [t["name"] for t in tables] == ["china-weekly", "mongolia-monthly"]
    assert tables[1]["subjects"]["mn"] == "ОУХБ Монгол: {releases} ({dates})"
    assert tables[0]["first_edition_window"] == "3650d"  # (tests/helpers.py's)
    assert cli_run(config_path, "digests", "apply", str(exported)) == (
        0, f"applied {exported}: 0 created, 0 changed, 0 retired\n")  # read back: the same digests

    exported.write_text(exported.read_text().replace('cron = "0 9 1 * *"', 'cron = "0 9 15 * *"')
                        .replace('name = "china-weekly"', 'name = "china-daily"'))
    code, out = cli_run(config_path, "digests", "apply", str(exported))
    assert (code, out) == (0, f"applied {exported}: 1 created, 1 changed, 1 retired\n")
    assert effective(sessions, config) == {"mongolia-monthly": "0 9 15 * *", "china-daily": "0 9 * * MON"}
    assert all(actor.endswith(" (command line) (digests.toml)") for actor, _, _ in audit(sessions))
    assert len(audit(sessions)) == 3

    assert cli_run(config_path, "digests", "apply", str(config_path))[0] == 0
    assert effective(sessions, config) == {"china-weekly": "0 9 * * MON", "mongolia-monthly": "0 9 1 * *"}
    assert cli_run(config_path, "digests", "diff") == (0, "the digests in effect are config.toml's\n")
    with sessions() as session:
        assert {row.origin for row in session.scalars(select(StoredDigest))} == {FILE}


def test_a_file_with_a_bad_digest_is_refused_whole_naming_each_key(
        config_path: Path, config: Config, sessions: sessionmaker[Session], tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[digests]]\nname = "a"\ncountries = ["CN"]\ncron = "0 9 * * *"\ntimezone = "UTC"\n\n'
                   '[[digests]]\nname = "b"\ncountries = ["ZZ"]\ncron = "0 9 * * *"\ntimezone = "Mars/Base"\n')
    code, out = cli_run(config_path, "digests", "apply", str(bad))
    assert code == 2
    assert f"{bad}: digests[1].timezone" in out and "digests[1].countries" not in out.split("timezone")[0]
    assert effective(sessions, config) == {"china-weekly": "0 9 * * MON", "mongolia-monthly": "0 9 1 * *"}
    bad.write_text('[[digests]]\nname = "b"\ncountries = ["ZZ"]\ncron = "0 9 * * *"\ntimezone = "UTC"\n')
    assert cli_run(config_path, "digests", "apply", str(bad)) == (
        2, f"error: {bad}: digests[0].countries[0]: unknown country 'ZZ'\n")
    assert audit(sessions) == []


def test_a_running_scheduler_follows_digests_added_changed_and_retired(
        config: Config, sessions: sessionmaker[Session]) -> None:
    import threading

    runner = ScheduleRunner(sessions, config, threading.Event(), clock=lambda: NOW)
    scheduler: BlockingScheduler = build_scheduler(runner, runner.in_effect())
    started = threading.Thread(target=scheduler.start, kwargs={"paused": True})  # (jobs not run)
    started.start()
    wait_until(lambda: scheduler.running)
    try:
        _follow(scheduler, runner, config, sessions)
    finally:
        scheduler.shutdown()
        started.join(10)


def _follow(scheduler: BlockingScheduler, runner: ScheduleRunner, config: Config,
            sessions: sessionmaker[Session]) -> None:
    assert follow_changes(scheduler, runner) == []
    create_digest(sessions, config, "cms@example.org", NEW, NOW)
    assert follow_changes(scheduler, runner) == [
        "digest:mongolia-weekly: added, At 09:00, only on Monday (Asia/Ulaanbaatar; 0 9 * * MON)"]
    change_digest(sessions, config, "cms@example.org", "mongolia-weekly", {"cron": "0 10 * * *"}, NOW)
    assert follow_changes(scheduler, runner) == [
        "digest:mongolia-weekly: now At 10:00 (Asia/Ulaanbaatar; 0 10 * * *)"]
    job = scheduler.get_job("digest:mongolia-weekly")
    assert job.trigger.expression == "0 10 * * *"
    retire_digest(sessions, "cms@example.org", "mongolia-weekly", NOW)
    assert follow_changes(scheduler, runner) == ["digest:mongolia-weekly: retired, no longer scheduled"]
    assert scheduler.get_job("digest:mongolia-weekly") is None


def test_an_unknown_country_in_a_file_digest_is_still_a_config_error(tmp_path: Path) -> None:
    path = write_config(tmp_path, sqlite_store(tmp_path))
    set_keys(path, "digests", countries='["ZZ"]')
    with pytest.raises(ConfigError, match=r"digests\[0\]\.countries\[0\]: unknown country 'ZZ'"):
        load_config(path, environ={})


@pytest.mark.postgres
def test_on_postgresql_a_digest_applied_while_two_schedulers_run_is_sent_by_whichever_is_active(
        tmp_path: Path, postgres_url: str, mail_server: MailServer) -> None:
    path = mail_config(tmp_path, postgres_url, mail_server)
    set_keys(path, "scheduler", standby_poll='"0.5s"', changes_poll='"0.5s"')
    config, sessions = setup_store(path, {"herder@example.org": ("MN", "confirmed")})
    with sessions.begin() as session:
        herder = find_subscriber(session, "herder@example.org")
        assert herder is not None
        set_digests(herder, ["mongolia-monthly", "mongolia-flash"])  # (a digest they chose, to come)
    logs = [tmp_path / f"run{n}.log" for n in range(2)]
    runs = [start_run(path, log, fast_fire=True) for log in logs]
    try:
        wait_until(lambda: any("scheduler running" in log.read_text() for log in logs))
        active = next(n for n in range(2) if "scheduler running" in logs[n].read_text())
        flash = tmp_path / "flash.toml"
        flash.write_text(export_of(path).replace('name = "mongolia-monthly"', 'name = "mongolia-flash"')
                         .replace('cron = "0 9 1 * *"', 'cron = "* * * * *"'))
        assert cli_run(path, "digests", "apply", str(flash))[0] == 0
        # (complete: killed before it recorded its one delivery, the next would send it again, once)
        wait_until(lambda: editions_of(sessions, "mongolia-flash", complete=True) == [1])
        runs[active].send_signal(signal.SIGKILL)
        wait_until(lambda: "scheduler running" in logs[1 - active].read_text())
        assert "digest mongolia-flash: not in config.toml" in logs[1 - active].read_text()
        add_releases(sessions, config, tmp_path, {"title": "Herders' news", "countries": ["MN"],
                                                  "published": datetime.now(UTC).isoformat()})
        wait_until(lambda: editions_of(sessions, "mongolia-flash") == [1, 2] and len(mail_server.received) == 2)
    finally:
        codes = stop_all(runs)
    assert sorted(codes) == [-signal.SIGKILL, 0]
    assert [m.recipients for m in mail_server.received] == [["herder@example.org"]] * 2


def export_of(path: Path) -> str:
    code, out = cli_run(path, "digests", "export")
    assert code == 0
    return out


def editions_of(sessions: sessionmaker[Session], digest: str, *, complete: bool = False) -> list[int]:
    query = select(Edition.number).where(Edition.digest == digest).order_by(Edition.number)
    if complete:
        query = query.where(Edition.status == EditionStatus.COMPLETE)
    with sessions() as session:
        return list(session.scalars(query))


def test_a_digest_naming_a_country_the_file_dropped_is_said(config: Config, sessions: sessionmaker[Session]) -> None:
    create_digest(sessions, config, "cms@example.org", NEW, NOW)
    without_mongolia = config.model_copy(update={"countries": tuple(c for c in config.countries if c.code != "MN")})
    assert ("mongolia-weekly: countries config.toml no longer has: MN (its readers of them get nothing; "
            "change the digest)") in divergences(sessions, without_mongolia)
