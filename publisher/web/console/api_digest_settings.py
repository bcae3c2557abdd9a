"""/api/v1/digests: create a digest, change its settings, retire it (jobs/digest_settings.py:
checked as `config check` checks, audited, followed by the running scheduler within seconds).

(No `from __future__ import annotations`: see api_releases.py.)"""

from typing import Any

from fastapi import Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from publisher.config.write import digest_values
from publisher.errors import UnknownDigest
from publisher.jobs import digest_settings as changes
from publisher.store.digests import digest_named
from publisher.web.console.api import Api
from publisher.web.console.digests import Name
from publisher.web.console.guard import Operator


class DigestIn(BaseModel):
    """A digest's keys as config.toml's `[[digests]]` has them; to change one, only those to change."""
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, max_length=100, description="Required to create; a digest keeps its name")
    countries: list[str] | None = Field(None, max_length=50)
    cron: str | None = Field(None, max_length=200, description="As crontab(5) reads it, e.g. 0 9 * * MON")
    timezone: str | None = Field(None, max_length=100)
    max_items: int | None = None
    subject: str | None = Field(None, max_length=500)
    subjects: dict[str, str] | None = Field(None, description="The subject in zh_Hans and mn")
    title: str | None = Field(None, max_length=500)
    titles: dict[str, str] | None = None
    first_edition_window: str | None = Field(None, max_length=20, description='"14d", "12h", "0s"')
    pictures: bool | None = Field(None, description="Show each release's picture, when it has one over https")
    track_links: bool | None = Field(None, description="Count how many readers follow each link, never who")
    count_clicks_for: str | None = Field(None, max_length=20, description='"30d": then only the counts are kept')
    utm_source: str | None = Field(None, max_length=100)
    utm_medium: str | None = Field(None, max_length=100)
    utm_campaign: str | None = Field(None, max_length=100)


def _settings(sessions: Any, name: str) -> dict[str, Any]:
    with sessions() as session:
        return digest_values(digest_named(session, name))


def add_digest_settings_api(api: Api) -> None:
    config, sessions, clock, operator = api.config, api.sessions, api.clock, api.operator
    invalid = {422: {"description": "A key is wrong: each named, as `config check` names them"}}

    @api.route("POST", "/digests", summary="Create a digest (scheduled within seconds)", status_code=201,
               responses=invalid)
    def create(body: DigestIn, who: Operator = Depends(operator)) -> dict[str, Any]:
        digest = changes.create_digest(sessions, config, who.email, body.model_dump(exclude_none=True), clock())
        return digest_values(digest)

    @api.route("PATCH", "/digests/{name}", summary="Change a digest's settings (the keys given)", responses=invalid)
    def change(body: DigestIn, name: str = Name, who: Operator = Depends(operator)) -> dict[str, Any]:
        changes.change_digest(sessions, config, who.email, name, body.model_dump(exclude_none=True), clock())
        return _settings(sessions, name)

    @api.route("DELETE", "/digests/{name}", summary="Retire a digest: no more editions (its pages stay)")
    def retire(name: str = Name, who: Operator = Depends(operator)) -> JSONResponse:
        if not changes.retire_digest(sessions, who.email, name, clock()):
            raise UnknownDigest(f"{name} is retired already")
        return JSONResponse({"digest": name, "retired": True})
