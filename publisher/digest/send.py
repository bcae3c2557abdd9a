"""Sends an edition's queued deliveries over several connections, recording each result.

Every result is committed before that connection sends its next message, so a process killed
at any moment leaves at most the messages whose acceptance was still on the wire unrecorded;
those, like every delivery still queued, are sent again by the next run with the same
Message-ID. A 4xx reply is retried later with a doubling delay, up to smtp.max_attempts;
a 5xx reply fails that recipient and the run goes on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr
from urllib.parse import urlsplit

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from publisher.config import Config, Digest
from publisher.digest.editions import complete_if_done
from publisher.digest.render import digest_title
from publisher.mail.message import Dkim, MessageFactory, Recipient
from publisher.mail.transport import (
    Connection,
    PermanentFailure,
    RateLimiter,
    Reply,
    TemporaryFailure,
    Transport,
)
from publisher.models import Delivery, Edition, Subscriber
from publisher.tokens import Signer

log = logging.getLogger(__name__)

BATCH = 500


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Job:
    delivery_id: int
    subscriber_id: int
    address: str
    attempts: int


@dataclass
class EditionTotals:
    digest: str
    number: int
    releases: int
    sent: int
    failed: int
    queued: int
    completed_now: bool

    def line(self) -> str:
        waiting = f", {self.queued} waiting to retry" if self.queued else ""
        return (f"{self.digest} edition {self.number}: {self.releases} releases, "
                f"{self.sent} sent, {self.failed} failed{waiting}")


def recipient_for(config: Config, edition: Edition, signer: Signer, subscriber_id: int,
                  address: str) -> Recipient:
    base, host = config.site.base_url, urlsplit(config.site.base_url).hostname
    return Recipient(
        address=address,
        message_id=f"<{edition.digest}.{edition.number}.{subscriber_id}.{edition.id}@{host}>",
        unsubscribe_url=f"{base}/unsubscribe?token={signer.sign('unsubscribe', subscriber_id)}",
        preferences_url=f"{base}/preferences?token={signer.sign('preferences', subscriber_id)}",
    )


def message_factory(config: Config, digest: Digest, edition: Edition, dkim_key: Dkim | None) -> MessageFactory:
    host = urlsplit(config.site.base_url).hostname
    mailto = config.mail.unsubscribe_mailto or parseaddr(config.mail.sender)[1]
    return MessageFactory(
        sender=config.mail.sender, subject=edition.subject,
        list_id=f"{digest.name}.{host}", list_name=digest_title(config, digest),
        unsubscribe_mailto=mailto, html_part=edition.html, text_part=edition.text,
        boundary=f"publisher_alt_{edition.id}", dkim_key=dkim_key,
    )


class EditionSender:
    def __init__(self, sessions: sessionmaker[Session], config: Config, edition: Edition,
                 transport: Transport, signer: Signer, *, dkim_key: Dkim | None = None,
                 clock: Callable[[], datetime] = utc_now,
                 progress: Callable[[int], None] | None = None,
                 stop: threading.Event | None = None) -> None:
        self.sessions, self.config, self.edition = sessions, config, edition
        digest = next(d for d in config.digests if d.name == edition.digest)
        self.factory = message_factory(config, digest, edition, dkim_key)
        self.transport, self.signer, self.clock = transport, signer, clock
        self.progress = progress or (lambda _n: None)
        self.stop = stop or threading.Event()
        self.rate = RateLimiter(config.smtp.rate_limit)
        self._local = threading.local()
        self._connections: list[Connection] = []
        self._lock = threading.Lock()

    def run(self) -> EditionTotals:
        """Send until every delivery is final (or `stop` is set), then complete the edition."""
        try:
            with ThreadPoolExecutor(self.config.smtp.connections) as pool:
                while not self.stop.is_set():
                    jobs = self._ready_jobs()
                    if jobs is not None:
                        for _ in pool.map(self._deliver, jobs):
                            pass
                    elif not self._wait_for_retries():
                        break
        finally:
            for connection in self._connections:
                connection.close()
        return self._totals()

    def _ready_jobs(self) -> list[Job] | None:
        """The next batch of deliveries that are due; None when none is."""
        now = self.clock()
        with self.sessions.begin() as session:
            rows = session.execute(
                select(Delivery.id, Delivery.subscriber_id, Subscriber.email, Subscriber.status,
                       Delivery.attempts)
                .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
                .where(Delivery.edition_id == self.edition.id, Delivery.status == "queued",
                       (Delivery.next_attempt.is_(None)) | (Delivery.next_attempt <= now))
                .order_by(Delivery.id).limit(BATCH)).all()
            # Someone who unsubscribed since the edition was made gets nothing.
            gone = [row[0] for row in rows if row[3] != "confirmed"]
            if gone:
                session.execute(update(Delivery).where(Delivery.id.in_(gone)).values(
                    status="skipped", last_error="no longer subscribed"))
                self.progress(len(gone))
        if not rows:
            return None
        return [Job(row[0], row[1], row[2], row[4]) for row in rows if row[3] == "confirmed"]

    def _wait_for_retries(self) -> bool:
        """Sleep until the earliest deferred delivery is due; False when none is left."""
        with self.sessions() as session:
            due = session.scalar(select(func.min(Delivery.next_attempt)).where(
                Delivery.edition_id == self.edition.id, Delivery.status == "queued"))
        if due is None:
            return False
        self.stop.wait(max(0.0, (due - self.clock()).total_seconds()))
        return True

    def _connection(self) -> Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = self.transport.connect()
            with self._lock:
                self._connections.append(connection)
        return connection

    def _deliver(self, job: Job) -> None:
        if self.stop.is_set():
            return
        recipient = recipient_for(self.config, self.edition, self.signer, job.subscriber_id,
                                  job.address)
        self.rate.wait()
        message = self.factory.build(recipient, self.clock())
        try:
            reply = self._connection().send(self.factory.envelope_sender, job.address, message,
                                             recipient.message_id)
        except PermanentFailure as exc:
            self._record(job, status="failed", reply=exc.reply)
        except TemporaryFailure as exc:
            self._retry_later(job, exc.reply)
        else:
            self._record(job, status="sent", reply=reply, sent=self.clock())
        self.progress(1)

    def _retry_later(self, job: Job, reply: Reply) -> None:
        attempts = job.attempts + 1
        if attempts >= self.config.smtp.max_attempts:
            log.warning("%s: giving up after %d attempts: %s", job.address, attempts, reply)
            self._record(job, status="failed", reply=reply)
            return
        delay = self.config.smtp.retry_delay * 2 ** (attempts - 1)
        self._record(job, status="queued", reply=reply,
                     next_attempt=self.clock() + timedelta(seconds=delay))

    def _record(self, job: Job, *, status: str, reply: Reply, sent: datetime | None = None,
                next_attempt: datetime | None = None) -> None:
        values: dict[str, object] = {"status": status, "attempts": job.attempts + 1,
                                     "next_attempt": next_attempt, "reply": str(reply)}
        if status == "sent":
            values["sent"] = sent
        else:
            values["last_error"] = str(reply)
        with self.sessions.begin() as session:
            session.execute(update(Delivery).where(Delivery.id == job.delivery_id).values(values))

    def _totals(self) -> EditionTotals:
        with self.sessions.begin() as session:
            completed_now = complete_if_done(session, self.edition.id, self.clock())
            counts = dict(session.execute(
                select(Delivery.status, func.count()).where(Delivery.edition_id == self.edition.id)
                .group_by(Delivery.status)).all())
        if completed_now:
            log.info("%s edition %d complete", self.edition.digest, self.edition.number)
        return EditionTotals(self.edition.digest, self.edition.number, self.edition.release_count,
                             counts.get("sent", 0), counts.get("failed", 0),
                             counts.get("queued", 0), completed_now)
