"""The news page, like the office's own "News and press releases": `/` lists the releases
newest first, grouped by year, twenty a page; `/countries/cn/` those of one country; `?q=`
those holding the words typed, in any script and case. Beside them: the feeds, subscribing,
the digests' archive."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby

from fastapi import FastAPI, Query, Request
from fastapi import Path as FastPath
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session, sessionmaker

from publisher.config import Config
from publisher.i18n import country_names
from publisher.store.models import Release
from publisher.store.paging import page_count
from publisher.store.releases import news
from publisher.urls import DIGESTS_PATH, RELEASE_PATH, SUBSCRIBE_PATH, feed_url
from publisher.web.pages import Page

PER_PAGE = 20
COUNTRY_PATH = "/countries/{code}/"


@dataclass(frozen=True)
class Item:
    title: str
    link: str
    date: str
    summary: str  # its first paragraph
    category: str | None
    credit: str | None
    countries: str


class NewsPages:
    def __init__(self, config: Config, sessions: sessionmaker[Session]) -> None:
        self.config, self.sessions = config, sessions

    def add_to(self, app: FastAPI) -> None:
        app.add_api_route("/", self.everything, methods=["GET"], response_class=HTMLResponse,
                          summary="The news: every release, newest first, paged, searchable (?q=)")
        app.add_api_route(COUNTRY_PATH, self.of_country, methods=["GET"], response_class=HTMLResponse,
                          summary="The news of one country (a code such as cn)")

    def everything(self, request: Request, q: str = Query("", max_length=200),
                   page: int = Query(1, ge=1, le=100_000)) -> HTMLResponse:
        return self._page(Page(request, self.config.site), None, q, page)

    def of_country(self, request: Request, code: str = FastPath(..., max_length=8),
                   q: str = Query("", max_length=200), page: int = Query(1, ge=1, le=100_000)) -> HTMLResponse:
        shown = Page(request, self.config.site)
        if code.upper() not in self.config.country_codes:
            return shown.message(shown._("Not found"), shown._("There is no such country here."), 404)
        return self._page(shown, code.upper(), q, page)

    def _page(self, page: Page, country: str | None, words: str, number: int) -> HTMLResponse:
        with self.sessions() as session:
            releases, total = news(session, country, words, number, PER_PAGE)
            items = [(release.published.astimezone(self.config.site.zone).year, self._item(page, release))
                     for release in releases]
        here = COUNTRY_PATH.format(code=country.lower()) if country else "/"
        query = {"q": words} if words.strip() else {}
        pages = page_count(total, PER_PAGE)
        title = self._countries([country], page) if country else page._("News and press releases")
        return page.render(
            "news.html", 404 if number > pages else 200, title=title, words=words, total=total,
            years=[(year, [item for _, item in group]) for year, group in groupby(items, key=lambda pair: pair[0])],
            newer=page.link(here, **query, page=str(number - 1)) if number > 1 else "",
            older=page.link(here, **query, page=str(number + 1)) if number < pages else "",
            number=number, pages=pages, here=here, asked=page.asked,
            countries=[{"name": self._countries([c.code], page), "link": page.link(COUNTRY_PATH.format(
                code=c.code.lower())), "current": c.code == country} for c in self.config.countries],
            everything=page.link("/"), feeds=page.link("/feeds/"), subscribe=page.link(SUBSCRIBE_PATH),
            archive=page.link(DIGESTS_PATH),
            feed=feed_url(self.config.site, self.config.feeds, f"{country.lower() if country else 'all'}/atom.xml"))

    def _item(self, page: Page, release: Release) -> Item:
        first = release.published.astimezone(self.config.site.zone).date()
        codes = [code for code in release.country_codes if code in self.config.country_codes]
        return Item(release.title, page.link(RELEASE_PATH.format(slug=release.slug)),
                    page.texts.event(first, release.ends), release.summary.split("\n\n")[0],
                    release.category, release.image_credit, self._countries(codes, page))

    def _countries(self, codes: list[str], page: Page) -> str:
        return country_names(self.config.countries, codes, page.texts)
