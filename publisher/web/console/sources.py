"""Sources and schedules in the console: the sources in effect, when each job ran and what it
did; a source imported now (its settings: source_forms.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from fastapi import Depends, FastAPI, Query, Request
from fastapi import Path as FastPath
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session, sessionmaker

from publisher.config import Config, Source
from publisher.errors import NotFound, PublisherError
from publisher.jobs import controls
from publisher.run.schedules import schedules
from publisher.store.effect import in_effect
from publisher.store.models import ScheduleRun, SourceState
from publisher.store.runs import last_run
from publisher.web.console.guard import Guard, Operator
from publisher.web.console.views import ADMIN, ConsolePage

SOURCES = f"{ADMIN}/sources"


@dataclass(frozen=True)
class SourceView:
    source: Source
    run: ScheduleRun | None  # its schedule's last run
    fetched: SourceState | None  # its last successful fetch (http(s))
    next_fire: datetime | None


@dataclass(frozen=True)
class JobView:
    id: str
    cron: str
    zone: str
    run: ScheduleRun | None
    next_fire: datetime | None


def source_views(session: Session, config: Config, now: datetime) -> tuple[list[SourceView], list[JobView]]:
    effective = in_effect(session, config)
    by_id = {schedule.id: schedule for schedule in schedules(effective)}
    sources = []
    for source in effective.sources:
        schedule = by_id.get(f"source:{source.name}")
        fire = next(iter(schedule.next_fire_times(now, 1)), None) if schedule else None
        sources.append(SourceView(source, last_run(session, f"source:{source.name}"),
                                  session.get(SourceState, source.name), fire))
    jobs = [JobView(schedule.id, schedule.cron, schedule.zone.key, last_run(session, schedule.id),
                    next(iter(schedule.next_fire_times(now, 1)), None))
            for schedule in by_id.values() if schedule.kind != "source"]
    return sources, jobs


def add_source_pages(app: FastAPI, config: Config, sessions: sessionmaker[Session], guard: Guard,
                     clock: Callable[[], datetime]) -> None:
    @app.get(SOURCES, response_class=HTMLResponse, include_in_schema=False)
    def source_list(request: Request, done: str = Query("", max_length=1000), error: str = Query("", max_length=1000),
                    operator: Operator = Depends(guard.operator)) -> HTMLResponse:
        page = ConsolePage(request, config, operator)
        with sessions() as session:
            sources, jobs = source_views(session, config, clock())
        return page.render("sources.html", title=page._("Sources and schedules"), sources=sources, jobs=jobs,
                           done=done, error=error)

    @app.post(SOURCES + "/{name}/import", include_in_schema=False)
    def import_now(request: Request, name: str = FastPath(..., max_length=200),
                   operator: Operator = Depends(guard.form_operator)) -> Response:
        page = ConsolePage(request, config, operator)
        try:
            lines = controls.import_now(sessions, config, operator.email, name, clock())
        except NotFound:
            raise
        except PublisherError as exc:  # the import failed: its cause, on the page
            return page.redirect(SOURCES, error=f"{name}: {exc}"[:1000])
        return page.redirect(SOURCES, done=f"{name}: {'; '.join(lines)}"[:1000])
