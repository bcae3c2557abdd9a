"""Subscription pages: double opt-in, preferences, and unsubscribing (RFC 8058 one-click).

A GET never changes anything but confirming (the link mailed for exactly that); unsubscribing
takes a POST, because link scanners follow links. Forms carry a double-submit token that must
match a SameSite=Strict cookie, so another site cannot post them. Bad or expired tokens get a
400 page and change nothing.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from fastapi import FastAPI, Form, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session, sessionmaker

from publisher.config import Config
from publisher.errors import InvalidValue
from publisher.mail.letters import Letter, send_letter
from publisher.mail.transport import DeliveryFailure, Transport, TransportError
from publisher.subscribers.optin import (
    change_countries,
    confirm,
    link_token,
    request_subscription,
    subscriber_for,
    unsubscribe,
)
from publisher.subscribers.people import normalize_email
from publisher.subscribers.tokens import Signer, TestCopyLink, TokenError
from publisher.urls import CONFIRM_PATH, PREFERENCES_PATH, SUBSCRIBE_PATH, UNSUBSCRIBE_PATH, page_link
from publisher.web.limits import RateLimit
from publisher.web.pages import render_page

CSRF_COOKIE = "publisher_csrf"
log = logging.getLogger(__name__)


def add_subscription_routes(app: FastAPI, config: Config, sessions: sessionmaker[Session],
                            signer: Signer, transport: Transport | None,
                            clock: Callable[[], datetime]) -> None:
    per_address = RateLimit(sessions, "confirmation-mail", 3, timedelta(hours=1), clock)
    per_client = RateLimit(sessions, "form-post", 20, timedelta(minutes=10), clock)

    def page(name: str, status: int = 200, **context: object) -> HTMLResponse:
        return render_page(name, status, site=config.site, **context)

    def message(title: str, text: str, status: int = 200) -> HTMLResponse:
        return page("message.html", status, title=title, message=text)

    def refused(exc: TokenError, text: str) -> HTMLResponse:
        if isinstance(exc, TestCopyLink):
            return message("A test copy", "This link came in a test copy of a digest. In a "
                           "subscriber's copy it opens their own page; here nothing was changed.")
        return message("This link does not work", text, 400)

    def form(request: Request, *, action: str, title: str, button: str, chosen: list[str],
             ask_email: bool, email: str = "", error: str = "", status: int = 200) -> HTMLResponse:
        csrf = request.cookies.get(CSRF_COOKIE, "")
        if not signer.is_sealed(csrf):  # none yet, or not one of ours
            csrf = signer.seal(secrets.token_urlsafe(24))
        response = page("subscribe.html", status, title=title, action=action, button=button,
                        csrf=csrf, ask_email=ask_email, email=email, error=error,
                        countries=config.countries, chosen=chosen)
        response.set_cookie(CSRF_COOKIE, csrf, httponly=True, samesite="strict",
                            secure=request.url.scheme == "https")
        return response

    def cross_site(request: Request, csrf: str) -> bool:
        cookie = request.cookies.get(CSRF_COOKIE, "")
        return not signer.is_sealed(cookie) or not secrets.compare_digest(cookie, csrf)

    def chosen_codes(countries: list[str]) -> list[str]:
        return [code for code in dict.fromkeys(countries) if code in config.country_codes]

    @app.get(SUBSCRIBE_PATH, response_class=HTMLResponse, summary="The subscription form")
    def subscribe_form(request: Request) -> HTMLResponse:
        return form(request, action=page_link(SUBSCRIBE_PATH), title="Subscribe", button="Subscribe",
                    chosen=list(config.country_codes), ask_email=True)

    @app.post(SUBSCRIBE_PATH, response_class=HTMLResponse, summary="Ask for a confirmation email")
    def subscribe(request: Request, email: str = Form(..., max_length=320),
                  countries: list[str] = Form(default=[]),
                  csrf: str = Form(..., max_length=200)) -> HTMLResponse:
        if cross_site(request, csrf):
            return message("Please try again", "The form had expired. Reload it and send it again.", 400)
        client = request.client.host if request.client else "unknown"
        if not per_client.allow(client):
            return message("Too many requests", "Please wait a few minutes and try again.", 429)
        codes = chosen_codes(countries)
        try:
            address = normalize_email(email)
        except InvalidValue:
            return form(request, action=page_link(SUBSCRIBE_PATH), title="Subscribe", button="Subscribe",
                        chosen=codes, ask_email=True, email=email, status=400,
                        error="That does not look like an email address.")
        if not codes:
            return form(request, action=page_link(SUBSCRIBE_PATH), title="Subscribe", button="Subscribe",
                        chosen=codes, ask_email=True, email=email, status=400,
                        error="Choose at least one country.")
        if per_address.allow(address.lower()):
            now = clock()
            with sessions.begin() as session:
                letter = request_subscription(session, config, signer, address, codes, now)
            # However the mail server takes it (refusing, away), the visitor sees the same page
            # and learns nothing of what it thinks of the address.
            _send_quietly(config, letter, now, transport)
        # The same answer whether or not the address was known, or its limit reached.
        return message("Check your inbox", f"If {address} can receive email, a message with a "
                       "link to confirm is on its way. Nothing is sent until you confirm.")

    @app.get(CONFIRM_PATH, response_class=HTMLResponse, summary="Confirm a subscription")
    def confirm_page(token: str = Query(..., max_length=200)) -> HTMLResponse:
        try:
            with sessions.begin() as session:
                subscriber = confirm(session, signer, token, clock())
                preferences = link_token(signer, "preferences", subscriber)
        except TokenError as exc:
            return refused(exc, f"{exc}. Subscribe again to get a new one.")
        return page("message.html", title="You are subscribed",
                    message=f"News will come to {subscriber.email}.",
                    link=page_link(PREFERENCES_PATH, preferences),
                    link_text="Choose your countries at any time")

    @app.get(PREFERENCES_PATH, response_class=HTMLResponse, summary="A subscriber's countries")
    def preferences_form(request: Request, token: str = Query(..., max_length=200)) -> HTMLResponse:
        try:
            with sessions() as session:
                subscriber = subscriber_for(session, signer, "preferences", token)
                chosen = subscriber.country_codes
        except TokenError as exc:
            return refused(exc, str(exc))
        return form(request, action=page_link(PREFERENCES_PATH, token), title="Your countries",
                    button="Save", chosen=chosen, ask_email=False)

    @app.post(PREFERENCES_PATH, response_class=HTMLResponse, summary="Change a subscriber's countries")
    def preferences(request: Request, token: str = Query(..., max_length=200),
                    countries: list[str] = Form(default=[]),
                    csrf: str = Form(..., max_length=200)) -> HTMLResponse:
        if cross_site(request, csrf):
            return message("Please try again", "The form had expired. Reload it and send it again.", 400)
        codes = chosen_codes(countries)
        if not codes:
            return form(request, action=page_link(PREFERENCES_PATH, token), title="Your countries",
                        button="Save", chosen=codes, ask_email=False, status=400,
                        error="Choose at least one country, or unsubscribe.")
        try:
            with sessions.begin() as session:
                change_countries(session, signer, token, codes)
        except TokenError as exc:
            return refused(exc, str(exc))
        names = ", ".join(config.country(code).name for code in codes)
        return message("Saved", f"You will receive news about {names}.")

    @app.get(UNSUBSCRIBE_PATH, response_class=HTMLResponse, summary="The unsubscribe page (a button)")
    def unsubscribe_page(token: str = Query(..., max_length=200)) -> HTMLResponse:
        try:
            with sessions() as session:
                subscriber = subscriber_for(session, signer, "unsubscribe", token)
                email, preferences = subscriber.email, link_token(signer, "preferences", subscriber)
        except TokenError as exc:
            return refused(exc, str(exc))
        return page("unsubscribe.html", title="Unsubscribe", email=email,
                    action=page_link(UNSUBSCRIBE_PATH, token),
                    preferences=page_link(PREFERENCES_PATH, preferences))

    @app.post(UNSUBSCRIBE_PATH, response_class=HTMLResponse,
              summary="Unsubscribe at once (RFC 8058 one-click: List-Unsubscribe=One-Click)")
    def unsubscribe_now(token: str = Query(..., max_length=200),
                        one_click: str = Form(..., alias="List-Unsubscribe")) -> HTMLResponse:
        if one_click != "One-Click":
            return message("Not unsubscribed", "The request did not ask to unsubscribe.", 400)
        try:
            with sessions.begin() as session:
                subscriber = unsubscribe(session, signer, token, clock())
                email = subscriber.email
        except TokenError as exc:
            return refused(exc, str(exc))
        return message("You are unsubscribed", f"No more news will be sent to {email}.")


def _send_quietly(config: Config, letter: Letter, now: datetime, transport: Transport | None) -> None:
    """Send a confirmation once; a failure is logged (the person can ask again), never retried
    here, so a slow server never gets two."""
    try:
        send_letter(config, letter, now, transport)
    except (TransportError, DeliveryFailure) as exc:
        log.warning("confirmation mail to %s not sent: %s", letter.to, exc)
