"""The use cases: each opens its own transaction and returns what it did. CLI and scheduler call these."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import parseaddr
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from publisher.config import Config, Digest, Source, seconds
from publisher.db import retrying
from publisher.digest.editions import Plan, open_edition, plan_edition
from publisher.digest.render import render_edition
from publisher.digest.send import (
    BATCH_PER_CONNECTION,
    EditionSender,
    EditionTotals,
    RecipientLinks,
    message_factory,
)
from publisher.errors import PublisherError
from publisher.feeds.build import BuildReport, build_feeds
from publisher.ingest.entry import Entry
from publisher.ingest.fetch import fetch
from publisher.ingest.read import PARSERS, detect_format, read_entries
from publisher.ingest.save import ImportCounts, save_entries
from publisher.mail.message import Dkim, Recipient, personalize
from publisher.mail.transport import Reply, Transport, make_transport
from publisher.models import Edition, SourceState
from publisher.subscribers import normalize_email
from publisher.tokens import Signer, signing_key


@dataclass(frozen=True)
class ImportRequest:
    location: str  # a path, or bundled:NAME
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
    parsed = [
        (request.location, read_entries(request.location, request.format, config.site.zone))
        for request in requests
    ]
    return _store(sessions, config, parsed, now)


def _store(sessions: sessionmaker[Session], config: Config, parsed: Sequence[tuple[str, list[Entry]]],
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
        state = session.get(SourceState, source.name)
        etag, modified = (state.etag, state.last_modified) if state else (None, None)
    fetched = fetch(source.location, etag=etag, last_modified=modified,
                    timeout=seconds(source.timeout), max_bytes=source.max_bytes)
    if fetched.not_modified:
        return ImportOutcome([(source.location, ImportCounts())], None, not_modified=True)
    parser = PARSERS[source.format or detect_format(source.location, fetched.content_type)]
    entries = parser(fetched.text(source.location), source.location, config.site.zone)

    def remember(session: Session) -> None:
        session.merge(SourceState(source=source.name, etag=fetched.etag,
                                  last_modified=fetched.last_modified, fetched=now))

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


class UnknownDigest(PublisherError):
    pass


def find_digest(config: Config, name: str) -> Digest:
    try:
        return config.digest(name)
    except KeyError:
        known = ", ".join(d.name for d in config.digests) or "none"
        raise UnknownDigest(f"no digest named {name!r} in the config (it has: {known})") from None


def load_dkim(config: Config, environ: Mapping[str, str] = os.environ) -> Dkim | None:
    mail = config.mail
    key = environ.get(mail.dkim_key_env)
    if not (mail.dkim_domain and mail.dkim_selector and key):
        return None
    return Dkim(mail.dkim_domain, mail.dkim_selector, key.encode())


def send_digest(
    sessions: sessionmaker[Session], config: Config, name: str, *, now: datetime,
    period: str | None = None, transport: Transport | None = None,
    progress: Callable[[int], None] | None = None, stop: threading.Event | None = None,
) -> EditionTotals | None:
    """Send the next edition of a digest (finishing an unfinished one first); None when there
    is nothing new. The edition and its deliveries are committed before the first message."""
    edition = queue_digest(sessions, config, name, now=now, period=period)
    if edition is None:
        return None
    return _sender(sessions, config, edition, transport, progress, stop).run()


def queue_digest(sessions: sessionmaker[Session], config: Config, name: str, *, now: datetime,
                 period: str | None = None) -> Edition | None:
    """Make the next edition and queue its deliveries, sending nothing (workers send them);
    the unfinished edition if there is one; None when there is nothing new."""
    digest = find_digest(config, name)
    with sessions.begin() as session:
        return open_edition(session, config, digest, period or f"manual {now.isoformat()}", now)


def unfinished_editions(sessions: sessionmaker[Session], config: Config,
                        stop: threading.Event) -> list[Edition]:
    """Editions still sending, of digests the config has (oldest first)."""
    names = [digest.name for digest in config.digests]

    def look() -> list[Edition]:
        with sessions() as session:
            return list(session.scalars(select(Edition).where(Edition.status == "sending",
                                                              Edition.digest.in_(names))
                                        .order_by(Edition.id)))

    return retrying(look, stop, "looking for editions to send")


def help_send(sessions: sessionmaker[Session], config: Config, edition: Edition, *,
              transport: Transport | None = None, stop: threading.Event | None = None,
              progress: Callable[[int], None] | None = None,
              batch: int = BATCH_PER_CONNECTION) -> EditionTotals:
    """A worker's share of an edition: others may be sending it too (claims keep each delivery
    to one sender)."""
    return _sender(sessions, config, edition, transport, progress, stop, batch).run()


def _sender(sessions: sessionmaker[Session], config: Config, edition: Edition,
            transport: Transport | None, progress: Callable[[int], None] | None,
            stop: threading.Event | None, batch: int = BATCH_PER_CONNECTION) -> EditionSender:
    return EditionSender(sessions, config, edition, transport or make_transport(config),
                         Signer(signing_key(config)), dkim_key=load_dkim(config),
                         progress=progress, stop=stop, batch=batch)


def plan_digest(sessions: sessionmaker[Session], config: Config, name: str) -> Plan | None:
    with sessions() as session:
        return plan_edition(session, find_digest(config, name))


@dataclass(frozen=True)
class Sample:
    """The next edition's message as one recipient would get it; nothing is recorded."""

    edition: Edition
    recipient: Recipient
    message: bytes


def sample_message(
    sessions: sessionmaker[Session], config: Config, name: str, address: str, now: datetime,
    *, eight_bit: bool = True,
) -> Sample | None:
    digest = find_digest(config, name)
    with sessions() as session:
        plan = plan_edition(session, digest)
        if plan is None:
            return None
        edition = plan.resumed or _unsaved_edition(config, digest, plan, now)
    signer = Signer(signing_key(config))
    recipient = RecipientLinks(config, edition, signer).recipient(0, address)
    factory = message_factory(config, digest, edition, load_dkim(config))
    return Sample(edition, recipient, factory.build(recipient, now, eight_bit=eight_bit))


def _unsaved_edition(config: Config, digest: Digest, plan: Plan, now: datetime) -> Edition:
    rendered = render_edition(config, digest, plan.selection, plan.number)
    return Edition(id=0, digest=digest.name, number=plan.number, period="sample", status="sample",
                   created=now, watermark=plan.selection.watermark,
                   release_count=len(plan.selection.releases), more_count=plan.selection.more,
                   first_published=rendered.first_published, last_published=rendered.last_published,
                   subject=rendered.subject, html=rendered.html, text=rendered.text)


def send_test_copy(sessions: sessionmaker[Session], config: Config, name: str, address: str,
                   now: datetime, transport: Transport | None = None) -> Reply | None:
    address = normalize_email(address)
    connection = (transport or make_transport(config)).connect()
    try:
        sample = sample_message(sessions, config, name, address, now,
                                eight_bit=connection.accepts_8bit())
        if sample is None:
            return None
        sender = parseaddr(config.mail.sender)[1]
        return connection.send(sender, address, sample.message, sample.recipient.message_id)
    finally:
        connection.close()


def preview_digest(sessions: sessionmaker[Session], config: Config, name: str, out: Path,
                   now: datetime) -> list[Path] | None:
    """Write NAME.html, NAME.txt and NAME.eml of the next edition into `out`."""
    sample = sample_message(sessions, config, name, "subscriber@example.org", now)
    if sample is None:
        return None
    out.mkdir(parents=True, exist_ok=True)
    files = {
        out / f"{name}.html": personalize(sample.edition.html, sample.recipient, escape=True),
        out / f"{name}.txt": personalize(sample.edition.text, sample.recipient, escape=False),
    }
    for path, content in files.items():
        path.write_text(content, "utf-8")
    eml = out / f"{name}.eml"
    eml.write_bytes(sample.message)
    return [*files, eml]
