"""The ASGI app: feeds with conditional GET and gzip, release pages, digests, subscriptions,
health. Each concern adds its own routes; this module only assembles them.

`create_app(config, sessions)` builds it; `publisher.web.asgi:app` is the same app for any ASGI
server, configured from $PUBLISHER_CONFIG (or ./config.toml).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from publisher.clicks.links import LinkSigner
from publisher.clock import utc_now
from publisher.config import Config
from publisher.mail.transport import Transport
from publisher.subscribers.keys import signing_key
from publisher.subscribers.tokens import Signer
from publisher.web.accesslog import AccessLog
from publisher.web.bodies import BodyGuard
from publisher.web.clicks import ClickFront, add_click_routes
from publisher.web.console.routes import UPLOADS, add_console, before_body
from publisher.web.digests import add_digest_routes
from publisher.web.feeds import FeedFront, add_feed_routes
from publisher.web.front import Front
from publisher.web.health import add_health_route
from publisher.web.metrics import add_metrics_route
from publisher.web.news import NewsPages
from publisher.web.offload import Offload
from publisher.web.releases import add_release_routes
from publisher.web.security import add_security
from publisher.web.subscribe import add_subscription_routes


def create_app(config: Config, sessions: sessionmaker[Session],
               transport: Transport | None = None,
               clock: Callable[[], datetime] = utc_now, offload: Offload | None = None,
               access_log: bool = False) -> Front:
    """The app (web/front.py: feed files and counted links answered ahead of the FastAPI app);
    `transport` overrides the configured mail transport (confirmation mails), `clock` the time the
    handlers see (token ages, status changes, health, clicks); with an `offload`, the clicks and
    the access log are written by its process (web/offload.py), closed when the server stops."""
    app = FastAPI(title="publisher", version="1", docs_url=None, redoc_url=None)
    key = signing_key(config.secrets)
    signer = Signer(key, clock)
    links = LinkSigner(key)
    add_subscription_routes(app, config, sessions, signer, transport, clock)
    add_digest_routes(app, config, sessions)
    add_feed_routes(app, config)
    add_click_routes(app, config, links)
    add_release_routes(app, config, sessions)
    NewsPages(config, sessions).add_to(app)
    add_health_route(app, config, sessions, clock)
    guard = add_console(app, config, sessions, signer, clock, transport)
    add_metrics_route(app, config, sessions, guard)
    app.add_middleware(BodyGuard, authenticate=before_body(guard), uploads=UPLOADS)
    add_security(app, config)  # its headers on every answer, BodyGuard's too
    access = AccessLog(offload=offload) if access_log else None
    return Front(app, FeedFront(config, sessions), ClickFront(sessions, config, links, clock, offload), access,
                 closing=[offload.close] if offload else [])
