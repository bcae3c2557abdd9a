"""A page per release: the link feeds give releases without a URL of their own."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi import Path as FastPath
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session, sessionmaker

from publisher.config import Config
from publisher.dates import format_day_month_year
from publisher.store.releases import release_by_slug
from publisher.urls import RELEASE_PATH
from publisher.web.pages import render_page


def add_release_routes(app: FastAPI, config: Config, sessions: sessionmaker[Session]) -> None:
    @app.get(RELEASE_PATH, response_class=HTMLResponse, summary="One release as a page")
    def release_page(slug: str = FastPath(..., max_length=120)) -> HTMLResponse:
        with sessions() as session:
            release = release_by_slug(session, slug)
            if release is None:
                return render_page("message.html", 404, site=config.site, title="Not found",
                                   message="There is no release at this address.")
            names = [config.country(code).name for code in release.country_codes
                     if code in config.country_codes]
            return render_page("release.html", site=config.site, release=release,
                               date=format_day_month_year(
                                   release.published.astimezone(config.site.zone).date()),
                               countries=names, title=release.title)
