"""An operator's change to a release (console or API): made, written to the audit log in the
same transaction, then the feeds rebuilt, so the change is in them when the call returns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from publisher.config import Config
from publisher.ingest.entry import Entry
from publisher.ingest.manual import (
    add_release,
    edit_release,
    existing_release,
    release_values,
    restore_release,
    withdraw_release,
)
from publisher.ingest.rules import IngestConfig
from publisher.jobs.feeds import rebuild_feeds
from publisher.operators.audit import record
from publisher.store.models import Release


@dataclass(frozen=True)
class Changed:
    release_id: int
    slug: str
    feeds: str  # the build's one line


def add(sessions: sessionmaker[Session], config: Config, actor: str, entry: Entry, now: datetime) -> Changed:
    def change(session: Session) -> Release:
        release = add_release(session, IngestConfig.of(config), entry, now)
        record(session, actor, "release.add", _named(release), now, after=release_values(release))
        return release

    return _changing(sessions, config, change)


def edit(sessions: sessionmaker[Session], config: Config, actor: str, release_id: int, entry: Entry,
         now: datetime) -> Changed:
    return _audited(sessions, config, actor, release_id, "release.edit", now,
                    lambda session, release: edit_release(session, IngestConfig.of(config), release, entry, now))


def withdraw(sessions: sessionmaker[Session], config: Config, actor: str, release_id: int,
             now: datetime) -> Changed:
    return _audited(sessions, config, actor, release_id, "release.withdraw", now,
                    lambda _session, release: withdraw_release(release, now))


def restore(sessions: sessionmaker[Session], config: Config, actor: str, release_id: int,
            now: datetime) -> Changed:
    return _audited(sessions, config, actor, release_id, "release.restore", now,
                    lambda _session, release: restore_release(IngestConfig.of(config), release, now))


def _audited(sessions: sessionmaker[Session], config: Config, actor: str, release_id: int, action: str,
             now: datetime, apply: Callable[[Session, Release], None]) -> Changed:
    """`apply` to the release; an entry in the audit log when it changed what an operator sees."""
    def change(session: Session) -> Release:
        release = existing_release(session, release_id)
        before = release_values(release)
        apply(session, release)
        session.flush()
        after = release_values(release)
        if after != before:
            record(session, actor, action, _named(release), now, before=before, after=after)
        return release

    return _changing(sessions, config, change)


def _changing(sessions: sessionmaker[Session], config: Config,
              change: Callable[[Session], Release]) -> Changed:
    with sessions.begin() as session:
        release = change(session)
        release_id, slug = release.id, release.slug
    return Changed(release_id, slug, rebuild_feeds(sessions, config).line())


def _named(release: Release) -> str:
    return f"release #{release.id} {release.slug}"
