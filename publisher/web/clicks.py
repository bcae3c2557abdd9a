"""Counted links, `/r/{edition}.{variant}.{link}.{nonce}.{mac}`: checked, answered with a redirect
to what the edition stored for that link (a withdrawn release's: its page, which says so), and
noted; a thread writes the noted clicks every second, and whatever is left when the server stops.

`ClickFront` answers them from memory, ahead of the app's routing, as FeedFront answers feeds:
each variant's links are read from the store once and kept for a few seconds. A link it cannot
answer (changed, made up, of an edition no longer stored) goes on to the app's page for it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi import Path as FastPath
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from publisher.clicks.links import Click, LinkSigner
from publisher.config import Config
from publisher.jobs.clicks import Noted, record_clicks
from publisher.store.clicks import variant_targets
from publisher.urls import CLICK_PATH, release_url
from publisher.web.drains import Drain, on_shutdown
from publisher.web.pages import Page

log = logging.getLogger(__name__)

_READS = ("GET", "HEAD")
_KEPT = 5.0  # seconds a variant's links are answered from memory (a withdrawal shows within it)
_MAX_KEPT = 2000  # variants kept at once
_EVERY = 1.0  # seconds between writes of the noted clicks (a kill -9 loses at most these)
_MAX_NOTED = 1_000_000  # clicks held while the store cannot take them; more are dropped, and said


@dataclass(frozen=True)
class VariantLinks:
    edition: int
    key: str | None  # the edition's click key; None: its counting has ended
    targets: dict[int, bytes]  # link number: where it leads now (its Location header)


def add_click_routes(app: FastAPI, config: Config, signer: LinkSigner) -> None:
    @app.get(CLICK_PATH + "{tail}", response_class=HTMLResponse, operation_id="counted_link",
             summary="A counted link of a digest: a redirect to where the edition's link leads")
    def counted_link(request: Request, tail: str = FastPath(..., max_length=200)) -> HTMLResponse:
        page = Page(request, config.site)  # ClickFront answered every link it could
        if signer.check(tail) is None:
            return page.message(page._("This link does not work"), page._("This link is not valid."), 400)
        return page.message(page._("Not found"), page._("There is no such edition."), 404)


class ClickRecorder:
    """Holds the noted clicks and writes them (jobs/clicks.py) every second from a thread of
    its own; what the database cannot take yet waits for the next write."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions
        self.drain: Drain[Noted] = Drain(self._record, _EVERY, "clicks")
        self.dropped = 0

    def note(self, click: Noted) -> None:
        if len(self.drain.items) >= _MAX_NOTED:
            self.dropped += 1  # said at the next write
            return
        self.drain.add(click)

    def _record(self, batch: list[Noted]) -> None:
        if self.dropped:
            log.warning("%d clicks were not counted: %d wait for the database", self.dropped, len(batch))
            self.dropped = 0
        try:
            record_clicks(self.sessions, batch)
        except Exception:  # the database is away: they wait for the next write
            log.exception("%d clicks could not be written; trying again", len(batch))
            self.drain.items.extendleft(reversed(batch))

    def stop(self) -> None:
        self.drain.stop()


class ClickFront:
    """Answers counted links ahead of the app; everything else goes on to it."""

    def __init__(self, app: ASGIApp, sessions: sessionmaker[Session], config: Config, signer: LinkSigner,
                 clock: Callable[[], datetime]) -> None:
        self.app, self.sessions, self.config, self.signer, self.clock = app, sessions, config, signer, clock
        self.recorder = ClickRecorder(sessions)
        self.kept: dict[int, tuple[float, VariantLinks | None]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(CLICK_PATH) and scope["method"] in _READS:
            click = self.signer.check(scope["path"][len(CLICK_PATH):])
            if click is not None:
                kept = self.kept.get(click.variant)
                if kept is None or time.monotonic() - kept[0] > _KEPT:  # a coroutine only when it must read
                    kept = await self._keep(click.variant)
                links = kept[1]
                if links is not None and links.edition == click.edition and click.link in links.targets:
                    self._note(scope, click, links)
                    await _redirect(send, links.targets[click.link])
                    return
        if scope["type"] == "lifespan":
            await self.app(scope, receive, on_shutdown(send, self.recorder.stop))
            return
        await self.app(scope, receive, send)

    async def _keep(self, variant_id: int) -> tuple[float, VariantLinks | None]:
        if len(self.kept) >= _MAX_KEPT:
            self.kept.clear()
        kept = self.kept[variant_id] = (time.monotonic(), await run_in_threadpool(self._load, variant_id))
        return kept

    def _load(self, variant_id: int) -> VariantLinks | None:
        with self.sessions() as session:
            found = variant_targets(session, variant_id)
        if found is None:
            return None
        # A withdrawn release's link lands on its page here, which says it was withdrawn (410).
        targets = {target.number: _location(release_url(self.config.site, target.slug)
                                            if target.withdrawn and target.slug else target.target)
                   for target in found.targets}
        return VariantLinks(found.edition, found.key, targets)

    def _note(self, scope: Scope, click: Click, links: VariantLinks) -> None:
        if links.key is None:  # counting has ended: the link still leads on
            return
        agent = b""
        for name, value in scope["headers"]:
            if name == b"user-agent":
                agent = value
                break
        self.recorder.note(Noted(self.clock().timestamp(), click.edition, click.variant, click.link, click.nonce,
                                 links.key, scope["method"], agent.decode("latin-1")))


def _location(target: str) -> bytes:
    """The address as a header carries it: an IRI's other characters percent-encoded (RFC 3987 3.1)."""
    return quote(target, safe=_URI_CHARACTERS).encode("ascii")


_URI_CHARACTERS = ":/?#[]@!$&'()*+,;=%~-._"


async def _redirect(send: Send, location: bytes) -> None:
    await send({"type": "http.response.start", "status": 302, "headers": [
        (b"location", location), (b"content-length", b"0"),
        (b"cache-control", b"no-store"), (b"referrer-policy", b"no-referrer"),
        (b"x-robots-tag", b"noindex")]})
    await send({"type": "http.response.body", "body": b""})
