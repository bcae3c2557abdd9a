"""The built feed files over HTTP: types, validators, 304s, gzip, HEAD; `/feeds/` is their index,
in the reader's language (the built `index.html` is the same list in the site's, for a server
that has only the files).

`FeedFront` answers them, from memory (web/files.py), ahead of the app's middleware and routing
(web/front.py): a feed reader's poll costs little more than a bare ASGI app's answer. The routes below remain for
what the front does not answer (a path with no file: 404) and document the paths in the schema.
"""

from __future__ import annotations

import functools
from email.utils import parsedate_to_datetime
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi import Path as FastPath
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import Scope, Send

from publisher.config import Config
from publisher.feeds.pages import OPML_NAME, listed_feeds
from publisher.feeds.targets import FeedConfig
from publisher.i18n import country_names
from publisher.web.files import FeedFiles, Headers, ServedFile
from publisher.web.pages import Page
from publisher.web.storedfeeds import StoredFeeds

_MAX_PATH = 300


def add_feed_routes(app: FastAPI, config: Config) -> None:
    def index(request: Request) -> HTMLResponse:
        return feeds_index(Page(request, config.site), config)

    # The index first: the file route below would take "/feeds/" as an empty path.
    for path, method, operation in (("/feeds/", "GET", "index"), ("/feeds/", "HEAD", "index_head"),
                                    ("/feeds", "GET", "index_unslashed"), ("/feeds", "HEAD", "index_unslashed_head")):
        app.add_api_route(path, index, methods=[method], response_class=HTMLResponse, operation_id=operation,
                          include_in_schema=path == "/feeds/",
                          summary="The index of every feed, with autodiscovery links, in the reader's language")

    # HEAD first in the decorators, so GET is the route registered first: a 405 then names
    # both (Starlette's GET routes answer HEAD too).
    @app.head("/feeds/{path:path}", operation_id="feed_file_head",
              summary="The headers of a built feed file")
    @app.get("/feeds/{path:path}", operation_id="feed_file",
             summary="A built feed file (Atom, RSS, JSON Feed, OPML, index page)")
    def feed_file(path: str = FastPath(..., max_length=_MAX_PATH)) -> None:
        raise HTTPException(404, "no such feed")  # a file that exists, FeedFront answered


def feeds_index(page: Page, config: Config) -> HTMLResponse:
    """Each feed named in the reader's language: its country, or all of them."""
    feed_config = FeedConfig.of(config)
    countries = config.countries
    feeds = [{"name": country_names(countries, [feed.country], page.texts) if feed.country else page._("All countries"),
              "formats": feed.formats} for feed in listed_feeds(feed_config)]
    return page.render("feeds.html", title=page._("Feeds"), feeds=feeds, opml_url=feed_config.url(OPML_NAME))


class FeedFront:
    """GET and HEAD of a built file, answered from memory, ahead of the app (web/front.py): the
    files come from the store (what the last build made, on whichever machine), or, for one the
    store does not hold (built before it kept them), from the folder."""

    PREFIX = "/feeds/"

    def __init__(self, config: Config, sessions: sessionmaker[Session]) -> None:
        max_age = int(config.web.cache_max_age.total_seconds())
        self.stored = StoredFeeds(sessions, max_age)
        self.files = FeedFiles(Path(config.feeds.dir), max_age)

    async def answer(self, scope: Scope, send: Send) -> int:
        """The status of the answer given (a GET or HEAD under PREFIX); 0 when it has no file
        by that name: the app answers."""
        relative = scope["path"][len(self.PREFIX):]  # "/feeds/" itself: the app's page
        if not relative or len(relative) > _MAX_PATH:
            return 0
        if self.stored.due():
            await self.stored.fresh(relative)
        served = self._file(relative)
        if served is None:
            return 0
        status, headers, body = reply(scope, served)  # a function, not a coroutine: one a poll
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return status

    def _file(self, relative: str) -> ServedFile | None:
        served = self.stored.get(relative)
        return served if served is not None else self.files.get(relative)


_ASKED = frozenset((b"accept-encoding", b"if-none-match", b"if-modified-since"))


def reply(scope: Scope, served: ServedFile) -> tuple[int, Headers, bytes]:
    """304 when the reader's copy is current; gzip when it asks for it; HEAD without a body."""
    asked = {name: value for name, value in scope["headers"] if name in _ASKED}
    variant = served.gzipped if _gzip_asked(asked.get(b"accept-encoding", b"")) else served.plain
    if _not_modified(asked, served, variant.etag):
        return 304, variant.not_modified, b""
    return 200, variant.ok, b"" if scope["method"] == "HEAD" else variant.body


def _not_modified(asked: dict[bytes, bytes], served: ServedFile, etag: bytes) -> bool:
    if_none_match = asked.get(b"if-none-match")
    if if_none_match == etag:  # what a reader sends: the one tag it was given (no list to read)
        return True
    if if_none_match is not None:  # it wins over If-Modified-Since (RFC 9110 13.2.2)
        tags = {tag.strip().removeprefix(b"W/") for tag in if_none_match.split(b",")}
        return b"*" in tags or etag in tags or served.plain.etag in tags
    since = asked.get(b"if-modified-since")
    if since is None:
        return False
    try:
        return int(served.mtime) <= parsedate_to_datetime(since.decode("latin-1")).timestamp()
    except (TypeError, ValueError):
        return False


@functools.lru_cache(maxsize=256)  # readers send a handful of distinct values, again and again
def _gzip_asked(accept_encoding: bytes) -> bool:
    return accepts_gzip(accept_encoding.decode("latin-1"))


def accepts_gzip(accept_encoding: str) -> bool:
    """RFC 9110 12.5.3: gzip is acceptable when listed, or covered by `*`, with a q above 0."""
    weights: dict[str, float] = {}
    for item in accept_encoding.lower().split(","):
        coding, *parameters = (part.strip() for part in item.split(";"))
        weight = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        if coding:
            weights[coding] = weight
    return weights.get("gzip", weights.get("*", 0.0)) > 0
