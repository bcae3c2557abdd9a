"""Subscribing on the web: double opt-in, preferences, unsubscribe. No HTTP here: the web app
calls these with a session, and they never say whether an address was already known."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from publisher.i18n import Texts, country_names, texts
from publisher.mail.letters import Letter, LetterConfig
from publisher.store.models import Subscriber
from publisher.store.statuses import SubscriberStatus
from publisher.subscribers.people import (
    SubscriberRow,
    find_subscriber,
    save_subscribers,
    set_countries,
    set_digests,
    set_status,
    unsubscribe_subscriber,
)
from publisher.subscribers.tokens import (
    TEST_COPY_ID,
    TEST_COPY_NONCE,
    Signer,
    TestCopyLink,
    TokenError,
)
from publisher.subscribers.verp import confirmation_address
from publisher.templating import render
from publisher.urls import CONFIRM_PATH, PREFERENCES_PATH, token_url

CONFIRM_MAX_AGE = timedelta(days=7)  # a confirmation link works for a week


def request_subscription(session: Session, letters: LetterConfig, signer: Signer, address: str,
                         countries: Sequence[str], language: Texts, now: datetime,
                         digests: Sequence[str] = ()) -> Letter | None:
    """What to mail to `address`, in `language`: a confirmation link (nobody is subscribed
    before following it), or, to someone already subscribed, their preferences link (in the
    language they read); nothing to someone who complained about our mail (a form anyone can
    post must not mail them again). The caller answers the same page either way."""
    subscriber = find_subscriber(session, address)
    if subscriber is not None and subscriber.status == SubscriberStatus.COMPLAINED:
        return None
    if subscriber is not None and subscriber.status == SubscriberStatus.CONFIRMED:
        return _letter(letters, "already", subscriber.email, texts(subscriber.language), {
            "preferences_url": token_url(letters.site, PREFERENCES_PATH, link_token(signer, "preferences", subscriber),
                                         subscriber.language)})
    if subscriber is None:
        save_subscribers(session, [SubscriberRow(address, tuple(countries), language=language.language)],
                         SubscriberStatus.PENDING, now)
        subscriber = find_subscriber(session, address)
        assert subscriber is not None
        set_digests(subscriber, digests)
    else:  # pending, unsubscribed or bounced: asking again needs confirming again
        # Someone who stopped stays stopped until the link is followed (anyone can post an
        # address); their choice waits with them, and no mail goes to them meanwhile.
        set_countries(subscriber, countries)
        set_digests(subscriber, digests)
        subscriber.language = language.language
    session.flush()
    letter = _letter(letters, "confirm", subscriber.email, language, {
        "confirm_url": token_url(letters.site, CONFIRM_PATH, link_token(signer, "confirm", subscriber),
                                 language.language),
        "country_names": country_names(letters.countries, countries, language)})
    return_path = confirmation_address(letters.mail.bounce_address, signer, subscriber.id, subscriber.token_nonce)
    return replace(letter, return_path=return_path)


def confirm(session: Session, signer: Signer, token: str, now: datetime) -> Subscriber:
    """The link of a confirmation mail followed: the one way in, and back in after stopping
    (a complaint excepted: nobody mails them a link)."""
    subscriber = _subscriber(session, signer, "confirm", token, CONFIRM_MAX_AGE)
    if subscriber.status in (SubscriberStatus.PENDING, SubscriberStatus.UNSUBSCRIBED, SubscriberStatus.BOUNCED):
        set_status(subscriber, SubscriberStatus.CONFIRMED, now)
        subscriber.soft_bounces = 0
    return subscriber


def change_preferences(subscriber: Subscriber, countries: Sequence[str], language: str,
                       digests: Sequence[str] = ()) -> None:
    """Of the subscriber their preferences link named (`subscriber_for`)."""
    set_countries(subscriber, countries)
    set_digests(subscriber, digests)
    subscriber.language = language


def unsubscribe(subscriber: Subscriber, now: datetime) -> None:
    """The subscriber their unsubscribe link named (`subscriber_for`) leaves; a link of theirs
    followed again after that finds them gone (and changes nothing)."""
    if subscriber.status != SubscriberStatus.UNSUBSCRIBED:
        unsubscribe_subscriber(subscriber, now)


def subscriber_for(session: Session, signer: Signer, purpose: str, token: str) -> Subscriber:
    return _subscriber(session, signer, purpose, token)


def link_token(signer: Signer, purpose: str, subscriber: Subscriber) -> str:
    return signer.sign(purpose, subscriber.id, subscriber.token_nonce)


def _subscriber(session: Session, signer: Signer, purpose: str, token: str,
                max_age: timedelta | None = None) -> Subscriber:
    subscriber_id = signer.subscriber_id(token)
    if subscriber_id == TEST_COPY_ID:
        signer.verify(purpose, token, TEST_COPY_NONCE, max_age)
        raise TestCopyLink()
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None:
        raise TokenError()
    try:
        signer.verify(purpose, token, subscriber.token_nonce, max_age)
    except TokenError:
        # An unsubscribe link from before they left: it shows that they left, nothing more.
        if not (purpose == "unsubscribe" and subscriber.status == SubscriberStatus.UNSUBSCRIBED
                and subscriber.left_nonce):
            raise
        signer.verify(purpose, token, subscriber.left_nonce, max_age)
    return subscriber


def _letter(letters: LetterConfig, kind: str, to: str, language: Texts, values: dict[str, str]) -> Letter:
    site, _ = letters.site.name_in(language.language), language.gettext
    subjects = {"confirm": _("Please confirm your subscription to %(site)s") % {"site": site},
                "already": _("You are already subscribed to %(site)s") % {"site": site}}
    context = {"site_name": site, "site_url": letters.site.home, "recipient": to, "subject": subjects[kind],
               **values}
    folder = letters.mail.templates
    return Letter(to, subjects[kind], render(f"email/{kind}.txt", context, folder, texts=language),
                  render(f"email/{kind}.html", context, folder, texts=language), language=language.language)
