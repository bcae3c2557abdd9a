"""The console's first page: what is scheduled, how the last editions went, which processes
are alive, when the feeds last changed, how each job last ran."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session, sessionmaker

from publisher.config import Config
from publisher.digest.status import EditionProgress, delivery_status
from publisher.feeds.files import feeds_changed
from publisher.run.schedules import schedules
from publisher.store.effect import in_effect
from publisher.store.models import Process
from publisher.store.pauses import pauses
from publisher.store.processes import recent_processes
from publisher.store.runs import last_run
from publisher.web.console.guard import Guard, Operator
from publisher.web.console.views import ADMIN, ConsolePage


@dataclass(frozen=True)
class Job:
    id: str
    cron: str
    zone: str
    next_fire: datetime | None
    last_fire: datetime | None
    last_outcome: str  # "" when it never ran
    paused: bool = False  # a paused digest: its next fire time is skipped


@dataclass(frozen=True)
class Overview:
    jobs: list[Job]
    editions: list[EditionProgress]
    processes: list[Process]
    feeds_changed: datetime | None


def overview(session: Session, config: Config, now: datetime) -> Overview:
    jobs = []
    paused = pauses(session)
    for schedule in schedules(in_effect(session, config)):
        run = last_run(session, schedule.id)
        fires = schedule.next_fire_times(now, 1)
        jobs.append(Job(schedule.id, schedule.cron, schedule.zone.key, fires[0] if fires else None,
                        run.last_fire if run else None, (run.outcome or "…") if run else "",
                        schedule.kind == "digest" and schedule.target in paused))
    changed = feeds_changed(session, Path(config.feeds.dir))
    return Overview(jobs, delivery_status(session, now, 10), recent_processes(session, now), changed)


def add_dashboard_route(app: FastAPI, config: Config, sessions: sessionmaker[Session], guard: Guard,
                        clock: Callable[[], datetime]) -> None:
    @app.get(ADMIN, response_class=HTMLResponse, include_in_schema=False)
    def dashboard(request: Request, operator: Operator = Depends(guard.operator)) -> HTMLResponse:
        page = ConsolePage(request, config, operator)
        now = clock()
        with sessions() as session:
            seen = overview(session, config, now)
        return page.render("dashboard.html", title=page._("Dashboard"), overview=seen, now=now,
                           zone=config.site.zone)
