"""Which releases an edition carries: only news.

The rule (the README says it too): a release goes into the next edition of a digest when
- it is tagged with one of the digest's countries,
- no earlier edition of the digest carried it (editions keep the list: nothing goes out twice),
- and it was published on or after the *cutoff*:
  - before a digest's first edition, the edition's time less `first_edition_window` (so a fresh
    install, or a newly configured digest, does not mail the back catalogue);
  - after that, the start of the previous edition's period (so a release published recently but
    imported late still goes out once, and an archive imported later does not);
  - where an operator ran `publisher digest start NAME --from DATE` since the last edition, DATE.
Releases left out by the cutoff stay in the feeds and the archive, and are not mailed unless
an operator moves the start back before them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice

from sqlalchemy import ColumnElement, exists, func, select
from sqlalchemy.orm import Session

from publisher.config import Digest
from publisher.dates import format_day_month_year
from publisher.store.models import DigestStart, Edition, EditionRelease, Release, ReleaseCountry
from publisher.store.statuses import EditionStatus


@dataclass(frozen=True)
class Period:
    cutoff: datetime  # releases published before it are not news
    since: datetime  # the start of the new edition's own period
    reason: str  # where the cutoff comes from, as a person reads it


@dataclass(frozen=True)
class Waiting:
    """What the next edition would carry."""

    digest: str
    releases: dict[int, frozenset[str]]  # release id: its countries among the digest's
    published: dict[int, datetime]  # release id: when it was published
    period: Period
    too_old: int  # releases of the digest's countries never mailed, published before the cutoff

    def count(self, countries: Iterable[str]) -> int:
        chosen = frozenset(countries)
        return sum(1 for tags in self.releases.values() if tags & chosen)

    def published_of(self, countries: Iterable[str]) -> list[datetime]:
        """When each waiting release of any of `countries` was published: all a variant carries."""
        chosen = frozenset(countries)
        return [self.published[release] for release, tags in self.releases.items() if tags & chosen]

    def newest(self, session: Session, countries: Iterable[str], limit: int) -> list[Release]:
        """The newest `limit` waiting releases of any of `countries`, newest first: of those
        this plan found. (Not "not carried" again: another process may have made this edition
        meanwhile; its own insert then fails, and it resumes that one.)"""
        candidates = select(ReleaseCountry.release_id).where(
            ReleaseCountry.country_code.in_(list(countries)),
            ReleaseCountry.published >= self.period.cutoff)
        found = session.scalars(select(Release).where(Release.id.in_(candidates))
                                .order_by(Release.published.desc(), Release.id.desc())
                                .execution_options(yield_per=limit))
        try:
            return list(islice((release for release in found if release.id in self.releases), limit))
        finally:
            found.close()  # (read in batches: the rest is not needed)


def _carried(digest: str) -> ColumnElement[bool]:
    """Whether an edition of `digest` carried the release already."""
    return exists().where(EditionRelease.release_id == ReleaseCountry.release_id,
                          EditionRelease.edition_id == Edition.id, Edition.digest == digest)


def last_complete(session: Session, digest: str) -> Edition | None:
    return session.scalars(select(Edition).where(
        Edition.digest == digest, Edition.status == EditionStatus.COMPLETE)
        .order_by(Edition.number.desc()).limit(1)).first()


def edition_period(session: Session, digest: Digest, now: datetime) -> Period:
    last = last_complete(session, digest.name)
    start = session.get(DigestStart, digest.name)
    if start is not None and (last is None or start.set_at > last.created):
        return Period(start.since, start.since,
                      f"set by 'digest start' to {format_day_month_year(start.since.date())}")
    if last is not None:
        return Period(last.since, last.created, f"edition {last.number}'s period began "
                                                f"{format_day_month_year(last.since.date())}")
    cutoff = now - digest.first_edition_window
    days = digest.first_edition_window.days
    return Period(cutoff, cutoff, f"a first edition carries the last {days} day{'s' * (days != 1)}")


def waiting_releases(session: Session, digest: Digest, now: datetime) -> Waiting:
    period = edition_period(session, digest, now)
    never_mailed = (ReleaseCountry.country_code.in_(digest.countries), ~_carried(digest.name))
    releases: dict[int, set[str]] = {}
    published: dict[int, datetime] = {}
    for release_id, country, when in session.execute(
            select(ReleaseCountry.release_id, ReleaseCountry.country_code, ReleaseCountry.published)
            .where(*never_mailed, ReleaseCountry.published >= period.cutoff)):
        releases.setdefault(release_id, set()).add(country)
        published[release_id] = when
    too_old = session.scalar(select(func.count(ReleaseCountry.release_id.distinct())).where(
        *never_mailed, ReleaseCountry.published < period.cutoff)) or 0
    return Waiting(digest.name, {key: frozenset(value) for key, value in releases.items()},
                   published, period, too_old)


SAMPLE_REASON = "a sample: the latest releases, whether mailed before or not"


def latest_releases(session: Session, digest: Digest, limit: int) -> Waiting:
    """The digest's `limit` latest releases of each of its countries, mailed before or not: what
    a preview shows when nothing is new (a sample of the design, not an edition)."""
    releases: dict[int, set[str]] = {}
    published: dict[int, datetime] = {}
    for country in digest.countries:
        for release_id, when in session.execute(
                select(ReleaseCountry.release_id, ReleaseCountry.published)
                .where(ReleaseCountry.country_code == country)
                .order_by(ReleaseCountry.published.desc()).limit(limit)):
            releases.setdefault(release_id, set()).add(country)
            published[release_id] = when
    cutoff = min(published.values(), default=datetime.min.replace(tzinfo=UTC))
    return Waiting(digest.name, {key: frozenset(value) for key, value in releases.items()}, published,
                   Period(cutoff, cutoff, SAMPLE_REASON), 0)
