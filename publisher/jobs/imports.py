"""Importing releases: files in one transaction, configured sources (files or http(s) URLs)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from publisher.clock import utc_now
from publisher.config import BUNDLED_PREFIX, Config, Source
from publisher.errors import InputError, PublisherError
from publisher.ingest.backfill import entries_of, follow
from publisher.ingest.entry import Entry
from publisher.ingest.feed import is_json_feed
from publisher.ingest.fetch import fetch
from publisher.ingest.fingerprints import file_digest, remember, rules_digest, unchanged_entries
from publisher.ingest.helper import HELPER_FROM_BYTES, chunks_from_helper, worth_a_helper
from publisher.ingest.prepare import Chunk, prepared_chunks
from publisher.ingest.read import detect_format, parse, read_entries
from publisher.ingest.rules import IngestConfig
from publisher.ingest.save import ImportCounts, save_chunks
from publisher.ingest.tagging import Tagger
from publisher.jobs.pages import PageCounts, read_pages
from publisher.store.effect import in_effect
from publisher.store.runs import record_run, remember_validators, source_validators

if TYPE_CHECKING:
    from publisher.feeds.build import BuildReport


@dataclass(frozen=True)
class ImportRequest:
    location: str  # a path, an http(s) URL, or bundled:NAME
    format: str | None = None  # None: from the file name
    backfill: bool = False  # a feed's URL: its older pages too (ingest/backfill.py)
    categories: Mapping[str, str] = field(default_factory=dict)  # a source's words for countries


@dataclass(frozen=True)
class ImportOutcome:
    files: list[tuple[str, ImportCounts]]
    feeds: BuildReport | None  # None: nothing changed, so no rebuild was needed
    not_modified: bool = False  # an http(s) source answered 304: nothing was read
    notes: dict[str, str] = field(default_factory=dict)  # by location: what else was read
    pages: PageCounts | None = None  # a source's releases' own pages, read after it

    def lines(self) -> list[str]:
        pages = f"; {self.pages.clause()}" if self.pages is not None else ""
        if self.not_modified:
            return [f"not modified since the last fetch: {location}{pages}" for location, _ in self.files]
        lines = [f"imported {c.new} new, {c.updated} updated, {c.unchanged} unchanged from {location}"
                 + (f" {self.notes[location]}" if location in self.notes else "") + pages
                 for location, c in self.files]
        return lines + ([self.feeds.line()] if self.feeds is not None else [])


Progress = Callable[[int], None]


def import_files(
    sessions: sessionmaker[Session], config: Config, requests: Sequence[ImportRequest],
    now: datetime, progress: Progress | None = None, helper_from: int = HELPER_FROM_BYTES,
) -> ImportOutcome:
    """Import every file in one transaction: a bad entry anywhere leaves the database unchanged.
    Files are read as they are stored (`progress`: bytes read), a file of `helper_from` bytes
    or more by a helper process (ingest/helper.py); a file imported before, and unchanged
    since, is not read again (ingest/fingerprints.py). When anything changed, the feeds are
    rebuilt."""
    return _store(sessions, config, [_input(request, config, progress, helper_from, now) for request in requests],
                  now)


Reader = Callable[[Tagger], Iterable[Chunk]]  # a file's entries, prepared as they are stored


@dataclass(frozen=True)
class _Input:
    location: str
    read: Reader
    fingerprint: tuple[str, str] | None = None  # a local file's: its digest, and the rules'
    note: str = ""  # what else was read for it (a feed's older pages)
    categories: Mapping[str, str] = field(default_factory=dict)  # its source's words for countries


def _input(request: ImportRequest, config: Config, progress: Progress | None, helper_from: int,
           now: datetime) -> _Input:
    """A file's entries, or a URL's: fetched as a source is (its timeout and size limit), but
    whole, since a one-off import has no earlier fetch to compare with."""
    location, fmt, zone = request.location, request.format, config.site.zone
    if location.startswith(("http://", "https://")):
        rules = Source(name="import", location=location)
        fetched = fetch(location, etag=None, last_modified=None,
                        timeout=rules.timeout.total_seconds(), max_bytes=rules.max_bytes)
        fmt = fmt or detect_format(location, fetched.content_type)
        if request.backfill:
            return replace(_backfilled(location, fmt, fetched.text(location), rules, zone, now, progress),
                           categories=request.categories)
        return _Input(location, _here(parse(fmt, fetched.text(location), location, zone, now), location),
                      categories=request.categories)
    if request.backfill:
        raise InputError(location, "", "--backfill follows a feed's links to its older pages: give the feed's "
                                       "http(s) address")
    entries = read_entries(location, fmt, zone, progress, now)  # (a listing or CSV: not read yet)
    words = request.categories
    if location.startswith(BUNDLED_PREFIX) or not Path(location).is_file():
        return _Input(location, _here(entries, location), categories=words)  # (reading says why it cannot be read)
    try:
        digest, size = file_digest(location), Path(location).stat().st_size
    except OSError:
        return _Input(location, _here(entries, location), categories=words)
    fingerprint = (digest, rules_digest(IngestConfig.of(config), fmt, words))
    if worth_a_helper(location, fmt, size, helper_from):
        return _Input(location, lambda tagger: chunks_from_helper(location, fmt, zone, tagger, progress), fingerprint,
                      categories=words)
    return _Input(location, _here(entries, location), fingerprint, categories=words)


def _backfilled(location: str, fmt: str, text: str, rules: Source, zone: ZoneInfo, now: datetime,
                progress: Progress | None) -> _Input:
    """A feed with the older pages it leads to, all fetched before anything is stored (`progress`:
    their bytes, as they come)."""
    if fmt != "feed" and not (fmt == "json" and is_json_feed(text)):
        raise InputError(location, "", f"--backfill follows a feed's older pages: this is {fmt}, not a feed")

    def fetch_text(url: str) -> str:
        fetched = fetch(url, etag=None, last_modified=None, timeout=rules.timeout.total_seconds(),
                        max_bytes=rules.max_bytes)
        if progress is not None:
            progress(len(fetched.body))
        return fetched.text(url)

    pages = follow(location, text, fetch_text)
    entries = entries_of(pages, lambda page, address: parse("feed", page, address, zone, now))
    note = f"and {pages.older} older pages" + (f" ({pages.stopped})" if pages.stopped else "")
    return _Input(location, _here(entries, location), note=note)


def _here(entries: Iterator[Entry], location: str) -> Reader:
    return lambda tagger: prepared_chunks(entries, tagger, location)


def _store(sessions: sessionmaker[Session], config: Config, inputs: Sequence[_Input],
           now: datetime, also: Callable[[Session], None] = lambda _session: None) -> ImportOutcome:
    with sessions.begin() as session:
        files = [(one.location, _save(session, config, one, now)) for one in inputs]
        also(session)
    notes = {one.location: one.note for one in inputs if one.note}
    changed = any(counts.changed for _, counts in files)
    if not changed:  # (an unchanged import never loads the feed builder: a fifth of its start-up)
        return ImportOutcome(files, None, notes=notes)
    from publisher.jobs.feeds import rebuild_feeds

    return ImportOutcome(files, rebuild_feeds(sessions, config), notes=notes)


def _save(session: Session, config: Config, one: _Input, now: datetime) -> ImportCounts:
    if one.fingerprint is not None:
        known = unchanged_entries(session, one.location, *one.fingerprint)
        if known is not None:
            return ImportCounts(unchanged=known)
    rules = IngestConfig.of(config)
    counts = save_chunks(session, one.read(Tagger(rules, one.categories)), config=rules, source=one.location,
                         now=now)
    if one.fingerprint is None:
        return counts
    remember(session, one.location, *one.fingerprint, entries=counts.total, now=now)
    return counts


def import_source(sessions: sessionmaker[Session], config: Config, source: Source,
                  now: datetime, clock: Callable[[], datetime] = utc_now) -> ImportOutcome:
    """One configured source, recorded as its last run whoever started it (its schedule, the
    console's "import now", `publisher run`'s start): what the operator is shown is what ran,
    begun at `now` and finished when `clock` says it did."""
    try:
        outcome = _import_source(sessions, config, source, now)
        if source.fetch_pages:
            outcome = replace(outcome, pages=read_pages(sessions, config, source, now))
    except PublisherError as exc:
        _ran(sessions, source, now, clock(), f"failed: {exc}")
        raise
    _ran(sessions, source, now, clock(), "; ".join(outcome.lines()))
    return outcome


def _ran(sessions: sessionmaker[Session], source: Source, started: datetime, finished: datetime,
         outcome: str) -> None:
    with sessions.begin() as session:
        record_run(session, f"source:{source.name}", started, started, finished, outcome)


def _import_source(sessions: sessionmaker[Session], config: Config, source: Source,
                   now: datetime) -> ImportOutcome:
    """Over http(s): a conditional GET (304: nothing to do), the whole response parsed before
    anything is stored, and the validators kept only when the import succeeded, so a broken
    page is fetched again next time."""
    if not source.is_remote:
        request = ImportRequest(source.location, source.format, categories=source.categories)
        return import_files(sessions, config, [request], now)
    with sessions() as session:
        etag, modified = source_validators(session, source.name)
    fetched = fetch(source.location, etag=etag, last_modified=modified,
                    timeout=source.timeout.total_seconds(), max_bytes=source.max_bytes)
    if fetched.not_modified:
        return ImportOutcome([(source.location, ImportCounts())], None, not_modified=True)
    fmt = source.format or detect_format(source.location, fetched.content_type)
    entries = parse(fmt, fetched.text(source.location), source.location, config.site.zone, now)

    def remember_fetch(session: Session) -> None:
        remember_validators(session, source.name, fetched.etag, fetched.last_modified, now)

    read = _Input(source.location, _here(entries, source.location), categories=source.categories)
    return _store(sessions, config, [read], now,
                  also=remember_fetch)


def import_sources(sessions: sessionmaker[Session], config: Config, now: datetime
                   ) -> list[tuple[Source, ImportOutcome | PublisherError]]:
    """Every source in effect, each on its own: one that fails is reported, not fatal."""
    results: list[tuple[Source, ImportOutcome | PublisherError]] = []
    with sessions() as session:
        sources = in_effect(session, config).sources
    for source in sources:
        try:
            results.append((source, import_source(sessions, config, source, now)))
        except PublisherError as exc:
            results.append((source, exc))
    return results


