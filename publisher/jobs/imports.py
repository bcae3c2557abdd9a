"""Importing releases: files in one transaction, configured sources (files or http(s) URLs)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from publisher.config import Config, Source
from publisher.errors import PublisherError
from publisher.feeds.build import BuildReport, build_feeds
from publisher.ingest.entry import Entry
from publisher.ingest.fetch import fetch
from publisher.ingest.read import detect_format, parse, read_entries
from publisher.ingest.save import ImportCounts, save_entries
from publisher.store.runs import remember_validators, source_validators


@dataclass(frozen=True)
class ImportRequest:
    location: str  # a path, an http(s) URL, or bundled:NAME
    format: str | None = None  # None: from the file name


@dataclass(frozen=True)
class ImportOutcome:
    files: list[tuple[str, ImportCounts]]
    feeds: BuildReport | None  # None: nothing changed, so no rebuild was needed
    not_modified: bool = False  # an http(s) source answered 304: nothing was read

    def lines(self) -> list[str]:
        if self.not_modified:
            return [f"not modified since the last fetch: {location}" for location, _ in self.files]
        lines = [f"imported {c.new} new, {c.updated} updated, {c.unchanged} unchanged from {location}"
                 for location, c in self.files]
        return lines + ([self.feeds.line()] if self.feeds is not None else [])


def import_files(
    sessions: sessionmaker[Session], config: Config, requests: Sequence[ImportRequest],
    now: datetime,
) -> ImportOutcome:
    """Import every file in one transaction: a bad entry anywhere leaves the database unchanged.
    When anything changed, the feeds are rebuilt."""
    parsed = [(request.location, _entries(request, config)) for request in requests]
    return _store(sessions, config, parsed, now)


def _entries(request: ImportRequest, config: Config) -> Sequence[Entry]:
    """A file's entries, or a URL's: fetched as a source is (its timeout and size limit), but
    whole, since a one-off import has no earlier fetch to compare with."""
    if not request.location.startswith(("http://", "https://")):
        return read_entries(request.location, request.format, config.site.zone)
    rules = Source(name="import", location=request.location)
    fetched = fetch(request.location, etag=None, last_modified=None,
                    timeout=rules.timeout.total_seconds(), max_bytes=rules.max_bytes)
    fmt = request.format or detect_format(request.location, fetched.content_type)
    return parse(fmt, fetched.text(request.location), request.location, config.site.zone)


def _store(sessions: sessionmaker[Session], config: Config, parsed: Sequence[tuple[str, Sequence[Entry]]],
           now: datetime, also: Callable[[Session], None] = lambda _session: None) -> ImportOutcome:
    with sessions.begin() as session:
        files = [
            (location, save_entries(session, entries, config=config, source=location, now=now))
            for location, entries in parsed
        ]
        also(session)
    changed = any(counts.changed for _, counts in files)
    return ImportOutcome(files, build_feeds(sessions, config) if changed else None)


def import_source(sessions: sessionmaker[Session], config: Config, source: Source,
                  now: datetime) -> ImportOutcome:
    """One configured source. Over http(s): a conditional GET (304: nothing to do), the whole
    response parsed before anything is stored, and the validators kept only when the import
    succeeded, so a broken page is fetched again next time."""
    if not source.is_remote:
        return import_files(sessions, config, [ImportRequest(source.location, source.format)], now)
    with sessions() as session:
        etag, modified = source_validators(session, source.name)
    fetched = fetch(source.location, etag=etag, last_modified=modified,
                    timeout=source.timeout.total_seconds(), max_bytes=source.max_bytes)
    if fetched.not_modified:
        return ImportOutcome([(source.location, ImportCounts())], None, not_modified=True)
    fmt = source.format or detect_format(source.location, fetched.content_type)
    entries = parse(fmt, fetched.text(source.location), source.location, config.site.zone)

    def remember(session: Session) -> None:
        remember_validators(session, source.name, fetched.etag, fetched.last_modified, now)

    return _store(sessions, config, [(source.location, entries)], now, also=remember)


def import_sources(sessions: sessionmaker[Session], config: Config, now: datetime
                   ) -> list[tuple[Source, ImportOutcome | PublisherError]]:
    """Every configured source, each on its own: one that fails is reported, not fatal."""
    results: list[tuple[Source, ImportOutcome | PublisherError]] = []
    for source in config.sources:
        try:
            results.append((source, import_source(sessions, config, source, now)))
        except PublisherError as exc:
            results.append((source, exc))
    return results


