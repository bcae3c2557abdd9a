"""Building the feeds: every file the store's releases now call for, written where it is served."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from publisher.config import Config
from publisher.feeds.build import BuildReport, build_feeds
from publisher.feeds.targets import FeedConfig


def rebuild_feeds(sessions: sessionmaker[Session], config: Config, *, ping: bool = True) -> BuildReport:
    """The feeds, archives and pages that differ from what the store says, written to the folder,
    the store (and the bucket); the WebSub hub told of changed feeds unless `ping` is False."""
    return build_feeds(sessions, FeedConfig.of(config), ping=ping)
