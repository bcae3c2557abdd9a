"""Pausing a digest stops its send, between two batches or within one, and nothing more goes out;
resumed, the same edition finishes, every reader mailed exactly once."""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from helpers import READERS, mail_config, setup_store, wait_until
from mailserver import MailServer

from publisher.clock import utc_now
from publisher.errors import DigestPaused
from publisher.jobs import controls
from publisher.jobs.digests import help_send, queue_digest, unfinished_editions


def test_a_pause_stops_a_send_and_a_resume_finishes_it(tmp_path: Path, db_url: str,
                                                       mail_server: MailServer) -> None:
    config, sessions = setup_store(mail_config(tmp_path, db_url, mail_server), READERS)
    name = config.digests[0].name  # READERS read CN, as it does
    mail_server.delay = 0.03
    edition = queue_digest(sessions, config, name, now=utc_now())
    assert edition is not None
    sending = threading.Thread(target=help_send, args=(sessions, config, edition), kwargs={"batch": 3})
    sending.start()
    wait_until(lambda: len(mail_server.received) >= 3)
    controls.pause(sessions, config, "ops@example.org", name, utc_now())
    sending.join(30)
    assert not sending.is_alive()
    stopped_at = len(mail_server.received)
    assert 3 <= stopped_at < len(READERS)
    time.sleep(0.5)
    assert len(mail_server.received) == stopped_at  # nothing more went out
    assert unfinished_editions(sessions, config, threading.Event()) == []  # workers leave it alone
    with pytest.raises(DigestPaused):
        controls.send_now(sessions, config, "ops@example.org", name, utc_now())

    controls.resume(sessions, config, "ops@example.org", name, utc_now())
    again = controls.send_now(sessions, config, "ops@example.org", name, utc_now())
    assert again is not None and again.number == edition.number  # the same edition, resumed
    totals = help_send(sessions, config, again)
    assert totals.completed_now and totals.queued == 0
    received = Counter(address for message in mail_server.received for address in message.recipients)
    assert received == Counter({address.lower(): 1 for address in READERS})


def test_a_pause_stops_the_batch_in_hand_within_about_a_second(tmp_path: Path, db_url: str,
                                                                mail_server: MailServer) -> None:
    """One connection, the whole edition claimed as one batch, a relay taking 0.2 s a message:
    without a look during the batch, all 30 would go out after the pause."""
    config, sessions = setup_store(mail_config(tmp_path, db_url, mail_server, connections="1"), READERS)
    name = config.digests[0].name
    mail_server.delay = 0.2
    edition = queue_digest(sessions, config, name, now=utc_now())
    assert edition is not None
    sending = threading.Thread(target=help_send, args=(sessions, config, edition), kwargs={"batch": 250})
    sending.start()
    wait_until(lambda: len(mail_server.received) >= 3)
    controls.pause(sessions, config, "ops@example.org", name, utc_now())
    paused_at = len(mail_server.received)
    sending.join(30)
    assert not sending.is_alive()
    stopped_at = len(mail_server.received)
    # A second's look (5 messages at this pace) and the one on the wire; room for a busy machine
    assert stopped_at - paused_at <= 12 and stopped_at < len(READERS)

    controls.resume(sessions, config, "ops@example.org", name, utc_now())
    mail_server.delay = 0
    again = controls.send_now(sessions, config, "ops@example.org", name, utc_now())
    assert again is not None and again.number == edition.number
    totals = help_send(sessions, config, again)
    assert totals.completed_now and totals.queued == 0
    received = Counter(address for message in mail_server.received for address in message.recipients)
    assert received == Counter({address.lower(): 1 for address in READERS})
