"""Delivering message bytes: over SMTP (reused connections), or into a Maildir outbox.

A connection's `send` returns the server's reply when it accepted the message, and raises
ServerUnavailable (no server to talk to, or a 421 reply: it is closing the channel),
TemporaryFailure (another 4xx) or PermanentFailure (5xx).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import smtplib
import ssl
import threading
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Protocol

from publisher.config import Smtp
from publisher.errors import PublisherError
from publisher.mail.timeouts import keep_in_kernel, wait_for_replies
from publisher.mail.tls import trusting

log = logging.getLogger(__name__)

# A line starting with "." (dot-stuffing, RFC 5321 4.5.2). As a pattern: re finds this one in a
# digest's 32 KB 2.5x as fast as bytes.replace does (12 vs 27 us a message, measured).
_DOT_LINE = re.compile(rb"\r\n\.")


@dataclass(frozen=True)
class Reply:
    code: int
    text: str

    def __str__(self) -> str:
        return f"{self.code} {self.text}" if self.code else self.text  # 0: no reply at all


class DeliveryFailure(Exception):
    def __init__(self, reply: Reply) -> None:
        super().__init__(str(reply))
        self.reply = reply


class TransportError(PublisherError):
    """The mail server refuses us as a client (login or certificate): no message can go out,
    so the run stops and every delivery stays queued."""


class TemporaryFailure(DeliveryFailure):
    """Try this recipient again later: a 4xx reply."""


class RecipientDeferred(TemporaryFailure):
    """A 421 to one recipient's RCPT: their retry, counted (the connection is reopened)."""


class ServerUnavailable(TemporaryFailure):
    """The server cannot be reached, dropped the connection twice before the message went out,
    or said 421 to anything but RCPT: nothing is wrong with the recipient. (A connection lost
    after the message went out is OutcomeUnknown instead.)"""


class PermanentFailure(DeliveryFailure):
    """Do not try again: a 5xx reply."""


class OutcomeUnknown(DeliveryFailure):
    """The message went out but its reply never came (the connection dropped, or no reply in
    RFC 5321's ten minutes): the server may have taken it. Settled once by the caller, never
    sent again here."""


# RFC 5321 4.5.3.2.6: a client waits up to ten minutes for the reply to the end of the message.
FINAL_REPLY_TIMEOUT = 600.0


class Connection(Protocol):
    def accepts_8bit(self) -> bool: ...

    def send(self, sender: str, recipient: str, message: bytes, message_id: str) -> Reply: ...

    def close(self) -> None: ...


class Transport(Protocol):
    description: str

    def connect(self) -> Connection: ...


class SmtpTransport:
    def __init__(self, smtp: Smtp, password: str | None) -> None:
        self.smtp = smtp
        self.password = password
        self.description = f"SMTP {self.smtp.host}:{self.smtp.port}"

    def connect(self) -> SmtpConnection:
        return SmtpConnection(self)

    @cached_property
    def tls_context(self) -> ssl.SSLContext:
        # Made once, when TLS is first needed: loading the trusted certificates costs tens of
        # milliseconds, too much for every connection (or for none, with security = "none").
        return trusting(self.smtp.ca_file)

    def open_client(self) -> smtplib.SMTP:
        smtp = self.smtp
        client: smtplib.SMTP
        try:
            if smtp.security == "tls":
                client = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout.total_seconds(),
                                          context=self.tls_context)
            else:
                client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout.total_seconds())
        except ssl.SSLCertVerificationError as exc:
            raise TransportError(f"{self.description}: certificate not trusted: {exc}") from exc
        try:
            self._greet(client)
            keep_in_kernel(client, smtp.timeout.total_seconds())
        except BaseException:
            client.close()
            raise
        return client

    def _greet(self, client: smtplib.SMTP) -> None:
        client.ehlo()
        if self.smtp.security == "starttls":
            try:
                client.starttls(context=self.tls_context)
            except ssl.SSLCertVerificationError as exc:
                raise TransportError(f"{self.description}: certificate not trusted: {exc}") from exc
            except smtplib.SMTPNotSupportedError as exc:
                raise TransportError(f"{self.description} does not offer STARTTLS, which "
                                     "smtp.security = \"starttls\" asks for") from exc
            client.ehlo()
        if self.smtp.username:
            try:
                client.login(self.smtp.username, self.password or "")
            except smtplib.SMTPNotSupportedError as exc:
                raise TransportError(f"{self.description} offers no login (AUTH), and smtp.username "
                                     "is set") from exc
            except smtplib.SMTPAuthenticationError as exc:
                raise TransportError(
                    f"{self.description}: login as {self.smtp.username!r} refused: "
                    f"{exc.smtp_code} {_decode(exc.smtp_error)} (is {self.smtp.password_env} set?)"
                ) from exc


class SmtpConnection:
    """One SMTP session, opened on first use and reopened when the server drops it."""

    def __init__(self, transport: SmtpTransport) -> None:
        self._transport = transport
        self._message_sent = False  # whether the message of the current transaction went out
        self._client: smtplib.SMTP | None = None

    def accepts_8bit(self) -> bool:
        """Whether the server takes 8bit bodies (8BITMIME); False when it cannot be reached
        (then `send` reports the failure)."""
        try:
            if self._client is None:
                self._client = self._transport.open_client()
            return self._client.has_extn("8bitmime")
        except (OSError, smtplib.SMTPException):
            self._drop()
            return False

    def send(self, sender: str, recipient: str, message: bytes, message_id: str) -> Reply:
        for attempt in range(2):  # a connection found dropped is reopened once, right away
            self._message_sent = False
            try:
                return self._transaction(sender, recipient, message)
            except (TimeoutError, smtplib.SMTPServerDisconnected, ConnectionError) as exc:
                self._drop_after(exc)
                if attempt == 1:
                    raise ServerUnavailable(Reply(0, f"no connection: {exc}")) from exc
            except (ServerUnavailable, RecipientDeferred):
                self._drop()  # after a 421 the server closes the channel
                raise
            except (OSError, smtplib.SMTPException) as exc:
                self._drop_after(exc)
                raise ServerUnavailable(Reply(0, f"cannot talk to the server: {exc}")) from exc
        raise AssertionError("unreachable")

    def _transaction(self, sender: str, recipient: str, message: bytes) -> Reply:
        if self._client is None:
            self._client = self._transport.open_client()
        client = self._client
        options = ["BODY=8BITMIME"] if client.has_extn("8bitmime") else []
        international = not (sender.isascii() and recipient.isascii())
        if international:
            if not client.has_extn("smtputf8"):
                raise PermanentFailure(Reply(0, "the mail server does not offer SMTPUTF8, which "
                                                "an internationalized address needs"))
            options.append("SMTPUTF8")
        if client.has_extn("pipelining") and not international:
            _pipelined(client, sender, recipient, options)
            return self._message(client, message)
        code, text = client.mail(sender, options)
        _check(client, code, text, server_wide=True)
        code, text = client.rcpt(recipient)
        _check(client, code, text)
        code, text = client.docmd("DATA")
        _check(client, code, text, expected=354, server_wide=True)
        return self._message(client, message)

    def _message(self, client: smtplib.SMTP, message: bytes) -> Reply:
        """Send the message and wait for its reply, for as long as RFC 5321 allows: a slow
        reply is not a lost message. Once the bytes are on their way, a failure is an unknown
        outcome, not a reason to send again."""
        body = _DOT_LINE.sub(b"\r\n..", message)
        self._message_sent = True
        client.send(body + (b"" if body.endswith(b"\r\n") else b"\r\n") + b".\r\n")
        wait_for_replies(client.sock, FINAL_REPLY_TIMEOUT)
        code, text = client.getreply()
        wait_for_replies(client.sock, self._transport.smtp.timeout.total_seconds())
        if not 200 <= code < 600:  # no reply code at all (smtplib: -1): nobody can say what it took
            self._drop()
            raise OutcomeUnknown(Reply(0, f"an unreadable reply to the message: {_decode(text)[:200]}"))
        _check(client, code, text, server_wide=True)  # a 421 here: a server shutting down
        return Reply(code, _decode(text))

    def _drop_after(self, error: Exception) -> None:
        """Drop the connection after `error`; once the message went out, never send it again
        from here: the server may have it."""
        self._drop()
        if self._message_sent:
            raise OutcomeUnknown(Reply(0, f"no reply to the message: {error}")) from error

    def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(OSError):
                client.close()

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.quit()
            except (OSError, smtplib.SMTPException):
                client.close()


def _pipelined(client: smtplib.SMTP, sender: str, recipient: str, options: list[str]) -> None:
    """MAIL, RCPT and DATA in one write (RFC 2920); the message follows: two round trips
    instead of four. Messages have CRLF line ends (MessageFactory and the SMTP email policy
    build them that way)."""
    extra = "".join(f" {option}" for option in options)
    client.send(f"MAIL FROM:<{sender}>{extra}\r\nRCPT TO:<{recipient}>\r\nDATA\r\n".encode())
    (mail_code, mail_text), (rcpt_code, rcpt_text), (data_code, data_text) = _replies(client, 3)
    if data_code == 354 and (mail_code >= 400 or rcpt_code >= 400):
        client.send(b".\r\n")  # end the DATA the server opened anyway; nothing is delivered
        client.getreply()
    _check(client, mail_code, mail_text, server_wide=True)
    _check(client, rcpt_code, rcpt_text)
    _check(client, data_code, data_text, expected=354, server_wide=True)


def _replies(client: smtplib.SMTP, count: int) -> list[tuple[int, bytes]]:
    """The replies to `count` pipelined commands. A server that answers 421 closes the channel
    (RFC 5321 3.8), so the replies after it never come: the disconnect is that closing, to MAIL
    (the server's) or to RCPT (this recipient's), not a server gone away."""
    replies: list[tuple[int, bytes]] = []
    for _ in range(count):
        try:
            replies.append(client.getreply())
        except smtplib.SMTPServerDisconnected:
            for index, (code, text) in enumerate(replies):
                if code == 421:  # to MAIL (the first) the server's, to RCPT the recipient's
                    _check(client, code, text, server_wide=index == 0)
            raise
    return replies


def _check(client: smtplib.SMTP, code: int, text: bytes | str, expected: int | None = None,
           server_wide: bool = False) -> None:
    """Raise for a reply that is not the one wanted. A 421 (the server closes the channel) to
    MAIL, DATA or the message says the server is away (no attempt is counted); to RCPT it
    concerns this recipient only, and counts as one of their attempts."""
    if (expected is None and 200 <= code < 400) or code == expected:
        return
    _reset(client)
    reply = Reply(code, _decode(text))
    if code == 421:
        raise (ServerUnavailable if server_wide else RecipientDeferred)(reply)
    raise (PermanentFailure if code >= 500 else TemporaryFailure)(reply)


def _reset(client: smtplib.SMTP) -> None:
    with contextlib.suppress(OSError, smtplib.SMTPException):
        client.rset()


def _decode(text: bytes | str) -> str:
    return text.decode("utf-8", "replace") if isinstance(text, bytes) else text


class MaildirOutbox:
    """A Maildir folder standing in for a mail server. A message is stored under a name made
    from its Message-ID, so storing the same message again changes nothing."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.description = f"outbox {folder}"

    def connect(self) -> MaildirOutbox:
        for sub in ("tmp", "new", "cur"):
            (self.folder / sub).mkdir(parents=True, exist_ok=True)
        return self

    def accepts_8bit(self) -> bool:
        return True

    def send(self, sender: str, recipient: str, message: bytes, message_id: str) -> Reply:
        name = re.sub(r"[^A-Za-z0-9._-]", "_", message_id.strip("<>"))
        final = self.folder / "new" / name
        if final.exists() or any((self.folder / "cur").glob(f"{name}:*")):
            return Reply(250, f"already in the outbox as {name}")
        temporary = self.folder / "tmp" / f"{name}.{os.getpid()}.{threading.get_ident()}"
        with open(temporary, "wb") as handle:  # a Maildir file has the system's line ends (LF)
            handle.write(f"Return-Path: <{sender}>\nDelivered-To: {recipient}\n".encode())
            handle.write(message.replace(b"\r\n", b"\n"))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, final)
        return Reply(250, f"stored in the outbox as {name}")

    def close(self) -> None:
        pass


def make_transport(smtp: Smtp, outbox: str, environ: dict[str, str] | os._Environ[str] = os.environ) -> Transport:
    """The SMTP server of `smtp`, or the Maildir `outbox` when no server is set."""
    if not smtp.host:
        return MaildirOutbox(Path(outbox))
    return SmtpTransport(smtp, environ.get(smtp.password_env))
