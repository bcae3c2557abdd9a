"""What feeds read from the store: cheap stamps to decide, full releases to render."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache

from sqlalchemy import (
    CompoundSelect,
    Select,
    String,
    func,
    literal,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.orm import Session, selectinload

from publisher.store.models import Release, ReleaseCountry
from publisher.store.releases import newest_query, scope

Stamp = tuple[int, object]  # (release id, updated as stored): changes with the release


def newest_stamps(
    session: Session, countries: Sequence[str | None], limit: int
) -> list[list[Stamp]]:
    """For each country (None: all), the stamps of the releases its feed shows, sorted by id.

    This runs on every rebuild, so it is kept cheap: one statement for all feeds, each part
    reading only an index where it can, and `updated` as stored, without conversion.
    """
    stamps: list[list[Stamp]] = [[] for _ in countries]
    query = _stamps_statement(tuple(countries), limit)
    for feed, release_id, updated in session.connection().execute(query):
        stamps[feed].append((release_id, updated))
    return [sorted(found) for found in stamps]


@lru_cache(maxsize=16)
def _stamps_statement(countries: tuple[str | None, ...], limit: int) -> CompoundSelect[int, int, str]:
    # Built once per process: constructing the statement costs more than running it.
    parts = [_stamp_query(i, country, limit).subquery() for i, country in enumerate(countries)]
    return union_all(*(select(part) for part in parts))


def _stamp_query(feed: int, country: str | None, limit: int) -> Select[int, int, str]:
    of = scope(country)  # one country: release_countries alone, an index-only scan
    query = select(literal(feed).label("feed"), of.release_id, type_coerce(of.updated, String))
    return of.newest_first(of.where(query)).limit(limit)


def newest_for_feed(session: Session, country: str | None, limit: int) -> list[Release]:
    """The releases a feed shows, newest first, with their countries (each entry names them):
    one more query per feed, not one per release."""
    return list(session.scalars(newest_query(country, limit).options(selectinload(Release.links))))


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
    of = scope(country)
    query = of.releases().where(of.published >= start, of.published < end)
    return list(session.scalars(of.newest_first(query).options(selectinload(Release.links))))
