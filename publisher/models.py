"""Typed SQLAlchemy 2 models of what the store holds."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator[datetime]):
    """Stored as UTC, returned timezone-aware on every database.

    SQLite has no time zone type and gives naive values back; PostgreSQL's timestamptz gives them
    in the session's zone. Both come back as aware UTC, and naive values are refused on the way in.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: store timezone-aware datetimes only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class Country(Base):
    __tablename__ = "countries"

    code: Mapped[str] = mapped_column(String(2), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(35))


class Release(Base):
    __tablename__ = "releases"
    __table_args__ = (Index("ix_releases_newest", "published", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The identity an import recognises a release by: its URL, else its date and normalized title.
    source_key: Mapped[str] = mapped_column(String(600), unique=True)
    # The permanent id (a tag: URI) feeds give; assigned once, never changed.
    permanent_id: Mapped[str] = mapped_column(String(300), unique=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    title: Mapped[str] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str | None] = mapped_column(Text)
    url: Mapped[str] = mapped_column(String(2000))
    image_url: Mapped[str | None] = mapped_column(String(2000))
    image_credit: Mapped[str | None] = mapped_column(Text)
    published: Mapped[datetime] = mapped_column(UTCDateTime())
    updated: Mapped[datetime] = mapped_column(UTCDateTime())
    source: Mapped[str] = mapped_column(String(500))
    content_hash: Mapped[str] = mapped_column(String(64))

    links: Mapped[list[ReleaseCountry]] = relationship(
        back_populates="release", cascade="all, delete-orphan", order_by="ReleaseCountry.country_code"
    )

    @property
    def country_codes(self) -> list[str]:
        return [link.country_code for link in self.links]


class ReleaseCountry(Base):
    """A release's country tag. `published` and `updated` are copied here so that "newest N
    releases of country X", and whether they changed, are one range scan of the index."""

    __tablename__ = "release_countries"
    __table_args__ = (
        Index("ix_release_countries_newest", "country_code", "published", "release_id", "updated"),
    )

    release_id: Mapped[int] = mapped_column(
        ForeignKey("releases.id", ondelete="CASCADE"), primary_key=True
    )
    country_code: Mapped[str] = mapped_column(
        ForeignKey("countries.code", ondelete="RESTRICT"), primary_key=True
    )
    published: Mapped[datetime] = mapped_column(UTCDateTime())
    updated: Mapped[datetime] = mapped_column(UTCDateTime())

    release: Mapped[Release] = relationship(back_populates="links")
