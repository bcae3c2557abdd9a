"""The ASGI app: feeds with conditional GET and gzip, release pages, health.

`create_app(config, sessions)` builds it; `publisher.web.asgi:app` is the same app for any ASGI
server, configured from $PUBLISHER_CONFIG (or ./config.toml).
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi import Path as FastPath
from fastapi.responses import HTMLResponse, JSONResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from sqlalchemy import select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from publisher.config import Config, seconds
from publisher.feeds.files import STATE_NAME
from publisher.ingest.dates import format_day_month_year
from publisher.mail.transport import Transport
from publisher.models import Release
from publisher.schedules import schedules
from publisher.tokens import Signer, signing_key
from publisher.web.files import FeedFiles, ServedFile


@cache
def page_templates() -> Environment:
    return Environment(loader=PackageLoader("publisher", "templates/web"),
                       autoescape=select_autoescape(default=True), undefined=StrictUndefined)


def render_page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(page_templates().get_template(name).render(**context), status_code=status)


def create_app(config: Config, sessions: sessionmaker[Session],
               transport: Transport | None = None) -> FastAPI:
    """The app; `transport` overrides the configured mail transport (confirmation mails)."""
    from publisher.web.digests import add_digest_routes
    from publisher.web.subscribe import add_subscription_routes

    app = FastAPI(title="publisher", version="1", docs_url=None, redoc_url=None)
    add_subscription_routes(app, config, sessions, Signer(signing_key(config)), transport)
    add_digest_routes(app, config, sessions)
    files = FeedFiles(Path(config.feeds.dir))
    max_age = int(seconds(config.web.cache_max_age))

    @app.get("/feeds/{path:path}", response_class=Response, operation_id="feed_file",
             summary="A built feed file (Atom, RSS, JSON Feed, OPML, index page)")
    @app.head("/feeds/{path:path}", response_class=Response, operation_id="feed_file_head",
              summary="The headers of a built feed file")
    def feed_file(request: Request, path: str = FastPath(..., max_length=300)) -> Response:
        served = files.get(path)
        if served is None:
            raise HTTPException(404, "no such feed")
        return conditional(request, served, max_age)

    @app.get("/", response_class=Response, operation_id="index",
             summary="The index of every feed, with autodiscovery links")
    @app.head("/", response_class=Response, operation_id="index_head",
              summary="The headers of the index page")
    def index(request: Request) -> Response:
        served = files.get("index.html")
        if served is None:
            raise HTTPException(404, "the feeds have not been built yet")
        return conditional(request, served, max_age)

    @app.get("/releases/{slug}", response_class=HTMLResponse, summary="One release as a page")
    def release_page(slug: str = FastPath(..., max_length=120)) -> HTMLResponse:
        with sessions() as session:
            release = session.scalars(select(Release).where(Release.slug == slug)).first()
            if release is None:
                return render_page("message.html", 404, site=config.site, title="Not found",
                                   message="There is no release at this address.")
            names = [config.country(code).name for code in release.country_codes
                     if code in config.country_codes]
            return render_page("release.html", site=config.site, release=release,
                               date=format_day_month_year(
                                   release.published.astimezone(config.site.zone).date()),
                               countries=names, title=release.title)

    @app.get("/healthz", summary="Database reachable, last feed build, next digest")
    def health() -> JSONResponse:
        return health_report(config, sessions)

    return app


def conditional(request: Request, served: ServedFile, max_age: int) -> Response:
    """304 when the reader's copy is current; gzip when it asks for it; HEAD without a body."""
    gzipped = "gzip" in request.headers.get("accept-encoding", "").lower()
    etag = served.etag[:-1] + '-gz"' if gzipped else served.etag
    headers = {"ETag": etag, "Last-Modified": served.last_modified, "Vary": "Accept-Encoding",
               "Cache-Control": f"public, max-age={max_age}"}
    if _not_modified(request, served, etag):
        return Response(status_code=304, headers=headers)
    if gzipped:
        headers["Content-Encoding"] = "gzip"
    body = served.gzipped if gzipped else served.body
    if request.method == "HEAD":
        headers["Content-Length"] = str(len(body))
        return Response(status_code=200, headers=headers, media_type=served.content_type)
    return Response(body, headers=headers, media_type=served.content_type)


def _not_modified(request: Request, served: ServedFile, etag: str) -> bool:
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:  # it wins over If-Modified-Since (RFC 9110 13.2.2)
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or etag in tags or served.etag in tags
    since = request.headers.get("if-modified-since")
    if since is None:
        return False
    try:
        return int(served.mtime) <= parsedate_to_datetime(since).timestamp()
    except (TypeError, ValueError):
        return False


def health_report(config: Config, sessions: sessionmaker[Session]) -> JSONResponse:
    try:
        with sessions() as session:
            session.execute(text("SELECT 1"))
        database = "ok"
    except SQLAlchemyError as exc:
        database = f"unreachable: {exc.__class__.__name__}"
    state = Path(config.feeds.dir) / STATE_NAME
    built = (datetime.fromtimestamp(state.stat().st_mtime, UTC).isoformat()
             if state.exists() else None)
    now = datetime.now(UTC)
    digests = [(fires[0], s.target) for s in schedules(config) if s.kind == "digest"
               if (fires := s.next_fire_times(now, 1))]
    upcoming = min(digests, default=None)
    body = {"database": database, "feeds_built": built,
            "next_digest": {"name": upcoming[1], "at": upcoming[0].isoformat()} if upcoming else None}
    return JSONResponse(body, status_code=200 if database == "ok" else 503)
