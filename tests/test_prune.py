"""`publisher editions prune`: the deliveries of old editions go, in batches; the edition stays
and `publisher report` still tells how it went."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner
from helpers import mail_config, printed, setup_store
from mailserver import MailServer
from sqlalchemy import func, select, update

from publisher.cli import cli
from publisher.digest.prune import prune_deliveries
from publisher.store.models import AuditEntry, Delivery, Edition

PEOPLE = {f"reader{i}@example.org": ("CN", "confirmed") for i in range(5)}


def run(path: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--config", str(path), *args])
    return result.exit_code, printed(result.stdout, result.stderr)


def test_old_editions_lose_their_deliveries_and_keep_their_counts(tmp_path: Path, db_url: str,
                                                                  mail_server: MailServer) -> None:
    path = mail_config(tmp_path, db_url, mail_server)
    _, sessions = setup_store(path, PEOPLE)
    mail_server.decide = lambda address, _attempt: "550 5.1.1 unknown" if address == "reader4@example.org" else None
    assert run(path, "digest", "send", "china-weekly")[1].endswith("4 sent, 1 failed\n")
    assert run(path, "editions", "prune") == (0, "pruned 0 deliveries of 0 editions completed more than 90d ago\n")
    with sessions.begin() as session:  # the edition was sent 100 days ago
        session.execute(update(Edition).values(completed=datetime.now(UTC) - timedelta(days=100)))
    read: list[int] = []
    pruned = prune_deliveries(sessions, timedelta(days=90), datetime.now(UTC), batch=2, progress=read.append)
    assert (pruned.editions, pruned.deliveries, read) == (1, 5, [2, 2, 1])
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Delivery)) == 0
        assert session.scalar(select(Edition.number)) == 1
    code, out = run(path, "report", "china-weekly", "1")
    assert code == 0 and "(deliveries pruned " in out and ": 5 recipients: 1 failed, 4 sent;" in out
    code, out = run(path, "report", "china-weekly", "1", "--csv", str(tmp_path / "r.csv"))
    assert code == 2 and "there is no list of recipients" in out
    assert run(path, "editions", "prune", "--older-than", "90d") == (
        0, "pruned 0 deliveries of 0 editions completed more than 90d ago\n")  # nothing twice
    assert run(path, "editions", "prune", "--older-than", "soon")[0] == 2
    assert run(path, "digest", "start", "china-weekly", "--from", "2021-01-01")[0] == 0
    with sessions() as session:  # what the command line changed is in the audit log, as its user's
        entries = [(e.actor.endswith("(command line)"), e.action, json.loads(e.after or "null")) for e in
                   session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert entries == [(True, "editions.prune", {"editions": 0, "deliveries": 0})] * 2 + [
        (True, "digest.start", {"since": "2021-01-01T00:00:00+08:00"})]
