"""The SMTP transport against real servers: STARTTLS, implicit TLS, login, drops, rate limit."""

from __future__ import annotations

import ssl
import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import certifi
import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from click.testing import CliRunner
from helpers import ROOT, mail_config, set_keys, setup_store, sqlite_store
from mailserver import MailServer, start
from scripted_smtp import ScriptedServer
from sqlalchemy import select

from publisher.cli import cli
from publisher.config import Smtp
from publisher.mail import transport
from publisher.mail.transport import OutcomeUnknown, ServerUnavailable, SmtpTransport
from publisher.store.models import Delivery

PEOPLE = {f"r{i}@example.org": ("CN", "confirmed") for i in range(6)}


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


def _context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*map(str, certificate))
    return context


def _authenticator(server, session, envelope, mechanism, data) -> AuthResult:  # type: ignore[no-untyped-def]
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"news", b"s3cret")
    return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535


@pytest.fixture
def tls_server(certificate) -> Iterator[MailServer]:  # type: ignore[no-untyped-def]
    server = MailServer()
    controller = start(server, tls_context=_context(certificate), require_starttls=True,
                       authenticator=_authenticator, auth_required=True)
    yield server
    controller.stop()


def send(path: Path, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--config", str(path), "digest", "send", "china-weekly"],
                                env=env)
    return result.exit_code, result.stdout, result.stderr


def test_starttls_and_login_with_the_password_from_the_environment(
        tmp_path, tls_server, certificate) -> None:  # type: ignore[no-untyped-def]
    path = mail_config(tmp_path, sqlite_store(tmp_path), tls_server)
    set_keys(path, "smtp", security='"starttls"', username='"news"',
             ca_file=f'"{certificate[0]}"')
    _, sessions = setup_store(path, PEOPLE)
    code, out, err = send(path, {"PUBLISHER_SMTP_PASSWORD": "wrong"})
    assert code == 1 and out == ""
    assert "login as 'news' refused: 535" in err and "PUBLISHER_SMTP_PASSWORD" in err
    assert tls_server.received == []
    with sessions() as session:  # nobody was marked failed: the edition waits
        assert set(session.scalars(select(Delivery.status))) == {"queued"}
    code, out, err = send(path, {"PUBLISHER_SMTP_PASSWORD": "s3cret"})
    assert out == "china-weekly edition 1: 19 releases, 6 sent, 0 failed\n", err
    assert len(tls_server.received) == 6


def test_implicit_tls(tmp_path, certificate) -> None:  # type: ignore[no-untyped-def]
    server = MailServer()
    controller = start(server, ssl_context=_context(certificate))
    try:
        path = mail_config(tmp_path, sqlite_store(tmp_path), server)
        set_keys(path, "smtp", security='"tls"', ca_file=f'"{certificate[0]}"')
        setup_store(path, PEOPLE)
        assert send(path)[1] == "china-weekly edition 1: 19 releases, 6 sent, 0 failed\n"
    finally:
        controller.stop()
    assert len(server.received) == 6


def test_the_ca_file_is_trusted_besides_the_systems_certificates(tmp_path, certificate, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """smtp.ca_file (an internal CA's) replaced the system's certificates instead of adding to them."""
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))  # the relay's certificate is the system's
    server = MailServer()
    controller = start(server, ssl_context=_context(certificate))
    try:
        path = mail_config(tmp_path, sqlite_store(tmp_path), server)
        set_keys(path, "smtp", security='"tls"', ca_file=f'"{certifi.where()}"')  # other CAs
        setup_store(path, PEOPLE)
        assert send(path)[1] == "china-weekly edition 1: 19 releases, 6 sent, 0 failed\n"
    finally:
        controller.stop()
    assert len(server.received) == 6


def test_an_untrusted_certificate_stops_the_run(tmp_path, tls_server) -> None:  # type: ignore[no-untyped-def]
    path = mail_config(tmp_path, sqlite_store(tmp_path), tls_server)
    set_keys(path, "smtp", security='"starttls"')
    setup_store(path, {"r@example.org": ("CN", "confirmed")})
    code, _, err = send(path)
    assert code == 1 and "certificate not trusted" in err
    assert tls_server.received == []


def test_lines_starting_with_a_dot_reach_the_reader_as_the_template_wrote_them(tmp_path, mail_server) -> None:  # type: ignore[no-untyped-def]
    """The digest keeps a <style> block whose lines start with "." (its CSS classes): stuffed on
    the way (RFC 5321 4.5.2) and unstuffed by the server, they arrive as written."""
    path = mail_config(tmp_path, sqlite_store(tmp_path), mail_server)
    setup_store(path, {"r0@example.org": ("CN", "confirmed")})
    assert send(path)[0] == 0
    [received] = mail_server.received
    html = received.message.get_body(("html",)).get_content().splitlines()
    dotted = [line for line in (ROOT / "templates" / "email" / "base.html").read_text("utf-8").splitlines()
              if line.startswith(".")]
    assert len(dotted) > 5 and all(line in html for line in dotted)


def test_a_dropped_connection_is_reopened_and_sending_resumes(tmp_path, mail_server) -> None:  # type: ignore[no-untyped-def]
    path = mail_config(tmp_path, sqlite_store(tmp_path), mail_server, connections="1")
    setup_store(path, PEOPLE)
    mail_server.drop = lambda _address, _attempt: len(mail_server.received) == 2 and \
        sum(mail_server.attempts.values()) == 3
    assert send(path)[1] == "china-weekly edition 1: 19 releases, 6 sent, 0 failed\n"
    assert sorted(r.recipients[0] for r in mail_server.received) == sorted(PEOPLE)
    assert sum(mail_server.attempts.values()) == 7  # the dropped one was sent again


def test_the_rate_limit_spaces_messages_out(tmp_path, mail_server) -> None:  # type: ignore[no-untyped-def]
    path = mail_config(tmp_path, sqlite_store(tmp_path), mail_server, rate_limit="10.0")
    setup_store(path, PEOPLE)
    started = time.monotonic()
    assert send(path)[1].endswith("6 sent, 0 failed\n")
    assert time.monotonic() - started >= 0.5  # 6 messages at 10 a second: 5 gaps of 0.1 s


def _statuses(path: Path) -> dict[str, int]:
    from publisher.config import load_config
    from publisher.store.db import open_store

    with open_store(load_config(path, environ={}))() as session:
        rows = session.execute(select(Delivery.status)).scalars().all()
    return {status: rows.count(status) for status in set(rows)}


@pytest.mark.slow  # waits out a server's delay
def test_a_slow_reply_to_the_message_is_waited_for_not_sent_again(tmp_path, mail_server) -> None:  # type: ignore[no-untyped-def]
    """smtp.timeout covers each command; the reply to the message itself may take RFC 5321's
    ten minutes. A relay that takes 1.6 s with a 1 s timeout gets each message once."""
    path = mail_config(tmp_path, sqlite_store(tmp_path), mail_server, timeout='"1s"')
    readers = dict(list(PEOPLE.items())[:3])
    setup_store(path, readers)
    mail_server.delay = 1.6
    code, out, _ = send(path)
    assert code == 0 and out == "china-weekly edition 1: 19 releases, 3 sent, 0 failed\n"
    assert sorted(mail_server.attempts.values()) == [1] * 3
    assert sorted(r.recipients[0] for r in mail_server.received) == sorted(readers)


def test_a_message_whose_reply_never_comes_is_sent_once_more_then_settled(tmp_path, mail_server) -> None:  # type: ignore[no-untyped-def]
    path = mail_config(tmp_path, sqlite_store(tmp_path), mail_server)
    setup_store(path, PEOPLE)
    mail_server.drop = lambda address, _attempt: address == "r3@example.org"  # hangs up, every time
    code, out, _ = send(path)
    assert code == 0
    assert out == "china-weekly edition 1: 19 releases, 5 sent, 0 failed, 1 without a reply (may have arrived)\n"
    assert mail_server.attempts["r3@example.org"] == 2  # once more, then never again
    assert _statuses(path) == {"sent": 5, "unknown": 1}


def test_a_421_to_one_recipient_is_their_retry_not_the_editions(tmp_path, mail_server) -> None:  # type: ignore[no-untyped-def]
    path = mail_config(tmp_path, sqlite_store(tmp_path), mail_server, max_attempts="2")
    setup_store(path, PEOPLE)
    mail_server.refuse_rcpt = lambda address: "421 4.7.0 try r2 later" if address == "r2@example.org" else None
    code, out, _ = send(path)
    assert code == 0 and out == "china-weekly edition 1: 19 releases, 5 sent, 1 failed\n"
    assert _statuses(path) == {"sent": 5, "failed": 1}


@pytest.mark.slow  # waits out a server's delay
def test_a_server_that_answers_421_to_one_message_only_makes_it_that_recipients_retry(tmp_path, mail_server) -> None:  # type: ignore[no-untyped-def]
    """A 421 usually means the server is going away (it then stops answering, and nobody uses an
    attempt); one that keeps answering and keeps refusing one message is that recipient's."""
    path = mail_config(tmp_path, sqlite_store(tmp_path), mail_server, max_attempts="1",
                       reconnect_max='"1s"')
    setup_store(path, PEOPLE)
    mail_server.decide = lambda address, _attempt: "421 4.7.0 not now" if address == "r2@example.org" else None
    code, out, _ = send(path)
    assert code == 0 and out == "china-weekly edition 1: 19 releases, 5 sent, 1 failed\n"
    assert mail_server.attempts["r2@example.org"] == 3


@pytest.mark.parametrize(("options", "config", "cause"), [
    ({}, {"security": '"starttls"'}, "does not offer STARTTLS"),
    ({}, {"security": '"none"', "username": '"news"'}, "offers no login (AUTH)"),
])
def test_a_refusal_that_is_about_us_stops_the_run_with_everything_queued(
        tmp_path, options, config, cause: str) -> None:  # type: ignore[no-untyped-def]
    server = MailServer()
    controller = start(server, **options)
    try:
        path = mail_config(tmp_path, sqlite_store(tmp_path), server)
        set_keys(path, "smtp", **config)
        setup_store(path, PEOPLE)
        code, _, err = send(path, env={"PUBLISHER_SMTP_PASSWORD": "s3cret"})
    finally:
        controller.stop()
    assert code == 1 and cause in err
    assert server.received == [] and _statuses(path) == {"queued": 6}


@pytest.mark.parametrize("smtputf8", [True, False])
def test_an_internationalized_address_gets_a_utf8_to_or_a_clear_failure(tmp_path, smtputf8: bool) -> None:  # type: ignore[no-untyped-def]
    import email
    import email.policy

    server = MailServer()
    controller = start(server, enable_SMTPUTF8=smtputf8)
    try:
        path = mail_config(tmp_path, sqlite_store(tmp_path), server)
        setup_store(path, {"ü@example.org": ("CN", "confirmed"), "a@example.org": ("CN", "confirmed")})
        code, out, _ = send(path)
    finally:
        controller.stop()
    assert code == 0
    if not smtputf8:
        assert out == "china-weekly edition 1: 19 releases, 1 sent, 1 failed\n"
        assert "SMTPUTF8" in next(error for error in _errors(path) if error)
        return
    assert out == "china-weekly edition 1: 19 releases, 2 sent, 0 failed\n"
    [received] = server.to("ü@example.org")
    # RFC 6532: the headers are UTF-8 (the parser for bytes would read them as ASCII).
    message = email.message_from_string(received.data.decode("utf-8"), policy=email.policy.default)
    assert message["To"].addresses[0].addr_spec == "ü@example.org"
    assert b"To: \xc3\xbc@example.org\r\n" in received.data


def _errors(path: Path) -> list[str | None]:
    from publisher.config import load_config
    from publisher.store.db import open_store

    with open_store(load_config(path, environ={}))() as session:
        return list(session.execute(select(Delivery.last_error)).scalars())


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    server = ScriptedServer().start()
    yield server
    server.stop()


def _scripted_store(tmp_path: Path, server: ScriptedServer, **smtp: str) -> Path:
    path = mail_config(tmp_path, sqlite_store(tmp_path), None)
    set_keys(path, "smtp", host='"127.0.0.1"', port=str(server.port), security='"none"',
             retry_delay="0.01", connections="1", reconnect_max='"1s"', **smtp)
    setup_store(path, dict(list(PEOPLE.items())[:3]))
    return path


@pytest.mark.parametrize(("steps", "max_attempts", "copies", "status"), [
    # a copy went out and no reply came; a 451 in between does not make it known again
    (["store-then-drop", "451", "store-then-drop", "accept"], "5", 2, "unknown"),
    (["store-then-drop", "451", "451", "451", "451", "451", "451", "accept"], "8", 2, "sent"),
    (["store-then-drop", "451", "451"], "3", 1, "unknown"),  # out of attempts: it may have arrived
    # a final reply that is no reply: as unknown as no reply
    (["garbage", "garbage", "accept"], "5", 2, "unknown"),
    (["garbage", "451", "accept"], "5", 2, "sent"),
])
def test_at_most_two_copies_whatever_the_server_answers_between(tmp_path: Path, scripted: ScriptedServer,
                                                                steps: list[str], max_attempts: str,
                                                                copies: int, status: str) -> None:
    path = _scripted_store(tmp_path, scripted, max_attempts=max_attempts)
    scripted.script = lambda address, attempt: (
        steps[min(attempt, len(steps)) - 1] if address == "r1@example.org" else "accept")
    code, _, err = send(path)  # one run: it waits out the retries itself
    assert code == 0, err
    assert scripted.copies("r1@example.org") == copies
    assert {scripted.copies(a) for a in ("r0@example.org", "r2@example.org")} == {1}
    assert _statuses(path) == ({"sent": 3} if status == "sent" else {"sent": 2, status: 1})


def test_a_421_to_rcpt_and_the_line_closed_under_pipelining_is_that_recipients_retry(
        tmp_path: Path, scripted: ScriptedServer) -> None:
    """The 421 comes with MAIL and DATA already sent: the DATA reply's read finds the line gone.
    It once counted as the server away, forever: the edition stayed `sending`."""
    path = _scripted_store(tmp_path, scripted, max_attempts="2")
    scripted.script = lambda address, _attempt: "421-rcpt" if address == "r1@example.org" else "accept"
    code, out, err = send(path)
    assert (code, out) == (0, "china-weekly edition 1: 19 releases, 2 sent, 1 failed\n"), err
    assert scripted.attempts["r1@example.org"] == 2 and scripted.copies("r1@example.org") == 0


@pytest.mark.parametrize("security", ["none", "tls"])
def test_smtp_timeout_bounds_each_command_and_the_message_gets_rfc_5321s_wait(
        scripted: ScriptedServer, certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch,
        security: str) -> None:
    """The same limits whoever keeps them (the kernel on a plain connection, Python's sockets
    under TLS): smtp.timeout for a command's reply, the final-reply wait for the message's."""
    if security == "tls":
        scripted.tls = _context(certificate)
    monkeypatch.setattr(transport, "FINAL_REPLY_TIMEOUT", 2.0)
    smtp = Smtp(host="127.0.0.1", port=scripted.port, security=security, timeout=timedelta(seconds=0.5),
                ca_file=str(certificate[0]))
    scripted.script = lambda address, _attempt: {"quiet@example.org": "silent-rcpt", "half@example.org": "half-data",
                                                 "late@example.org": "silent"}.get(address, "accept")
    connection = SmtpTransport(smtp, None).connect()
    try:
        assert connection.send("news@example.org", "r1@example.org", b"Subject: a\r\n\r\nbody\r\n", "<1@x>").code == 250
        sock = connection._client.sock  # type: ignore[union-attr]
        assert (sock.gettimeout() is None) == (security == "none")  # a plain one's: the kernel's
        started = time.monotonic()
        with pytest.raises(ServerUnavailable):  # no reply to RCPT, twice (the line is reopened once)
            connection.send("news@example.org", "quiet@example.org", b"Subject: b\r\n\r\nbody\r\n", "<2@x>")
        assert 1.0 <= time.monotonic() - started < 1.9  # 0.5 s each, not the final reply's 2 s
        with pytest.raises(ServerUnavailable):  # half a reply line is no reply, however it timed out
            connection.send("news@example.org", "half@example.org", b"Subject: b\r\n\r\nbody\r\n", "<2@x>")
        started = time.monotonic()
        with pytest.raises(OutcomeUnknown):  # the message went out and its reply never came
            connection.send("news@example.org", "late@example.org", b"Subject: c\r\n\r\nbody\r\n", "<3@x>")
        assert 2.0 <= time.monotonic() - started < 3.5
        assert connection.send("news@example.org", "r2@example.org", b"Subject: d\r\n\r\nbody\r\n", "<4@x>").code == 250
    finally:
        connection.close()
    assert [recipient for recipient, _ in scripted.received] == ["r1@example.org", "late@example.org", "r2@example.org"]
