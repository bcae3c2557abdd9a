"""Subscription pages: double opt-in, preferences, and unsubscribing (RFC 8058 one-click).

A GET never changes anything but confirming (the link mailed for exactly that); unsubscribing
takes a POST, because link scanners follow links. Forms carry a double-submit token that must
match a SameSite=Strict cookie, so another site cannot post them. Bad or expired tokens get a
400 page and change nothing.
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
from publisher.mail.letters import Letter, send_letter
from publisher.mail.transport import DeliveryFailure, Transport, TransportError
from publisher.store.statuses import SubscriberStatus
from publisher.subscribers.optin import (
    link_token,
    subscriber_for,
)
from publisher.subscribers.people import normalize_email
from publisher.subscribers.tokens import Signer, TestCopyLink, TokenError, TokenExpired
from publisher.urls import CONFIRM_PATH, PREFERENCES_PATH, SUBSCRIBE_PATH, UNSUBSCRIBE_PATH
from publisher.web.formtokens import FormToken
from publisher.web.limits import RateLimit
from publisher.web.pages import Page

CSRF_COOKIE = "publisher_csrf"
log = logging.getLogger(__name__)


def add_subscription_routes(app: FastAPI, config: Config, sessions: sessionmaker[Session],
                            signer: Signer, transport: Transport | None,
                            clock: Callable[[], datetime]) -> None:
    per_address = RateLimit(sessions, "confirmation-mail", 3, timedelta(hours=1), clock)
    per_client = RateLimit(sessions, "form-post", 20, timedelta(minutes=10), clock)
    form_token = FormToken(signer, config.site, CSRF_COOKIE)

    def refused(page: Page, exc: TokenError, hint: str = "") -> HTMLResponse:
        _ = page._
        if isinstance(exc, TestCopyLink):
            return page.message(_("A test copy"), _(
                "This link came in a test copy of a digest. In a subscriber's copy it opens "
                "their own page; here nothing was changed."))
        why = _("This link has expired.") if isinstance(exc, TokenExpired) else _("This link is not valid.")
        return page.message(_("This link does not work"), f"{why} {hint}".strip(), 400)

    def expired_form(page: Page) -> HTMLResponse:
        _ = page._
        return page.message(_("Please try again"),
                            _("The form had expired. Reload it and send it again."), 400)

    def form(page: Page, *, action: str, title: str, button: str, chosen: list[str],
             ask_email: bool, language: str, email: str = "", error: str = "",
             status: int = 200) -> HTMLResponse:
        csrf = form_token.token(page.request)
        countries = page.country_choices(config.countries)
        choices = page.language_choices()
        response = page.render("subscribe.html", status, title=title, action=action, button=button,
                               csrf=csrf, ask_email=ask_email, email=email, error=error,
                               countries=countries, chosen=chosen, language_choices=choices,
                               chosen_language=language)
        form_token.send(page.request, response, csrf)
        return response

    def cross_site(request: Request, csrf: str) -> bool:
        return not form_token.matches(request, csrf)

    def chosen_codes(countries: list[str]) -> list[str]:
        return [code for code in dict.fromkeys(countries) if code in config.country_codes]

    def subscribe_form_page(page: Page, **values: Any) -> HTMLResponse:
        _ = page._
        return form(page, action=page.link(SUBSCRIBE_PATH), title=_("Subscribe"),
                    button=_("Subscribe"), ask_email=True, **values)

    @app.get(SUBSCRIBE_PATH, response_class=HTMLResponse, summary="The subscription form")
    def subscribe_form(request: Request) -> HTMLResponse:
        page = Page(request, config.site)
        return subscribe_form_page(page, chosen=list(config.country_codes),
                                   language=page.texts.language)

    @app.post(SUBSCRIBE_PATH, response_class=HTMLResponse, summary="Ask for a confirmation email")
    def subscribe(request: Request, email: str = Form(..., max_length=320),
                  countries: list[str] = Form(default=[]),
                  language: str = Form(default="", max_length=20),
                  csrf: str = Form(..., max_length=200)) -> HTMLResponse:
        page = Page(request, config.site)
        _ = page._
        if cross_site(request, csrf):
            return expired_form(page)
        client = request.client.host if request.client else "unknown"
        if not per_client.allow(client):
            return page.message(_("Too many requests"),
                                _("Please wait a few minutes and try again."), 429)
        codes = chosen_codes(countries)
        reader = texts(supported(language) or page.texts.language)
        try:
            address = normalize_email(email)
        except InvalidValue:
            return subscribe_form_page(page, chosen=codes, language=reader.language, email=email,
                                       status=400, error=_("That does not look like an email address."))
        if not codes:
            return subscribe_form_page(page, chosen=codes, language=reader.language, email=email,
                                       status=400, error=_("Choose at least one country."))
        if per_address.allow(address.lower()):
            now = clock()
            letter = subscriptions.request(sessions, config, signer, address, codes, reader, now)
            # However the mail server takes it (refusing, away), the visitor sees the same page
            # and learns nothing of what it thinks of the address.
            if letter is not None:
                _send_quietly(config, letter, now, transport)
        # The same answer whether or not the address was known, or its limit reached.
        return page.message(_("Check your inbox"), _(
            "If %(address)s can receive email, a message with a link to confirm is on its way. "
            "Nothing is sent until you confirm.") % {"address": address})

    @app.get(CONFIRM_PATH, response_class=HTMLResponse, summary="Confirm a subscription")
    def confirm_page(request: Request, token: str = Query(..., max_length=200)) -> HTMLResponse:
        page = Page(request, config.site)
        _ = page._
        try:
            reader = subscriptions.confirm(sessions, signer, token, clock())
        except TokenError as exc:
            return refused(page, exc, _("Subscribe again to get a new one."))
        return page.message(_("You are subscribed"),
                            _("News will come to %(address)s.") % {"address": reader.email},
                            link=page.link(PREFERENCES_PATH, token=reader.preferences),
                            link_text=_("Choose your countries at any time"))

    @app.get(PREFERENCES_PATH, response_class=HTMLResponse, summary="A subscriber's countries")
    def preferences_form(request: Request, token: str = Query(..., max_length=200)) -> HTMLResponse:
        page = Page(request, config.site)
        _ = page._
        try:
            with sessions() as session:
                subscriber = subscriber_for(session, signer, "preferences", token)
                chosen, language = subscriber.country_codes, subscriber.language
        except TokenError as exc:
            return refused(page, exc)
        return form(page, action=page.link(PREFERENCES_PATH, token=token), title=_("Your countries"),
                    button=_("Save"), chosen=chosen, ask_email=False, language=language)

    @app.post(PREFERENCES_PATH, response_class=HTMLResponse, summary="Change a subscriber's countries")
    def preferences(request: Request, token: str = Query(..., max_length=200),
                    countries: list[str] = Form(default=[]),
                    language: str = Form(default="", max_length=20),
                    csrf: str = Form(..., max_length=200)) -> HTMLResponse:
        page = Page(request, config.site)
        _ = page._
        if cross_site(request, csrf):
            return expired_form(page)
        codes = chosen_codes(countries)
        reader = supported(language) or page.texts.language
        if not codes:
            return form(page, action=page.link(PREFERENCES_PATH, token=token), title=_("Your countries"),
                        button=_("Save"), chosen=codes, ask_email=False, language=reader, status=400,
                        error=_("Choose at least one country, or unsubscribe."))
        try:
            subscriptions.change_preferences(sessions, signer, token, codes, reader, clock())
        except TokenError as exc:
            return refused(page, exc)
        names = country_names(config, codes, page.texts)
        return page.message(_("Saved"), _("You will receive news about %(countries)s.")
                            % {"countries": names})

    @app.get(UNSUBSCRIBE_PATH, response_class=HTMLResponse, summary="The unsubscribe page (a button)")
    def unsubscribe_page(request: Request, token: str = Query(..., max_length=200)) -> HTMLResponse:
        page = Page(request, config.site)
        try:
            with sessions() as session:
                subscriber = subscriber_for(session, signer, "unsubscribe", token)
                email, preferences = subscriber.email, link_token(signer, "preferences", subscriber)
                gone = subscriber.status == SubscriberStatus.UNSUBSCRIBED
        except TokenError as exc:
            return refused(page, exc)
        if gone:  # (and no link of theirs works again: only subscribing anew)
            return already_unsubscribed(page, email)
        return page.render("unsubscribe.html", title=page._("Unsubscribe"), email=email,
                           action=page.link(UNSUBSCRIBE_PATH, token=token),
                           preferences=page.link(PREFERENCES_PATH, token=preferences))

    @app.post(UNSUBSCRIBE_PATH, response_class=HTMLResponse,
              summary="Unsubscribe at once (RFC 8058 one-click: List-Unsubscribe=One-Click)")
    def unsubscribe_now(request: Request, token: str = Query(..., max_length=200),
                        one_click: str = Form(..., alias="List-Unsubscribe")) -> HTMLResponse:
        page = Page(request, config.site)
        _ = page._
        if one_click != "One-Click":
            return page.message(_("Not unsubscribed"), _("The request did not ask to unsubscribe."), 400)
        try:
            email = subscriptions.unsubscribe(sessions, signer, token, clock())
        except TokenError as exc:
            return refused(page, exc)
        return already_unsubscribed(page, email)

    def already_unsubscribed(page: Page, email: str) -> HTMLResponse:
        _ = page._
        return page.message(_("You are unsubscribed"),
                            _("No more news will be sent to %(address)s.") % {"address": email})


def _send_quietly(config: Config, letter: Letter, now: datetime, transport: Transport | None) -> None:
    """Send a confirmation once; a failure is logged (the person can ask again), never retried
    here, so a slow server never gets two."""
    try:
        send_letter(config, letter, now, transport)
    except (TransportError, DeliveryFailure) as exc:
        log.warning("confirmation mail to %s not sent: %s", letter.to, exc)
