"""The double-submit token of a form that is posted before anyone is signed in (subscribing,
the console's sign-in): a sealed random value in a cookie and in the form, compared on post. A
token another site made fails the seal; a form without the browser's cookie fails the compare."""

from __future__ import annotations

import secrets

from fastapi import Request
from fastapi.responses import Response

from publisher.config import Site
from publisher.subscribers.tokens import Signer, same_text


def secure_cookies(request: Request, site: Site) -> bool:
    """Whether a cookie is sent over https only: when this request came over https, or when the
    site's address is https (behind a proxy that speaks plain http to us)."""
    return request.url.scheme == "https" or site.base_url.startswith("https:")


class FormToken:
    def __init__(self, signer: Signer, site: Site, cookie: str, path: str = "/") -> None:
        self.signer, self.site, self.cookie, self.path = signer, site, cookie, path

    def token(self, request: Request) -> str:
        """The browser's token, else a new one (`send` gives it the browser with the form)."""
        token = request.cookies.get(self.cookie, "")
        return token if self.signer.is_sealed(token) else self.signer.seal(secrets.token_urlsafe(24))

    def send(self, request: Request, response: Response, token: str) -> None:
        response.set_cookie(self.cookie, token, httponly=True, samesite="strict", path=self.path,
                            secure=secure_cookies(request, self.site))

    def matches(self, request: Request, submitted: str) -> bool:
        """Whether the form posted `submitted` with the cookie of this browser it came from."""
        cookie = request.cookies.get(self.cookie, "")
        return self.signer.is_sealed(cookie) and same_text(cookie, submitted)
