"""Pausing a digest stops its send, between two batches or within one, and nothing more goes out;
resumed, the same edition finishes, every reader mailed exactly once."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import READERS, mail_config, setup_store, wait_until
from mailserver import MailServer
from sqlalchemy.orm import Session, sessionmaker

from publisher.clock import utc_now
from publisher.config import Config
from publisher.errors import DigestPaused
from publisher.jobs import controls
from publisher.jobs.digests import help_send, queue_digest, unfinished_editions


@dataclass
class Paused:
    config: Config
    sessions: sessionmaker[Session]
    number: int  # the edition's
    paused_at: int  # messages the server had when the digest was paused
    stopped_at: int  # ... and when the send had stopped


def send_and_pause(path: Path, mail_server: MailServer, *, batch: int) -> Paused:
    """Send the next edition to READERS (in batches of `batch` a connection) and pause its
    digest once the server has 3 messages; wait for the send to stop."""
    config, sessions = setup_store(path, READERS)
    name = config.digests[0].name  # READERS read CN, as it does
    edition = queue_digest(sessions, config, name, now=utc_now())
    assert edition is not None
    sending = threading.Thread(target=help_send, args=(sessions, config, edition), kwargs={"batch": batch})
    sending.start()
    wait_until(lambda: len(mail_server.received) >= 3)
    controls.pause(sessions, config, "ops@example.org", name, utc_now())
    paused_at = len(mail_server.received)
    sending.join(30)
    assert not sending.is_alive()
    return Paused(config, sessions, edition.number, paused_at, len(mail_server.received))


def resume_and_finish(paused: Paused, mail_server: MailServer) -> None:
    """Resumed, "send now" finishes the same edition: every reader mailed exactly once."""
    config, sessions, name = paused.config, paused.sessions, paused.config.digests[0].name
    controls.resume(sessions, config, "ops@example.org", name, utc_now())
    again = controls.send_now(sessions, config, "ops@example.org", name, utc_now())
    assert again is not None and again.number == paused.number  # the same edition, resumed
    totals = help_send(sessions, config, again)
    assert totals.completed_now and totals.queued == 0
    received = Counter(address for message in mail_server.received for address in message.recipients)
    assert received == Counter({address.lower(): 1 for address in READERS})


def test_a_pause_stops_a_send_and_a_resume_finishes_it(tmp_path: Path, db_url: str,
                                                       mail_server: MailServer) -> None:
    mail_server.delay = 0.03
    paused = send_and_pause(mail_config(tmp_path, db_url, mail_server), mail_server, batch=3)
    assert 3 <= paused.stopped_at < len(READERS)
    time.sleep(0.5)
    assert len(mail_server.received) == paused.stopped_at  # nothing more went out
    config, sessions = paused.config, paused.sessions
    assert unfinished_editions(sessions, config, threading.Event()) == []  # workers leave it alone
    with pytest.raises(DigestPaused):
        controls.send_now(sessions, config, "ops@example.org", config.digests[0].name, utc_now())
    resume_and_finish(paused, mail_server)


def test_a_pause_stops_the_batch_in_hand_within_about_a_second(tmp_path: Path, db_url: str,
                                                                mail_server: MailServer) -> None:
    """One connection, the whole edition claimed as one batch, a relay taking 0.2 s a message:
    without a look during the batch, all 30 would go out after the pause."""
    mail_server.delay = 0.2
    paused = send_and_pause(mail_config(tmp_path, db_url, mail_server, connections="1"), mail_server, batch=250)
    # A second's look (5 messages at this pace) and the one on the wire; room for a busy machine
    assert paused.stopped_at - paused.paused_at <= 12 and paused.stopped_at < len(READERS)
    mail_server.delay = 0
    resume_and_finish(paused, mail_server)


def test_a_paused_digest_is_marked_wherever_its_next_edition_is_shown(tmp_path: Path, db_url: str) -> None:
    """`publisher schedule` and `digest send --dry-run` showed a paused digest's next fire times
    and edition as if it would go out."""
    from click.testing import CliRunner

    from publisher.cli import cli

    path = mail_config(tmp_path, db_url, None)
    config, sessions = setup_store(path, READERS)
    controls.pause(sessions, config, "ana@ilo.org", "china-weekly", utc_now())
    dry = CliRunner().invoke(cli, ["--config", str(path), "digest", "send", "china-weekly", "--dry-run"]).stdout
    assert dry.startswith("china-weekly is PAUSED (by ana@ilo.org since ") and "until it is resumed" in dry
    shown = " ".join(CliRunner().invoke(cli, ["--config", str(path), "schedule"]).stdout.replace("│", " ").split())
    assert "(paused: skipped)" in shown and "china-weekly is PAUSED" in shown
    assert "mongolia-monthly is PAUSED" not in shown
