"""Sent editions on the web: a list, each edition as a page, and an Atom feed of them."""

from __future__ import annotations

from datetime import UTC
from urllib.parse import urlsplit

from fastapi import FastAPI
from fastapi import Path as FastPath
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from publisher.config import Config
from publisher.feeds.model import FeedItem, FeedMeta
from publisher.feeds.render import render_atom
from publisher.feeds.targets import EMPTY_FEED_UPDATED
from publisher.mail.message import Recipient, personalize
from publisher.models import Edition
from publisher.web.app import render_page

_LIMIT = 100


def add_digest_routes(app: FastAPI, config: Config, sessions: sessionmaker[Session]) -> None:
    site = config.site
    # What a web reader sees where a subscriber sees their own address and links.
    public = Recipient(address="you", message_id="",
                       unsubscribe_url=f"{site.base_url}/subscribe",
                       preferences_url=f"{site.base_url}/subscribe")

    def sent(session: Session) -> list[Edition]:
        query = (select(Edition).where(Edition.status == "complete")
                 .order_by(Edition.completed.desc(), Edition.id.desc()).limit(_LIMIT))
        return list(session.scalars(query))

    @app.get("/digests/", response_class=HTMLResponse, summary="Every sent digest edition")
    def digest_list() -> HTMLResponse:
        with sessions() as session:
            editions = [{"digest": e.digest, "number": e.number, "subject": e.subject,
                         "sent": f"{e.completed.astimezone(site.zone):%d %B %Y}" if e.completed else ""}
                        for e in sent(session)]
        return render_page("digests.html", site=site, title="Digests", editions=editions)

    @app.get("/digests/{digest}/{number}", response_class=HTMLResponse,
             summary="One sent edition, as its email showed it")
    def digest_page(digest: str = FastPath(..., max_length=100),
                    number: int = FastPath(..., ge=1, le=2**31 - 1)) -> HTMLResponse:
        with sessions() as session:
            edition = session.scalars(select(Edition).where(
                Edition.digest == digest, Edition.number == number,
                Edition.status == "complete")).first()
            if edition is None:
                return render_page("message.html", 404, site=site, title="Not found",
                                   message="There is no such edition.")
            return HTMLResponse(personalize(edition.html, public, escape=True))

    @app.get("/digests/feed.xml", summary="An Atom feed of the sent editions")
    def digest_feed() -> Response:
        with sessions() as session:
            items = [_item(config, edition) for edition in sent(session)]
        meta = FeedMeta(code="digests", title=f"{site.name}: digests",
                        subtitle="Every digest email, as sent", language=site.language,
                        self_url=f"{site.base_url}/digests/feed.xml", site_url=site.base_url,
                        author=site.name,
                        updated=max((i.updated for i in items), default=EMPTY_FEED_UPDATED))
        return Response(render_atom(meta, items), media_type="application/atom+xml")


def _item(config: Config, edition: Edition) -> FeedItem:
    host = urlsplit(config.site.base_url).hostname
    completed = (edition.completed or edition.created).astimezone(UTC)
    return FeedItem(id=f"tag:{host},{edition.created:%Y-%m-%d}:digests/{edition.digest}/{edition.number}",
                    title=edition.subject,
                    link=f"{config.site.base_url}/digests/{edition.digest}/{edition.number}",
                    published=completed, updated=completed,
                    summary=f"{edition.release_count} releases")
