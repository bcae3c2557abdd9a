"""Request bodies: limited in size, and for the console and the API authenticated before a byte
of them is read. (FastAPI reads a body before a route's dependencies run, so a route's own
sign-in check comes too late: an unauthenticated 300 MB POST was read whole before its 401.)"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import HTTPException, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from publisher.web.problems import is_api, problem

BODY_LIMIT = 256_000  # a form or a JSON release: a release's longest fields are some 25,000 characters
UPLOAD_LIMIT = 5_064_000  # a CSV upload (jobs/subscribers.py MAX_CSV) with its form's framing
_WITH_BODY = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# Before the body is read: None to go on, else the answer (401, the login page).
Authenticate = Callable[[Request], Response | None]


class BodyGuard:
    """A plain ASGI wrapper: under `/api/` and `/admin/` the caller's credentials first
    (`authenticate`), then the size (a declared Content-Length past the limit is answered at
    once; a chunked body is counted as it comes), then the route."""

    def __init__(self, app: ASGIApp, authenticate: Authenticate, uploads: frozenset[str]) -> None:
        self.app, self.authenticate, self.uploads = app, authenticate, uploads

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _WITH_BODY:
            await self.app(scope, receive, send)
            return
        refusal = await run_in_threadpool(self.authenticate, Request(scope))
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        limit = UPLOAD_LIMIT if scope["path"] in self.uploads else BODY_LIMIT
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await too_large(scope["path"], limit)(scope, receive, send)
            return
        await self.app(scope, _counted(receive, limit), send)


def too_large(path: str, limit: int) -> Response:
    detail = f"The request body is larger than {limit:,} bytes."
    if is_api(path):
        return problem(413, "Content Too Large", detail)
    return Response(detail, 413, media_type="text/plain; charset=utf-8")


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


def _counted(receive: Receive, limit: int) -> Receive:
    """`receive`, refusing (413) once the body passes `limit` (a chunked one declares no size)."""
    seen = 0

    async def counting() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise HTTPException(413, f"The request body is larger than {limit:,} bytes.")
        return message

    return counting
