"""Releases in the console: search and list, add, edit, withdraw. Every change is audited and
rebuilds the feeds (jobs/releases.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import Depends, FastAPI, Form, Query, Request
from fastapi import Path as FastPath
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from publisher.config import Config
from publisher.errors import InvalidValue
from publisher.ingest.entry import Entry
from publisher.ingest.manual import existing_release, operator_entry, release_values
from publisher.ingest.rules import IngestConfig
from publisher.jobs import releases as changes
from publisher.store.models import Release
from publisher.store.paging import ESCAPE, containing, page_count, paged
from publisher.urls import release_url
from publisher.web.console.guard import Operator, signed_in, signed_in_form
from publisher.web.console.views import ADMIN, ConsolePage

RELEASES = f"{ADMIN}/releases"
PER_PAGE = 50


def search(session: Session, words: str, page: int) -> tuple[list[Release], int]:
    """Releases whose title holds `words` (any case), newest first, withdrawn ones too."""
    query = select(Release)
    if words:
        query = query.where(Release.title.ilike(containing(words), escape=ESCAPE))
    return paged(session, query.order_by(Release.published.desc(), Release.id.desc()), page, PER_PAGE)


def entry_from_form(config: Config, form: dict[str, Any]) -> Entry:
    """What the release form says, as an entry to check and store; InvalidValue naming the field."""
    try:
        published = datetime.fromisoformat(form["published"])
    except ValueError:
        raise InvalidValue("published: expected a date and time, such as 2026-11-28T09:30") from None
    return operator_entry(IngestConfig.of(config), **{**form, "published": published}, where="the form")


def release_fields(title: str = Form("", max_length=1000), published: str = Form("", max_length=40),
                   summary: str = Form("", max_length=20_000), url: str = Form("", max_length=2000),
                   countries: list[str] = Form(default=[]), image_url: str = Form("", max_length=2000),
                   image_credit: str = Form("", max_length=1000)) -> dict[str, Any]:
    """The release form's fields (a route's dependency), as the operator typed them."""
    return {"title": title, "published": published, "summary": summary, "url": url,
            "countries": countries, "image_url": image_url, "image_credit": image_credit}


ReleaseId = FastPath(..., ge=1, le=2**31 - 1)


class ReleasePages:
    """The releases list and the release form: add, edit, withdraw, restore."""

    def __init__(self, config: Config, sessions: sessionmaker[Session], clock: Callable[[], datetime]) -> None:
        self.config, self.sessions, self.clock, self.zone = config, sessions, clock, config.site.zone

    def add_to(self, app: FastAPI) -> None:
        get: dict[str, Any] = {"methods": ["GET"], "response_class": HTMLResponse, "include_in_schema": False}
        post: dict[str, Any] = {"methods": ["POST"], "include_in_schema": False}
        app.add_api_route(RELEASES, self.release_list, **get)
        app.add_api_route(f"{RELEASES}/new", self.new_release, **get)
        app.add_api_route(f"{RELEASES}/new", self.add_release, **post)
        app.add_api_route(RELEASES + "/{release_id}", self.release_form, **get)
        app.add_api_route(RELEASES + "/{release_id}", self.edit_release, **post)
        app.add_api_route(RELEASES + "/{release_id}/withdraw", self.withdraw_release, **post)
        app.add_api_route(RELEASES + "/{release_id}/restore", self.restore_release, **post)

    def form_page(self, page: ConsolePage, values: dict[str, Any], *, action: str, title: str,
                  error: str = "", release: Release | None = None, status: int = 200,
                  done: str = "") -> HTMLResponse:
        countries = page.country_choices(self.config.countries)
        return page.render("release_form.html", status, title=title, values=values, error=error,
                           action=action, countries=countries, release=release, done=done,
                           page_url=release_url(self.config.site, release.slug) if release else "")

    def blank(self) -> dict[str, Any]:
        return {"title": "", "published": self.clock().astimezone(self.zone).strftime("%Y-%m-%dT%H:%M"),
                "summary": "", "url": "", "countries": [], "image_url": "", "image_credit": ""}

    def shown(self, release: Release) -> dict[str, Any]:
        values = release_values(release)
        values["published"] = release.published.astimezone(self.zone).strftime("%Y-%m-%dT%H:%M")
        values["url"] = "" if values["url"] == release_url(self.config.site, release.slug) else values["url"]
        return {key: value or ("" if key != "countries" else []) for key, value in values.items()}

    def release_list(self, request: Request, q: str = Query("", max_length=200),
                     page_number: int = Query(1, alias="page", ge=1, le=100_000),
                     operator: Operator = Depends(signed_in)) -> HTMLResponse:
        page = ConsolePage(request, self.config, operator)
        with self.sessions() as session:
            found, total = search(session, q.strip(), page_number)
            rows = [{"id": r.id, "title": r.title, "published": r.published.astimezone(self.zone),
                     "countries": r.country_codes, "withdrawn": r.withdrawn, "source": r.source} for r in found]
        return page.render("releases.html", title=page._("Releases"), rows=rows, q=q, total=total,
                           page_number=page_number, pages=page_count(total, PER_PAGE))

    def new_release(self, request: Request, operator: Operator = Depends(signed_in)) -> HTMLResponse:
        page = ConsolePage(request, self.config, operator)
        return self.form_page(page, self.blank(), action=page.link(f"{RELEASES}/new"), title=page._("Add a release"))

    def add_release(self, request: Request, values: dict[str, Any] = Depends(release_fields),
                    operator: Operator = Depends(signed_in_form)) -> Response:
        page = ConsolePage(request, self.config, operator)
        try:
            changed = changes.add(self.sessions, self.config, operator.email, entry_from_form(self.config, values),
                                  self.clock())
        except InvalidValue as exc:
            return self.form_page(page, values, action=page.link(f"{RELEASES}/new"), title=page._("Add a release"),
                                  error=str(exc), status=400)
        return page.redirect(f"{RELEASES}/{changed.release_id}", done="added")

    def release_form(self, request: Request, release_id: int = ReleaseId, done: str = Query("", max_length=20),
                     operator: Operator = Depends(signed_in)) -> HTMLResponse:
        page = ConsolePage(request, self.config, operator)
        with self.sessions() as session:
            release = existing_release(session, release_id)
            return self.form_page(page, self.shown(release), action=page.link(f"{RELEASES}/{release_id}"),
                                  title=release.title, release=release, done=done)

    def edit_release(self, request: Request, release_id: int = ReleaseId,
                     values: dict[str, Any] = Depends(release_fields),
                     operator: Operator = Depends(signed_in_form)) -> Response:
        page = ConsolePage(request, self.config, operator)
        try:
            changes.edit(self.sessions, self.config, operator.email, release_id, entry_from_form(self.config, values),
                         self.clock())
        except InvalidValue as exc:
            with self.sessions() as session:
                release = existing_release(session, release_id)
                return self.form_page(page, values, action=page.link(f"{RELEASES}/{release_id}"),
                                      title=release.title, error=str(exc), release=release, status=400)
        return page.redirect(f"{RELEASES}/{release_id}", done="saved")

    def withdraw_release(self, request: Request, release_id: int = ReleaseId,
                         operator: Operator = Depends(signed_in_form)) -> Response:
        page = ConsolePage(request, self.config, operator)
        changes.withdraw(self.sessions, self.config, operator.email, release_id, self.clock())
        return page.redirect(f"{RELEASES}/{release_id}", done="withdrawn")

    def restore_release(self, request: Request, release_id: int = ReleaseId,
                        operator: Operator = Depends(signed_in_form)) -> Response:
        page = ConsolePage(request, self.config, operator)
        changes.restore(self.sessions, self.config, operator.email, release_id, self.clock())
        return page.redirect(f"{RELEASES}/{release_id}", done="restored")
