"""Subscription pages: double opt-in and preferences (unsubscribing is unsubscribe.py's).

A GET never changes anything but confirming (the link mailed for exactly that). Forms carry a
double-submit token that must match a SameSite=Strict cookie, so another site cannot post
them. Bad or expired tokens get a 400 page and change nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from fastapi import FastAPI, Form, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session, sessionmaker

from publisher.config import Config
from publisher.errors import InvalidValue
from publisher.i18n import country_names, texts
from publisher.jobs import subscriptions
from publisher.languages import supported
from publisher.mail.letters import Letter, LetterConfig, send_letter
from publisher.mail.transport import DeliveryFailure, Transport, TransportError
from publisher.subscribers.optin import subscriber_for
from publisher.subscribers.people import normalize_email
from publisher.subscribers.tokens import Signer, TokenError
from publisher.urls import CONFIRM_PATH, PREFERENCES_PATH, SUBSCRIBE_PATH, UNSUBSCRIBE_PATH
from publisher.web.digest_choices import DigestChoices
from publisher.web.formtokens import FormToken
from publisher.web.limits import RateLimit
from publisher.web.links import link_refused
from publisher.web.pages import Page
from publisher.web.unsubscribe import UnsubscribePages

CSRF_COOKIE = "publisher_csrf"
log = logging.getLogger(__name__)


def add_subscription_routes(app: FastAPI, config: Config, sessions: sessionmaker[Session],
                            signer: Signer, transport: Transport | None,
                            clock: Callable[[], datetime]) -> None:
    forms = SubscriptionForms(config, sessions, signer, transport, clock)
    app.get(SUBSCRIBE_PATH, response_class=HTMLResponse, summary="The subscription form")(forms.subscribe_form)
    app.post(SUBSCRIBE_PATH, response_class=HTMLResponse, summary="Ask for a confirmation email")(forms.subscribe)
    app.get(CONFIRM_PATH, response_class=HTMLResponse, summary="Confirm a subscription")(forms.confirm_page)
    app.get(PREFERENCES_PATH, response_class=HTMLResponse, summary="A subscriber's countries")(forms.preferences_form)
    app.post(PREFERENCES_PATH, response_class=HTMLResponse, summary="Change a subscriber's countries")(
        forms.preferences)
    leaving = UnsubscribePages(config, sessions, signer, clock)
    app.get(UNSUBSCRIBE_PATH, response_class=HTMLResponse, summary="The unsubscribe page (a button)")(
        leaving.unsubscribe_page)
    app.post(UNSUBSCRIBE_PATH, response_class=HTMLResponse,
             summary="Unsubscribe at once (RFC 8058 one-click: List-Unsubscribe=One-Click)")(leaving.unsubscribe_now)


class SubscriptionForms:
    """The subscription form and a subscriber's preferences, with what they share: the form,
    its double-submit token, the limits on confirmation mails."""

    def __init__(self, config: Config, sessions: sessionmaker[Session], signer: Signer,
                 transport: Transport | None, clock: Callable[[], datetime]) -> None:
        self.config, self.sessions, self.signer, self.transport, self.clock = config, sessions, signer, transport, clock
        self.per_address = RateLimit(sessions, "confirmation-mail", 3, timedelta(hours=1), clock)
        self.per_client = RateLimit(sessions, "form-post", 20, timedelta(minutes=10), clock)
        self.form_token = FormToken(signer, config.site, CSRF_COOKIE)
        self.choices = DigestChoices(config, sessions, clock)

    def subscribe_form(self, request: Request) -> HTMLResponse:
        page = Page(request, self.config.site)
        return self._subscribe_form(page, chosen=list(self.config.country_codes), language=page.texts.language)

    def subscribe(self, request: Request, email: str = Form(..., max_length=320),
                  countries: list[str] = Form(default=[]), language: str = Form(default="", max_length=20),
                  digests: list[str] = Form(default=[]), csrf: str = Form(..., max_length=200)) -> HTMLResponse:
        page = Page(request, self.config.site)
        _ = page._
        if not self.form_token.matches(request, csrf):
            return _expired_form(page)
        if not self.per_client.allow(request.client.host if request.client else "unknown"):
            return page.message(_("Too many requests"), _("Please wait a few minutes and try again."), 429)
        codes, reader = self._codes(countries), texts(supported(language) or page.texts.language)
        try:
            address = normalize_email(email)
        except InvalidValue:
            return self._subscribe_form(page, chosen=codes, language=reader.language, email=email, status=400,
                                        error=_("That does not look like an email address."))
        names, fits = self.choices.chosen(digests, codes)
        if not codes or not fits:
            return self._subscribe_form(page, chosen=codes, language=reader.language, email=email, status=400,
                                        chosen_digests=digests, error=_("Choose at least one country.") if not codes
                                        else _("Choose a country of each digest you chose."))
        if self.per_address.allow(address.lower()):
            now = self.clock()
            letter = subscriptions.request(self.sessions, self.config, self.signer, address, codes, reader, now,
                                           names)
            # However the mail server takes it (refusing, away), the visitor sees the same page
            # and learns nothing of what it thinks of the address.
            if letter is not None:
                _send_quietly(LetterConfig.of(self.config), letter, now, self.transport)
        # The same answer whether or not the address was known, or its limit reached.
        return page.message(_("Check your inbox"), _(
            "If %(address)s can receive email, a message with a link to confirm is on its way. "
            "Nothing is sent until you confirm.") % {"address": address})

    def confirm_page(self, request: Request, token: str = Query(..., max_length=200)) -> HTMLResponse:
        page = Page(request, self.config.site)
        _ = page._
        try:
            reader = subscriptions.confirm(self.sessions, self.signer, token, self.clock())
        except TokenError as exc:
            return link_refused(page, exc, _("Subscribe again to get a new one."))
        return page.message(_("You are subscribed"), _("News will come to %(address)s.") % {"address": reader.email},
                            link=page.link(PREFERENCES_PATH, token=reader.preferences),
                            link_text=_("Choose your countries at any time"))

    def preferences_form(self, request: Request, token: str = Query(..., max_length=200)) -> HTMLResponse:
        page = Page(request, self.config.site)
        try:
            with self.sessions() as session:
                subscriber = subscriber_for(session, self.signer, "preferences", token)
                chosen, language, digests = subscriber.country_codes, subscriber.language, subscriber.digest_names
        except TokenError as exc:
            return link_refused(page, exc)
        return self._preferences_form(page, token, chosen=chosen, language=language, chosen_digests=digests)

    def preferences(self, request: Request, token: str = Query(..., max_length=200),
                    countries: list[str] = Form(default=[]), language: str = Form(default="", max_length=20),
                    digests: list[str] = Form(default=[]), csrf: str = Form(..., max_length=200)) -> HTMLResponse:
        page = Page(request, self.config.site)
        _ = page._
        if not self.form_token.matches(request, csrf):
            return _expired_form(page)
        codes, reader = self._codes(countries), supported(language) or page.texts.language
        names, fits = self.choices.chosen(digests, codes)
        if not codes or not fits:
            return self._preferences_form(page, token, chosen=codes, language=reader, status=400,
                                          chosen_digests=digests,
                                          error=_("Choose at least one country, or unsubscribe.") if not codes
                                          else _("Choose a country of each digest you chose."))
        try:
            subscriptions.change_preferences(self.sessions, self.signer, token, codes, reader, self.clock(), names)
        except TokenError as exc:
            return link_refused(page, exc)
        about = country_names(self.config.countries, codes, page.texts)
        return page.message(_("Saved"), _("You will receive news about %(countries)s.") % {"countries": about})

    def _codes(self, countries: list[str]) -> list[str]:
        return [code for code in dict.fromkeys(countries) if code in self.config.country_codes]

    def _subscribe_form(self, page: Page, **values: Any) -> HTMLResponse:
        _ = page._
        return self._form(page, action=page.link(SUBSCRIBE_PATH), title=_("Subscribe"), button=_("Subscribe"),
                          ask_email=True, **values)

    def _preferences_form(self, page: Page, token: str, **values: Any) -> HTMLResponse:
        _ = page._
        return self._form(page, action=page.link(PREFERENCES_PATH, token=token), title=_("Your countries"),
                          button=_("Save"), ask_email=False, **values)

    def _form(self, page: Page, *, action: str, title: str, button: str, chosen: list[str], ask_email: bool,
              language: str, email: str = "", error: str = "", status: int = 200,
              chosen_digests: list[str] | None = None) -> HTMLResponse:
        csrf = self.form_token.token(page.request)
        offers = self.choices.offers(page)
        response = page.render("subscribe.html", status, title=title, action=action, button=button, csrf=csrf,
                               ask_email=ask_email, email=email, error=error, offers=offers,
                               chosen_digests=chosen_digests or [offer.name for offer in offers],
                               countries=page.country_choices(self.config.countries), chosen=chosen,
                               language_choices=page.language_choices(), chosen_language=language,
                               counted=any(digest.track_links for digest in self.choices.digests()))
        self.form_token.send(page.request, response, csrf)
        return response


def _expired_form(page: Page) -> HTMLResponse:
    _ = page._
    return page.message(_("Please try again"), _("The form had expired. Reload it and send it again."), 400)


def _send_quietly(letters: LetterConfig, letter: Letter, now: datetime, transport: Transport | None) -> None:
    """Send a confirmation once; a failure is logged (the person can ask again), never retried
    here, so a slow server never gets two."""
    try:
        send_letter(letters, letter, now, transport)
    except (TransportError, DeliveryFailure) as exc:
        log.warning("confirmation mail to %s not sent: %s", letter.to, exc)
