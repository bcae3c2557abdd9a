"""The sources of releases in effect (store/settings.py keeps them: seeded from config.toml,
following it until an operator changes one, then the database's own)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from publisher.config import Source
from publisher.config.write import source_values
from publisher.store import settings
from publisher.store.models import Country, SourceState, StoredSource
from publisher.store.settings import Kind


def _forget_fetch(session: Session, before: Source | None, after: Source, _others: Sequence[Source]) -> None:
    if before is None or before.location != after.location:  # its validators were another URL's
        session.execute(delete(SourceState).where(SourceState.source == after.name))


SOURCES = Kind("source", StoredSource, Source, source_values, lambda config: config.sources,
               before_save=_forget_fetch)


def source_named(session: Session, name: str) -> Source:
    """A source in effect by name; NotFound naming the ones there are."""
    return settings.named(SOURCES, session, name)


def country_codes(session: Session) -> list[str]:
    """The countries the store knows (the config's, synced at every start)."""
    return list(session.scalars(select(Country.code)))
