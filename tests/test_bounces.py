"""Bounces: at send time (real aiosmtpd answering 550 and 452), and as mail read back from an
MTA's pipe (`publisher bounces read`), matched by the signed VERP return path, applied once."""

from __future__ import annotations

import mailbox
import os
import re
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import add_releases, mail_config, printed, set_keys, setup_store, status_of
from imapserver import PASSWORD as IMAP_PASSWORD
from imapserver import USER as IMAP_USER
from imapserver import ImapServer
from mailserver import MailServer
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from publisher.cli import cli
from publisher.config import Config, load_config
from publisher.store.models import BounceEvent, Delivery, RejectedMessage, Subscriber
from publisher.subscribers.keys import signing_key
from publisher.subscribers.tokens import Signer
from publisher.subscribers.verp import Mark, read_verp, unsubscribe_address, verp_address

CORPUS = Path(__file__).resolve().parent / "data" / "bounces"
PEOPLE = {"fine@example.org": ("CN", "confirmed"), "dead@example.org": ("CN", "confirmed"),
          "full@example.org": ("CN", "confirmed"), "flaky@example.org": ("CN", "confirmed")}


def cli_run(path: Path, *args: str, stdin: bytes | None = None,
            env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner(env=env).invoke(cli, ["--config", str(path), *args], input=stdin)
    return result.exit_code, printed(result.stdout, result.stderr)


@pytest.fixture
def store(tmp_path: Path, db_url: str, mail_server: MailServer):  # type: ignore[no-untyped-def]
    path = mail_config(tmp_path, db_url, mail_server, max_attempts="2")
    set_keys(path, "mail", bounce_address='"bounces@ilo.org"')
    config, sessions = setup_store(path, PEOPLE)
    return path, config, sessions


@pytest.fixture
def sent(store):  # type: ignore[no-untyped-def]
    """The store once edition 1 went to every reader: a bounce is about a delivery."""
    path, _config, _sessions = store
    assert cli_run(path, "digest", "send", "china-weekly")[0] == 0
    return store


def events(sessions: sessionmaker[Session]) -> list[tuple[str, str, str]]:
    with sessions() as session:
        return [(email, kind, source) for email, kind, source in session.execute(
            select(Subscriber.email, BounceEvent.kind, BounceEvent.source)
            .join(Subscriber, Subscriber.id == BounceEvent.subscriber_id).order_by(BounceEvent.id))]


def table_text(printed: str) -> str:
    """A printed table's words in one line: a long cell wraps onto lines of its own."""
    return " ".join(printed.replace("\u2502", " ").split())


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
    signer = Signer(signing_key(config.secrets))
    verp = read_verp(config.mail.bounce_address, signer, received.sender)  # the return path names the delivery
    assert isinstance(verp, Mark) and re.fullmatch(r"bounces\+\d+\.\d+\.[a-z2-7]{20}@ilo\.org", received.sender)
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
    verp = verp_address(config.mail.bounce_address, Signer(signing_key(config.secrets)), edition)(subscriber_id)
    raw = (CORPUS / name).read_bytes()
    return raw.replace(b"@@VERP@@", verp.encode()).replace(b"@@RCPT@@", address.encode())


@pytest.mark.parametrize(("name", "address", "kind", "status"), [
    ("postfix-dsn.eml", "dead@example.org", "hard", "bounced"),
    ("exchange-dsn.eml", "dead@example.org", "hard", "bounced"),
    ("exim-text.eml", "dead@example.org", "hard", "bounced"),
    ("sendmail-dsn.eml", "dead@example.org", "hard", "bounced"),
    ("qmail-latin1.eml", "dead@example.org", "hard", "bounced"),  # not UTF-8
    ("gmail-soft-dsn.eml", "full@example.org", "soft", "confirmed"),
    ("yahoo-arf.eml", "fine@example.org", "complaint", "complained"),
])
def test_a_bounce_read_from_the_pipe_is_applied_once(sent, name: str, address: str, kind: str,
                                                     status: str) -> None:  # type: ignore[no-untyped-def]
    path, config, sessions = sent
    raw = bounce_for(config, sessions, name, address)
    code, out = cli_run(path, "bounces", "read", stdin=raw)
    assert (code, out.split(" (")[0].strip()) == (0, f"{kind} for {address}")
    assert status_of(sessions, address) == status
    code, out = cli_run(path, "bounces", "read", stdin=raw)  # the same message again
    assert code == 0 and out.startswith("already applied: ")
    assert events(sessions) == [(address, kind, "pipe")]


@pytest.mark.parametrize(("name", "reply"), [
    ("exim-text.eml", "550 5.1.1 No such user here"),
    ("qmail-latin1.eml", "<dead@example.org>: Sorry, no mailbox here by that name. Ne pas r\u00e9pondre. (#5.1.1)"),
])
def test_a_prose_bounce_is_told_by_what_it_says_of_the_address(sent, name: str, reply: str) -> None:  # type: ignore[no-untyped-def]
    """Its diagnostic is the paragraph about the address, with the server's reply, not the
    boilerplate that opens the text."""
    path, config, sessions = sent
    result = CliRunner().invoke(cli, ["--config", str(path), "bounces", "read"],
                                input=bounce_for(config, sessions, name, "dead@example.org"))
    assert result.exit_code == 0 and "flufl" not in result.stderr  # not a log line per detector it tried
    code, out = cli_run(path, "subscribers", "show", "dead@example.org")
    cells = table_text(out)
    assert code == 0 and reply in cells and "created automatically" not in cells and "qmail-send" not in cells


def test_a_bounce_in_an_unknown_charset_with_crlf_lines_is_read(sent, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """It once stopped every fetch at itself (LookupError), the message never moved."""
    path, config, sessions = sent
    folder = tmp_path / "bounce-box"
    set_keys(path, "bounces", maildir=f'"{folder.name}"')
    box = mailbox.Maildir(folder, create=True)
    odd = bounce_for(config, sessions, "qmail-latin1.eml", "dead@example.org")
    box.add(odd.replace(b"iso-8859-1", b"x-no-such-charset").replace(b"\n", b"\r\n"))
    box.add(bounce_for(config, sessions, "yahoo-arf.eml", "fine@example.org"))
    assert cli_run(path, "bounces", "fetch") == (0, f"bounces: 2 applied, 0 unchanged, 0 kept aside from {folder}\n")
    assert sorted(events(sessions)) == [("dead@example.org", "hard", "maildir"),
                                        ("fine@example.org", "complaint", "maildir")]
    cells = table_text(cli_run(path, "subscribers", "show", "dead@example.org")[1])
    assert "Sorry, no mailbox here by that name." in cells


@pytest.mark.parametrize(("name", "field", "eight_bit", "said"), [
    ("postfix-dsn.eml", b"Status: 5.1.1", b"Status: 5.1.1 (utilisateur inconnu \xe9)", "hard for dead@example.org"),
    ("postfix-dsn.eml", b"Action: failed", b"Action: failed \xa0", "hard for dead@example.org"),
    ("yahoo-arf.eml", b"Feedback-Type: abuse", b"Feedback-Type: abuse \xe9", "complaint for dead@example.org"),
])
def test_report_fields_with_8_bit_bytes_are_read(sent, name: str, field: bytes, eight_bit: bytes,
                                                 said: str) -> None:  # type: ignore[no-untyped-def]
    """The lenient parser hands such a field over as a Header, not a str (found by fuzzing the
    corpus: each of these raised instead of being read)."""
    path, config, sessions = sent
    raw = bounce_for(config, sessions, name, "dead@example.org")
    assert field in raw
    code, out = cli_run(path, "bounces", "read", stdin=raw.replace(field, eight_bit, 1))
    assert code == 0 and out.startswith(said), out


def test_a_message_the_reader_trips_on_is_kept_aside_and_the_rest_applied(sent, tmp_path: Path,
                                                                          monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Any slip of a report reader on one message (an odd charset was one) keeps that message
    aside; the others of the batch are applied and moved, and the next fetch is not stuck."""
    from publisher.jobs import bounces as job
    from publisher.mail.reports import read_report

    def tripping(message):  # type: ignore[no-untyped-def]
        if "trip" in str(message.get("Subject", "")):
            raise RuntimeError("a slip in the reader")
        return read_report(message)

    monkeypatch.setattr(job, "read_report", tripping)
    path, config, sessions = sent
    folder = tmp_path / "bounce-box"
    set_keys(path, "bounces", maildir=f'"{folder.name}"')
    box = mailbox.Maildir(folder, create=True)
    box.add(bounce_for(config, sessions, "postfix-dsn.eml", "dead@example.org").replace(
        b"Subject: ", b"Subject: trip ", 1))
    box.add(bounce_for(config, sessions, "yahoo-arf.eml", "fine@example.org"))
    assert cli_run(path, "bounces", "fetch") == (0, f"bounces: 1 applied, 0 unchanged, 1 kept aside from {folder}\n")
    assert events(sessions) == [("fine@example.org", "complaint", "maildir")]
    with sessions() as session:
        assert session.scalars(select(RejectedMessage.reason)).all() == [
            "could not be read (RuntimeError: a slip in the reader)"]
    assert len(box) == 0 and len(box.get_folder("rejected")) == 1


@pytest.mark.parametrize(("name", "reason"), [
    ("garbage.eml", "no mail headers"),
    ("truncated-dsn.eml", "a delivery status report without its status part"),
])
def test_what_cannot_be_understood_is_kept_aside(sent, name: str, reason: str) -> None:  # type: ignore[no-untyped-def]
    path, config, sessions = sent
    raw = bounce_for(config, sessions, name, "dead@example.org")
    assert cli_run(path, "bounces", "read", stdin=raw) == (0, f"kept aside: {reason}\n")
    with sessions() as session:
        [kept] = session.scalars(select(RejectedMessage)).all()
    assert (kept.reason, kept.source, kept.raw) == (reason, "pipe", raw)
    assert events(sessions) == [] and status_of(sessions, "dead@example.org") == "confirmed"


def test_a_message_kept_aside_and_read_again_is_kept_once(sent, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path, config, sessions = sent
    raw = bounce_for(config, sessions, "truncated-dsn.eml", "dead@example.org")
    reason = "kept aside: a delivery status report without its status part"
    assert cli_run(path, "bounces", "read", stdin=raw) == (0, f"{reason}\n")
    assert cli_run(path, "bounces", "read", stdin=raw) == (0, f"{reason} (kept once already)\n")
    # As after a crash between the commit and the move: still in the box, and twice at that
    folder = tmp_path / "bounce-box"
    set_keys(path, "bounces", maildir=f'"{folder.name}"')
    box = mailbox.Maildir(folder, create=True)
    box.add(raw)
    box.add(raw)
    assert cli_run(path, "bounces", "fetch") == (
        0, f"bounces: 0 applied, 0 unchanged, 2 kept aside from {folder}\n")
    assert len(box) == 0 and len(box.get_folder("rejected")) == 2
    with sessions() as session:
        kept = session.execute(select(RejectedMessage.source, RejectedMessage.message_id)).all()
    assert kept == [("pipe", "<truncated-20261128060001.F1E2D3C4B5@mail.example.net>")]


def test_a_message_id_longer_than_its_column_is_applied_once(sent) -> None:  # type: ignore[no-untyped-def]
    path, config, sessions = sent
    long_id = b"<" + b"x" * 700 + b"@mail.example.net>"
    raw = bounce_for(config, sessions, "postfix-dsn.eml", "dead@example.org").replace(
        b"<20261128060001.F1E2D3C4B5@mail.example.net>", long_id)
    assert cli_run(path, "bounces", "read", stdin=raw)[1].startswith("hard for dead@example.org")
    assert cli_run(path, "bounces", "read", stdin=raw)[1] == f"already applied: {long_id[:500].decode()}\n"
    assert events(sessions) == [("dead@example.org", "hard", "pipe")]


def test_a_forged_or_unsigned_bounce_changes_nothing(sent) -> None:  # type: ignore[no-untyped-def]
    path, config, sessions = sent
    raw = bounce_for(config, sessions, "postfix-dsn.eml", "fine@example.org")
    forged = re.sub(rb"bounces\+(\d+)\.(\d+)\.[a-z2-7]+@", rb"bounces+\1.\2.aaaaaaaaaaaaaaaaaaaa@", raw)
    assert cli_run(path, "bounces", "read", stdin=forged)[1] == "kept aside: a forged or altered VERP mark\n"
    unsigned = re.sub(rb"bounces\+[0-9a-z.]+@ilo\.org", b"beijing@ilo.org", raw).replace(
        b"<2026", b"<unsigned-2026")
    assert cli_run(path, "bounces", "read", stdin=unsigned)[1] == (
        "kept aside: no VERP mark of ours: whose delivery it was cannot be trusted\n")
    assert status_of(sessions, "fine@example.org") == "confirmed" and events(sessions) == []


def test_a_report_of_a_delay_changes_nothing(sent) -> None:  # type: ignore[no-untyped-def]
    path, config, sessions = sent
    raw = bounce_for(config, sessions, "delayed-dsn.eml", "full@example.org")
    code, out = cli_run(path, "bounces", "read", stdin=raw)
    assert code == 0 and out.startswith("no change: delayed 4.4.1")
    assert events(sessions) == [] and status_of(sessions, "full@example.org") == "confirmed"


def test_an_unreachable_database_asks_the_mta_to_try_again(tmp_path: Path) -> None:
    from helpers import write_config

    path = write_config(tmp_path, "postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=2")
    set_keys(path, "mail", bounce_address='"bounces@ilo.org"')
    load_config(path, environ={})
    code, out = cli_run(path, "bounces", "read", stdin=b"Subject: x\n\nbody\n")
    assert code == 75, out


def test_a_mail_to_the_list_unsubscribe_address_unsubscribes_only_when_signed(store, mail_server) -> None:  # type: ignore[no-untyped-def]
    path, _config, sessions = store
    cli_run(path, "digest", "send", "china-weekly")
    [digest] = [r.message for r in mail_server.received if r.recipients == ["fine@example.org"]]
    mailto = re.search(r"<mailto:([^?>]+)\?subject=unsubscribe>", str(digest["List-Unsubscribe"])).group(1)  # type: ignore[union-attr]
    assert re.fullmatch(r"bounces\+u\.\d+\.\d+\.[a-z2-7]{20}@ilo\.org", mailto)
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


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_bounce_for_a_delivery_a_kill_9_left_unrecorded_is_matched(store, mail_server) -> None:  # type: ignore[no-untyped-def]
    path, _config, sessions = store
    set_keys(path, "smtp", lease='"1s"')  # the killed sender's claims free again a second later
    command = [sys.executable, "-m", "publisher", "--config", str(path), "digest", "send", "china-weekly"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUBLISHER_")}
    sender: list[subprocess.Popen[bytes]] = []

    def kill_before_the_reply(address: str, _attempt: int) -> None:
        if address == "dead@example.org":  # the server has the message; its sender never learns
            os.kill(sender[0].pid, signal.SIGKILL)

    mail_server.decide = kill_before_the_reply
    sender.append(subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    sender[0].communicate(timeout=120)
    assert sender[0].returncode == -signal.SIGKILL
    [delivered] = mail_server.to("dead@example.org")
    with sessions() as session:
        recorded = session.execute(select(Delivery.status, Delivery.edition_id).join(Subscriber).where(
            Subscriber.email == "dead@example.org")).one()
    assert recorded.status == "queued"  # sent, but not recorded as sent
    raw = (CORPUS / "postfix-dsn.eml").read_bytes().replace(b"@@VERP@@", delivered.sender.encode()).replace(
        b"@@RCPT@@", b"dead@example.org")
    assert cli_run(path, "bounces", "read", stdin=raw) == (
        0, f"hard for dead@example.org (edition id {recorded.edition_id})\n")
    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert len(mail_server.to("dead@example.org")) == 1  # the resumed edition leaves it alone
    assert {r.recipients[0] for r in mail_server.received} == set(PEOPLE)
    with sessions() as session:
        assert session.scalar(select(Delivery.last_error).join(Subscriber).where(
            Subscriber.email == "dead@example.org")) == "no longer subscribed"


def test_fetch_reads_a_maildir_once_moving_each_message_aside(sent, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path, config, sessions = sent
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


def imap_config(path: Path, server: ImapServer, **keys: str) -> dict[str, str]:
    """Point bounces.imap at the server; the environment holding its login."""
    set_keys(path, "bounces.imap", host='"127.0.0.1"', port=str(server.port), ca_file=f'"{server.ca_file}"')
    set_keys(path, "bounces.imap", **keys)
    return {"PUBLISHER_IMAP_USER": IMAP_USER, "PUBLISHER_IMAP_PASSWORD": IMAP_PASSWORD}


@pytest.mark.slow
def test_fetch_reads_an_imap_mailbox_once_moving_each_message(sent, imap_server: ImapServer) -> None:  # type: ignore[no-untyped-def]
    path, config, sessions = sent
    environ = imap_config(path, imap_server)
    with sessions() as session:
        flaky = session.scalar(select(Subscriber.id).where(Subscriber.email == "flaky@example.org"))
        edition = session.scalar(select(Delivery.edition_id).where(Delivery.subscriber_id == flaky))
    signer = Signer(signing_key(config.secrets))
    leave = unsubscribe_address(config.mail.bounce_address, signer, edition or 0)(flaky or 0)
    bounce = bounce_for(config, sessions, "postfix-dsn.eml", "dead@example.org")
    forged = re.sub(rb"bounces\+(\d+)\.(\d+)\.[a-z2-7]+@", rb"bounces+\1.\2.aaaaaaaaaaaaaaaaaaaa@",
                    bounce_for(config, sessions, "exim-text.eml", "fine@example.org"))
    imap_server.deliver(bounce, bounce_for(config, sessions, "yahoo-arf.eml", "fine@example.org"),
                        f"From: flaky@example.org\r\nTo: {leave}\r\nSubject: unsubscribe\r\n"
                        "Message-ID: <leave@example.org>\r\n\r\n".encode(),
                        forged, bounce_for(config, sessions, "garbage.eml", "full@example.org"),
                        bounce)  # the same bounce delivered twice
    where = f"imap://127.0.0.1:{imap_server.port}/INBOX"
    assert cli_run(path, "bounces", "fetch", env=environ) == (
        0, f"bounces: 3 applied, 1 unchanged, 2 kept aside from {where}\n")
    assert [status_of(sessions, a) for a in PEOPLE] == ["complained", "bounced", "confirmed", "unsubscribed"]
    assert sorted(events(sessions)) == [("dead@example.org", "hard", "imap"),
                                        ("fine@example.org", "complaint", "imap"),
                                        ("flaky@example.org", "unsubscribe", "imap")]
    assert [imap_server.count(f) for f in ("INBOX", "handled", "rejected")] == [0, 4, 2]
    assert cli_run(path, "bounces", "fetch", env=environ) == (  # a second fetch changes nothing
        0, f"bounces: 0 applied, 0 unchanged, 0 kept aside from {where}\n")
    assert len(events(sessions)) == 3


@pytest.mark.slow
def test_fetch_over_starttls_and_a_refused_login_is_one_line(sent, imap_server: ImapServer) -> None:  # type: ignore[no-untyped-def]
    path, config, sessions = sent
    environ = imap_config(path, imap_server, port=str(imap_server.starttls_port), security='"starttls"')
    imap_server.deliver(bounce_for(config, sessions, "exchange-dsn.eml", "dead@example.org"))
    assert cli_run(path, "bounces", "fetch", env=environ)[1].startswith("bounces: 1 applied, 0 unchanged")
    assert status_of(sessions, "dead@example.org") == "bounced"
    code, out = cli_run(path, "bounces", "fetch", env={**environ, "PUBLISHER_IMAP_PASSWORD": "wrong"})
    assert code == 1 and out.count("\n") == 1 and (
        f"imap://127.0.0.1:{imap_server.starttls_port}/INBOX: login as {IMAP_USER} refused") in out
    code, out = cli_run(path, "bounces", "fetch", env={})
    assert code == 1 and "set the environment variable PUBLISHER_IMAP_USER" in out


@pytest.mark.slow
def test_a_server_without_move_gets_copy_and_expunge_of_only_those_messages(imap_server: ImapServer) -> None:
    from publisher.config.model import Imap
    from publisher.mail.imap import ImapMailbox

    imap_server.deliver(b"Subject: one\r\n\r\n1\r\n", b"Subject: two\r\n\r\n2\r\n", b"Subject: three\r\n\r\n3\r\n")
    imap = Imap(host="127.0.0.1", port=imap_server.port, ca_file=str(imap_server.ca_file))
    with ImapMailbox(imap, {"PUBLISHER_IMAP_USER": IMAP_USER, "PUBLISHER_IMAP_PASSWORD": IMAP_PASSWORD}) as box:
        box._capabilities.discard(b"MOVE")  # as a server from before RFC 6851 answers
        uids = [uid for uid, _size in box.sizes()]
        assert [raw.split(b"\r\n")[0] for _, raw in box.messages(uids, 10_000)] == [
            b"Subject: one", b"Subject: two", b"Subject: three"]
        box.move(uids[:2], "handled")
    assert [imap_server.count(f) for f in ("INBOX", "handled")] == [1, 2]


def test_run_fetches_the_maildir_on_its_schedule(sent, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import threading

    from publisher.run.scheduler import ScheduleRunner
    from publisher.run.schedules import schedules

    path, config, sessions = sent
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
                        r"bounced 1 hard, 1 soft; 1 complained; 0 unsubscribed since; "
                        r"0 readers clicked \(0\.0% of 2\), 0 clicks, 0 set aside as automatic\n", out), out
    rows = out_file.read_text("utf-8").splitlines()
    assert rows[0] == "email,delivery,reply,bounce,unsubscribed_since"
    assert "dead@example.org,failed,550 5.1.1 User unknown,hard," in rows
    assert any(row.startswith("fine@example.org,sent,250 ") and row.endswith(",complaint,") for row in rows)
    assert cli_run(path, "report", "china-weekly")[1] == out  # the newest, by default
    assert cli_run(path, "report", "china-weekly", "7")[0] == 2


def nested(depth: int, verp: str) -> bytes:
    """A message `depth` multiparts deep: Python's parser recursed once per level and raised
    RecursionError at about a thousand, outside any guard (every later fetch stopped at it)."""
    body = b"hello\r\n"
    for level in range(depth):
        body = (b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (level, level)
                + body + b"\r\n--b%d--\r\n" % level)
    return f"Delivered-To: {verp}\r\nFrom: x@example.net\r\nMessage-ID: <deep@example.net>\r\n".encode() + body


def test_a_deeply_nested_message_is_kept_aside_and_the_batch_applied(sent, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path, config, sessions = sent
    folder = tmp_path / "bounce-box"
    set_keys(path, "bounces", maildir=f'"{folder.name}"')
    box = mailbox.Maildir(folder, create=True)
    verp = re.search(rb"Delivered-To: (\S+)", bounce_for(config, sessions, "postfix-dsn.eml",
                                                         "dead@example.org")).group(1).decode()  # type: ignore[union-attr]
    box.add(nested(3_000, verp))
    box.add(bounce_for(config, sessions, "postfix-dsn.eml", "dead@example.org"))
    box.add(b"Message-ID: <big@example.net>\r\nDelivered-To: " + verp.encode() + b"\r\n\r\n" + b"x" * 5_000_000)
    assert cli_run(path, "bounces", "fetch") == (0, f"bounces: 1 applied, 0 unchanged, 2 kept aside from {folder}\n")
    assert status_of(sessions, "dead@example.org") == "bounced"
    assert len(box) == 0 and len(box.get_folder("rejected")) == 2
    with sessions() as session:
        kept = dict(session.execute(select(RejectedMessage.message_id, RejectedMessage.reason)).all())
    assert kept == {"<deep@example.net>": "more than 64 multipart or message parts: no report we read",
                    "<big@example.net>": "larger than 4 MB: no report we read"}
    rejected = box.get_folder("rejected")
    assert max(len(rejected.get_bytes(key)) for key in rejected.iterkeys()) > 5_000_000  # moved whole
    assert cli_run(path, "bounces", "read", stdin=nested(3_000, verp)) == (
        0, "kept aside: more than 64 multipart or message parts: no report we read (kept once already)\n")


def test_a_mark_of_someone_removed_does_not_reach_who_got_their_id(sent, db_url: str) -> None:  # type: ignore[no-untyped-def]
    """SQLite gives the highest id again once its row is deleted: a mark names a delivery,
    never an id alone."""
    path, config, sessions = sent
    with sessions() as session:
        last = session.scalar(select(Subscriber).order_by(Subscriber.id.desc()).limit(1))
        assert last is not None
        old_id, old_email = last.id, last.email
    bounce = bounce_for(config, sessions, "postfix-dsn.eml", old_email)
    complaint = bounce_for(config, sessions, "yahoo-arf.eml", old_email)
    assert cli_run(path, "subscribers", "remove", old_email)[0] == 0
    assert cli_run(path, "subscribers", "add", "newcomer@example.org", "--countries", "CN")[0] == 0
    with sessions() as session:
        new_id = session.scalar(select(Subscriber.id).where(Subscriber.email == "newcomer@example.org"))
    if "sqlite" in db_url:
        assert new_id == old_id  # the reuse this guards against
    for raw in (bounce, complaint):
        code, out = cli_run(path, "bounces", "read", stdin=raw)
        assert code == 0 and out.startswith("kept aside: "), out
    assert status_of(sessions, "newcomer@example.org") == "confirmed"


def test_a_feedback_loop_report_sent_to_the_fbl_mailbox_is_read(sent) -> None:  # type: ignore[no-untyped-def]
    """An ARF report comes to the address registered with the mailbox provider, not to the
    return path: our mark is in its Original-Mail-From and the original's Return-Path."""
    path, config, sessions = sent
    raw = bounce_for(config, sessions, "yahoo-arf.eml", "fine@example.org")
    verp = re.search(rb"Original-Mail-From: <(\S+)>", raw).group(1)  # type: ignore[union-attr]
    fbl = raw.replace(b"Delivered-To: " + verp, b"Delivered-To: fbl@ilo.org").replace(
        b"To: " + verp, b"To: fbl@ilo.org")
    assert verp not in fbl.split(b"\n\n")[0]
    only_original = fbl.replace(b"Original-Mail-From: <" + verp + b">\n", b"").replace(
        b"Content-Type: message/rfc822\n\n", b"Content-Type: message/rfc822\n\nReturn-Path: <" + verp + b">\n")
    assert cli_run(path, "bounces", "read", stdin=only_original)[1].startswith("complaint for fine@example.org")
    assert cli_run(path, "bounces", "read", stdin=fbl)[1].startswith("already applied")
    assert status_of(sessions, "fine@example.org") == "complained"


def test_bounces_are_not_read_without_signed_return_paths(tmp_path: Path, db_url: str) -> None:
    from helpers import write_config

    path = write_config(tmp_path, db_url)
    set_keys(path, "bounces", maildir='"box"')
    code, out = cli_run(path, "config", "check")
    assert code != 0 and "bounces.maildir: bounces are read only when mail.bounce_address is set" in out
    path = write_config(tmp_path, db_url)
    code, out = cli_run(path, "bounces", "read", stdin=b"Subject: x\n\nbody\n")
    assert code == 2 and "mail.bounce_address" in out


def _misbehaving_imap(cert: Path, key: Path, fetch_trickles: bool) -> tuple[int, object]:
    """An IMAPS server that answers the greeting and CAPABILITY, then either never answers LOGIN
    or answers everything but trickles its reply to FETCH, a byte every tenth of a second."""
    import contextlib
    import socket
    import ssl
    import threading
    import time

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(30)

    def serve() -> None:
        with contextlib.suppress(OSError):  # the client hangs up on it: the end of the test
            talk()

    def talk() -> None:
        with context.wrap_socket(listener.accept()[0], server_side=True) as connection, \
                connection.makefile("rb") as lines:
            connection.sendall(b"* OK ready\r\n")
            for line in iter(lines.readline, b""):
                tag, command = line.split()[0], line.split()[1].upper()
                if command == b"CAPABILITY":
                    connection.sendall(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n" + tag + b" OK done\r\n")
                elif command == b"LOGIN" and not fetch_trickles:
                    time.sleep(20)  # never, as far as the client can wait
                    return
                elif command == b"SELECT":
                    connection.sendall(b"* 1 EXISTS\r\n" + tag + b" OK [READ-WRITE] done\r\n")
                elif command == b"FETCH":
                    for byte in b"* 1 FETCH (UID 7 RFC822.SIZE 10)\r\n" * 100:
                        connection.sendall(bytes([byte]))
                        time.sleep(0.1)
                    return
                else:
                    connection.sendall(tag + b" OK done\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listener.getsockname()[1], listener


@pytest.mark.slow
@pytest.mark.parametrize(("trickle", "said"), [
    (False, "LOGIN failed"), (True, "FETCH failed (no whole reply to FETCH in 3 s)")])
def test_an_imap_server_that_never_answers_whole_is_one_line(store, imap_server: ImapServer, trickle: bool,
                                                              said: str) -> None:  # type: ignore[no-untyped-def]
    """A LOGIN never answered gave a traceback; a FETCH trickled a byte at a time ran past any
    timeout (each read got its byte in time)."""
    import time

    path, _config, _sessions = store
    port, listener = _misbehaving_imap(imap_server.ca_file, imap_server.ca_file.parent / "key.pem", trickle)
    environ = imap_config(path, imap_server, port=str(port), timeout='"0.3s"')
    started = time.monotonic()
    code, out = cli_run(path, "bounces", "fetch", env=environ)
    listener.close()  # type: ignore[attr-defined]
    assert code == 1 and out.count("\n") == 1 and said in out, out
    assert time.monotonic() - started < 10


def test_a_status_mail_changes_is_in_the_audit_log(sent) -> None:  # type: ignore[no-untyped-def]
    from publisher.store.models import AuditEntry

    path, config, sessions = sent
    assert cli_run(path, "bounces", "read", stdin=bounce_for(config, sessions, "postfix-dsn.eml",
                                                             "dead@example.org"))[1].startswith("hard for")
    with sessions() as session:
        [entry] = session.scalars(select(AuditEntry).where(AuditEntry.subject == "dead@example.org")).all()
    assert (entry.actor, entry.action) == ("mail (pipe)", "subscriber.hard")
    assert '"bounced"' in (entry.after or "") and '"confirmed"' in (entry.before or "")
