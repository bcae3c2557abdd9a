"""One-off messages to one person (a confirmation link, "you are already subscribed"): text and
HTML alternatives, no list headers, sent over the configured transport."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP, SMTPUTF8
from email.utils import format_datetime, make_msgid, parseaddr

from publisher.config import Config, Country, Mail, Site, Smtp
from publisher.mail.message import text_header
from publisher.mail.transport import Transport, make_transport
from publisher.urls import site_host


@dataclass(frozen=True)
class LetterConfig:
    """What a one-off letter reads of the config: the office (its names, its site), the mail
    section (sender, templates, return path, outbox), the transport, and the countries' names."""

    site: Site
    mail: Mail
    smtp: Smtp
    countries: tuple[Country, ...]

    @classmethod
    def of(cls, config: Config) -> LetterConfig:
        return cls(config.site, config.mail, config.smtp, config.countries)


@dataclass(frozen=True)
class Letter:
    to: str
    subject: str
    text: str
    html: str
    return_path: str = ""  # the envelope sender (VERP); empty: the sender's address
    language: str = "en"  # the reader's: the office's name in the From header is in it too


_SUBJECT = "publisher-subject-0f6c2d"  # where the Subject line goes (see letter_bytes)


def letter_bytes(site: Site, mail: Mail, letter: Letter, now: datetime) -> tuple[bytes, str]:
    """The message as sent, and its Message-ID. Its Subject is encoded by mail/message.py
    `text_header`, not by the email package, whose folding loses spaces in non-ASCII text."""
    message = _compose(site, mail, letter, now)
    raw = message.as_bytes().replace(f"Subject: {_SUBJECT}\r\n".encode(), text_header("Subject", letter.subject), 1)
    return raw, str(message["Message-ID"])


def _compose(site: Site, mail: Mail, letter: Letter, now: datetime) -> EmailMessage:
    # CRLF line ends, as SMTP needs them; UTF-8 headers for an internationalized address.
    message = EmailMessage(policy=SMTP if letter.to.isascii() else SMTPUTF8)
    message["From"] = site.sender_in(mail.sender, letter.language)
    message["To"] = letter.to
    message["Subject"] = _SUBJECT
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(domain=site_host(site))
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(letter.text)
    message.add_alternative(letter.html, subtype="html")
    return message


def send_letter(letters: LetterConfig, letter: Letter, now: datetime, transport: Transport | None = None) -> None:
    raw, message_id = letter_bytes(letters.site, letters.mail, letter, now)
    connection = (transport or make_transport(letters.smtp, letters.mail.outbox, os.environ)).connect()
    try:
        connection.send(letter.return_path or parseaddr(letters.mail.sender)[1], letter.to, raw, message_id)
    finally:
        connection.close()
