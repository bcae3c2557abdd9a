"""Subscribers in the console: search, add, change countries and language, unsubscribe, import
and export CSV, and each one's history. Every change is audited (jobs/subscribers.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import Depends, FastAPI, File, Form, Query, Request, UploadFile
from fastapi import Path as FastPath
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session, sessionmaker

from publisher.config import Config
from publisher.errors import InputError, InvalidValue
from publisher.jobs import subscribers as changes
from publisher.jobs.disclosures import disclosed
from publisher.languages import supported
from publisher.store.models import Subscriber
from publisher.store.paging import page_count, paged
from publisher.store.statuses import SubscriberStatus
from publisher.subscribers.history import history
from publisher.subscribers.people import (
    STATUSES,
    SubscriberRow,
    normalize_email,
    subscriber_query,
)
from publisher.web.console.guard import Guard, Operator
from publisher.web.console.views import ADMIN, NO_STORE, ConsolePage

SUBSCRIBERS = f"{ADMIN}/subscribers"
PER_PAGE = 50


def search(session: Session, words: str, status: str, country: str, page: int) -> tuple[list[Subscriber], int]:
    query = subscriber_query(SubscriberStatus(status) if status in STATUSES else None, country or None, words)
    return paged(session, query, page, PER_PAGE)


def add_subscriber_pages(app: FastAPI, config: Config, sessions: sessionmaker[Session], guard: Guard,
                         clock: Callable[[], datetime]) -> None:
    def choices(page: ConsolePage) -> dict[str, Any]:
        return {"countries": page.country_choices(config.countries),
                "language_choices": page.language_choices(),
                "statuses": STATUSES}

    def codes(countries: list[str]) -> list[str]:
        return [code for code in dict.fromkeys(countries) if code in config.country_codes]

    def listing(page: ConsolePage, q: str, status: str, country: str, number: int, *, error: str = "",
                done: str = "", status_code: int = 200) -> HTMLResponse:
        with sessions() as session:
            found, total = search(session, q.strip(), status, country, number)
            rows = [{"id": s.id, "email": s.email, "status": str(s.status), "countries": s.country_codes,
                     "language": s.language} for s in found]
        if page.operator is not None:
            disclosed(sessions, page.operator.email, "subscribers.list", listed(q, status, country, number),
                      clock(), len(rows))
        imported = done.split(":")[1:] if done.startswith("imported:") else []
        return page.render("subscribers.html", status_code, title=page._("Subscribers"), rows=rows, q=q,
                           chosen_status=status, country=country, total=total, page_number=number,
                           pages=page_count(total, PER_PAGE), error=error, imported=imported, **choices(page))

    @app.get(SUBSCRIBERS, response_class=HTMLResponse, include_in_schema=False)
    def subscriber_list(request: Request, q: str = Query("", max_length=320), status: str = Query("", max_length=20),
                        country: str = Query("", max_length=2), number: int = Query(1, alias="page", ge=1, le=100_000),
                        done: str = Query("", max_length=80),
                        operator: Operator = Depends(guard.operator)) -> HTMLResponse:
        return listing(ConsolePage(request, config, operator), q, status, country, number, done=done)

    @app.post(SUBSCRIBERS, include_in_schema=False)
    def add_subscriber(request: Request, email: str = Form("", max_length=320),
                       countries: list[str] = Form(default=[]), language: str = Form("en", max_length=20),
                       pending: bool = Form(False), operator: Operator = Depends(guard.form_operator)) -> Response:
        page = ConsolePage(request, config, operator)
        try:
            chosen = codes(countries)
            if not chosen:
                raise InvalidValue("countries: choose at least one country")
            row = SubscriberRow(normalize_email(email), tuple(chosen),
                                SubscriberStatus.PENDING if pending else None, language=supported(language) or "en")
            subscriber_id = changes.add(sessions, operator.email, row, clock())
        except InvalidValue as exc:
            return listing(page, "", "", "", 1, error=str(exc), status_code=400)
        return page.redirect(f"{SUBSCRIBERS}/{subscriber_id}", done="added")

    @app.get(f"{SUBSCRIBERS}/export.csv", include_in_schema=False)
    def export(request: Request, operator: Operator = Depends(guard.operator)) -> Response:
        text = changes.export(sessions, operator.email, clock())
        return Response(text.encode("utf-8"), media_type="text/csv; charset=utf-8",
                        headers={**NO_STORE, "Content-Disposition": 'attachment; filename="subscribers.csv"'})

    @app.post(f"{SUBSCRIBERS}/import", include_in_schema=False)
    def import_csv(request: Request, file: UploadFile = File(...),
                         operator: Operator = Depends(guard.form_operator)) -> Response:
        page = ConsolePage(request, config, operator)
        name = (file.filename or "upload.csv")[:200]
        try:
            counts = changes.import_csv(sessions, config, operator.email, file.file.read(changes.MAX_CSV + 1),
                                        name, clock())
        except (InvalidValue, InputError) as exc:
            return listing(page, "", "", "", 1, error=str(exc), status_code=400)
        return page.redirect(SUBSCRIBERS, done=f"imported:{counts.new}:{counts.updated}:{counts.unchanged}")

    @app.get(SUBSCRIBERS + "/{subscriber_id}", response_class=HTMLResponse, include_in_schema=False)
    def subscriber_page(request: Request, subscriber_id: int = FastPath(..., ge=1, le=2**31 - 1),
                        done: str = Query("", max_length=20), operator: Operator = Depends(guard.operator),
                        ) -> HTMLResponse:
        page = ConsolePage(request, config, operator)
        with sessions() as session:
            subscriber = changes.existing_subscriber(session, subscriber_id)
            found = history(session, subscriber.email)
            events = found[1] if found else []
            shown = page.render("subscriber.html", title=subscriber.email, subscriber=subscriber,
                                chosen=subscriber.country_codes, events=events, done=done, **choices(page),
                                digests=changes.digest_names(sessions, config), chosen_digests=subscriber.digest_names)
        disclosed(sessions, operator.email, "subscriber.view", subscriber.email, clock(), 1)
        return shown

    @app.post(SUBSCRIBERS + "/{subscriber_id}", include_in_schema=False)
    def change_subscriber(request: Request, subscriber_id: int = FastPath(..., ge=1, le=2**31 - 1),
                          countries: list[str] = Form(default=[]), language: str = Form("en", max_length=20),
                          digests: list[str] = Form(default=[]),
                          operator: Operator = Depends(guard.form_operator)) -> Response:
        page = ConsolePage(request, config, operator)
        known = changes.digest_names(sessions, config)
        changes.change(sessions, operator.email, subscriber_id, codes(countries), supported(language) or "en",
                       clock(), [name for name in dict.fromkeys(digests) if name in known])
        return page.redirect(f"{SUBSCRIBERS}/{subscriber_id}", done="saved")

    @app.post(SUBSCRIBERS + "/{subscriber_id}/unsubscribe", include_in_schema=False)
    def unsubscribe(request: Request, subscriber_id: int = FastPath(..., ge=1, le=2**31 - 1),
                    operator: Operator = Depends(guard.form_operator)) -> Response:
        page = ConsolePage(request, config, operator)
        changes.unsubscribe(sessions, operator.email, subscriber_id, clock())
        return page.redirect(f"{SUBSCRIBERS}/{subscriber_id}", done="unsubscribed")


def listed(q: str, status: str, country: str, number: int) -> str:
    """Which list of subscribers was shown, in words, for the audit log."""
    chosen = [f"{name} {value!r}" for name, value in (("search", q.strip()), ("status", status),
                                                        ("country", country)) if value]
    return f"page {number}" + (f" of {', '.join(chosen)}" if chosen else "")
