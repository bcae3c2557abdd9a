"""Who may use the console and the API: sessions in signed cookies, form tokens bound to the
session, limits on login attempts, bearer tokens for the API.

The session cookie is `HttpOnly`, `SameSite=Strict` and, on an https site, `Secure`; it holds
a random secret and its signature, the store the secret's hash and when it was last used. Every
console form carries a token derived from the session's secret, so a page of another site
cannot post one (the cookie would not even travel with it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from fastapi import Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session, sessionmaker

from publisher.config import Config
from publisher.jobs.sign_ins import api_operator, console_operator, sign_in, sign_out
from publisher.operators.accounts import login_key
from publisher.subscribers.tokens import Signer, same_text
from publisher.web.formtokens import FormToken, secure_cookies
from publisher.web.limits import RateLimit

SESSION_COOKIE = "publisher_console"
LOGIN_COOKIE = "publisher_console_login"  # a login form's token, before there is a session
ATTEMPTS = 9  # per address and minute: the tenth is refused without checking the password
CLIENT_ATTEMPTS = 30  # per client and minute (an office shares one address)


@dataclass(frozen=True)
class Operator:
    """The operator of a request, and the token its forms carry."""

    id: int
    email: str
    csrf: str = ""
    scopes: tuple[str, ...] = ("all",)  # an API token's (operators/tokens.py); a console session may do all


class NotSignedIn(Exception):
    """No live session (console: to the login page) or no valid token (API: 401)."""


class CrossSite(Exception):
    """A console form without its session's token: another site's, or an old page's."""


class Guard:
    def __init__(self, config: Config, sessions: sessionmaker[Session], signer: Signer,
                 clock: Callable[[], datetime]) -> None:
        self.config, self.sessions, self.signer, self.clock = config, sessions, signer, clock
        self.idle, self.lifetime = config.web.session_idle, config.web.session_lifetime
        self.per_address = RateLimit(sessions, "login-address", ATTEMPTS, timedelta(minutes=1), clock)
        self.per_client = RateLimit(sessions, "login-client", CLIENT_ATTEMPTS, timedelta(minutes=1), clock)
        self.login_form = FormToken(signer, config.site, LOGIN_COOKIE, path="/admin")

    # Sessions

    def operator(self, request: Request) -> Operator:
        """The signed-in operator (a route's dependency); NotSignedIn without one."""
        secret = self._secret(request.cookies.get(SESSION_COOKIE, ""))
        if secret is not None:
            found = console_operator(self.sessions, secret, self.clock(), self.idle, self.lifetime)
            if found is not None:
                return Operator(found.id, found.email, self._csrf(secret))
        raise NotSignedIn()

    def form_operator(self, request: Request, csrf: str = Form(..., max_length=200)) -> Operator:
        """The signed-in operator of a form post (a route's dependency), whose token must match."""
        operator = self.operator(request)
        if not same_text(csrf, operator.csrf):
            raise CrossSite()
        return operator

    def sign_in(self, request: Request, email: str, password: str) -> str | None:
        """A new session's cookie value for a right address and password, else None. Past the
        limits the password is not even checked."""
        client = request.client.host if request.client else "unknown"
        if not (self.per_client.allow(client) and self.per_address.allow(login_key(email))):
            raise TooManyAttempts()
        secret = sign_in(self.sessions, email, password, client, self.clock())
        if secret is None:
            return None
        return f"{secret}.{self.signer.tag('console', secret)}"

    def sign_out(self, request: Request) -> None:
        secret = self._secret(request.cookies.get(SESSION_COOKIE, ""))
        if secret is not None:
            sign_out(self.sessions, secret)

    def set_session(self, request: Request, response: Response, value: str) -> None:
        response.set_cookie(SESSION_COOKIE, value, httponly=True, samesite="strict", path="/",
                            secure=secure_cookies(request, self.config.site))

    def _secret(self, cookie: str) -> str | None:
        secret, _, signature = cookie.rpartition(".")
        if secret and same_text(signature, self.signer.tag("console", secret)):
            return secret
        return None

    def _csrf(self, secret: str) -> str:
        return self.signer.tag("console", f"form {secret}")

    def login_form_checked(self, request: Request, token: str) -> None:
        """The login form, before any session, carries a double-submit token (`login_form`)."""
        if not self.login_form.matches(request, token):
            raise CrossSite()

    # The API

    def api_operator(self, request: Request) -> Operator:
        """The operator of an `Authorization: Bearer` token (a route's dependency)."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            found = api_operator(self.sessions, token.strip(), self.clock())
            if found is not None:
                return Operator(found[0].id, found[0].email, scopes=found[1])
        raise NotSignedIn()


class TooManyAttempts(Exception):
    """Past a login limit: refused without checking the password."""


def signed_in(request: Request) -> Operator:
    """The signed-in operator, found by the guard of the app serving the request (a route's
    dependency, for routes written as methods: routes.py keeps the guard in `app.state`)."""
    guard: Guard = request.app.state.guard
    return guard.operator(request)


def signed_in_form(request: Request, csrf: str = Form(..., max_length=200)) -> Operator:
    """The signed-in operator of a form post whose token matches (as `Guard.form_operator`)."""
    guard: Guard = request.app.state.guard
    return guard.form_operator(request, csrf)

