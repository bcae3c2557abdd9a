"""/api/v1/schedules and /api/v1/sources: every job with its last run; the sources in effect,
each created, changed, retired (jobs/source_settings.py: checked as `config check` checks,
audited, followed by the running scheduler within seconds) or imported now.

(No `from __future__ import annotations`: see api_releases.py.)"""

from datetime import datetime
from typing import Any

from fastapi import Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from publisher.config.write import source_values
from publisher.errors import NotFound, PublisherError
from publisher.jobs import controls
from publisher.jobs import source_settings as changes
from publisher.store.models import ScheduleRun, StoredSource
from publisher.store.sources import source_named
from publisher.web.console.api import Api
from publisher.web.console.guard import Operator
from publisher.web.console.source_forms import Name
from publisher.web.console.sources import source_views


class JobOut(BaseModel):
    id: str
    cron: str | None
    next_fire: datetime | None
    started: datetime | None
    finished: datetime | None
    outcome: str | None
    succeeded: datetime | None


class SourceIn(BaseModel):
    """A source's keys as config.toml's `[[sources]]` has them; to change one, only those to
    change (null: none, for format and cron). Its location: an http(s) URL or `bundled:NAME`."""
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, max_length=100, description="Required to create; a source keeps its name")
    location: str | None = Field(None, max_length=2000)
    format: str | None = Field(None, max_length=20,
                               description="listing, json, csv or html; null: told from the document")
    cron: str | None = Field(None, max_length=200, description="As crontab(5) reads it; null: imported only by hand")
    timeout: str | None = Field(None, max_length=20, description='"30s"')
    max_bytes: int | None = None
    fetch_pages: bool | None = Field(None, description="Read each new release's own page for its full text and picture")
    page_delay: str | None = Field(None, max_length=20, description='Between two pages of one site: "1s"')
    categories: dict[str, str] | None = Field(None, description='A feed\'s categories that say a country: '
                                                                 '{"Ulaanbaatar office": "MN"}')


class SourceOut(BaseModel):
    name: str
    location: str
    format: str | None
    cron: str | None
    timeout: str
    max_bytes: int
    fetch_pages: bool
    page_delay: str
    categories: dict[str, str]
    source: str = Field(description='"config.toml": its settings follow the file; "operator": changed in the console '
                                    "or the API, and in effect whatever the file says")
    changed_by: str


class ImportOut(BaseModel):
    imported: bool
    outcome: list[str]


def _job(job_id: str, cron: str | None, next_fire: datetime | None, run: ScheduleRun | None) -> JobOut:
    return JobOut(id=job_id, cron=cron, next_fire=next_fire, started=run.started if run else None,
                  finished=run.finished if run else None, outcome=run.outcome if run else None,
                  succeeded=run.succeeded if run else None)


def _out(sessions: Any, name: str) -> SourceOut:
    with sessions() as session:
        values = source_values(source_named(session, name))
        row = session.get(StoredSource, name)
    assert row is not None
    return SourceOut(**{"format": None, "cron": None, **values}, source=row.origin, changed_by=row.changed_by)


def add_source_api(api: Api) -> None:
    add_source_settings_api(api)
    config, sessions, clock, operator = api.config, api.sessions, api.clock, api.operator

    @api.route("GET", "/schedules", summary="Every scheduled job (sources, digests, feeds, bounces) and its last run")
    def list_schedules(_who: Operator = Depends(operator)) -> list[JobOut]:
        with sessions() as session:
            sources, jobs = source_views(session, config, clock())
        return [*(_job(f"source:{v.source.name}", v.source.cron, v.next_fire, v.run) for v in sources),
                *(_job(j.id, j.cron, j.next_fire, j.run) for j in jobs)]

    @api.route("POST", "/sources/{name}/import", summary="Import a source now")
    def import_now(name: str = Name, who: Operator = Depends(operator)) -> ImportOut:
        try:
            return ImportOut(imported=True, outcome=controls.import_now(sessions, config, who.email, name, clock()))
        except NotFound:
            raise
        except PublisherError as exc:
            return ImportOut(imported=False, outcome=[f"failed: {exc}"])


def add_source_settings_api(api: Api) -> None:
    config, sessions, clock, operator = api.config, api.sessions, api.clock, api.operator
    invalid = {422: {"description": "A key is wrong: each named, as `config check` names them"}}

    @api.route("GET", "/sources", summary="The sources in effect, every key, and where their settings come from")
    def list_sources(_who: Operator = Depends(operator)) -> list[SourceOut]:
        with sessions() as session:
            sources, _jobs = source_views(session, config, clock())
        return [_out(sessions, view.source.name) for view in sources]

    @api.route("POST", "/sources", summary="Create a source (scheduled within seconds)", status_code=201,
               responses=invalid)
    def create(body: SourceIn, who: Operator = Depends(operator)) -> SourceOut:
        source = changes.create_source(sessions, who.email, body.model_dump(exclude_unset=True), clock())
        return _out(sessions, source.name)

    @api.route("PATCH", "/sources/{name}", summary="Change a source's settings (the keys given)", responses=invalid)
    def change(body: SourceIn, name: str = Name, who: Operator = Depends(operator)) -> SourceOut:
        changes.change_source(sessions, who.email, name, body.model_dump(exclude_unset=True), clock())
        return _out(sessions, name)

    @api.route("DELETE", "/sources/{name}", summary="Retire a source: read no more (its releases stay)")
    def retire(name: str = Name, who: Operator = Depends(operator)) -> JSONResponse:
        if not changes.retire_source(sessions, who.email, name, clock()):
            raise NotFound(f"{name} is retired already")
        return JSONResponse({"source": name, "retired": True})
