"""What a reader does on the public pages: asks to subscribe, confirms, changes their countries,
unsubscribes. Each is one transaction with its audit entry, the reader's own action (their
address as the subject: nothing else of them is kept)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from publisher.config import Config
from publisher.i18n import Texts
from publisher.mail.letters import Letter, LetterConfig
from publisher.operators.audit import record
from publisher.subscribers import optin
from publisher.subscribers.people import subscriber_values
from publisher.subscribers.tokens import Signer

READER = "reader"  # the actor of a change a reader made on the public pages


@dataclass(frozen=True)
class Reader:
    """Who a token turned out to be: their address and a fresh preferences token."""
    email: str
    preferences: str


def request(sessions: sessionmaker[Session], config: Config, signer: Signer, address: str,
            countries: Sequence[str], language: Texts, now: datetime, digests: Sequence[str] = ()) -> Letter | None:
    """The letter to mail (a confirmation link, or their preferences link), or None. `digests`:
    those they chose (none: every digest of their countries)."""
    with sessions.begin() as session:
        letter = optin.request_subscription(session, LetterConfig.of(config), signer, address, countries, language, now,
                                            digests)
        record(session, READER, "subscription.request", address, now,
               after={"countries": sorted(countries), "language": language.language,
                      "mailed": letter is not None} | ({"digests": sorted(digests)} if digests else {}))
    return letter


def confirm(sessions: sessionmaker[Session], signer: Signer, token: str, now: datetime) -> Reader:
    """TokenError for a link that does not work."""
    with sessions.begin() as session:
        subscriber = optin.confirm(session, signer, token, now)
        record(session, READER, "subscription.confirm", subscriber.email, now, after=subscriber_values(subscriber))
        return Reader(subscriber.email, optin.link_token(signer, "preferences", subscriber))


def change_preferences(sessions: sessionmaker[Session], signer: Signer, token: str, countries: Sequence[str],
                       language: str, now: datetime, digests: Sequence[str] = ()) -> None:
    """TokenError for a link that does not work."""
    with sessions.begin() as session:
        subscriber = optin.subscriber_for(session, signer, "preferences", token)
        before = subscriber_values(subscriber)
        optin.change_preferences(subscriber, countries, language, digests)
        session.flush()
        after = subscriber_values(subscriber)
        if after != before:
            record(session, READER, "subscription.preferences", subscriber.email, now, before=before, after=after)


def unsubscribe(sessions: sessionmaker[Session], signer: Signer, token: str, now: datetime) -> str:
    """Their address; TokenError for a link that does not work."""
    with sessions.begin() as session:
        subscriber = optin.subscriber_for(session, signer, "unsubscribe", token)
        before = subscriber_values(subscriber)
        optin.unsubscribe(subscriber, now)
        after = subscriber_values(subscriber)
        if after != before:
            record(session, READER, "subscription.unsubscribe", subscriber.email, now, before=before, after=after)
        return subscriber.email
