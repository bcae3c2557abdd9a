"""Subscribing on the web: double opt-in, preferences, unsubscribe. No HTTP here: the web app
calls these with a session, and they never say whether an address was already known."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid, parseaddr
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from publisher.config import Config
from publisher.digest.render import render_template, template_environment
from publisher.mail.transport import Transport, make_transport
from publisher.models import Subscriber
from publisher.subscribers import SubscriberRow, find_subscriber, save_subscribers, set_countries, set_status
from publisher.tokens import Signer, TokenError

CONFIRM_MAX_AGE = 7 * 24 * 3600  # a confirmation link works for a week


@dataclass(frozen=True)
class Letter:
    """A one-off email (confirmation, or "you are already subscribed")."""

    to: str
    subject: str
    text: str
    html: str


def request_subscription(session: Session, config: Config, signer: Signer, address: str,
                         countries: Sequence[str], now: datetime) -> Letter:
    """What to mail to `address`: a confirmation link (nobody is subscribed before following
    it), or, to someone already subscribed, their preferences link. The caller answers the
    same page either way."""
    subscriber = find_subscriber(session, address)
    if subscriber is not None and subscriber.status == "confirmed":
        return _letter(config, "already", subscriber.email, {
            "preferences_url": _link(config, "preferences", signer.sign("preferences", subscriber.id))})
    if subscriber is None:
        save_subscribers(session, [SubscriberRow(address, tuple(countries))], "pending", now)
        subscriber = find_subscriber(session, address)
        assert subscriber is not None
    else:  # pending, unsubscribed or bounced: asking again needs confirming again
        set_status(subscriber, "pending", now)
        set_countries(subscriber, countries)
    session.flush()
    names = [config.country(code).name for code in countries]
    return _letter(config, "confirm", subscriber.email, {
        "confirm_url": _link(config, "confirm", signer.sign("confirm", subscriber.id)),
        "country_names": " and ".join(names)})


def confirm(session: Session, signer: Signer, token: str, now: datetime) -> Subscriber:
    subscriber = _subscriber(session, signer, "confirm", token, CONFIRM_MAX_AGE)
    if subscriber.status == "pending":
        set_status(subscriber, "confirmed", now)
    return subscriber


def change_countries(session: Session, signer: Signer, token: str, countries: Sequence[str]) -> Subscriber:
    subscriber = _subscriber(session, signer, "preferences", token)
    set_countries(subscriber, countries)
    return subscriber


def unsubscribe(session: Session, signer: Signer, token: str, now: datetime) -> Subscriber:
    subscriber = _subscriber(session, signer, "unsubscribe", token)
    set_status(subscriber, "unsubscribed", now)
    return subscriber


def subscriber_for(session: Session, signer: Signer, purpose: str, token: str) -> Subscriber:
    return _subscriber(session, signer, purpose, token)


def _subscriber(session: Session, signer: Signer, purpose: str, token: str,
                max_age: float | None = None) -> Subscriber:
    subscriber = session.get(Subscriber, signer.verify(purpose, token, max_age))
    if subscriber is None:
        raise TokenError("this link is not valid")
    return subscriber


def _link(config: Config, path: str, token: str) -> str:
    return f"{config.site.base_url}/{path}?token={token}"


def _letter(config: Config, kind: str, to: str, values: dict[str, str]) -> Letter:
    environment = template_environment(config.mail.templates)
    context = {"site_name": config.site.name, "site_url": config.site.base_url,
               "recipient": to, **values}
    subjects = {"confirm": f"Please confirm your subscription to {config.site.name}",
                "already": f"You are already subscribed to {config.site.name}"}
    return Letter(to, subjects[kind], render_template(environment, f"{kind}.txt", context),
                  render_template(environment, f"{kind}.html", context))


def send_letter(config: Config, letter: Letter, now: datetime, transport: Transport | None = None) -> None:
    message = EmailMessage(policy=SMTP)  # CRLF line ends, as SMTP needs them
    message["From"] = config.mail.sender
    message["To"] = letter.to
    message["Subject"] = letter.subject
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(domain=urlsplit(config.site.base_url).hostname)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(letter.text)
    message.add_alternative(letter.html, subtype="html")
    connection = (transport or make_transport(config, os.environ)).connect()
    try:
        connection.send(parseaddr(config.mail.sender)[1], letter.to, message.as_bytes(),
                        message["Message-ID"])
    finally:
        connection.close()
