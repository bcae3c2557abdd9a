"""An operator's controls (console or API), each audited: pause and resume a digest's schedule,
send its next edition now, mail a test copy; import a source now."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from publisher.config import Config
from publisher.errors import PublisherError, TooMany
from publisher.jobs.digests import help_send, queue_digest
from publisher.jobs.imports import import_source
from publisher.jobs.samples import send_test_copy
from publisher.mail.transport import DeliveryFailure, Reply, Transport, TransportError
from publisher.operators.audit import record
from publisher.store.digests import digest_named
from publisher.store.limits import count_request
from publisher.store.models import Edition
from publisher.store.pauses import clear_pause, set_pause
from publisher.store.processes import Presence
from publisher.store.sources import source_named
from publisher.store.statuses import ProcessRole, ProcessState
from publisher.subscribers.people import normalize_email


def pause(sessions: sessionmaker[Session], config: Config, actor: str, name: str, now: datetime) -> None:
    with sessions.begin() as session:
        digest_named(session, name)  # UnknownDigest for a name there is no digest of
        if set_pause(session, name, actor, now):
            record(session, actor, "digest.pause", f"digest {name}", now, after={"paused": True})


def resume(sessions: sessionmaker[Session], config: Config, actor: str, name: str, now: datetime) -> None:
    with sessions.begin() as session:
        digest_named(session, name)
        if clear_pause(session, name):
            record(session, actor, "digest.resume", f"digest {name}", now, before={"paused": True})


def send_now(sessions: sessionmaker[Session], config: Config, actor: str, name: str,
             now: datetime) -> Edition | None:
    """Make the next edition and queue its deliveries (the caller or the workers send them);
    None when nothing is new."""
    edition = queue_digest(sessions, config, name, now=now, period=f"manual {now.isoformat()}")
    if edition is not None:
        with sessions.begin() as session:
            record(session, actor, "digest.send", f"{name} edition {edition.number}", now,
                   after={"edition": edition.number, "releases": edition.release_count})
    return edition


def send_in_background(sessions: sessionmaker[Session], config: Config, edition: Edition,
                       transport: Transport | None) -> None:
    """Send a queued edition from this process, in a thread (a web request returns at once),
    unless workers send (`scheduler.send_in_process = false`). Claims keep each delivery to one
    sender, so a worker or `publisher run` may share it, and one that stops is resumed."""
    if config.scheduler.send_in_process:
        threading.Thread(target=_send_and_report, args=(sessions, config, edition, transport),
                         name=f"send {edition.digest} {edition.number}", daemon=True).start()


def _send_and_report(sessions: sessionmaker[Session], config: Config, edition: Edition,
                     transport: Transport | None) -> None:
    """Sends, reporting as a process of its own (`publisher status`: role console, and the
    deliveries it handled, seen for two minutes after it is done)."""
    with Presence(sessions, ProcessRole.CONSOLE, ProcessState.SENDING, name=f"send {edition.digest} {edition.number}",
                  final_state=ProcessState.IDLE) as presence:
        help_send(sessions, config, edition, transport=transport, progress=presence.handled)


class NotSent(PublisherError):
    """The mail server did not take a test copy (or could not be reached): its reply says why."""


TEST_COPIES = 20  # an operator's test copies in an hour


def test_copy(sessions: sessionmaker[Session], config: Config, actor: str, name: str, address: str,
              countries: Sequence[str], language: str, now: datetime,
              transport: Transport | None = None) -> Reply | None:
    """A test copy of the next edition as readers of `countries` in `language` get it; None
    when nothing is new for them; NotSent when the server did not take it. InvalidValue for an
    address that is none (it goes into a header and the audit log); TooMany past
    TEST_COPIES an hour per operator (any address can be given)."""
    address = normalize_email(address)
    with sessions.begin() as session:
        if not count_request(session, "test-copy", actor, TEST_COPIES, timedelta(hours=1), now):
            raise TooMany(f"at most {TEST_COPIES} test copies an hour; try again later", 3600)
    outcome: dict[str, object] = {"countries": list(countries), "language": language}
    try:
        sent = send_test_copy(sessions, config, name, address, now, countries=countries, language=language,
                              transport=transport)
        outcome["sent"] = str(sent[1]) if sent else "nothing new"
    except (DeliveryFailure, TransportError) as exc:
        outcome["sent"] = f"not taken: {exc}"
        raise NotSent(f"the mail server did not take the test copy: {exc}") from exc
    finally:
        with sessions.begin() as session:
            record(session, actor, "digest.test", f"digest {name} to {address}", now, after=outcome)
    return None if sent is None else sent[1]


def import_now(sessions: sessionmaker[Session], config: Config, actor: str, name: str, now: datetime) -> list[str]:
    """Import a configured source at once (its schedule is left as it is); what it did, in lines.
    A failure is audited too, and raised."""
    with sessions() as session:
        source = source_named(session, name)  # NotFound naming the sources there are
    lines = ["failed"]
    try:
        lines = import_source(sessions, config, source, now).lines()
    except PublisherError as exc:
        lines = [f"failed: {exc}"]
        raise
    finally:
        with sessions.begin() as session:
            record(session, actor, "source.import", f"source {name}", now, after={"outcome": lines})
    return lines
