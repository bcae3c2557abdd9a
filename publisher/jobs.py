"""The use cases: each opens its own transaction and returns what it did. CLI and scheduler call these."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from publisher.config import Config
from publisher.feeds.build import BuildReport, build_feeds
from publisher.ingest.read import read_entries
from publisher.ingest.save import ImportCounts, save_entries


@dataclass(frozen=True)
class ImportRequest:
    location: str  # a path, or bundled:NAME
    format: str | None = None  # None: from the file name


@dataclass(frozen=True)
class ImportOutcome:
    files: list[tuple[str, ImportCounts]]
    feeds: BuildReport | None  # None: nothing changed, so no rebuild was needed


def import_files(
    sessions: sessionmaker[Session], config: Config, requests: Sequence[ImportRequest],
    now: datetime,
) -> ImportOutcome:
    """Import every file in one transaction: a bad entry anywhere leaves the database unchanged.
    When anything changed, the feeds are rebuilt."""
    parsed = [
        (request.location, read_entries(request.location, request.format, config.site.zone))
        for request in requests
    ]
    with sessions.begin() as session:
        files = [
            (location, save_entries(session, entries, config=config, source=location, now=now))
            for location, entries in parsed
        ]
    changed = any(counts.changed for _, counts in files)
    return ImportOutcome(files, build_feeds(sessions, config) if changed else None)


def import_sources(sessions: sessionmaker[Session], config: Config, now: datetime) -> ImportOutcome:
    """Import every configured source that is a file or bundled data."""
    requests = [ImportRequest(source.location, source.format) for source in config.sources]
    return import_files(sessions, config, requests, now)
