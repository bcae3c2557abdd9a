"""/api/v1: the console's operations for programs, with a bearer token (`publisher operators
token`). Described by the app's OpenAPI schema; every error is an RFC 9457 problem. Each kind
of thing has its module (api_releases.py, api_subscribers.py, api_digests.py, api_sources.py;
routes.py adds them); this one holds what they share, and the audit log."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi import Path as FastPath
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from sqlalchemy.orm import Session, sessionmaker

from publisher.config import Config
from publisher.operators.audit import entries
from publisher.operators.tokens import allows
from publisher.web.console.guard import Guard, Operator

API_V1 = "/api/v1"
PER_PAGE = 50
Id = Annotated[int, FastPath(ge=1, le=2**31 - 1)]
Page = Annotated[int, Query(ge=1, le=100_000)]
_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No live API token", **_PROBLEM},
    403: {"description": "The token's scopes do not cover this", **_PROBLEM},
    404: {"description": "No such thing", **_PROBLEM},
    422: {"description": "A value that cannot be used; `detail` or `errors` name the field", **_PROBLEM}}


@dataclass(frozen=True)
class Api:
    """What every API module registers its operations with."""

    app: FastAPI
    config: Config
    sessions: sessionmaker[Session]
    clock: Callable[[], datetime]
    operator: Callable[..., Operator]  # the dependency: the token's operator, or 401
    countries: Any  # the config's country codes as a Literal: the schema's enum

    def route(self, method: str, path: str, **options: Any) -> Callable[[Callable[..., Any]], Any]:
        # On the app itself: the routes stay in app.routes, where the 405 handler and the tests
        # enumerate them (an included router is one opaque entry).
        responses = {**ERRORS, **options.pop("responses", {})}
        return self.app.api_route(API_V1 + path, methods=[method], tags=["operators"], responses=responses,
                                  **options)


class AuditOut(BaseModel):
    at: datetime
    actor: str
    action: str
    subject: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


def needed_scope(method: str, path: str) -> str:
    """The token scope a request needs (operators/tokens.py SCOPES). Whatever hands out or
    changes readers' addresses needs "subscribers", reading as well."""
    if path.startswith((f"{API_V1}/subscribers", f"{API_V1}/audit")) or "/editions/" in path:
        return "subscribers"
    if method in ("GET", "HEAD"):
        return "read"
    if path.startswith((f"{API_V1}/releases", f"{API_V1}/sources")):
        return "releases"
    if path.startswith(f"{API_V1}/digests"):
        return "sending"
    return "all"


def make_api(app: FastAPI, config: Config, sessions: sessionmaker[Session], guard: Guard,
             clock: Callable[[], datetime]) -> Api:
    bearer = HTTPBearer(auto_error=False, description="A token from `publisher operators token EMAIL`")

    def operator(request: Request, _credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
                 found: Operator = Depends(guard.api_operator)) -> Operator:
        # (the bearer scheme is there for the OpenAPI description)
        needed = needed_scope(request.method, request.url.path)
        if not allows(found.scopes, needed):
            raise HTTPException(403, f"this token may do {' '.join(found.scopes)}; this needs the scope {needed!r}")
        return found

    return Api(app, config, sessions, clock, operator, Literal.__getitem__(tuple(config.country_codes)))


def add_audit_api(api: Api) -> None:
    @api.route("GET", "/audit", summary="The audit log, newest first")
    def audit_log(page: Page = 1, _who: Operator = Depends(api.operator)) -> list[AuditOut]:
        with api.sessions() as session:
            found, _total = entries(session, page, PER_PAGE)
            return [AuditOut(at=e.at, actor=e.actor, action=e.action, subject=e.subject,
                             before=json.loads(e.before) if e.before else None,
                             after=json.loads(e.after) if e.after else None) for e in found]
