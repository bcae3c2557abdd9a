"""Which releases an edition carries: those stored after the last complete edition's watermark."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from publisher.config import Digest
from publisher.store.models import Edition, Release, ReleaseCountry
from publisher.store.statuses import EditionStatus


@dataclass(frozen=True)
class Selection:
    releases: list[Release]  # newest first, at most max_items
    more: int  # waiting releases beyond max_items
    watermark: int  # the newest release id waiting: the next edition starts after it


def last_watermark(session: Session, digest: str) -> int:
    """Release ids only grow, so "newer than the watermark" means "stored since the last
    complete edition": a release imported late with an old date is not lost."""
    query = select(func.max(Edition.watermark)).where(
        Edition.digest == digest, Edition.status == EditionStatus.COMPLETE)
    return session.scalar(query) or 0


def waiting_releases(session: Session, digest: Digest) -> Selection:
    after = last_watermark(session, digest.name)
    waiting = select(Release.id).where(
        Release.id > after,
        Release.links.any(ReleaseCountry.country_code.in_(digest.countries)),
    ).subquery()
    count, newest_id = session.execute(select(func.count(), func.max(waiting.c.id))).one()
    releases = list(session.scalars(
        select(Release).where(Release.id.in_(select(waiting.c.id)))
        .order_by(Release.published.desc(), Release.id.desc()).limit(digest.max_items)))
    return Selection(releases, max(count - len(releases), 0), newest_id or after)
