"""The console's routes, and how a request without a session, from another site or past the
login limits is answered: a person gets a page (or the login form), an API client a problem
(RFC 9457)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session, sessionmaker

from publisher.config import Config
from publisher.errors import ConfigError, DigestPaused, InputError, InvalidValue, NotFound, PublisherError, TooMany
from publisher.mail.transport import Transport
from publisher.subscribers.tokens import Signer
from publisher.web.console.api import API_V1, add_audit_api, make_api
from publisher.web.console.api_digest_settings import add_digest_settings_api
from publisher.web.console.api_digests import add_digest_api
from publisher.web.console.api_releases import add_release_api
from publisher.web.console.api_sources import add_source_api
from publisher.web.console.api_subscribers import add_subscriber_api
from publisher.web.console.audit import add_audit_route
from publisher.web.console.dashboard import add_dashboard_route
from publisher.web.console.digest_forms import DigestForms
from publisher.web.console.digests import DigestPages
from publisher.web.console.guard import CrossSite, Guard, NotSignedIn, TooManyAttempts
from publisher.web.console.login import LOGIN, add_login_routes
from publisher.web.console.releases import ReleasePages
from publisher.web.console.source_forms import SourceForms
from publisher.web.console.sources import add_source_pages
from publisher.web.console.subscribers import SUBSCRIBERS, SubscriberPages
from publisher.web.console.tokens import add_token_page
from publisher.web.console.views import ADMIN, NO_STORE, ConsolePage
from publisher.web.pages import Page
from publisher.web.problems import is_api, problem, unauthorized


def add_console(app: FastAPI, config: Config, sessions: sessionmaker[Session], signer: Signer,
                clock: Callable[[], datetime], transport: Transport | None = None) -> Guard:
    guard = Guard(config, sessions, signer, clock)
    app.state.guard = guard  # (for the routes written as methods: guard.signed_in)
    add_login_routes(app, config, guard)
    add_dashboard_route(app, config, sessions, guard, clock)
    ReleasePages(config, sessions, clock).add_to(app)
    SubscriberPages(config, sessions, clock).add_to(app)
    DigestPages(config, sessions, clock, transport).add_to(app)
    DigestForms(config, sessions, clock).add_to(app)
    SourceForms(config, sessions, clock).add_to(app)
    add_source_pages(app, config, sessions, guard, clock)
    add_audit_route(app, config, sessions, guard)
    add_token_page(app, config, sessions, guard)
    api = make_api(app, config, sessions, guard, clock)
    for add in (add_release_api, add_subscriber_api, add_source_api, add_audit_api):
        add(api)
    add_digest_api(api, transport)
    add_digest_settings_api(api)
    _add_handlers(app, config)
    return guard


# The paths that take a CSV file: a larger body than a form's (web/bodies.py).
UPLOADS = frozenset({f"{API_V1}/subscribers/import", f"{SUBSCRIBERS}/import"})


def before_body(guard: Guard) -> Callable[[Request], Response | None]:
    """Who may send the console or the API a body (checked before it is read): an API request
    with a live token, a console post with a live session (the login form's excepted); the
    answer to anyone else."""
    def check(request: Request) -> Response | None:
        path = request.url.path
        try:
            if is_api(path):
                guard.api_operator(request)
            elif path.startswith(f"{ADMIN}/") and path != LOGIN:
                guard.operator(request)
        except NotSignedIn:
            return unauthorized() if is_api(path) else RedirectResponse(LOGIN, status_code=303, headers=NO_STORE)
        return None

    return check


def _add_handlers(app: FastAPI, config: Config) -> None:
    _add_access_handlers(app, config)
    _add_refusal_handlers(app, config)


def _page_for(request: Request, config: Config) -> Page:
    """A console page under /admin; elsewhere (the errors reach every route) the site's own."""
    return ConsolePage(request, config) if request.url.path.startswith(ADMIN) else Page(request, config.site)


def _add_access_handlers(app: FastAPI, config: Config) -> None:
    """Who may not come in, or not now: the login page, another site's form, too many tries."""
    def page_for(request: Request) -> Page:
        return _page_for(request, config)

    @app.exception_handler(NotSignedIn)
    async def not_signed_in(request: Request, _error: NotSignedIn) -> Response:
        if is_api(request.url.path):
            return unauthorized()
        back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        target = f"{LOGIN}?{urlencode({'next': back})}" if request.method == "GET" else LOGIN
        return RedirectResponse(target, status_code=303, headers=NO_STORE)

    @app.exception_handler(CrossSite)
    async def cross_site(request: Request, _error: CrossSite) -> Response:
        page = ConsolePage(request, config)
        return page.message(page._("Please try again"),
                            page._("The form had expired. Reload it and send it again."), 403)

    @app.exception_handler(TooManyAttempts)
    async def too_many(request: Request, _error: TooManyAttempts) -> Response:
        page = ConsolePage(request, config)
        response = page.message(page._("Too many requests"), page._("Please wait a minute and try again."), 429)
        response.headers["Retry-After"] = "60"
        return response

    @app.exception_handler(TooMany)
    async def too_many_of(request: Request, error: TooMany) -> Response:
        headers = {"Retry-After": str(error.retry_after)}
        if is_api(request.url.path):
            return problem(429, "Too Many Requests", str(error), headers)
        page = page_for(request)
        response = page.message(page._("Too many requests"), str(error), 429)
        response.headers.update(headers)
        return response


def _add_refusal_handlers(app: FastAPI, config: Config) -> None:
    """What a route refused: a page for a person, a problem (RFC 9457) for a program."""
    def page_for(request: Request) -> Page:
        return _page_for(request, config)

    @app.exception_handler(NotFound)
    async def not_found(request: Request, error: NotFound) -> Response:
        if is_api(request.url.path):
            return problem(404, "Not Found", str(error))
        page = page_for(request)
        return page.message(page._("Not found"), page._("There is no page at this address."), 404)

    @app.exception_handler(DigestPaused)
    async def paused(request: Request, error: DigestPaused) -> Response:
        if is_api(request.url.path):
            return problem(409, "Conflict", str(error))
        page = page_for(request)
        return page.message(page._("Paused"), str(error), 409)

    @app.exception_handler(ConfigError)
    async def config_error(request: Request, error: ConfigError) -> Response:
        # (raised by a digest's settings from the API; the console's form shows them itself)
        if is_api(request.url.path):
            return problem(422, "Unprocessable Content", "; ".join(error.problems), problems=error.problems)
        page = page_for(request)
        return page.message(page._("Please try again"), "; ".join(error.problems), 400)

    @app.exception_handler(InputError)
    @app.exception_handler(InvalidValue)
    async def invalid(request: Request, error: PublisherError) -> Response:
        # (A console form shows its own error beside the fields; this is the API's answer.)
        if is_api(request.url.path):
            return problem(422, "Unprocessable Content", str(error))
        page = page_for(request)
        return page.message(page._("Please try again"), str(error), 400)
