"""Digests in the console: what each would send next and to whom (each reader variant as a
preview), a test copy, send now, pause and resume, and each edition's report with every
recipient's outcome (and as CSV)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import Depends, FastAPI, Form, HTTPException, Query, Request
from fastapi import Path as FastPath
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session, sessionmaker

from publisher.clicks.report import click_report, percent
from publisher.config import Config, Digest
from publisher.digest.editions import Plan, plan_edition
from publisher.digest.report import edition_counts, existing_edition, existing_report
from publisher.errors import InvalidValue
from publisher.jobs import controls
from publisher.jobs.disclosures import disclosed
from publisher.jobs.samples import PREVIEW_ADDRESS, sample_message
from publisher.languages import LANGUAGES, NAMES
from publisher.mail.transport import Transport
from publisher.run.schedules import schedules
from publisher.store.digests import FILE, digest_named, stored_rows
from publisher.store.editions import recent_editions
from publisher.store.effect import in_effect
from publisher.store.models import DigestPause
from publisher.store.pauses import pauses
from publisher.store.statuses import EditionStatus
from publisher.web.console.charts import Column, rate_trend, readers_chart
from publisher.web.console.guard import Operator, signed_in, signed_in_form
from publisher.web.console.views import ADMIN, NO_STORE, ConsolePage

DIGESTS = f"{ADMIN}/digests"
Name = FastPath(..., max_length=100)
Number = FastPath(..., ge=1, le=2**31 - 1)


@dataclass(frozen=True)
class DigestView:
    digest: Digest
    pause: DigestPause | None
    next_fire: datetime | None  # skipped while paused
    plan: Plan
    editions: list[dict[str, Any]]  # the newest, with their deliveries by status and their clicks
    when: str  # the cron line in words, in its zone
    follows_file: bool  # its settings are config.toml's (else an operator's, who changed_by says)
    changed_by: str


def digest_views(session: Session, config: Config, now: datetime) -> list[DigestView]:
    """Per digest: its schedule, pause, next fire, plan and newest editions."""
    paused = pauses(session)
    config = in_effect(session, config)
    fires = {schedule.target: schedule for schedule in schedules(config) if schedule.kind == "digest"}
    rows = {row.name: row for row in stored_rows(session)}
    views = []
    for digest in config.digests:
        schedule, row = fires[digest.name], rows[digest.name]
        editions = [{"number": e.number, "created": e.created, "status": str(e.status),
                     "counts": edition_counts(session, e), "clicks": click_report(session, e)}
                    for e in recent_editions(session, digest.name, 10)]
        views.append(DigestView(digest, paused.get(digest.name), next(iter(schedule.next_fire_times(now, 1)), None),
                                plan_edition(session, digest, now), editions, schedule.in_words,
                                row.origin == FILE, row.changed_by))
    return views


class DigestPages:
    """The digests page and what its buttons do, and each edition's report."""

    def __init__(self, config: Config, sessions: sessionmaker[Session], clock: Callable[[], datetime],
                 transport: Transport | None) -> None:
        self.config, self.sessions, self.clock, self.transport = config, sessions, clock, transport

    def add_to(self, app: FastAPI) -> None:
        get: dict[str, Any] = {"methods": ["GET"], "response_class": HTMLResponse, "include_in_schema": False}
        post: dict[str, Any] = {"methods": ["POST"], "include_in_schema": False}
        app.add_api_route(DIGESTS, self.digest_list, **get)
        app.add_api_route(DIGESTS + "/{name}/preview", self.preview, **get)
        app.add_api_route(DIGESTS + "/{name}/test", self.test_copy, **post)
        app.add_api_route(DIGESTS + "/{name}/send", self.send_now, **post)
        app.add_api_route(DIGESTS + "/{name}/pause", self.pause, **post)
        app.add_api_route(DIGESTS + "/{name}/resume", self.resume, **post)
        app.add_api_route(DIGESTS + "/{name}/editions/{number}", self.report, **get)
        app.add_api_route(DIGESTS + "/{name}/editions/{number}/clicks.csv", self.clicks_csv,
                          methods=["GET"], include_in_schema=False)
        app.add_api_route(DIGESTS + "/{name}/editions/{number}/report.csv", self.report_csv,
                          methods=["GET"], include_in_schema=False)

    def digest_of(self, name: str) -> Digest:
        with self.sessions() as session:
            return digest_named(session, name, retired=True)  # (a retired one's editions stay)

    def show(self, request: Request, operator: Operator, *, done: str = "", error: str = "",
             status: int = 200) -> HTMLResponse:
        page = ConsolePage(request, self.config, operator)
        with self.sessions() as session:
            views = digest_views(session, self.config, self.clock())
        return page.render("digests.html", status, title=page._("Digests"), views=views, done=done,
                           error=error, names=NAMES, languages_all=LANGUAGES, percent=percent,
                           trend_of=_trend)

    def digest_list(self, request: Request, done: str = Query("", max_length=200),
                    operator: Operator = Depends(signed_in)) -> HTMLResponse:
        return self.show(request, operator, done=done)

    def preview(self, request: Request, name: str = Name, countries: str = Query("", max_length=200),
                language: str = Query("en", max_length=20), operator: Operator = Depends(signed_in)) -> Response:
        self.digest_of(name)
        sample = sample_message(self.sessions, self.config, name, PREVIEW_ADDRESS, self.clock(),
                                countries=countries.split(), language=language)
        if sample is None:
            page = ConsolePage(request, self.config, operator)
            return page.message(page._("Nothing to preview"), page._("Nothing is new for these readers."))
        return HTMLResponse(sample.html(), headers=NO_STORE)

    def test_copy(self, request: Request, name: str = Name, address: str = Form(..., max_length=320),
                  countries: str = Form("", max_length=200), language: str = Form("en", max_length=20),
                  operator: Operator = Depends(signed_in_form)) -> Response:
        page = ConsolePage(request, self.config, operator)
        self.digest_of(name)
        try:
            reply = controls.test_copy(self.sessions, self.config, operator.email, name, address, countries.split(),
                                       language, self.clock(), self.transport)
        except InvalidValue as exc:
            return self.show(request, operator, error=str(exc), status=400)
        except controls.NotSent as exc:
            return self.show(request, operator, error=str(exc), status=502)
        return page.redirect(DIGESTS, done="nothing" if reply is None else "test")

    def send_now(self, request: Request, name: str = Name, operator: Operator = Depends(signed_in_form)) -> Response:
        page = ConsolePage(request, self.config, operator)
        self.digest_of(name)
        edition = controls.send_now(self.sessions, self.config, operator.email, name, self.clock())
        if edition is None:
            return page.redirect(DIGESTS, done="nothing")
        controls.send_in_background(self.sessions, self.config, edition, self.transport)
        return page.redirect(f"{DIGESTS}/{name}/editions/{edition.number}", done="sending")

    def pause(self, request: Request, name: str = Name, operator: Operator = Depends(signed_in_form)) -> Response:
        self.digest_of(name)
        controls.pause(self.sessions, self.config, operator.email, name, self.clock())
        return ConsolePage(request, self.config, operator).redirect(DIGESTS, done="paused")

    def resume(self, request: Request, name: str = Name, operator: Operator = Depends(signed_in_form)) -> Response:
        self.digest_of(name)
        controls.resume(self.sessions, self.config, operator.email, name, self.clock())
        return ConsolePage(request, self.config, operator).redirect(DIGESTS, done="resumed")

    def report(self, request: Request, name: str = Name, number: int = Number, done: str = Query("", max_length=20),
               operator: Operator = Depends(signed_in)) -> HTMLResponse:
        page = ConsolePage(request, self.config, operator)
        with self.sessions() as session:
            found = existing_report(session, self.digest_of(name).name, number)
            # While it is sent the page reloads itself: what it shows is the edition's state now.
            sending = found.edition.status == EditionStatus.SENDING
            shown = page.render("edition.html", title=f"{name} {number}", report=found, done=done,
                                counts=edition_counts(session, found.edition), refresh=5 if sending else 0,
                                clicks=click_report(session, found.edition), chart_of=readers_chart,
                                percent=percent)
        disclosed(self.sessions, operator.email, "edition.report", f"{name} {number}", self.clock(),
                  len(found.outcomes))
        return shown

    def clicks_csv(self, name: str = Name, number: int = Number, operator: Operator = Depends(signed_in)) -> Response:
        with self.sessions() as session:  # (the edition, not its recipients: none is shown)
            clicks = click_report(session, existing_edition(session, self.digest_of(name).name, number))
        if clicks is None:
            raise HTTPException(404, "this edition's links were not counted")
        return Response(clicks.csv().encode("utf-8"), media_type="text/csv; charset=utf-8", headers={
            **NO_STORE, "Content-Disposition": f'attachment; filename="{name}-{number}-clicks.csv"'})

    def report_csv(self, name: str = Name, number: int = Number, operator: Operator = Depends(signed_in)) -> Response:
        with self.sessions() as session:
            found = existing_report(session, self.digest_of(name).name, number)
            text = found.csv()
        disclosed(self.sessions, operator.email, "edition.report.csv", f"{name} {number}", self.clock(),
                  len(found.outcomes))
        return Response(text.encode("utf-8"), media_type="text/csv; charset=utf-8", headers={
            **NO_STORE, "Content-Disposition": f'attachment; filename="{name}-{number}.csv"'})


def _trend(editions: list[dict[str, Any]]) -> list[Column]:
    return rate_trend([(edition["number"], edition["clicks"].total.rate if edition["clicks"] else None)
                       for edition in editions])

