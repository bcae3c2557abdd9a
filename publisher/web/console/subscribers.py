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
from publisher.web.console.guard import Operator, signed_in, signed_in_form
from publisher.web.console.views import ADMIN, NO_STORE, ConsolePage

SUBSCRIBERS = f"{ADMIN}/subscribers"
PER_PAGE = 50


def search(session: Session, words: str, status: str, country: str, page: int) -> tuple[list[Subscriber], int]:
    query = subscriber_query(SubscriberStatus(status) if status in STATUSES else None, country or None, words)
    return paged(session, query, page, PER_PAGE)


SubscriberId = FastPath(..., ge=1, le=2**31 - 1)


class SubscriberPages:
    """The subscribers list (search, add, import, export) and each subscriber's page."""

    def __init__(self, config: Config, sessions: sessionmaker[Session], clock: Callable[[], datetime]) -> None:
        self.config, self.sessions, self.clock = config, sessions, clock

    def add_to(self, app: FastAPI) -> None:
        get: dict[str, Any] = {"methods": ["GET"], "response_class": HTMLResponse, "include_in_schema": False}
        post: dict[str, Any] = {"methods": ["POST"], "include_in_schema": False}
        app.add_api_route(SUBSCRIBERS, self.subscriber_list, **get)
        app.add_api_route(SUBSCRIBERS, self.add_subscriber, **post)
        app.add_api_route(f"{SUBSCRIBERS}/export.csv", self.export, methods=["GET"], include_in_schema=False)
        app.add_api_route(f"{SUBSCRIBERS}/import", self.import_csv, **post)
        app.add_api_route(SUBSCRIBERS + "/{subscriber_id}", self.subscriber_page, **get)
        app.add_api_route(SUBSCRIBERS + "/{subscriber_id}", self.change_subscriber, **post)
        app.add_api_route(SUBSCRIBERS + "/{subscriber_id}/unsubscribe", self.unsubscribe, **post)

    def choices(self, page: ConsolePage) -> dict[str, Any]:
        return {"countries": page.country_choices(self.config.countries),
                "language_choices": page.language_choices(), "statuses": STATUSES}

    def codes(self, countries: list[str]) -> list[str]:
        return [code for code in dict.fromkeys(countries) if code in self.config.country_codes]

    def listing(self, page: ConsolePage, q: str, status: str, country: str, number: int, *, error: str = "",
                done: str = "", status_code: int = 200) -> HTMLResponse:
        with self.sessions() as session:
            found, total = search(session, q.strip(), status, country, number)
            rows = [{"id": s.id, "email": s.email, "status": str(s.status), "countries": s.country_codes,
                     "language": s.language} for s in found]
        if page.operator is not None:
            disclosed(self.sessions, page.operator.email, "subscribers.list", listed(q, status, country, number),
                      self.clock(), len(rows))
        imported = done.split(":")[1:] if done.startswith("imported:") else []
        return page.render("subscribers.html", status_code, title=page._("Subscribers"), rows=rows, q=q,
                           chosen_status=status, country=country, total=total, page_number=number,
                           pages=page_count(total, PER_PAGE), error=error, imported=imported, **self.choices(page))

    def subscriber_list(self, request: Request, q: str = Query("", max_length=320),
                        status: str = Query("", max_length=20), country: str = Query("", max_length=2),
                        number: int = Query(1, alias="page", ge=1, le=100_000), done: str = Query("", max_length=80),
                        operator: Operator = Depends(signed_in)) -> HTMLResponse:
        return self.listing(ConsolePage(request, self.config, operator), q, status, country, number, done=done)

    def add_subscriber(self, request: Request, email: str = Form("", max_length=320),
                       countries: list[str] = Form(default=[]), language: str = Form("en", max_length=20),
                       pending: bool = Form(False), operator: Operator = Depends(signed_in_form)) -> Response:
        page = ConsolePage(request, self.config, operator)
        try:
            chosen = self.codes(countries)
            if not chosen:
                raise InvalidValue("countries: choose at least one country")
            row = SubscriberRow(normalize_email(email), tuple(chosen),
                                SubscriberStatus.PENDING if pending else None, language=supported(language) or "en")
            subscriber_id = changes.add(self.sessions, operator.email, row, self.clock())
        except InvalidValue as exc:
            return self.listing(page, "", "", "", 1, error=str(exc), status_code=400)
        return page.redirect(f"{SUBSCRIBERS}/{subscriber_id}", done="added")

    def export(self, operator: Operator = Depends(signed_in)) -> Response:
        text = changes.export(self.sessions, operator.email, self.clock())
        return Response(text.encode("utf-8"), media_type="text/csv; charset=utf-8",
                        headers={**NO_STORE, "Content-Disposition": 'attachment; filename="subscribers.csv"'})

    def import_csv(self, request: Request, file: UploadFile = File(...),
                   operator: Operator = Depends(signed_in_form)) -> Response:
        page = ConsolePage(request, self.config, operator)
        name = (file.filename or "upload.csv")[:200]
        try:
            counts = changes.import_csv(self.sessions, self.config, operator.email,
                                        file.file.read(changes.MAX_CSV + 1), name, self.clock())
        except (InvalidValue, InputError) as exc:
            return self.listing(page, "", "", "", 1, error=str(exc), status_code=400)
        return page.redirect(SUBSCRIBERS, done=f"imported:{counts.new}:{counts.updated}:{counts.unchanged}")

    def subscriber_page(self, request: Request, subscriber_id: int = SubscriberId,
                        done: str = Query("", max_length=20), operator: Operator = Depends(signed_in)) -> HTMLResponse:
        page = ConsolePage(request, self.config, operator)
        with self.sessions() as session:
            subscriber = changes.existing_subscriber(session, subscriber_id)
            found = history(session, subscriber.email)
            shown = page.render("subscriber.html", title=subscriber.email, subscriber=subscriber,
                                chosen=subscriber.country_codes, events=found[1] if found else [], done=done,
                                digests=changes.digest_names(self.sessions, self.config),
                                chosen_digests=subscriber.digest_names, **self.choices(page))
        disclosed(self.sessions, operator.email, "subscriber.view", subscriber.email, self.clock(), 1)
        return shown

    def change_subscriber(self, request: Request, subscriber_id: int = SubscriberId,
                          countries: list[str] = Form(default=[]), language: str = Form("en", max_length=20),
                          digests: list[str] = Form(default=[]),
                          operator: Operator = Depends(signed_in_form)) -> Response:
        page = ConsolePage(request, self.config, operator)
        known = changes.digest_names(self.sessions, self.config)
        chosen = [name for name in dict.fromkeys(digests) if name in known]
        changes.change(self.sessions, operator.email, subscriber_id, self.codes(countries),
                       supported(language) or "en", self.clock(), chosen)
        return page.redirect(f"{SUBSCRIBERS}/{subscriber_id}", done="saved")

    def unsubscribe(self, request: Request, subscriber_id: int = SubscriberId,
                    operator: Operator = Depends(signed_in_form)) -> Response:
        page = ConsolePage(request, self.config, operator)
        changes.unsubscribe(self.sessions, operator.email, subscriber_id, self.clock())
        return page.redirect(f"{SUBSCRIBERS}/{subscriber_id}", done="unsubscribed")


def listed(q: str, status: str, country: str, number: int) -> str:
    """Which list of subscribers was shown, in words, for the audit log."""
    chosen = [f"{name} {value!r}" for name, value in (("search", q.strip()), ("status", status),
                                                        ("country", country)) if value]
    return f"page {number}" + (f" of {', '.join(chosen)}" if chosen else "")
