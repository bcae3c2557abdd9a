"""What feeds read from the store: cheap stamps to decide, full releases to render."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, selectinload

from publisher.models import Release, ReleaseCountry
from publisher.releases import newest_query

Stamp = tuple[int, datetime]  # (release id, updated): changes whenever the release changes

_CHUNK = 500


def newest_stamps(session: Session, country: str | None, limit: int) -> list[Stamp]:
    """The stamps of exactly the releases newest_releases would return, in the same order."""
    query = newest_query(country, limit)
    if country is None:
        query = query.with_only_columns(Release.id, Release.updated)
    else:
        query = query.with_only_columns(ReleaseCountry.release_id, ReleaseCountry.updated)
    return [(row[0], row[1]) for row in session.execute(query)]


def releases_by_ids(session: Session, ids: Sequence[int]) -> list[Release]:
    """The releases, in the order of `ids`."""
    found: dict[int, Release] = {}
    for start in range(0, len(ids), _CHUNK):
        query = (select(Release).where(Release.id.in_(ids[start:start + _CHUNK]))
                 .options(selectinload(Release.links)))
        found.update((release.id, release) for release in session.scalars(query))
    return [found[i] for i in ids if i in found]


def published_span(session: Session, country: str) -> tuple[datetime, datetime] | None:
    """The oldest and newest publication time of a country's releases (two index lookups)."""
    query = select(func.min(ReleaseCountry.published), func.max(ReleaseCountry.published)).where(
        ReleaseCountry.country_code == country)
    oldest, newest = session.execute(query).one()
    return None if oldest is None else (oldest, newest)


def range_stamp(session: Session, country: str, start: datetime, end: datetime) -> tuple[int, str]:
    """How many releases of the country fall in [start, end), and the newest update among them:
    any change to the range changes one of the two (every change moves `updated` forward)."""
    query = select(func.count(), func.max(ReleaseCountry.updated)).where(
        ReleaseCountry.country_code == country,
        ReleaseCountry.published >= start,
        ReleaseCountry.published < end,
    )
    count, newest = session.execute(query).one()
    return count, str(newest)


def releases_in_range(
    session: Session, country: str | None, start: datetime, end: datetime
) -> list[Release]:
    query: Select[tuple[Release]]
    if country is None:
        query = select(Release).where(Release.published >= start, Release.published < end).order_by(
            Release.published.desc(), Release.id.desc())
    else:
        query = (
            select(Release)
            .join(ReleaseCountry, ReleaseCountry.release_id == Release.id)
            .where(ReleaseCountry.country_code == country, ReleaseCountry.published >= start,
                   ReleaseCountry.published < end)
            .order_by(ReleaseCountry.published.desc(), ReleaseCountry.release_id.desc())
        )
    return list(session.scalars(query.options(selectinload(Release.links))))
