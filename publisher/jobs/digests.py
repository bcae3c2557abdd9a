"""Sending digests: the next edition queued and sent, a worker's share of an unfinished one."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from publisher.config import Config
from publisher.digest.editions import Plan, open_edition, plan_edition
from publisher.digest.message import edition_messages
from publisher.digest.prune import Pruned, prune_deliveries
from publisher.digest.render import EditionConfig
from publisher.digest.send import BATCH_PER_CONNECTION, EditionSender, EditionTotals
from publisher.errors import DigestPaused
from publisher.mail.message import load_dkim
from publisher.mail.transport import Transport, make_transport
from publisher.store.audit import record
from publisher.store.db import retrying
from publisher.store.digests import digest_named, stored_rows
from publisher.store.editions import unfinished_editions as stored_unfinished
from publisher.store.models import DigestPause, DigestStart, Edition
from publisher.store.pauses import pause_of, pauses
from publisher.subscribers.keys import signing_key

log = logging.getLogger(__name__)


def send_digest(
    sessions: sessionmaker[Session], config: Config, name: str, *, now: datetime,
    period: str | None = None, transport: Transport | None = None,
    progress: Callable[[int], None] | None = None, stop: threading.Event | None = None,
) -> EditionTotals | None:
    """Send the next edition of a digest (finishing an unfinished one first); None when there
    is nothing new. The edition and its deliveries are committed before the first message."""
    edition = queue_digest(sessions, config, name, now=now, period=period)
    if edition is None:
        return None
    return _sender(sessions, config, edition, transport, progress, stop).run()


def queue_digest(sessions: sessionmaker[Session], config: Config, name: str, *, now: datetime,
                 period: str | None = None) -> Edition | None:
    """Make the next edition and queue its deliveries, sending nothing (workers send them);
    the unfinished edition if there is one; None when there is nothing new."""
    with sessions() as session:
        digest, paused = digest_named(session, name), pause_of(session, name)
    if paused is not None:
        raise DigestPaused(f"{name} is paused (by {paused.by} since {paused.paused:%Y-%m-%d %H:%M} UTC): "
                           "resume it to send")
    try:
        with sessions.begin() as session:
            return open_edition(session, EditionConfig.of(config), digest, period or f"manual {now.isoformat()}", now)
    except IntegrityError:  # another process made this edition a moment ago: resume it
        log.info("%s: the next edition was made by another process; resuming it", name)
    with sessions.begin() as session:
        return open_edition(session, EditionConfig.of(config), digest, period or f"manual {now.isoformat()}", now)


def unfinished_editions(sessions: sessionmaker[Session], config: Config,
                        stop: threading.Event) -> list[Edition]:
    """Editions still sending, of digests nobody paused (oldest first; a digest retired while
    its edition was sent finishes that edition)."""

    def look() -> list[Edition]:
        with sessions() as session:
            paused = pauses(session)
            return stored_unfinished(session, [r.name for r in stored_rows(session) if r.name not in paused])

    return retrying(look, stop, "looking for editions to send")


def help_send(sessions: sessionmaker[Session], config: Config, edition: Edition, *,
              transport: Transport | None = None, stop: threading.Event | None = None,
              progress: Callable[[int], None] | None = None,
              batch: int = BATCH_PER_CONNECTION) -> EditionTotals:
    """A worker's share of an edition: others may be sending it too (claims keep each delivery
    to one sender)."""
    return _sender(sessions, config, edition, transport, progress, stop, batch).run()


def _sender(sessions: sessionmaker[Session], config: Config, edition: Edition,
            transport: Transport | None, progress: Callable[[int], None] | None,
            stop: threading.Event | None, batch: int = BATCH_PER_CONNECTION) -> EditionSender:
    # (a worker starting on an edition as the database restarts waits for it, as it does later)
    prepare = partial(edition_messages, sessions, EditionConfig.of(config), edition, signing_key(config.secrets),
                      load_dkim(config.mail))
    messages = retrying(prepare, stop or threading.Event(), f"{edition.digest} edition {edition.number}")
    return EditionSender(sessions, config.smtp, edition, transport or make_transport(config.smtp, config.mail.outbox),
                         messages, soft_limit=config.bounces.soft_limit, progress=progress, stop=stop, batch=batch)


def plan_digest(sessions: sessionmaker[Session], config: Config, name: str,
                now: datetime) -> tuple[Plan, DigestPause | None]:
    """What the next edition would be (for --dry-run), and the digest's pause if it is paused;
    nothing is written."""
    with sessions() as session:
        return plan_edition(session, digest_named(session, name), now), pause_of(session, name)


def start_digest(sessions: sessionmaker[Session], actor: str, name: str, day: date,
                 now: datetime) -> datetime:
    """Releases published from `day` (midnight in the digest's zone) on are news for its next
    edition; the moment that is. Audited."""
    with sessions.begin() as session:
        digest = digest_named(session, name)
        since = datetime.combine(day, time(), ZoneInfo(digest.timezone))
        session.merge(DigestStart(digest=name, since=since, set_at=now))
        record(session, actor, "digest.start", f"digest {name}", now, after={"since": since.isoformat()})
        return since


def prune_editions(sessions: sessionmaker[Session], actor: str, older_than: timedelta, now: datetime,
                   batch: int, progress: Callable[[int], None] | None = None) -> Pruned:
    """The deliveries of editions completed more than `older_than` ago deleted, in batches
    (digest/prune.py); what went, audited."""
    pruned = prune_deliveries(sessions, older_than, now, batch, progress)
    with sessions.begin() as session:
        record(session, actor, "editions.prune", f"editions completed before {(now - older_than):%Y-%m-%d}", now,
               after={"editions": pruned.editions, "deliveries": pruned.deliveries})
    return pruned
