"""An operator's controls of a digest (console or API), each audited: pause and resume its
schedule, send its next edition now, mail a test copy."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from publisher.config import Config
from publisher.jobs.digests import queue_digest
from publisher.jobs.samples import send_test_copy
from publisher.mail.transport import Reply
from publisher.operators.audit import record
from publisher.store.models import Edition
from publisher.store.pauses import clear_pause, set_pause


def pause(sessions: sessionmaker[Session], config: Config, actor: str, name: str, now: datetime) -> None:
    config.digest(name)  # UnknownDigest for a name the config lacks
    with sessions.begin() as session:
        if set_pause(session, name, actor, now):
            record(session, actor, "digest.pause", f"digest {name}", now, after={"paused": True})


def resume(sessions: sessionmaker[Session], config: Config, actor: str, name: str, now: datetime) -> None:
    config.digest(name)
    with sessions.begin() as session:
        if clear_pause(session, name):
            record(session, actor, "digest.resume", f"digest {name}", now, before={"paused": True})


def send_now(sessions: sessionmaker[Session], config: Config, actor: str, name: str,
             now: datetime) -> Edition | None:
    """Make the next edition and queue its deliveries (the caller or the workers send them);
    None when nothing is new."""
    edition = queue_digest(sessions, config, name, now=now, period=f"manual {now.isoformat()}")
    if edition is not None:
        with sessions.begin() as session:
            record(session, actor, "digest.send", f"{name} edition {edition.number}", now,
                   after={"edition": edition.number, "releases": edition.release_count})
    return edition


def test_copy(sessions: sessionmaker[Session], config: Config, actor: str, name: str, address: str,
              countries: Sequence[str], language: str, now: datetime) -> Reply | None:
    """A test copy of the next edition as readers of `countries` in `language` get it; None
    when nothing is new for them."""
    sent = send_test_copy(sessions, config, name, address, now, countries=countries, language=language)
    with sessions.begin() as session:
        record(session, actor, "digest.test", f"digest {name} to {address}", now,
               after={"countries": list(countries), "language": language, "sent": sent is not None})
    return None if sent is None else sent[1]
