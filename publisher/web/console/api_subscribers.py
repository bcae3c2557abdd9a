"""/api/v1/subscribers: search, add, read with history, change, unsubscribe.

(No `from __future__ import annotations`: see api_releases.py.)"""

from datetime import datetime
from typing import Literal

from fastapi import Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, create_model
from sqlalchemy.orm import Session, sessionmaker

from publisher.jobs import subscribers as changes
from publisher.jobs.disclosures import disclosed
from publisher.languages import LANGUAGES
from publisher.store.models import Subscriber
from publisher.store.statuses import SubscriberStatus
from publisher.subscribers.history import history
from publisher.subscribers.people import SubscriberRow, normalize_email, parse_digests
from publisher.web.console.api import API_V1, PER_PAGE, Api, Id, Page
from publisher.web.console.guard import Operator
from publisher.web.console.subscribers import listed, search

Language = Literal.__getitem__(LANGUAGES)


class SubscriberIn(BaseModel):
    email: str = Field(min_length=3, max_length=320)
    countries: list[str] = Field(min_length=1, max_length=50)
    language: Language = "en"  # type: ignore[valid-type]
    digests: list[str] = Field([], max_length=50, description="The digests they get; none: every digest of their "
                                                              "countries (and not a digest created later)")
    pending: bool = Field(False, description="Not confirmed yet: they receive nothing until they confirm")


class SubscriberChange(BaseModel):
    countries: list[str] | None = Field(None, min_length=1, max_length=50)
    language: Language | None = None  # type: ignore[valid-type]
    digests: list[str] | None = Field(None, max_length=50, description="[]: every digest of their countries")


class EventOut(BaseModel):
    at: datetime | None
    what: str
    detail: str


class SubscriberOut(BaseModel):
    id: int
    email: str
    status: SubscriberStatus
    status_since: datetime
    countries: list[str]
    language: str
    digests: list[str] = Field(description="The digests they chose; none: every digest of their countries")
    soft_bounces: int
    history: list[EventOut] | None = None


class ImportCounts(BaseModel):
    new: int
    updated: int
    unchanged: int


class SubscriberPage(BaseModel):
    total: int
    page: int
    per_page: int
    subscribers: list[SubscriberOut]


def _shown(subscriber: Subscriber) -> SubscriberOut:
    return SubscriberOut(id=subscriber.id, email=subscriber.email, status=subscriber.status,
                         status_since=subscriber.status_since, countries=subscriber.country_codes,
                         language=subscriber.language, digests=subscriber.digest_names,
                         soft_bounces=subscriber.soft_bounces)


def _row(body: SubscriberIn, digests: list[str]) -> SubscriberRow:
    return SubscriberRow(normalize_email(body.email), tuple(dict.fromkeys(body.countries)),
                         SubscriberStatus.PENDING if body.pending else None, language=body.language,
                         digests=parse_digests(" ".join(body.digests), digests))


def _one(sessions: sessionmaker[Session], subscriber_id: int) -> SubscriberOut:
    """A subscriber with their history."""
    with sessions() as session:
        subscriber = changes.existing_subscriber(session, subscriber_id)
        found = history(session, subscriber.email)
        events = [EventOut(at=e.at, what=e.what, detail=e.detail) for e in (found[1] if found else [])]
        return _shown(subscriber).model_copy(update={"history": events})


def add_subscriber_api(api: Api) -> None:
    codes = list[api.countries]  # type: ignore[name-defined]
    subscriber_in = create_model("SubscriberIn", __base__=SubscriberIn,
                                 countries=(codes, Field(min_length=1, max_length=50)))
    subscriber_change = create_model("SubscriberChange", __base__=SubscriberChange,
                                     countries=(codes | None, Field(None, min_length=1, max_length=50)))
    _add_many(api, subscriber_in)  # (first: /subscribers/export is not a subscriber's number)
    _add_one(api, subscriber_change)


def _add_many(api: Api, subscriber_in: type[SubscriberIn]) -> None:
    sessions, clock, operator = api.sessions, api.clock, api.operator

    @api.route("GET", "/subscribers", summary="Search subscribers (by address), in address order")
    def search_subscribers(q: str = Query("", max_length=320), status: SubscriberStatus | None = None,
                           country: api.countries | None = None,  # type: ignore[name-defined]
                           page: Page = 1, who: Operator = Depends(operator)) -> SubscriberPage:
        with sessions() as session:
            found, total = search(session, q.strip(), str(status or ""), country or "", page)
            shown = SubscriberPage(total=total, page=page, per_page=PER_PAGE, subscribers=[_shown(s) for s in found])
        disclosed(sessions, who.email, "subscribers.list", listed(q, str(status or ""), country or "", page), clock(),
                  len(shown.subscribers))
        return shown

    @api.route("POST", "/subscribers", status_code=201,
               summary="Add a subscriber (confirmed: the operator vouches for them; or pending)")
    def add_subscriber(body: subscriber_in,  # type: ignore[valid-type]
                       who: Operator = Depends(operator)) -> JSONResponse:
        subscriber_id = changes.add(sessions, who.email, _row(body, changes.digest_names(sessions, api.config)),
                                    clock())
        return JSONResponse(_one(sessions, subscriber_id).model_dump(mode="json"), 201,
                            headers={"Location": f"{API_V1}/subscribers/{subscriber_id}"})

    @api.route("GET", "/subscribers/export",
               summary="Every subscriber as CSV (email,countries,status,language,digests)",
               response_class=Response, responses={200: {"content": {"text/csv": {}}}})
    def export(who: Operator = Depends(operator)) -> Response:
        return Response(changes.export(sessions, who.email, clock()).encode("utf-8"),
                        media_type="text/csv; charset=utf-8")

    @api.route("POST", "/subscribers/import", summary="Import subscribers from a CSV body, all or nothing",
               openapi_extra={"requestBody": {"required": True, "content": {"text/csv": {"schema": {
                   "type": "string", "maxLength": changes.MAX_CSV}}}}})
    async def import_csv(request: Request, who: Operator = Depends(operator)) -> ImportCounts:
        body = await request.body()
        counts = await run_in_threadpool(changes.import_csv, sessions, api.config, who.email, body, "the body",
                                         clock())
        return ImportCounts(new=counts.new, updated=counts.updated, unchanged=counts.unchanged)


def _add_one(api: Api, subscriber_change: type[SubscriberChange]) -> None:
    sessions, clock, operator = api.sessions, api.clock, api.operator

    @api.route("GET", "/subscribers/{subscriber_id}", summary="One subscriber and their history")
    def get_subscriber(subscriber_id: Id, who: Operator = Depends(operator)) -> SubscriberOut:
        shown = _one(sessions, subscriber_id)
        disclosed(sessions, who.email, "subscriber.view", shown.email, clock(), 1)
        return shown

    @api.route("PATCH", "/subscribers/{subscriber_id}", summary="Change a subscriber's countries or language")
    def change_subscriber(subscriber_id: Id, body: subscriber_change,  # type: ignore[valid-type]
                          who: Operator = Depends(operator)) -> SubscriberOut:
        change(subscriber_id, body, who)
        return _one(sessions, subscriber_id)

    def change(subscriber_id: int, body: SubscriberChange, who: Operator) -> None:
        with sessions() as session:
            current = changes.existing_subscriber(session, subscriber_id)
            countries, language = current.country_codes, current.language
        digests = None if body.digests is None else parse_digests(" ".join(body.digests),
                                                                  changes.digest_names(sessions, api.config))
        changes.change(sessions, who.email, subscriber_id, body.countries or countries,
                       body.language or language, clock(), digests)

    @api.route("POST", "/subscribers/{subscriber_id}/unsubscribe",
               summary="Unsubscribe: no more digests, and the links mailed before stop working")
    def unsubscribe(subscriber_id: Id, who: Operator = Depends(operator)) -> SubscriberOut:
        changes.unsubscribe(sessions, who.email, subscriber_id, clock())
        return _one(sessions, subscriber_id)

