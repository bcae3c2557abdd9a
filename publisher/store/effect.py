"""The configuration in effect: config.toml's, with the digests and sources the database holds
(store/settings.py), which an operator may change while every process runs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from publisher.config import Config
from publisher.store import locks, settings
from publisher.store.digests import DIGESTS
from publisher.store.settings import Change
from publisher.store.sources import SOURCES


def in_effect(session: Session, config: Config) -> Config:
    """The config with the digests and sources in effect now."""
    return config.model_copy(update={"digests": settings.live(DIGESTS, session, config),
                                     "sources": settings.live(SOURCES, session, config)})


def file_changes(session: Session, config: Config) -> list[str]:
    """What config.toml says that the database does not yet, for the digests and sources that
    follow it: taken at the next start of any command (`follow_file`)."""
    return ([f"digest {line}" for line in settings.file_changes(DIGESTS, session, config)]
            + [f"source {line}" for line in settings.file_changes(SOURCES, session, config)])


def follow_file(session: Session, config: Config, now: datetime) -> list[Change]:
    """Make the digests and sources that follow config.toml say what it says (store/settings.py
    `follow`). Writes (and takes the start-up turn) only when something differs, as a start with
    nothing to change is the rule."""
    if not file_changes(session, config):
        return []
    locks.take_turn(session.connection(), locks.MIGRATIONS)
    session.expire_all()  # another process may have done it while this one waited
    return settings.follow(DIGESTS, session, config, now) + settings.follow(SOURCES, session, config, now)
