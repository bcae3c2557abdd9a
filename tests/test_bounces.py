"""Bounces: at send time (real aiosmtpd answering 550 and 452), and as mail read back from an
MTA's pipe (`publisher bounces read`), matched by the signed VERP return path, applied once."""

from __future__ import annotations

import mailbox
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import add_releases, mail_config, set_keys, setup_store, status_of
from mailserver import MailServer
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from publisher.cli import cli
from publisher.config import Config, load_config
from publisher.store.models import BounceEvent, RejectedMessage, Subscriber
from publisher.subscribers.keys import signing_key
from publisher.subscribers.tokens import Signer
from publisher.subscribers.verp import read_verp, verp_address

CORPUS = Path(__file__).resolve().parent / "data" / "bounces"
PEOPLE = {"fine@example.org": ("CN", "confirmed"), "dead@example.org": ("CN", "confirmed"),
          "full@example.org": ("CN", "confirmed"), "flaky@example.org": ("CN", "confirmed")}


def cli_run(path: Path, *args: str, stdin: bytes | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--config", str(path), *args], input=stdin)
    return result.exit_code, result.stdout + result.stderr


@pytest.fixture
def store(tmp_path: Path, db_url: str, mail_server: MailServer):  # type: ignore[no-untyped-def]
    path = mail_config(tmp_path, db_url, mail_server, max_attempts="2")
    set_keys(path, "mail", bounce_address='"bounces@ilo.org"')
    config, sessions = setup_store(path, PEOPLE)
    return path, config, sessions


def events(sessions: sessionmaker[Session]) -> list[tuple[str, str, str]]:
    with sessions() as session:
        return [(email, kind, source) for email, kind, source in session.execute(
            select(Subscriber.email, BounceEvent.kind, BounceEvent.source)
            .join(Subscriber, Subscriber.id == BounceEvent.subscriber_id).order_by(BounceEvent.id))]


def soft_count(sessions: sessionmaker[Session], email: str) -> int:
    with sessions() as session:
        return session.scalar(select(Subscriber.soft_bounces).where(Subscriber.email == email)) or 0


def test_a_5xx_stops_mail_at_once_and_4xx_only_in_editions_in_a_row(store, mail_server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path, config, sessions = store
    flaky_until = [1]

    def decide(address: str, _attempt: int) -> str | None:
        if address == "dead@example.org":
            return "550 5.1.1 User unknown"
        if address == "full@example.org" or (address == "flaky@example.org" and flaky_until[0]):
            return "452 4.2.2 Mailbox full"
        return None

    mail_server.decide = decide
    assert cli_run(path, "digest", "send", "china-weekly")[1].endswith("1 sent, 3 failed\n")
    [received] = mail_server.received
    signer = Signer(signing_key(config))
    verp = read_verp(config, signer, received.sender)  # the return path names the delivery
    assert isinstance(verp, tuple) and re.fullmatch(r"bounces\+\d+\.\d+\.[a-z2-7]{20}@ilo\.org", received.sender)
    assert status_of(sessions, "dead@example.org") == "bounced"
    assert [status_of(sessions, a) for a in ("full@example.org", "flaky@example.org")] == ["confirmed"] * 2
    assert sorted(events(sessions)) == [("dead@example.org", "hard", "smtp"),
                                        ("flaky@example.org", "soft", "smtp"),
                                        ("full@example.org", "soft", "smtp")]
    flaky_until[0] = 0  # flaky's mailbox has room again
    add_releases(sessions, config, tmp_path, {"title": "China news 2", "countries": ["CN"],
                                               "published": datetime.now(UTC).isoformat()})
    assert cli_run(path, "digest", "send", "china-weekly")[1].endswith("2 sent, 1 failed\n")
    assert mail_server.attempts["dead@example.org"] == 1  # not mailed again
    assert (soft_count(sessions, "flaky@example.org"), soft_count(sessions, "full@example.org")) == (0, 2)
    add_releases(sessions, config, tmp_path, {"title": "China news 3", "countries": ["CN"],
                                               "published": datetime.now(UTC).isoformat()})
    cli_run(path, "digest", "send", "china-weekly")
    assert status_of(sessions, "full@example.org") == "bounced"  # the third edition in a row
    add_releases(sessions, config, tmp_path, {"title": "China news 4", "countries": ["CN"],
                                               "published": datetime.now(UTC).isoformat()})
    attempts = mail_server.attempts["full@example.org"]
    assert cli_run(path, "digest", "send", "china-weekly")[1].endswith("2 sent, 0 failed\n")
    assert mail_server.attempts["full@example.org"] == attempts


def bounce_for(config: Config, sessions: sessionmaker[Session], name: str, address: str,
               edition: int = 1) -> bytes:
    with sessions() as session:
        subscriber_id = session.scalar(select(Subscriber.id).where(Subscriber.email == address))
    assert subscriber_id is not None
    verp = verp_address(config, Signer(signing_key(config)), edition)(subscriber_id)
    raw = (CORPUS / name).read_bytes()
    return raw.replace(b"@@VERP@@", verp.encode()).replace(b"@@RCPT@@", address.encode())


@pytest.mark.parametrize(("name", "address", "kind", "status"), [
    ("postfix-dsn.eml", "dead@example.org", "hard", "bounced"),
    ("exchange-dsn.eml", "dead@example.org", "hard", "bounced"),
    ("exim-text.eml", "dead@example.org", "hard", "bounced"),
    ("qmail-latin1.eml", "dead@example.org", "hard", "bounced"),  # not UTF-8
    ("gmail-soft-dsn.eml", "full@example.org", "soft", "confirmed"),
    ("yahoo-arf.eml", "fine@example.org", "complaint", "complained"),
])
def test_a_bounce_read_from_the_pipe_is_applied_once(store, name: str, address: str, kind: str,
                                                     status: str) -> None:  # type: ignore[no-untyped-def]
    path, config, sessions = store
    raw = bounce_for(config, sessions, name, address)
    code, out = cli_run(path, "bounces", "read", stdin=raw)
    assert (code, out.split(" (")[0].strip()) == (0, f"{kind} for {address}")
    assert status_of(sessions, address) == status
    code, out = cli_run(path, "bounces", "read", stdin=raw)  # the same message again
    assert code == 0 and out.startswith("already applied: ")
    assert events(sessions) == [(address, kind, "pipe")]


@pytest.mark.parametrize(("name", "reason"), [
    ("garbage.eml", "no mail headers"),
    ("truncated-dsn.eml", "a delivery status report without its status part"),
])
def test_what_cannot_be_understood_is_kept_aside(store, name: str, reason: str) -> None:  # type: ignore[no-untyped-def]
    path, config, sessions = store
    raw = bounce_for(config, sessions, name, "dead@example.org")
    assert cli_run(path, "bounces", "read", stdin=raw) == (0, f"kept aside: {reason}\n")
    with sessions() as session:
        [kept] = session.scalars(select(RejectedMessage)).all()
    assert (kept.reason, kept.source, kept.raw) == (reason, "pipe", raw)
    assert events(sessions) == [] and status_of(sessions, "dead@example.org") == "confirmed"


def test_a_forged_or_unsigned_bounce_changes_nothing(store) -> None:  # type: ignore[no-untyped-def]
    path, config, sessions = store
    raw = bounce_for(config, sessions, "postfix-dsn.eml", "fine@example.org")
    forged = re.sub(rb"bounces\+(\d+)\.(\d+)\.[a-z2-7]+@", rb"bounces+\1.\2.aaaaaaaaaaaaaaaaaaaa@", raw)
    assert cli_run(path, "bounces", "read", stdin=forged)[1] == "kept aside: a forged or altered VERP mark\n"
    unsigned = re.sub(rb"bounces\+[0-9a-z.]+@ilo\.org", b"beijing@ilo.org", raw).replace(
        b"<2026", b"<unsigned-2026")
    assert cli_run(path, "bounces", "read", stdin=unsigned)[1] == (
        "kept aside: no VERP mark of ours: whose delivery it was cannot be trusted\n")
    assert status_of(sessions, "fine@example.org") == "confirmed" and events(sessions) == []


def test_a_report_of_a_delay_changes_nothing(store) -> None:  # type: ignore[no-untyped-def]
    path, config, sessions = store
    raw = bounce_for(config, sessions, "delayed-dsn.eml", "full@example.org")
    code, out = cli_run(path, "bounces", "read", stdin=raw)
    assert code == 0 and out.startswith("no change: delayed 4.4.1")
    assert events(sessions) == [] and status_of(sessions, "full@example.org") == "confirmed"


def test_an_unreachable_database_asks_the_mta_to_try_again(tmp_path: Path) -> None:
    from helpers import write_config

    path = write_config(tmp_path, "postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=2")
    load_config(path, environ={})
    code, out = cli_run(path, "bounces", "read", stdin=b"Subject: x\n\nbody\n")
    assert code == 75, out


def test_a_mail_to_the_list_unsubscribe_address_unsubscribes_only_when_signed(store, mail_server) -> None:  # type: ignore[no-untyped-def]
    path, _config, sessions = store
    cli_run(path, "digest", "send", "china-weekly")
    [digest] = [r.message for r in mail_server.received if r.recipients == ["fine@example.org"]]
    mailto = re.search(r"<mailto:([^?>]+)\?subject=unsubscribe>", str(digest["List-Unsubscribe"])).group(1)  # type: ignore[union-attr]
    assert re.fullmatch(r"bounces\+u\.\d+\.[a-z2-7]{20}@ilo\.org", mailto)
    forged = re.sub(r"\.[a-z2-7]{20}@", ".abcdefghijklmnopqrst@", mailto)
    letter = "From: fine@example.org\nTo: {to}\nSubject: unsubscribe\nMessage-ID: <{id}@example.org>\n\n\n"
    code, out = cli_run(path, "bounces", "read",
                        stdin=letter.format(to=forged, id="forged").encode())
    assert (code, out) == (0, "kept aside: a forged or altered unsubscribe address\n")
    assert status_of(sessions, "fine@example.org") == "confirmed"
    raw = letter.format(to=mailto, id="leave").encode()
    assert cli_run(path, "bounces", "read", stdin=raw) == (0, "unsubscribed fine@example.org (by mail)\n")
    assert status_of(sessions, "fine@example.org") == "unsubscribed"
    assert cli_run(path, "bounces", "read", stdin=raw)[1] == "already applied: <leave@example.org>\n"
    assert ("fine@example.org", "unsubscribe", "pipe") in events(sessions)


def test_fetch_reads_a_maildir_once_moving_each_message_aside(store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path, config, sessions = store
    folder = tmp_path / "bounce-box"
    set_keys(path, "bounces", maildir=f'"{folder.name}"')
    box = mailbox.Maildir(folder, create=True)
    messages = [bounce_for(config, sessions, "postfix-dsn.eml", "dead@example.org"),
                bounce_for(config, sessions, "yahoo-arf.eml", "fine@example.org"),
                bounce_for(config, sessions, "delayed-dsn.eml", "full@example.org"),
                bounce_for(config, sessions, "garbage.eml", "full@example.org")]
    for raw in messages:
        box.add(raw)
    box.add(messages[0])  # the same bounce delivered twice
    assert cli_run(path, "bounces", "fetch") == (
        0, f"bounces: 2 applied, 2 unchanged, 1 kept aside from {folder}\n")
    assert [status_of(sessions, a) for a in ("dead@example.org", "fine@example.org", "full@example.org")] == [
        "bounced", "complained", "confirmed"]
    assert sorted(events(sessions)) == [("dead@example.org", "hard", "maildir"),
                                        ("fine@example.org", "complaint", "maildir")]
    assert len(box) == 0
    assert len(box.get_folder("handled")) == 4 and len(box.get_folder("rejected")) == 1
    assert cli_run(path, "bounces", "fetch") == (  # a second fetch changes nothing
        0, f"bounces: 0 applied, 0 unchanged, 0 kept aside from {folder}\n")


def test_run_fetches_the_maildir_on_its_schedule(store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import threading

    from publisher.run.scheduler import ScheduleRunner
    from publisher.run.schedules import schedules

    path, config, sessions = store
    folder = tmp_path / "bounce-box"
    set_keys(path, "bounces", maildir=f'"{folder.name}"', cron='"*/10 * * * *"')
    config = load_config(path, environ={})
    mailbox.Maildir(folder, create=True).add(bounce_for(config, sessions, "exim-text.eml", "dead@example.org"))
    [job] = [s for s in schedules(config) if s.kind == "bounces"]
    runner = ScheduleRunner(sessions, config, threading.Event(), clock=lambda: datetime.now(UTC))
    assert runner.run(job, datetime.now(UTC)) == f"bounces: 1 applied, 0 unchanged, 0 kept aside from {folder}"
    assert status_of(sessions, "dead@example.org") == "bounced"


def test_show_tells_an_addresss_history_and_list_finds_the_bounced(store, mail_server) -> None:  # type: ignore[no-untyped-def]
    path = store[0]
    mail_server.decide = lambda address, _attempt: "550 5.1.1 User unknown" if address == "dead@example.org" else None
    cli_run(path, "digest", "send", "china-weekly")
    code, out = cli_run(path, "subscribers", "show", "Dead@Example.org")
    assert code == 0
    first = out.splitlines()[0]
    assert first.startswith("dead@example.org: bounced since ") and first.endswith(", CN, en, 0 soft bounces in a row")
    rows = [" ".join(line.split()) for line in out.splitlines()]
    for what in ("china-weekly edition 1: failed", "hard (smtp)"):
        assert any(what in row and "550 5.1.1 User unknown" in row for row in rows), what
    assert any("status: bounced" in row for row in rows)
    code, out = cli_run(path, "subscribers", "list", "--status", "bounced")
    assert code == 0 and "dead@example.org" in out and "fine@example.org" not in out
    assert cli_run(path, "subscribers", "show", "nobody@example.org")[0] == 2


def test_report_says_how_an_edition_went_and_lists_every_recipient(store, mail_server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path, config, sessions = store
    mail_server.decide = lambda address, _attempt: {"dead@example.org": "550 5.1.1 User unknown",
                                                    "full@example.org": "452 4.2.2 Mailbox full"}.get(address)
    cli_run(path, "digest", "send", "china-weekly")
    complaint = bounce_for(config, sessions, "yahoo-arf.eml", "fine@example.org")
    assert cli_run(path, "bounces", "read", stdin=complaint)[0] == 0
    out_file = tmp_path / "report.csv"
    code, out = cli_run(path, "report", "china-weekly", "1", "--csv", str(out_file))
    assert code == 0, out
    assert re.fullmatch(r"china-weekly edition 1 \(\d{4}-\d\d-\d\d\): 4 recipients: 2 failed, 2 sent; "
                        r"bounced 1 hard, 1 soft; 1 complained; 0 unsubscribed since\n", out), out
    rows = out_file.read_text("utf-8").splitlines()
    assert rows[0] == "email,delivery,reply,bounce,unsubscribed_since"
    assert "dead@example.org,failed,550 5.1.1 User unknown,hard," in rows
    assert any(row.startswith("fine@example.org,sent,250 ") and row.endswith(",complaint,") for row in rows)
    assert cli_run(path, "report", "china-weekly")[1] == out  # the newest, by default
    assert cli_run(path, "report", "china-weekly", "7")[0] == 2
