"""Queries over stored editions that the scheduler, the workers and the web pages share."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from publisher.store.models import Delivery, Edition
from publisher.store.statuses import EditionStatus


def unfinished_edition(session: Session, digest: str) -> Edition | None:
    """The oldest edition of `digest` still sending."""
    query = select(Edition).where(Edition.digest == digest, Edition.status == EditionStatus.SENDING)
    return session.scalars(query.order_by(Edition.number).limit(1)).first()


def unfinished_editions(session: Session, digests: Sequence[str]) -> list[Edition]:
    """Editions still sending, of these digests, oldest first."""
    return list(session.scalars(select(Edition).where(
        Edition.status == EditionStatus.SENDING, Edition.digest.in_(digests)).order_by(Edition.id)))


def edition_numbered(session: Session, digest: str, number: int | None) -> Edition | None:
    """Edition `number` of `digest` (None: its newest)."""
    query = select(Edition).where(Edition.digest == digest)
    query = query.where(Edition.number == number) if number else query.order_by(Edition.number.desc())
    return session.scalars(query.limit(1)).first()


def last_edition(session: Session, digest: str) -> Edition | None:
    return session.scalars(select(Edition).where(Edition.digest == digest)
                           .order_by(Edition.number.desc()).limit(1)).first()


def recent_editions(session: Session, digest: str, limit: int) -> list[Edition]:
    """The newest `limit` editions of `digest`, newest first."""
    return list(session.scalars(select(Edition).where(Edition.digest == digest)
                                .order_by(Edition.number.desc()).limit(limit)))


def sent_editions(session: Session, limit: int) -> list[Edition]:
    """Complete editions of every digest that carried news, the most recently completed first
    (a silent first edition mailed nothing)."""
    query = (select(Edition).where(Edition.status == EditionStatus.COMPLETE, Edition.release_count > 0)
             .order_by(Edition.completed.desc(), Edition.id.desc()).limit(limit))
    return list(session.scalars(query))


def sent_edition(session: Session, digest: str, number: int) -> Edition | None:
    return session.scalars(select(Edition).where(
        Edition.digest == digest, Edition.number == number,
        Edition.status == EditionStatus.COMPLETE, Edition.release_count > 0)).first()


def delivery_counts(session: Session, edition_id: int) -> dict[str, int]:
    """How many of the edition's deliveries are in each status (by the status's name)."""
    return {str(status): count for status, count in session.execute(
        select(Delivery.status, func.count()).where(Delivery.edition_id == edition_id)
        .group_by(Delivery.status))}


def newest_editions(session: Session) -> list[Edition]:
    """Each digest's newest edition."""
    newest = select(func.max(Edition.id)).group_by(Edition.digest)
    return list(session.scalars(select(Edition).where(Edition.id.in_(newest)).order_by(Edition.digest)))
