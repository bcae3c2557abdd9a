"""Headers every response carries; the 400 page for a request the routes cannot read; a 405
that names every method the path answers.

Tokens travel in query strings (mailed links), so no page may leak its address to another site
(Referrer-Policy) or be framed by one; pages load nothing from elsewhere but images."""

from __future__ import annotations

from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from publisher.config import Config
from publisher.web.pages import Page
from publisher.web.problems import is_api, problem

HEADERS = [
    (b"content-security-policy", b"default-src 'none'; style-src 'unsafe-inline'; img-src https: http: data:; "
                                 b"form-action 'self'; base-uri 'none'; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]


class SecurityHeaders:
    """A plain ASGI wrapper (no per-request objects): the headers are appended as the response
    starts."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers)


def add_security(app: FastAPI, config: Config) -> None:
    app.add_middleware(SecurityHeaders)

    @app.exception_handler(405)
    async def not_allowed(request: Request, _error: Exception) -> Response:
        # Starlette names the methods of the first route matching the path; GET and HEAD of
        # one path are two routes here.
        path = request.url.path
        methods = sorted({method for route in app.routes if isinstance(route, APIRoute)
                          and route.path_regex.match(path) for method in route.methods or ()})
        allow = {"Allow": ", ".join(methods)}
        if is_api(path):
            return problem(405, "Method Not Allowed", headers=allow)
        return Response("Method Not Allowed", 405, headers=allow, media_type="text/plain")

    @app.exception_handler(404)
    async def not_found(request: Request, _error: Exception) -> Response:
        # People follow links: a page in their language. (An /api/ path answers in JSON.)
        if is_api(request.url.path):
            return problem(404, "Not Found")
        page = Page(request, config.site)
        return page.message(page._("Not found"), page._("There is no page at this address."), 404)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        # Any other refusal on the way to a route (a body FastAPI cannot parse, nested too
        # deep): a program gets a problem as from every /api/ path, a person the default.
        if is_api(request.url.path):
            return problem(error.status_code, HTTPStatus(error.status_code).phrase, str(error.detail),
                           headers=dict(error.headers or {}))
        return await http_exception_handler(request, error)

    @app.exception_handler(413)
    async def too_large(request: Request, error: Exception) -> Response:
        # A chunked body found too large as it came (web/bodies.py; a declared one is answered there)
        if is_api(request.url.path):
            return problem(413, "Content Too Large", str(getattr(error, "detail", "")))
        page = Page(request, config.site)
        return page.message(page._("Please try again"), page._("What was sent is too large."), 413)

    @app.exception_handler(RequestValidationError)
    async def unreadable(request: Request, error: RequestValidationError) -> Response:
        # A missing or overlong field: the page a person can read; a program gets each error.
        if is_api(request.url.path):
            return problem(422, "Unprocessable Content", "The request does not match the schema.",
                           errors=[{"field": ".".join(map(str, item["loc"])), "problem": item["msg"]}
                                   for item in error.errors()])
        page = Page(request, config.site)
        return page.message(page._("Please try again"),
                            page._("The request could not be read. Go back, and send the form again."),
                            400)
