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
from publisher.jobs import releases as changes
from publisher.store.models import Release
from publisher.store.paging import ESCAPE, containing, page_count, paged
from publisher.urls import release_url
from publisher.web.console.guard import Guard, Operator
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
    return operator_entry(config, **{**form, "published": published}, where="the form")


def release_fields(title: str = Form("", max_length=1000), published: str = Form("", max_length=40),
                   summary: str = Form("", max_length=20_000), url: str = Form("", max_length=2000),
                   countries: list[str] = Form(default=[]), image_url: str = Form("", max_length=2000),
                   image_credit: str = Form("", max_length=1000)) -> dict[str, Any]:
    """The release form's fields (a route's dependency), as the operator typed them."""
    return {"title": title, "published": published, "summary": summary, "url": url,
            "countries": countries, "image_url": image_url, "image_credit": image_credit}


def add_release_pages(app: FastAPI, config: Config, sessions: sessionmaker[Session], guard: Guard,
                      clock: Callable[[], datetime]) -> None:
    zone = config.site.zone

    def form_page(page: ConsolePage, values: dict[str, Any], *, action: str, title: str,
                  error: str = "", release: Release | None = None, status: int = 200,
                  done: str = "") -> HTMLResponse:
        countries = page.country_choices(config.countries)
        return page.render("release_form.html", status, title=title, values=values, error=error,
                           action=action, countries=countries, release=release, done=done,
                           page_url=release_url(config, release.slug) if release else "")

    def blank() -> dict[str, Any]:
        return {"title": "", "published": clock().astimezone(zone).strftime("%Y-%m-%dT%H:%M"), "summary": "",
                "url": "", "countries": [], "image_url": "", "image_credit": ""}

    def shown(release: Release) -> dict[str, Any]:
        values = release_values(release)
        values["published"] = release.published.astimezone(zone).strftime("%Y-%m-%dT%H:%M")
        values["url"] = "" if values["url"] == release_url(config, release.slug) else values["url"]
        return {key: value or ("" if key != "countries" else []) for key, value in values.items()}

    @app.get(RELEASES, response_class=HTMLResponse, include_in_schema=False)
    def release_list(request: Request, q: str = Query("", max_length=200),
                     page_number: int = Query(1, alias="page", ge=1, le=100_000),
                     operator: Operator = Depends(guard.operator)) -> HTMLResponse:
        page = ConsolePage(request, config, operator)
        with sessions() as session:
            found, total = search(session, q.strip(), page_number)
            rows = [{"id": r.id, "title": r.title, "published": r.published.astimezone(zone),
                     "countries": r.country_codes, "withdrawn": r.withdrawn, "source": r.source} for r in found]
        return page.render("releases.html", title=page._("Releases"), rows=rows, q=q, total=total,
                           page_number=page_number, pages=page_count(total, PER_PAGE))

    @app.get(f"{RELEASES}/new", response_class=HTMLResponse, include_in_schema=False)
    def new_release(request: Request, operator: Operator = Depends(guard.operator)) -> HTMLResponse:
        page = ConsolePage(request, config, operator)
        return form_page(page, blank(), action=page.link(f"{RELEASES}/new"), title=page._("Add a release"))

    @app.post(f"{RELEASES}/new", include_in_schema=False)
    def add_release(request: Request, values: dict[str, Any] = Depends(release_fields),
                    operator: Operator = Depends(guard.form_operator)) -> Response:
        page = ConsolePage(request, config, operator)
        try:
            changed = changes.add(sessions, config, operator.email, entry_from_form(config, values), clock())
        except InvalidValue as exc:
            return form_page(page, values, action=page.link(f"{RELEASES}/new"), title=page._("Add a release"),
                             error=str(exc), status=400)
        return page.redirect(f"{RELEASES}/{changed.release_id}", done="added")

    @app.get(RELEASES + "/{release_id}", response_class=HTMLResponse, include_in_schema=False)
    def release_form(request: Request, release_id: int = FastPath(..., ge=1, le=2**31 - 1),
                     done: str = Query("", max_length=20),
                     operator: Operator = Depends(guard.operator)) -> HTMLResponse:
        page = ConsolePage(request, config, operator)
        with sessions() as session:
            release = existing_release(session, release_id)
            return form_page(page, shown(release), action=page.link(f"{RELEASES}/{release_id}"),
                             title=release.title, release=release, done=done)

    @app.post(RELEASES + "/{release_id}", include_in_schema=False)
    def edit_release(request: Request, release_id: int = FastPath(..., ge=1, le=2**31 - 1),
                     values: dict[str, Any] = Depends(release_fields),
                     operator: Operator = Depends(guard.form_operator)) -> Response:
        page = ConsolePage(request, config, operator)
        try:
            changes.edit(sessions, config, operator.email, release_id, entry_from_form(config, values), clock())
        except InvalidValue as exc:
            with sessions() as session:
                release = existing_release(session, release_id)
                return form_page(page, values, action=page.link(f"{RELEASES}/{release_id}"), title=release.title,
                                 error=str(exc), release=release, status=400)
        return page.redirect(f"{RELEASES}/{release_id}", done="saved")

    @app.post(RELEASES + "/{release_id}/withdraw", include_in_schema=False)
    def withdraw_release(request: Request, release_id: int = FastPath(..., ge=1, le=2**31 - 1),
                         operator: Operator = Depends(guard.form_operator)) -> Response:
        page = ConsolePage(request, config, operator)
        changes.withdraw(sessions, config, operator.email, release_id, clock())
        return page.redirect(f"{RELEASES}/{release_id}", done="withdrawn")

    @app.post(RELEASES + "/{release_id}/restore", include_in_schema=False)
    def restore_release(request: Request, release_id: int = FastPath(..., ge=1, le=2**31 - 1),
                        operator: Operator = Depends(guard.form_operator)) -> Response:
        page = ConsolePage(request, config, operator)
        changes.restore(sessions, config, operator.email, release_id, clock())
        return page.redirect(f"{RELEASES}/{release_id}", done="restored")
