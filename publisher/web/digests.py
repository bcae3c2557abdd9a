"""Sent editions on the web: a list, each edition as a page, and an Atom feed of them."""

from __future__ import annotations

from datetime import UTC

from fastapi import FastAPI, Query, Request
from fastapi import Path as FastPath
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session, sessionmaker

from publisher.config import Config
from publisher.dates import counted
from publisher.digest.pages import edition_page
from publisher.digest.render import EditionConfig, subject_of
from publisher.feeds.media import ATOM_TYPE
from publisher.feeds.model import FeedItem, FeedMeta
from publisher.feeds.render import render_atom
from publisher.feeds.targets import EMPTY_FEED_UPDATED
from publisher.i18n import ENGLISH, Texts
from publisher.mail.message import Recipient, personalize
from publisher.store.digests import digest_named
from publisher.store.editions import sent_edition, sent_editions
from publisher.store.models import Edition
from publisher.urls import (
    DIGEST_FEED_PATH,
    DIGESTS_PATH,
    SUBSCRIBE_PATH,
    digest_edition_path,
    digest_edition_url,
    digest_feed_url,
    site_host,
)
from publisher.web.pages import Page

_LIMIT = 100


def add_digest_routes(app: FastAPI, config: Config, sessions: sessionmaker[Session]) -> None:
    site = config.site
    # What a web reader sees where a subscriber sees their own address and links.
    @app.get(DIGESTS_PATH, response_class=HTMLResponse, summary="Every sent digest edition")
    def digest_list(request: Request) -> HTMLResponse:
        page = Page(request, site)
        with sessions() as session:
            editions = [{"link": page.link(digest_edition_path(e.digest, e.number)),
                         "subject": _subject(session, e, page.texts),
                         "sent": page.texts.day(e.completed.astimezone(site.zone).date()) if e.completed else ""}
                        for e in sent_editions(session, _LIMIT)]
        return page.render("digests.html", title=page._("Digests"), editions=editions,
                           feed_link=DIGEST_FEED_PATH, subscribe_link=page.link(SUBSCRIBE_PATH))

    @app.get(DIGESTS_PATH + "{digest}/{number}", response_class=HTMLResponse,
             summary="One sent edition: every release it carried (of `countries`, if given)")
    def digest_page(request: Request, digest: str = FastPath(..., max_length=100),
                    number: int = FastPath(..., ge=1, le=2**31 - 1),
                    countries: str = Query("", max_length=100)) -> HTMLResponse:
        page = Page(request, site)
        # What a web reader sees where a subscriber sees their own address and links.
        subscribe = config.site.base_url + page.link(SUBSCRIBE_PATH)  # (in the page's language)
        public = Recipient(address=page._("you"), message_id="", unsubscribe_url=subscribe,
                           preferences_url=subscribe)
        with sessions() as session:
            edition = sent_edition(session, digest, number)
            if edition is None:
                return page.message(page._("Not found"), page._("There is no such edition."), 404)
            html = edition_page(session, EditionConfig.of(config), digest_named(session, digest, retired=True), edition,
                                countries.split(), page.texts)
        return HTMLResponse(personalize(html, public, escape=True),
                            headers={"Content-Language": page.texts.language.replace("_", "-"),
                                     "Vary": "Accept-Language"})

    @app.get(DIGEST_FEED_PATH, summary="An Atom feed of the sent editions")
    def digest_feed() -> Response:
        with sessions() as session:
            items = [_item(config, edition) for edition in sent_editions(session, _LIMIT)]
        meta = FeedMeta(code="digests", title=f"{site.name}: digests",
                        subtitle="Every digest email, as sent", language=site.language,
                        self_url=digest_feed_url(config.site), site_url=site.home,
                        author=site.name,
                        updated=max((i.updated for i in items), default=EMPTY_FEED_UPDATED))
        return Response(render_atom(meta, items), media_type=ATOM_TYPE)


def _subject(session: Session, edition: Edition, texts: Texts) -> str:
    """The edition's subject in the reader's language (its digest's subject there, all its
    releases counted); as it was sent where that cannot be made."""
    if texts.language == ENGLISH.language or edition.first_published is None or edition.last_published is None:
        return edition.subject
    digest = digest_named(session, edition.digest, retired=True)
    return subject_of(digest, edition.release_count, edition.first_published, edition.last_published, texts)


def _item(config: Config, edition: Edition) -> FeedItem:
    completed = (edition.completed or edition.created).astimezone(UTC)
    host = site_host(config.site)
    return FeedItem(id=f"tag:{host},{edition.created:%Y-%m-%d}:digests/{edition.digest}/{edition.number}",
                    title=edition.subject,
                    link=digest_edition_url(config.site, edition.digest, edition.number),
                    published=completed, updated=completed,
                    summary=counted(edition.release_count, "release"))
