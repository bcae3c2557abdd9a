"""Queries over stored releases that feeds, digests and the CLI share."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, selectinload

from publisher.store.models import Release, ReleaseCountry


def newest_releases(session: Session, country: str | None = None, limit: int = 50) -> Sequence[Release]:
    """The newest `limit` releases, of one country or of all; newest first."""
    query = newest_query(country, limit).options(selectinload(Release.links))
    return session.scalars(query).all()


def newest_query(country: str | None, limit: int) -> Select[Release]:
    """For one country a single range scan of ix_release_countries_newest (for all, of
    ix_releases_newest), so the cost does not grow with the size of the table."""
    if country is None:
        query = select(Release).order_by(Release.published.desc(), Release.id.desc())
    else:
        query = (
            select(Release)
            .join(ReleaseCountry, ReleaseCountry.release_id == Release.id)
            .where(ReleaseCountry.country_code == country)
            .order_by(ReleaseCountry.published.desc(), ReleaseCountry.release_id.desc())
        )
    return query.limit(limit)


def release_by_slug(session: Session, slug: str) -> Release | None:
    return session.scalars(select(Release).where(Release.slug == slug)
                           .options(selectinload(Release.links))).first()
