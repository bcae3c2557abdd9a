"""The outermost layer of the app: built feed files (web/feeds.py `FeedFront`) and counted links
(web/clicks.py `ClickFront`) answered from memory, ahead of Starlette's middleware and routing;
everything else answered by the app; every answer noted in the access log, when there is one
(web/accesslog.py); and at the server's stop, what they hold written, then the writing process
closed (web/offload.py).

One layer, not one per concern: each ASGI layer a request passes costs it a coroutine, and the
access log's a wrapped `send`, and a feed poll or a click is little more than that (measured with
`publisher serve`, benchmarks/web.py: a feed poll went from 0.83x a bare ASGI app's rate through
three layers to 0.95x through this one, both against a bare app then slowed by uvicorn's access
log: see the README)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

from publisher.web.accesslog import AccessLog
from publisher.web.clicks import ClickFront
from publisher.web.drains import on_shutdown
from publisher.web.feeds import FeedFront

_READS = ("GET", "HEAD")


class Front:
    def __init__(self, app: ASGIApp, feeds: FeedFront, clicks: ClickFront, access: AccessLog | None = None,
                 closing: Sequence[Callable[[], None]] = ()) -> None:
        self.app, self.feeds, self.clicks, self.access = app, feeds, clicks, access
        # At the server's stop, in this order: what the fronts and the log hold, then the rest.
        self._closing = [clicks.stop, *([access.stop] if access else []), *closing]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if scope["method"] in _READS:
                path: str = scope["path"]  # dispatched here: a coroutine of its own cost every answer one more
                status = (await self.clicks.answer(scope, send) if path.startswith(ClickFront.PREFIX) else
                          await self.feeds.answer(scope, send) if path.startswith(FeedFront.PREFIX) else 0)
                if status:
                    if self.access is not None:
                        self.access.note(scope, status)
                    return
            await self.app(scope, receive, send if self.access is None else self.access.noting(scope, send))
            return
        if scope["type"] == "lifespan":
            await self.app(scope, receive, on_shutdown(send, self._close))
            return
        await self.app(scope, receive, send)

    def _close(self) -> None:
        for close in self._closing:
            close()
