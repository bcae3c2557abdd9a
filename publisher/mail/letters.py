"""One-off messages to one person (a confirmation link, "you are already subscribed"): text and
HTML alternatives, no list headers, sent over the configured transport."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP, SMTPUTF8
from email.utils import format_datetime, make_msgid, parseaddr

from publisher.config import Config
from publisher.mail.transport import Transport, make_transport
from publisher.urls import site_host


@dataclass(frozen=True)
class Letter:
    to: str
    subject: str
    text: str
    html: str
    return_path: str = ""  # the envelope sender (VERP); empty: the sender's address
    language: str = "en"  # the reader's: the office's name in the From header is in it too


def compose_letter(config: Config, letter: Letter, now: datetime) -> EmailMessage:
    # CRLF line ends, as SMTP needs them; UTF-8 headers for an internationalized address.
    message = EmailMessage(policy=SMTP if letter.to.isascii() else SMTPUTF8)
    message["From"] = config.sender_in(letter.language)
    message["To"] = letter.to
    message["Subject"] = letter.subject
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(domain=site_host(config))
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(letter.text)
    message.add_alternative(letter.html, subtype="html")
    return message


def send_letter(config: Config, letter: Letter, now: datetime, transport: Transport | None = None) -> None:
    message = compose_letter(config, letter, now)
    connection = (transport or make_transport(config, os.environ)).connect()
    try:
        connection.send(letter.return_path or parseaddr(config.mail.sender)[1], letter.to, message.as_bytes(),
                        message["Message-ID"])
    finally:
        connection.close()
