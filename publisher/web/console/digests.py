"""Digests in the console: what each would send next and to whom (each reader variant as a
preview), a test copy, send now, pause and resume, and each edition's report with every
recipient's outcome (and as CSV)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import Depends, FastAPI, Form, Query, Request
from fastapi import Path as FastPath
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session, sessionmaker

from publisher.config import Config, Digest
from publisher.digest.editions import Plan, plan_edition
from publisher.digest.report import edition_counts, existing_report
from publisher.errors import InvalidValue
from publisher.jobs import controls
from publisher.jobs.disclosures import disclosed
from publisher.jobs.samples import PREVIEW_ADDRESS, sample_message
from publisher.languages import LANGUAGES, NAMES
from publisher.mail.message import personalize
from publisher.mail.transport import Transport
from publisher.run.schedules import schedules
from publisher.store.digests import FILE, digest_named, in_effect, stored_rows
from publisher.store.editions import recent_editions
from publisher.store.models import DigestPause
from publisher.store.pauses import pauses
from publisher.store.statuses import EditionStatus
from publisher.web.console.guard import Guard, Operator
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
    editions: list[dict[str, Any]]  # the newest, with their deliveries by status
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
                     "counts": edition_counts(session, e)}
                    for e in recent_editions(session, digest.name, 10)]
        views.append(DigestView(digest, paused.get(digest.name), next(iter(schedule.next_fire_times(now, 1)), None),
                                plan_edition(session, digest, now), editions, schedule.in_words,
                                row.origin == FILE, row.changed_by))
    return views


def add_digest_pages(app: FastAPI, config: Config, sessions: sessionmaker[Session], guard: Guard,
                     clock: Callable[[], datetime], transport: Transport | None) -> None:
    def digest_of(name: str) -> Digest:
        with sessions() as session:
            return digest_named(session, name, retired=True)  # (a retired one's editions stay)

    def show(request: Request, operator: Operator, *, done: str = "", error: str = "",
             status: int = 200) -> HTMLResponse:
        page = ConsolePage(request, config, operator)
        with sessions() as session:
            views = digest_views(session, config, clock())
        return page.render("digests.html", status, title=page._("Digests"), views=views, done=done,
                           error=error, names=NAMES, languages_all=LANGUAGES)

    @app.get(DIGESTS, response_class=HTMLResponse, include_in_schema=False)
    def digest_list(request: Request, done: str = Query("", max_length=200),
                    operator: Operator = Depends(guard.operator)) -> HTMLResponse:
        return show(request, operator, done=done)

    @app.get(DIGESTS + "/{name}/preview", response_class=HTMLResponse, include_in_schema=False)
    def preview(request: Request, name: str = Name, countries: str = Query("", max_length=200),
                language: str = Query("en", max_length=20), _operator: Operator = Depends(guard.operator),
                ) -> Response:
        digest_of(name)
        sample = sample_message(sessions, config, name, PREVIEW_ADDRESS, clock(), countries=countries.split(),
                                language=language)
        if sample is None:
            page = ConsolePage(request, config, _operator)
            return page.message(page._("Nothing to preview"), page._("Nothing is new for these readers."))
        html = personalize(sample.variant.html, sample.recipient, escape=True)
        return HTMLResponse(html, headers=NO_STORE)

    @app.post(DIGESTS + "/{name}/test", include_in_schema=False)
    def test_copy(request: Request, name: str = Name, address: str = Form(..., max_length=320),
                  countries: str = Form("", max_length=200), language: str = Form("en", max_length=20),
                  operator: Operator = Depends(guard.form_operator)) -> Response:
        page = ConsolePage(request, config, operator)
        digest_of(name)
        try:
            reply = controls.test_copy(sessions, config, operator.email, name, address, countries.split(),
                                       language, clock(), transport)
        except InvalidValue as exc:
            return show(request, operator, error=str(exc), status=400)
        except controls.NotSent as exc:
            return show(request, operator, error=str(exc), status=502)
        if reply is None:
            return page.redirect(DIGESTS, done="nothing")
        return page.redirect(DIGESTS, done="test")

    @app.post(DIGESTS + "/{name}/send", include_in_schema=False)
    def send_now(request: Request, name: str = Name, operator: Operator = Depends(guard.form_operator)) -> Response:
        page = ConsolePage(request, config, operator)
        digest_of(name)
        edition = controls.send_now(sessions, config, operator.email, name, clock())
        if edition is None:
            return page.redirect(DIGESTS, done="nothing")
        controls.send_in_background(sessions, config, edition, transport)
        return page.redirect(f"{DIGESTS}/{name}/editions/{edition.number}", done="sending")

    @app.post(DIGESTS + "/{name}/pause", include_in_schema=False)
    def pause(request: Request, name: str = Name, operator: Operator = Depends(guard.form_operator)) -> Response:
        digest_of(name)
        controls.pause(sessions, config, operator.email, name, clock())
        return ConsolePage(request, config, operator).redirect(DIGESTS, done="paused")

    @app.post(DIGESTS + "/{name}/resume", include_in_schema=False)
    def resume(request: Request, name: str = Name, operator: Operator = Depends(guard.form_operator)) -> Response:
        digest_of(name)
        controls.resume(sessions, config, operator.email, name, clock())
        return ConsolePage(request, config, operator).redirect(DIGESTS, done="resumed")

    @app.get(DIGESTS + "/{name}/editions/{number}", response_class=HTMLResponse, include_in_schema=False)
    def report(request: Request, name: str = Name, number: int = Number, done: str = Query("", max_length=20),
               operator: Operator = Depends(guard.operator)) -> HTMLResponse:
        page = ConsolePage(request, config, operator)
        with sessions() as session:
            found = existing_report(session, digest_of(name).name, number)
            # While it is sent the page reloads itself: what it shows is the edition's state now.
            sending = found.edition.status == EditionStatus.SENDING
            shown = page.render("edition.html", title=f"{name} {number}", report=found, done=done,
                                counts=edition_counts(session, found.edition), refresh=5 if sending else 0)
        disclosed(sessions, operator.email, "edition.report", f"{name} {number}", clock(), len(found.outcomes))
        return shown

    @app.get(DIGESTS + "/{name}/editions/{number}/report.csv", include_in_schema=False)
    def report_csv(name: str = Name, number: int = Number, operator: Operator = Depends(guard.operator)) -> Response:
        with sessions() as session:
            found = existing_report(session, digest_of(name).name, number)
            text = found.csv()
        disclosed(sessions, operator.email, "edition.report.csv", f"{name} {number}", clock(), len(found.outcomes))
        return Response(text.encode("utf-8"), media_type="text/csv; charset=utf-8", headers={
            **NO_STORE, "Content-Disposition": f'attachment; filename="{name}-{number}.csv"'})
