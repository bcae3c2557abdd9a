"""The built feed files over HTTP: types, validators, 304s, gzip, HEAD; `/` is their index."""

from __future__ import annotations

from email.utils import parsedate_to_datetime
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi import Path as FastPath

from publisher.config import Config
from publisher.web.files import FeedFiles, ServedFile


def add_feed_routes(app: FastAPI, config: Config) -> None:
    files = FeedFiles(Path(config.feeds.dir))
    max_age = int(config.web.cache_max_age.total_seconds())

    # HEAD first in the decorators, so GET is the route registered first: a 405 then names
    # both (Starlette's GET routes answer HEAD too).
    @app.head("/feeds/{path:path}", response_class=Response, operation_id="feed_file_head",
              summary="The headers of a built feed file")
    @app.get("/feeds/{path:path}", response_class=Response, operation_id="feed_file",
             summary="A built feed file (Atom, RSS, JSON Feed, OPML, index page)")
    def feed_file(request: Request, path: str = FastPath(..., max_length=300)) -> Response:
        served = files.get(path)
        if served is None:
            raise HTTPException(404, "no such feed")
        return conditional(request, served, max_age)

    @app.head("/", response_class=Response, operation_id="index_head",
              summary="The headers of the index page")
    @app.get("/", response_class=Response, operation_id="index",
             summary="The index of every feed, with autodiscovery links")
    def index(request: Request) -> Response:
        served = files.get("index.html")
        if served is None:
            raise HTTPException(404, "the feeds have not been built yet")
        return conditional(request, served, max_age)


def conditional(request: Request, served: ServedFile, max_age: int) -> Response:
    """304 when the reader's copy is current; gzip when it asks for it; HEAD without a body."""
    gzipped = accepts_gzip(request.headers.get("accept-encoding", ""))
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
