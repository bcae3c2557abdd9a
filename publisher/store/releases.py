"""Queries over stored releases that feeds, digests and the CLI share."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple, TypeVarTuple

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.sql.elements import SQLCoreOperations

from publisher.store.models import Release, ReleaseCountry
from publisher.store.paging import ESCAPE, containing, paged

Ts = TypeVarTuple("Ts")


def newest_releases(session: Session, country: str | None = None, limit: int = 50) -> Sequence[Release]:
    """The newest `limit` releases, of one country or of all; newest first."""
    query = newest_query(country, limit).options(selectinload(Release.links))
    return session.scalars(query).all()


class Scope(NamedTuple):
    """Where "the releases of one country, or of all" are read: for one country the copies of
    `published` and `updated` in release_countries (ix_release_countries_newest), for all the
    releases table itself (ix_releases_newest). Either way newest first is one range scan of
    an index, so the cost does not grow with the size of the table."""

    published: SQLCoreOperations[datetime]
    release_id: SQLCoreOperations[int]
    updated: SQLCoreOperations[datetime]
    country: str | None

    def where(self, query: Select[*Ts]) -> Select[*Ts]:
        """Only the scope's releases (the query must read release_countries for one country, the
        releases table for all; a withdrawn release has no countries)."""
        if self.country is None:
            return query.where(Release.withdrawn.is_(None))
        return query.where(ReleaseCountry.country_code == self.country)

    def releases(self) -> Select[Release]:
        """The scope's Release rows, unordered."""
        if self.country is None:
            return self.where(select(Release))
        return self.where(select(Release).join(ReleaseCountry, ReleaseCountry.release_id == Release.id))

    def newest_first(self, query: Select[*Ts]) -> Select[*Ts]:
        return query.order_by(self.published.desc(), self.release_id.desc())


def scope(country: str | None) -> Scope:
    if country is None:
        return Scope(Release.published, Release.id, Release.updated, None)
    return Scope(ReleaseCountry.published, ReleaseCountry.release_id, ReleaseCountry.updated, country)


def newest_query(country: str | None, limit: int) -> Select[Release]:
    """The newest `limit` releases of one country (or of all)."""
    of = scope(country)
    return of.newest_first(of.releases()).limit(limit)


def searchable(title: str, summary: str) -> str:
    """What a search looks in: title and summary, case-folded (Монгол finds МОНГОЛ and монгол)."""
    return f"{title}\n{summary}".casefold()


def news(session: Session, country: str | None, words: str, page: int, per_page: int
         ) -> tuple[list[Release], int]:
    """Page `page` of the releases of one country (or all), newest first, holding `words` (as
    typed, any case) in title or summary; and how many there are in all."""
    of = scope(country)
    query = of.newest_first(of.releases()).options(selectinload(Release.links))
    if words.strip():
        query = query.where(Release.search_text.like(containing(words.strip().casefold()), escape=ESCAPE))
    return paged(session, query, page, per_page)


def release_by_slug(session: Session, slug: str) -> Release | None:
    return session.scalars(select(Release).where(Release.slug == slug)
                           .options(selectinload(Release.links))).first()
