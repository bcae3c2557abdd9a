"""/api/v1/schedules and /api/v1/sources: every job with its last run; a source imported now.

(No `from __future__ import annotations`: see api_releases.py.)"""

from datetime import datetime
from typing import Literal

from fastapi import Depends
from fastapi import Path as FastPath
from pydantic import BaseModel

from publisher.errors import PublisherError
from publisher.jobs import controls
from publisher.store.models import ScheduleRun
from publisher.web.console.api import Api
from publisher.web.console.guard import Operator
from publisher.web.console.sources import source_views


class JobOut(BaseModel):
    id: str
    cron: str | None
    next_fire: datetime | None
    started: datetime | None
    finished: datetime | None
    outcome: str | None
    succeeded: datetime | None


class ImportOut(BaseModel):
    imported: bool
    outcome: list[str]


def _job(job_id: str, cron: str | None, next_fire: datetime | None, run: ScheduleRun | None) -> JobOut:
    return JobOut(id=job_id, cron=cron, next_fire=next_fire, started=run.started if run else None,
                  finished=run.finished if run else None, outcome=run.outcome if run else None,
                  succeeded=run.succeeded if run else None)


def add_source_api(api: Api) -> None:
    config, sessions, clock, operator = api.config, api.sessions, api.clock, api.operator
    names = Literal.__getitem__(tuple(source.name for source in config.sources) or ("",))

    @api.route("GET", "/schedules", summary="Every scheduled job (sources, digests, feeds, bounces) and its last run")
    def list_schedules(_who: Operator = Depends(operator)) -> list[JobOut]:
        with sessions() as session:
            sources, jobs = source_views(session, config, clock())
        return [*(_job(f"source:{v.source.name}", v.source.cron, v.next_fire, v.run) for v in sources),
                *(_job(j.id, j.cron, j.next_fire, j.run) for j in jobs)]

    @api.route("POST", "/sources/{name}/import", summary="Import a configured source now")
    def import_now(name: names = FastPath(), who: Operator = Depends(operator)) -> ImportOut:  # type: ignore[valid-type]
        try:
            return ImportOut(imported=True, outcome=controls.import_now(sessions, config, who.email, name, clock()))
        except PublisherError as exc:
            return ImportOut(imported=False, outcome=[f"failed: {exc}"])
