"""Editions: created once (with one queued delivery per recipient) before any mail goes out,
resumed until every delivery is final, completed exactly once."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Select, exists, func, insert, literal, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from publisher.config import Config, Digest
from publisher.digest.render import render_edition
from publisher.digest.select import Selection, waiting_releases
from publisher.store.editions import unfinished_edition
from publisher.store.locks import edition_key
from publisher.store.models import Delivery, Edition, Subscriber, SubscriberCountry
from publisher.store.statuses import DeliveryStatus, EditionStatus, SubscriberStatus

log = logging.getLogger(__name__)

def recipients_query(digest: Digest) -> Select[int]:
    """Confirmed subscribers who follow any of the digest's countries."""
    follows = exists().where(SubscriberCountry.subscriber_id == Subscriber.id,
                             SubscriberCountry.country_code.in_(digest.countries))
    return select(Subscriber.id).where(Subscriber.status == SubscriberStatus.CONFIRMED, follows)


def next_number(session: Session, digest: str) -> int:
    return (session.scalar(select(func.max(Edition.number)).where(Edition.digest == digest)) or 0) + 1


@dataclass(frozen=True)
class Plan:
    """What the next edition would be, without writing anything."""

    number: int
    selection: Selection
    recipients: int
    resumed: Edition | None  # an unfinished edition comes first


def plan_edition(session: Session, digest: Digest) -> Plan | None:
    unfinished = unfinished_edition(session, digest.name)
    if unfinished is not None:
        queued = session.scalar(select(func.count()).where(
            Delivery.edition_id == unfinished.id, Delivery.status == DeliveryStatus.QUEUED)) or 0
        return Plan(unfinished.number, Selection([], 0, unfinished.watermark), queued, unfinished)
    selection = waiting_releases(session, digest)
    if not selection.releases:
        return None
    recipients = session.scalar(select(func.count()).select_from(recipients_query(digest).subquery()))
    return Plan(next_number(session, digest.name), selection, recipients or 0, None)


def open_edition(
    session: Session, config: Config, digest: Digest, period: str, now: datetime
) -> Edition | None:
    """The unfinished edition of this digest, else a new one for what is waiting, else None.

    The new edition and its deliveries are written in the caller's transaction; a second
    process making the same edition at the same moment fails on the unique (digest, number)
    or (digest, period), and gets the first one's edition instead.
    """
    _take_turns(session, digest.name)
    unfinished = unfinished_edition(session, digest.name)
    if unfinished is not None:
        return unfinished
    selection = waiting_releases(session, digest)
    if not selection.releases:
        log.info("%s: no new releases since the last edition; nothing to send", digest.name)
        return None
    number = next_number(session, digest.name)
    edition = make_edition(config, digest, selection, number, period=period, status=EditionStatus.SENDING,
                           now=now)
    try:
        with session.begin_nested():
            session.add(edition)
            session.flush()
    except IntegrityError:
        log.info("%s: edition %d was made by another process; resuming it", digest.name, number)
        return unfinished_edition(session, digest.name)
    queue = recipients_query(digest).add_columns(
        literal(edition.id), literal(DeliveryStatus.QUEUED.value), literal(0))
    session.execute(insert(Delivery).from_select(
        ["subscriber_id", "edition_id", "status", "attempts"], queue))
    return edition


def make_edition(config: Config, digest: Digest, selection: Selection, number: int, *,
                 period: str, status: str, now: datetime) -> Edition:
    """The edition of `selection`, rendered; not added to any session."""
    rendered = render_edition(config, digest, selection, number)
    return Edition(
        digest=digest.name, number=number, period=period, status=status, created=now,
        watermark=selection.watermark, release_count=len(selection.releases),
        more_count=selection.more, first_published=rendered.first_published,
        last_published=rendered.last_published, subject=rendered.subject, html=rendered.html,
        text=rendered.text,
    )


def _take_turns(session: Session, digest: str) -> None:
    """On PostgreSQL, processes opening an edition of one digest do it one after the other,
    until the transaction ends. Without it a second process could look for an unfinished
    edition just before the first commits its new one, then make another of the same releases
    under the next number (and a different period: a manual send, or a fire time beside one),
    and everyone would get both. SQLite needs nothing: a writer that read before another's
    commit cannot write."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": edition_key(digest)})


def complete_if_done(session: Session, edition_id: int, now: datetime) -> bool:
    """Mark the edition complete (its watermark then counts) when no delivery is left queued.
    Only the call that changes the status returns True: completion happens exactly once."""
    left = session.scalar(select(func.count()).where(
        Delivery.edition_id == edition_id, Delivery.status == DeliveryStatus.QUEUED))
    if left:
        return False
    result = session.execute(
        update(Edition).where(Edition.id == edition_id, Edition.status == EditionStatus.SENDING)
        .values(status=EditionStatus.COMPLETE, completed=now))
    return cast(CursorResult[Any], result).rowcount == 1
