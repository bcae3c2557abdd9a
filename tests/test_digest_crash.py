"""kill -9 in the middle of an edition, then a second run: everyone gets it exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import mail_config, setup_store, sqlite_store
from mailserver import MailServer
from sqlalchemy import func, select

from publisher.digest.render import EditionConfig
from publisher.store.models import Delivery, Edition

pytestmark = pytest.mark.slow  # sender processes killed with -9

PEOPLE = {f"reader{i:02d}@example.org": ("CN", "confirmed") for i in range(40)}


# One connection on one database, four on the other: each database and each way of committing
# results (alone, or grouped across connections) is killed halfway at least once.
@pytest.mark.parametrize(("db_url", "connections"), [
    ("sqlite", "4"), pytest.param("postgresql", "1", marks=pytest.mark.postgres)], indirect=["db_url"])
def test_kill_9_halfway_then_rerun_delivers_each_recipient_once(
        tmp_path: Path, db_url: str, mail_server: MailServer, connections: str) -> None:
    # A short lease: the killed sender's claimed batch is free again a second after its death.
    path = mail_config(tmp_path, db_url, mail_server, connections=connections, lease='"1s"')
    _, sessions = setup_store(path, PEOPLE)
    command = [sys.executable, "-m", "publisher", "--config", str(path), "digest", "send",
               "china-weekly"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUBLISHER_")}
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    # After 20 messages the server refuses the rest and the sender is killed mid-edition,
    # with its other connections in the middle of their transactions.
    mail_server.stop_after = 20
    mail_server.on_stop = lambda: os.kill(process.pid, signal.SIGKILL)
    process.communicate(timeout=120)
    assert process.returncode == -signal.SIGKILL
    assert len(mail_server.received) == 20
    mail_server.stop_after = None

    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert rerun.stdout == "china-weekly edition 1: 19 releases, 40 sent, 0 failed\n"
    delivered = sorted(r.recipients[0] for r in mail_server.received)
    assert delivered == sorted(PEOPLE)  # each exactly once
    assert len({r.message["Message-ID"] for r in mail_server.received}) == 40
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Edition)) == 1
        assert session.scalar(select(Edition.status)) == "complete"
        assert session.scalar(select(func.count()).where(Delivery.status == "sent")) == 40


def test_two_senders_at_once_share_the_edition_and_send_each_recipient_once(
        tmp_path: Path, db_url: str, mail_server: MailServer) -> None:
    path = mail_config(tmp_path, db_url, mail_server, connections="2")
    _, sessions = setup_store(path, PEOPLE)
    mail_server.delay = 0.02  # long enough for both to be sending at the same time
    command = [sys.executable, "-m", "publisher", "--config", str(path), "digest", "send",
               "china-weekly"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUBLISHER_")}
    first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    second = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    finished = [process.communicate(timeout=120) for process in (first, second)]
    outputs = [out.decode() for out, _ in finished]
    assert first.returncode == second.returncode == 0, "\n".join(err.decode()[-3000:] for _, err in finished)
    said = "\n".join(out + err.decode()[-3000:] for out, (_, err) in zip(outputs, finished, strict=True))
    assert sorted(r.recipients[0] for r in mail_server.received) == sorted(PEOPLE), said
    assert any(out.endswith("40 sent, 0 failed\n") for out in outputs), said
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Edition)) == 1
        assert session.scalar(select(Edition.status)) == "complete"


def test_a_batch_whose_lease_ran_out_unrenewed_is_not_sent(
        tmp_path: Path, db_url: str, mail_server: MailServer) -> None:
    """The database was away longer than the lease: by the time this sender could renew,
    another may have claimed its batch, so what it still holds goes back unsent."""
    from datetime import UTC, datetime, timedelta

    from publisher.digest.message import edition_messages
    from publisher.digest.send import EditionSender
    from publisher.jobs.digests import queue_digest
    from publisher.mail.transport import make_transport

    path = mail_config(tmp_path, db_url, mail_server, lease='"60s"')
    config, sessions = setup_store(path, PEOPLE)
    moment = [datetime.now(UTC)]
    edition = queue_digest(sessions, config, "china-weekly", now=moment[0])
    assert edition is not None
    sender = EditionSender(sessions, config.smtp, edition, make_transport(config.smtp, config.mail.outbox),
                           edition_messages(sessions, EditionConfig.of(config), edition, "test signing key", None),
                           soft_limit=config.bounces.soft_limit, clock=lambda: moment[0])
    batch = sender.claimer.ready_jobs()
    assert batch
    moment[0] += timedelta(seconds=61)  # no renewal got through for longer than the lease
    sender.lease.renew(sender.claimer.renew)
    connection = sender.transport.connect()
    sender.deliverer(None).deliver(connection, batch[0])  # type: ignore[arg-type]  # nothing may be recorded either
    connection.close()
    assert mail_server.received == []
    with sessions() as session:
        assert session.scalar(select(func.count()).where(Delivery.status == "queued")) == 40


def test_on_sqlite_a_process_opening_an_edition_holds_the_write_lock_before_it_plans(tmp_path: Path) -> None:
    """Python 3.11's sqlite3 starts a transaction at the first write: without a write first, the
    plan's reads could straddle another process's new edition (everyone mailed twice)."""
    import sqlite3

    from publisher.digest.editions import _take_turns

    path = mail_config(tmp_path, sqlite_store(tmp_path, "store.db"), None)
    _, sessions = setup_store(path, PEOPLE)
    other = sqlite3.connect(tmp_path / "store.db", timeout=0.1)
    with sessions.begin() as session:
        _take_turns(session, "china-weekly")
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("UPDATE editions SET number = number")
    other.execute("UPDATE editions SET number = number")  # the turn ends with the transaction
    other.close()


def test_a_claim_that_ran_out_waits_for_its_sender_to_record_what_it_sent(tmp_path: Path, db_url: str) -> None:
    """The database was away longer than the lease, and the first sender sent a message before
    it went: its result waits in memory. Another sender must not take that delivery the moment
    the database is back (a PostgreSQL outage gave extra copies), but only once the first had
    time to record it; a sender that never comes back loses nothing either."""
    from datetime import UTC, datetime, timedelta

    from publisher.digest.claims import claim, takeover_wait
    from publisher.jobs.digests import queue_digest

    path = mail_config(tmp_path, db_url, None)
    config, sessions = setup_store(path, dict(list(PEOPLE.items())[:3]))
    start = datetime.now(UTC)
    edition = queue_digest(sessions, config, "china-weekly", now=start)
    assert edition is not None
    lease = timedelta(seconds=60)
    with sessions.begin() as session:
        first = claim(session, edition.id, "a", start, lease, 10)
    assert len(first) == 3
    back = start + lease + timedelta(seconds=30)  # the database comes back
    with sessions.begin() as session:
        assert claim(session, edition.id, "b", back, lease, 10) == []  # not yet: "a" may have sent them
    with sessions.begin() as session:  # "a" records the one it sent, its writer's next try
        session.get(Delivery, first[0]).status = "sent"  # type: ignore[union-attr]
    later = back + takeover_wait(lease)
    with sessions.begin() as session:
        assert claim(session, edition.id, "b", later - timedelta(seconds=1), lease, 10) == []
        assert claim(session, edition.id, "b", later, lease, 10) == first[1:]  # never sent: taken now
    assert takeover_wait(lease) == timedelta(seconds=15) and takeover_wait(timedelta(seconds=1)) == timedelta(seconds=1)
