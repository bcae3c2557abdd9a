"""Unsubscribing (RFC 8058 one-click): the mailed link opens a page with a button; the POST
(of that button, or of a mail client's one-click) unsubscribes. A GET never does: link scanners
follow links. The same link followed again says that they left, and opens nothing else."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi import Form, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session, sessionmaker

from publisher.config import Config
from publisher.jobs import subscriptions
from publisher.store.statuses import SubscriberStatus
from publisher.subscribers.optin import link_token, subscriber_for
from publisher.subscribers.tokens import Signer, TokenError
from publisher.urls import PREFERENCES_PATH, UNSUBSCRIBE_PATH
from publisher.web.links import link_refused
from publisher.web.pages import Page


class UnsubscribePages:
    def __init__(self, config: Config, sessions: sessionmaker[Session], signer: Signer,
                 clock: Callable[[], datetime]) -> None:
        self.config, self.sessions, self.signer, self.clock = config, sessions, signer, clock

    def unsubscribe_page(self, request: Request, token: str = Query(..., max_length=200)) -> HTMLResponse:
        page = Page(request, self.config.site)
        try:
            with self.sessions() as session:
                subscriber = subscriber_for(session, self.signer, "unsubscribe", token)
                email, preferences = subscriber.email, link_token(self.signer, "preferences", subscriber)
                gone = subscriber.status == SubscriberStatus.UNSUBSCRIBED
        except TokenError as exc:
            return link_refused(page, exc)
        if gone:  # (and no link of theirs works again: only subscribing anew)
            return _unsubscribed(page, email)
        return page.render("unsubscribe.html", title=page._("Unsubscribe"), email=email,
                           action=page.link(UNSUBSCRIBE_PATH, token=token),
                           preferences=page.link(PREFERENCES_PATH, token=preferences))

    def unsubscribe_now(self, request: Request, token: str = Query(..., max_length=200),
                        one_click: str = Form(..., alias="List-Unsubscribe")) -> HTMLResponse:
        page = Page(request, self.config.site)
        _ = page._
        if one_click != "One-Click":
            return page.message(_("Not unsubscribed"), _("The request did not ask to unsubscribe."), 400)
        try:
            email = subscriptions.unsubscribe(self.sessions, self.signer, token, self.clock())
        except TokenError as exc:
            return link_refused(page, exc)
        return _unsubscribed(page, email)


def _unsubscribed(page: Page, email: str) -> HTMLResponse:
    _ = page._
    return page.message(_("You are unsubscribed"), _("No more news will be sent to %(address)s.") % {"address": email})
