"""A page per release: the link feeds give releases without a URL of their own."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi import Path as FastPath
from fastapi.responses import HTMLResponse
from markupsafe import escape
from sqlalchemy.orm import Session, sessionmaker

from publisher.config import Config
from publisher.i18n import country_names
from publisher.store.releases import release_by_slug
from publisher.urls import RELEASE_PATH
from publisher.web.pages import Page


def add_release_routes(app: FastAPI, config: Config, sessions: sessionmaker[Session]) -> None:
    @app.get(RELEASE_PATH, response_class=HTMLResponse, summary="One release as a page")
    def release_page(request: Request, slug: str = FastPath(..., max_length=120)) -> HTMLResponse:
        page = Page(request, config.site)
        with sessions() as session:
            release = release_by_slug(session, slug)
            if release is None:
                return page.message(page._("Not found"), page._("There is no release at this address."),
                                    404)
            if release.withdrawn is not None:  # links to it were handed out: say why it is gone
                return page.message(page._("Withdrawn"), page._("This release has been withdrawn."), 410)
            codes = [code for code in release.country_codes if code in config.country_codes]
            first = release.published.astimezone(config.site.zone).date()
            return page.render("release.html", release=release, date=page.texts.event(first, release.ends),
                               countries=country_names(config.countries, codes, page.texts), title=release.title,
                               picture=lead_picture(release.image_url, release.body_html))


def lead_picture(image_url: str | None, body_html: str | None) -> str | None:
    """The release's picture above its text: over https only, and not when its text shows it."""
    if not image_url or not image_url.startswith("https://"):
        return None
    return None if body_html and escape(image_url) in body_html else image_url
