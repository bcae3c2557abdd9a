"""/api/v1: the console's operations for programs, with a bearer token (`publisher operators
token`). Described by the app's OpenAPI schema; every error is an RFC 9457 problem.

(No `from __future__ import annotations`: the request model is made per config, with its
countries as an enum, and FastAPI reads each route's annotations as the objects they are.)"""

import json
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Query
from fastapi import Path as FastPath
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field, create_model
from sqlalchemy.orm import Session, sessionmaker

from publisher.config import Config
from publisher.ingest.entry import Entry
from publisher.ingest.manual import existing_release, operator_entry, release_values
from publisher.jobs import releases as changes
from publisher.operators.audit import entries
from publisher.store.models import Release
from publisher.urls import release_url
from publisher.web.console.guard import Guard, Operator
from publisher.web.console.releases import PER_PAGE, search

API_V1 = "/api/v1"
Id = Annotated[int, FastPath(ge=1, le=2**31 - 1)]
PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No live API token", **PROBLEM}, 404: {"description": "No such release", **PROBLEM},
    422: {"description": "A value that cannot be used; `detail` names the field", **PROBLEM}}


class ReleaseIn(BaseModel):
    title: str = Field(min_length=1, max_length=1000)
    published: datetime = Field(description="With a time zone offset; without one, the office's zone")
    summary: str = Field("", max_length=20_000)
    url: str | None = Field(None, max_length=500, pattern=r"^https?://[^\s/]",
                            description="Its own page; none: this service's page")
    countries: list[str] = Field(min_length=1, max_length=50, description="Country codes of the config")
    image_url: str | None = Field(None, max_length=500, pattern=r"^https?://[^\s/]")
    image_credit: str | None = Field(None, max_length=1000)


class ReleaseOut(BaseModel):
    id: int
    slug: str
    title: str
    published: datetime
    summary: str
    url: str
    page: str
    countries: list[str]
    image_url: str | None
    image_credit: str | None
    source: str
    withdrawn: datetime | None


class ReleasePage(BaseModel):
    total: int
    page: int
    per_page: int
    releases: list[ReleaseOut]


class AuditOut(BaseModel):
    at: datetime
    actor: str
    action: str
    subject: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


def add_api_routes(app: FastAPI, config: Config, sessions: sessionmaker[Session], guard: Guard,
                   clock: Callable[[], datetime]) -> None:
    # The config's countries, as the schema's enum: a client sees which codes there are.
    countries = Literal.__getitem__(tuple(config.country_codes))
    release_in = create_model("ReleaseIn", __base__=ReleaseIn, countries=(
        list[countries],  # type: ignore[valid-type]
        Field(min_length=1, max_length=50, description="Country codes of the config")))
    bearer = HTTPBearer(auto_error=False, description="A token from `publisher operators token EMAIL`")

    def operator(_credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
                 found: Operator = Depends(guard.api_operator)) -> Operator:
        return found  # (the bearer scheme is there for the OpenAPI description)

    def route(method: str, path: str, **options: Any) -> Callable[[Callable[..., Any]], Any]:
        # On the app itself: the routes stay in app.routes, where the 405 handler and the tests
        # enumerate them (an included router is one opaque entry).
        return app.api_route(API_V1 + path, methods=[method], tags=["operators"], responses=ERRORS, **options)

    def shown(release: Release) -> ReleaseOut:
        values = release_values(release)
        return ReleaseOut(id=release.id, slug=release.slug, page=release_url(config, release.slug),
                          source=release.source, **{**values, "published": release.published,
                                                    "withdrawn": release.withdrawn})

    def entry(body: ReleaseIn) -> Entry:  # (release_in's base)
        return operator_entry(config, **body.model_dump(), where="the request")

    def one(release_id: int) -> ReleaseOut:
        with sessions() as session:
            return shown(existing_release(session, release_id))

    @route("GET", "/releases", summary="Search releases (by title), newest first")
    def list_releases(q: str = Query("", max_length=200), page: int = Query(1, ge=1, le=100_000),
                      _who: Operator = Depends(operator)) -> ReleasePage:
        with sessions() as session:
            found, total = search(session, q.strip(), page)
            return ReleasePage(total=total, page=page, per_page=PER_PAGE, releases=[shown(r) for r in found])

    @route("POST", "/releases", status_code=201, summary="Add a release (the feeds are rebuilt)")
    def add_release(body: release_in,  # type: ignore[valid-type]
                    who: Operator = Depends(operator)) -> JSONResponse:
        changed = changes.add(sessions, config, who.email, entry(body), clock())
        return JSONResponse(one(changed.release_id).model_dump(mode="json"), 201,
                            headers={"Location": f"{API_V1}/releases/{changed.release_id}"})

    @route("GET", "/releases/{release_id}", summary="One release")
    def get_release(release_id: Id, _who: Operator = Depends(operator)) -> ReleaseOut:
        return one(release_id)

    @route("PUT", "/releases/{release_id}", summary="Change a release (every field; the feeds are rebuilt)")
    def edit_release(release_id: Id, body: release_in,  # type: ignore[valid-type]
                     who: Operator = Depends(operator)) -> ReleaseOut:
        changes.edit(sessions, config, who.email, release_id, entry(body), clock())
        return one(release_id)

    @route("POST", "/releases/{release_id}/withdraw",
           summary="Withdraw a release: it leaves the feeds and is never mailed")
    def withdraw_release(release_id: Id, who: Operator = Depends(operator)) -> ReleaseOut:
        changes.withdraw(sessions, config, who.email, release_id, clock())
        return one(release_id)

    @route("GET", "/audit", summary="The audit log, newest first")
    def audit_log(page: int = Query(1, ge=1, le=100_000), _who: Operator = Depends(operator)) -> list[AuditOut]:
        with sessions() as session:
            found, _total = entries(session, PER_PAGE, (page - 1) * PER_PAGE)
            return [AuditOut(at=e.at, actor=e.actor, action=e.action, subject=e.subject,
                             before=json.loads(e.before) if e.before else None,
                             after=json.loads(e.after) if e.after else None) for e in found]
