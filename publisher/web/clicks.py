"""Counted links, `/r/{edition}.{variant}.{link}.{nonce}.{mac}`: checked, answered with a redirect
to what the edition stored for that link (a withdrawn release's: its page, which says so), and
noted; a thread writes the noted clicks every second, and whatever is left when the server stops.

`ClickFront` answers them from memory, ahead of the app's routing (web/front.py), as FeedFront
answers feeds: each variant's links are read from the store once and kept for a few seconds, then
read again by one request while the others are answered with what is held. A link it cannot answer
(changed, made up, of an edition no longer stored) goes on to the app's page for it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi import Path as FastPath
from fastapi.responses import HTMLResponse
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.types import Scope, Send

from publisher.clicks.links import LinkSigner, spells_an_id
from publisher.clock import utc_now
from publisher.config import Config
from publisher.store.clicks import variant_targets
from publisher.urls import CLICK_PATH, release_url
from publisher.web.offload import Offload
from publisher.web.pages import Page
from publisher.web.recorder import ClickRecorder

log = logging.getLogger(__name__)

_KEPT = 5.0  # seconds a variant's links are answered from memory (a withdrawal shows a moment after)
_STALE = 2 * _KEPT  # older than this, requests wait for the read rather than answer with what is held
_MAX_KEPT = 2000  # variants kept at once


_Headers = tuple[tuple[bytes, bytes], ...]


@dataclass(frozen=True)
class VariantLinks:
    """A variant's links as the redirect meets them: its edition and link numbers as counted
    links spell them (digits, as str() writes them), no number made on a redirect's way."""

    edition: str
    key: str | None  # the edition's click key; None: its counting has ended
    targets: dict[str, _Headers]  # link number: the redirect's headers, to where it leads now


_Kept = tuple[float, VariantLinks | None]  # when read (time.monotonic()), what was read


def add_click_routes(app: FastAPI, config: Config, signer: LinkSigner) -> None:
    @app.get(CLICK_PATH + "{tail}", response_class=HTMLResponse, operation_id="counted_link",
             summary="A counted link of a digest: a redirect to where the edition's link leads")
    def counted_link(request: Request, tail: str = FastPath(..., max_length=200)) -> HTMLResponse:
        page = Page(request, config.site)  # ClickFront answered every link it could
        if signer.check(tail) is None:
            return page.message(page._("This link does not work"), page._("This link is not valid."), 400)
        return page.message(page._("Not found"), page._("There is no such edition."), 404)


class ClickFront:
    """Answers counted links from memory, ahead of the app (web/front.py)."""

    PREFIX = CLICK_PATH

    def __init__(self, sessions: sessionmaker[Session], config: Config, signer: LinkSigner,
                 clock: Callable[[], datetime], offload: Offload | None = None) -> None:
        self.sessions, self.config, self.signer = sessions, config, signer
        # When each click came: by the clock given (a test's), and by default time.time() itself,
        # a tenth of the cost of a datetime made and converted on every redirect.
        self._stamp: Callable[[], float] = time.time if clock is utc_now else lambda: clock().timestamp()
        self.recorder = ClickRecorder(sessions, offload)
        self._noted = self.recorder.noting()
        self.kept: dict[str, _Kept] = {}  # by the variant's number as its links spell it
        self._reading: dict[str, asyncio.Future[_Kept]] = {}  # variant: its read under way

    async def answer(self, scope: Scope, send: Send) -> int:
        """302 when the link (a GET or HEAD under PREFIX) is one it can answer; else 0: the
        app's page says what is wrong with it."""
        signed = self.signer.signed(scope["path"][len(CLICK_PATH):])
        if signed is None:
            return 0
        edition, variant, link, nonce, _ = signed
        kept = self.kept.get(variant)
        if kept is None or time.monotonic() - kept[0] > _KEPT:  # a coroutine only when it must read
            kept = await self._fresh(variant, kept)
        links = kept[1]
        # The edition and link as the variant's own (a variant not an id's digits was read as none).
        if links is None or links.edition != edition:
            return 0
        headers = links.targets.get(link)
        if headers is None:
            return 0
        if links.key is not None:  # else counting has ended: the link still leads on
            self._note(scope, edition, variant, link, nonce, links.key)
        await send({"type": "http.response.start", "status": 302, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
        return 302

    def stop(self) -> None:
        self.recorder.stop()

    async def _fresh(self, variant_id: str, kept: _Kept | None) -> _Kept:
        """What is held while it is not too old, a read started if none is under way; else
        that read's result. One read per variant at a time: a popular edition's links, due
        again, were read by every request that came while they were read."""
        reading = self._reading.get(variant_id)
        if reading is None:
            reading = self._reading[variant_id] = asyncio.ensure_future(self._read(variant_id, kept))
        if kept is not None and time.monotonic() - kept[0] <= _STALE:
            return kept
        return await asyncio.shield(reading)  # a request gone (its client) leaves the read to the others

    async def _read(self, variant_id: str, kept: _Kept | None) -> _Kept:
        self.recorder.start()  # a variant's links read: its clicks come next
        try:
            links = await run_in_threadpool(self._load, variant_id)
        except SQLAlchemyError as exc:
            if kept is None:
                raise
            log.warning("counted links: cannot read variant %s's links (%s); answering with those held",
                        variant_id, exc.__class__.__name__)
            links = kept[1]  # and read again in _KEPT seconds
        finally:
            del self._reading[variant_id]
        if len(self.kept) >= _MAX_KEPT:
            self.kept.clear()
        fresh = self.kept[variant_id] = (time.monotonic(), links)
        return fresh

    def _load(self, variant_id: str) -> VariantLinks | None:
        if not spells_an_id(variant_id):
            return None
        with self.sessions() as session:
            found = variant_targets(session, int(variant_id))
        if found is None:
            return None
        # A withdrawn release's link lands on its page here, which says it was withdrawn (410).
        targets = {str(target.number): _redirect_headers(release_url(self.config.site, target.slug)
                                                         if target.withdrawn and target.slug else target.target)
                   for target in found.targets}
        return VariantLinks(str(found.edition), found.key, targets)

    def _note(self, scope: Scope, edition: str, variant: str, link: str, nonce: str, key: str) -> None:
        agent = b""
        for name, value in scope["headers"]:
            if name == b"user-agent":
                agent = value
                break
        self._noted((self._stamp(), edition, variant, link, nonce, key, scope["method"], agent.decode("latin-1")))


def _redirect_headers(target: str) -> _Headers:
    """A redirect's headers, made once per link: the address as a header carries it, an IRI's
    other characters percent-encoded (RFC 3987 3.1)."""
    return ((b"location", quote(target, safe=_URI_CHARACTERS).encode("ascii")), (b"content-length", b"0"),
            (b"cache-control", b"no-store"), (b"referrer-policy", b"no-referrer"), (b"x-robots-tag", b"noindex"))


_URI_CHARACTERS = ":/?#[]@!$&'()*+,;=%~-._"
