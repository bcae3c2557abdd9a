"""/api/v1/releases: search, add, read, change, withdraw.

(No `from __future__ import annotations`: the request model is made per config, with its
countries as an enum, and FastAPI reads each route's annotations as the objects they are.)"""

from datetime import datetime

from fastapi import Depends, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, create_model

from publisher.ingest.entry import Entry
from publisher.ingest.manual import existing_release, operator_entry, release_values
from publisher.ingest.rules import IngestConfig
from publisher.jobs import releases as changes
from publisher.store.models import Release
from publisher.urls import release_link, release_url
from publisher.web.console.api import API_V1, PER_PAGE, Api, Id, Page
from publisher.web.console.guard import Operator
from publisher.web.console.releases import search

_LINK = r"^https?://[^\s/]"


class ReleaseIn(BaseModel):
    title: str = Field(min_length=1, max_length=1000)
    published: datetime = Field(description="With a time zone offset; without one, the office's zone")
    summary: str = Field("", max_length=20_000)
    url: str | None = Field(None, max_length=500, pattern=_LINK, description="Its own page; none: this service's")
    countries: list[str] = Field(min_length=1, max_length=50)
    image_url: str | None = Field(None, max_length=500, pattern=_LINK)
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


def add_release_api(api: Api) -> None:
    config, sessions, clock, operator = api.config, api.sessions, api.clock, api.operator
    release_in = create_model("ReleaseIn", __base__=ReleaseIn, countries=(
        list[api.countries],  # type: ignore[name-defined]
        Field(min_length=1, max_length=50, description="Country codes of the config")))

    def shown(release: Release) -> ReleaseOut:
        values = release_values(release)
        return ReleaseOut(id=release.id, slug=release.slug, page=release_url(config.site, release.slug),
                          source=release.source,
                          **{**values, "url": release_link(config.site, release.url, release.slug),
                             "published": release.published, "withdrawn": release.withdrawn})

    def entry(body: ReleaseIn) -> Entry:
        return operator_entry(IngestConfig.of(config), **body.model_dump(), where="the request")

    def one(release_id: int) -> ReleaseOut:
        with sessions() as session:
            return shown(existing_release(session, release_id))

    @api.route("GET", "/releases", summary="Search releases (by title), newest first")
    def list_releases(q: str = Query("", max_length=200), page: Page = 1,
                      _who: Operator = Depends(operator)) -> ReleasePage:
        with sessions() as session:
            found, total = search(session, q.strip(), page)
            return ReleasePage(total=total, page=page, per_page=PER_PAGE, releases=[shown(r) for r in found])

    @api.route("POST", "/releases", status_code=201, summary="Add a release (the feeds are rebuilt)")
    def add_release(body: release_in,  # type: ignore[valid-type]
                    who: Operator = Depends(operator)) -> JSONResponse:
        changed = changes.add(sessions, config, who.email, entry(body), clock())
        return JSONResponse(one(changed.release_id).model_dump(mode="json"), 201,
                            headers={"Location": f"{API_V1}/releases/{changed.release_id}"})

    @api.route("GET", "/releases/{release_id}", summary="One release")
    def get_release(release_id: Id, _who: Operator = Depends(operator)) -> ReleaseOut:
        return one(release_id)

    @api.route("PUT", "/releases/{release_id}", summary="Change a release (every field; the feeds are rebuilt)")
    def edit_release(release_id: Id, body: release_in,  # type: ignore[valid-type]
                     who: Operator = Depends(operator)) -> ReleaseOut:
        changes.edit(sessions, config, who.email, release_id, entry(body), clock())
        return one(release_id)

    @api.route("POST", "/releases/{release_id}/withdraw",
               summary="Withdraw a release: it leaves the feeds and is never mailed")
    def withdraw_release(release_id: Id, who: Operator = Depends(operator)) -> ReleaseOut:
        changes.withdraw(sessions, config, who.email, release_id, clock())
        return one(release_id)

    @api.route("POST", "/releases/{release_id}/restore",
               summary="Restore a withdrawn release, with the countries it had (the feeds are rebuilt)")
    def restore_release(release_id: Id, who: Operator = Depends(operator)) -> ReleaseOut:
        changes.restore(sessions, config, who.email, release_id, clock())
        return one(release_id)
