"""Several `publisher worker` processes share an edition; one killed mid-edition loses nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner

from mailserver import MailServer
from publisher import jobs
from publisher.cli import cli

from conftest import set_keys
from test_digest import mail_config, setup_store
from test_scheduler import _editions, _wait

READERS = {f"reader{i:02d}@example.org": ("CN", "confirmed") for i in range(60)}


def _worker(path: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUBLISHER_")}
    return subprocess.Popen([sys.executable, "-m", "publisher", "--config", str(path), "worker",
                             "--poll", "0.2"], env=env, stdout=subprocess.DEVNULL,
                            stderr=open(log, "wb"))


def test_kill_9_one_of_three_workers_and_every_recipient_gets_it_once(
        tmp_path: Path, db_url: str, mail_server: MailServer) -> None:
    path = mail_config(tmp_path, db_url, mail_server, connections="2", lease='"1s"')
    set_keys(path, "scheduler", send_in_process="false")
    config, sessions = setup_store(path, READERS)
    edition = jobs.queue_digest(sessions, config, "china-weekly", now=datetime.now(UTC))
    assert edition is not None and mail_server.received == []  # queued, not sent
    mail_server.delay = 0.03
    workers = [_worker(path, tmp_path / f"worker{n}.log") for n in range(3)]
    # After 15 messages the server answers nothing but 421, and, once the replies it gave have
    # reached the workers, worker 0 is killed holding its claimed batch. (Killed at a random
    # instant, it could die between a 250 and its commit: the one window README owns up to.)
    mail_server.stop_after = 15
    mail_server.on_stop = lambda: workers[0].send_signal(signal.SIGKILL)
    try:
        _wait(lambda: workers[0].poll() is not None)
        status = CliRunner().invoke(cli, ["--config", str(path), "status"]).stdout
        assert "china-weekly 1" in status and "sending" in status
        mail_server.stop_after, mail_server.stopping = None, False  # the server is back
        _wait(lambda: _editions(sessions) == [(1, "complete")], 60)
    finally:
        for worker in workers[1:]:
            worker.send_signal(signal.SIGTERM)
        codes = [worker.wait(timeout=30) for worker in workers]
    assert codes == [-signal.SIGKILL, 0, 0]
    assert sorted(r.recipients[0] for r in mail_server.received) == sorted(READERS)
    status = CliRunner().invoke(cli, ["--config", str(path), "status"]).stdout
    assert "complete" in status and " 60 " in status
