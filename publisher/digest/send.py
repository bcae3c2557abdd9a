"""Sends an edition's queued deliveries over several connections, recording each result.

Every result is committed before that connection sends its next message, so a process killed
at any moment leaves at most the messages whose acceptance was still on the wire unrecorded;
those, like every delivery still queued, are sent again by the next run with the same
Message-ID. A 4xx reply is retried later with a doubling delay, up to smtp.max_attempts;
a 5xx reply fails that recipient and the run goes on. A server that cannot be reached fails
nobody: the deliveries wait while it is away (see outage.py).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from publisher.clock import utc_now
from publisher.config import Config
from publisher.dates import counted
from publisher.digest.claims import claim, next_chance, release, renew
from publisher.digest.editions import complete_if_done
from publisher.digest.message import RecipientLinks, message_factory
from publisher.digest.outage import Outage
from publisher.digest.pace import SharedRate
from publisher.digest.record import Result, ResultWriter
from publisher.identity import process_name
from publisher.mail.message import Dkim, MessageFactory
from publisher.mail.transport import (
    Connection,
    OutcomeUnknown,
    PermanentFailure,
    Reply,
    ServerUnavailable,
    TemporaryFailure,
    Transport,
    TransportError,
)
from publisher.store.db import engine_of, retrying
from publisher.store.editions import delivery_counts
from publisher.store.models import Delivery, Edition, EditionVariant, Subscriber
from publisher.store.pauses import pause_of
from publisher.store.statuses import OUTCOME_UNKNOWN, DeliveryStatus, SubscriberStatus
from publisher.subscribers.bounces import settle_send_time_bounces
from publisher.subscribers.tokens import Signer

log = logging.getLogger(__name__)

BATCH_PER_CONNECTION = 250  # deliveries claimed at a time, per connection (the default)
REFUSALS_BEFORE_RETRY = 3  # 421s in a row to one message before it counts as its recipient's
PAUSE_CHECK_SECONDS = 1.0  # how often a sender looks whether its digest was paused mid-batch


@dataclass(frozen=True)
class Job:
    delivery_id: int
    subscriber_id: int
    variant_id: int
    address: str
    attempts: int
    nonce: str  # the subscriber's, which their links are signed with
    last_error: str | None


@dataclass
class EditionTotals:
    digest: str
    number: int
    releases: int
    sent: int
    failed: int
    queued: int
    completed_now: bool
    unknown: int = 0
    paused: bool = False  # an operator paused the digest during the send: the rest waits


    def line(self) -> str:
        if not self.releases:
            return f"{self.digest} edition {self.number}: silent, nothing new to mail"
        waiting = (f", paused with {self.queued} still queued" if self.paused
                   else f", {self.queued} waiting to retry" if self.queued else "")
        unknown = f", {self.unknown} without a reply (may have arrived)" if self.unknown else ""
        return (f"{self.digest} edition {self.number}: {counted(self.releases, 'release')}, "
                f"{self.sent} sent, {self.failed} failed{unknown}{waiting}")


def _variant_factories(sessions: sessionmaker[Session], config: Config, edition: Edition,
                       dkim_key: Dkim | None) -> dict[int, tuple[MessageFactory, str]]:
    """A message factory and the language of each variant of the edition (a handful: one per
    choice of countries and language)."""
    digest = config.digest(edition.digest)
    with sessions() as session:
        variants = session.scalars(select(EditionVariant).where(EditionVariant.edition_id == edition.id))
        return {variant.id: (message_factory(config, digest, variant, dkim_key), variant.language)
                for variant in variants}


class EditionSender:
    def __init__(self, sessions: sessionmaker[Session], config: Config, edition: Edition,
                 transport: Transport, signer: Signer, *, dkim_key: Dkim | None = None,
                 clock: Callable[[], datetime] = utc_now,
                 progress: Callable[[int], None] | None = None,
                 stop: threading.Event | None = None,
                 batch: int = BATCH_PER_CONNECTION) -> None:
        self.sessions, self.config, self.edition = sessions, config, edition
        self.factories = _variant_factories(sessions, config, edition, dkim_key)
        self.transport, self.clock = transport, clock
        self.links = RecipientLinks(config, edition, signer)
        self.progress = progress or (lambda _n: None)
        self.stop = stop or threading.Event()
        self.rate = SharedRate(engine_of(sessions), transport.description, config.smtp.rate_limit,
                               self.stop)
        self.fatal: TransportError | None = None
        self.owner = process_name()  # a process may run several senders: each its own
        self.lease = config.smtp.lease
        self.claim_size = batch * config.smtp.connections
        self.outage = Outage(config.smtp.reconnect_max.total_seconds(), self.stop)
        self.claims_until = self.clock()  # when this sender's claims run out, unless renewed
        self.lapsed = False  # the claims ran out once: the batch in hand is no longer ours
        self.claimed_up_to = 0  # the last delivery id claimed
        self.paused = False  # the digest was paused: claim nothing more
        self.halted = threading.Event()  # ... and send nothing more of the batch in hand

    def run(self) -> EditionTotals:
        """Send until every delivery is final (or `stop` is set), then complete the edition."""
        self.results = ResultWriter(engine_of(self.sessions), self.stop,
                                    self.config.smtp.connections)
        done = threading.Event()
        keeper = threading.Thread(target=self._keep_claims, args=(done,), name="lease", daemon=True)
        keeper.start()
        watcher = threading.Thread(target=self._watch_for_pause, args=(done,), name="pause", daemon=True)
        watcher.start()
        work: queue.Queue[Job | None] = queue.Queue()
        workers = [threading.Thread(target=self._work, args=(work,), name=f"sender-{n}")
                   for n in range(self.config.smtp.connections)]
        for worker in workers:
            worker.start()
        try:
            while not self.stop.is_set():
                jobs = None if self.halted.is_set() else retrying(self._ready_jobs, self.stop,
                                                                  "claiming deliveries")
                if self.paused or self.halted.is_set():  # even if resumed since: it was halted
                    self.paused = True
                    log.info("%s edition %d: paused by an operator; the rest stays queued",
                             self.edition.digest, self.edition.number)
                    break
                if jobs is not None:
                    for job in jobs:
                        work.put(job)
                    work.join()
                elif not retrying(self._wait_for_retries, self.stop, "waiting for deliveries"):
                    break
        finally:
            for _ in workers:
                work.put(None)
            for worker in workers:
                worker.join()
            self.results.close()
            done.set()
            keeper.join()
            watcher.join()
            retrying(self._release, self.stop, "releasing claims")
        if self.fatal is not None:
            raise self.fatal
        return retrying(self._totals, self.stop, "completing the edition")

    def _work(self, work: queue.Queue[Job | None]) -> None:
        """One sending thread with its own connection, reused for every message it sends."""
        connection = self.transport.connect()
        try:
            while (job := work.get()) is not None:
                try:
                    self._deliver(connection, job)
                except TransportError as exc:  # no message can go out: stop, all stays queued
                    self.fatal = self.fatal or exc
                    self.stop.set()
                except Exception:  # logged; the delivery stays queued for the next run
                    log.exception("delivery %d to %s", job.delivery_id, job.address)
                finally:
                    work.task_done()
        finally:
            connection.close()

    def _ready_jobs(self) -> list[Job] | None:
        """Claim the next batch of free deliveries; None when none is free now, or the
        digest was paused (checked before each batch; `_watch_for_pause` looks during one)."""
        with self.sessions.begin() as session:
            now = self.clock()
            if self.lapsed:
                release(session, self.owner)
            self.paused = pause_of(session, self.edition.digest) is not None
            if self.paused:
                return None
            ids = self._claim_next(session, now)
            if not ids:
                return None
            self.claims_until, self.lapsed = now + self.lease, False
            rows = session.execute(
                select(Delivery.id, Delivery.subscriber_id, Delivery.variant_id, Subscriber.email,
                       Subscriber.status, Delivery.attempts, Subscriber.token_nonce,
                       Delivery.last_error)
                .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
                .where(Delivery.id.in_(ids)).order_by(Delivery.id)).all()
            # Someone who unsubscribed since the edition was made gets nothing.
            gone = [row.id for row in rows if row.status != SubscriberStatus.CONFIRMED]
            if gone:
                session.execute(update(Delivery).where(Delivery.id.in_(gone)).values(
                    status=DeliveryStatus.SKIPPED, last_error="no longer subscribed", claimed_by=None,
                    claimed_until=None))
                self.progress(len(gone))
        return [Job(row.id, row.subscriber_id, row.variant_id, row.email, row.attempts,
                    row.token_nonce, row.last_error)
                for row in rows if row.status == SubscriberStatus.CONFIRMED]

    def _claim_next(self, session: Session, now: datetime) -> list[int]:
        """Claim onwards from the last id this sender claimed; once nothing is left there,
        from the start again: batches given back, and retries now due, lie behind it."""
        ids = claim(session, self.edition.id, self.owner, now, self.lease, self.claim_size,
                    after=self.claimed_up_to)
        if not ids and self.claimed_up_to:
            ids = claim(session, self.edition.id, self.owner, now, self.lease, self.claim_size)
        self.claimed_up_to = ids[-1] if ids else 0
        return ids

    def _release(self) -> None:
        with self.sessions.begin() as session:
            release(session, self.owner)

    def _wait_for_retries(self) -> bool:
        """Sleep until a queued delivery may be free (a retry falls due, or another sender's
        lease ends); False when nothing is left queued."""
        with self.sessions() as session:
            due = next_chance(session, self.edition.id, self.clock())
        if due is None:
            return False
        # Look again at least every second: another sender may finish its batch long before
        # its lease would end.
        self.stop.wait(min(max(0.0, (due - self.clock()).total_seconds()), 1.0))
        return True

    def _keep_claims(self, done: threading.Event) -> None:
        """Renew this sender's lease while it runs, so nobody takes over its batch."""
        while not done.wait(self.lease.total_seconds() / 3):
            try:
                self._renew()
            except SQLAlchemyError as exc:  # the next renewal, or the lease's end, decides
                log.warning("could not renew the delivery lease: %s", exc)

    def _watch_for_pause(self, done: threading.Event) -> None:
        """A pause stops the batch in hand within a second (a batch at a slow relay's pace can
        take minutes): what was not sent yet stays queued, given back when the run ends."""
        while not done.wait(PAUSE_CHECK_SECONDS):
            try:
                with self.sessions() as session:
                    paused = pause_of(session, self.edition.digest) is not None
            except SQLAlchemyError:  # the database is away: the next claim looks again
                continue
            if paused:
                self.halted.set()
                return

    def _renew(self) -> None:
        """A renewal counts only if it is committed before the claims ran out; a late one
        (the database was away) may come after another sender took the batch."""
        now, until = self.clock(), self.claims_until
        if now < until:
            with self.sessions.begin() as session:
                renew(session, self.owner, now, self.lease)
        if self.clock() < until:
            self.claims_until = now + self.lease
        else:
            self.lapsed = True

    def _deliver(self, connection: Connection, job: Job) -> None:
        """Send one message; while the server is away, wait (the claim is kept and renewed)."""
        factory, language = self.factories[job.variant_id]
        recipient = self.links.recipient(job.subscriber_id, job.address, job.nonce, language)
        closings = 0  # 421s to this very message, from a server that keeps answering
        while self.outage.enter():
            if not self._claim_holds():
                return
            self.rate.wait()
            if self.stop.is_set() or self.halted.is_set():  # told to stop or paused: leave it queued
                return
            message = factory.build(recipient, self.clock(), eight_bit=connection.accepts_8bit())
            try:
                reply = connection.send(recipient.return_path or factory.envelope_sender, job.address, message,
                                        recipient.message_id)
            except ServerUnavailable as exc:
                self.outage.down(exc.reply)
                closings += exc.reply.code == 421
                if closings < REFUSALS_BEFORE_RETRY:
                    continue
                # Not a server going away (that stops answering): one that will not take this
                # message. It becomes the recipient's retry, and the others go on.
                self._retry_later(job, exc.reply)
            except OutcomeUnknown as exc:
                self._settle_unknown(job, exc.reply)
            except PermanentFailure as exc:
                log.warning("%s: refused: %s", job.address, exc.reply)
                self._record(job, status=DeliveryStatus.FAILED, reply=exc.reply)
            except TemporaryFailure as exc:
                self._retry_later(job, exc.reply)
            else:
                self._record(job, status=DeliveryStatus.SENT, reply=reply, sent=self.clock())
            self.outage.up()
            self.progress(1)
            return

    def _claim_holds(self) -> bool:
        """Whether this sender's claim will outlast a message sent now. It will not when the
        lease could not be renewed for a long while (the database was away): by now another
        sender may have taken the batch, and sending too would send twice."""
        if not self.lapsed and self.clock() < self.claims_until - self.lease / 3:
            return True
        if not self.lapsed:
            log.warning("the lease on this batch of deliveries ran out; claiming afresh")
        self.lapsed = True
        return False

    def _settle_unknown(self, job: Job, reply: Reply) -> None:
        """The message went out and no reply came: the server may have it. Sent once more, with
        the same Message-ID (mail systems drop a copy they have seen); if that reply is lost
        too, the delivery ends as UNKNOWN. Never a loop."""
        if _was_unknown(job):
            log.warning("%s: no reply to the message twice; it may have arrived: %s", job.address, reply)
            self._record(job, status=DeliveryStatus.UNKNOWN, reply=reply, unknown=True)
            return
        log.warning("%s: no reply to the message (%s); sending it once more", job.address, reply)
        self._record(job, status=DeliveryStatus.QUEUED, reply=reply, unknown=True,
                     next_attempt=self.clock() + self.config.smtp.retry_delay)

    def _retry_later(self, job: Job, reply: Reply) -> None:
        """A 4xx: tried again later, up to smtp.max_attempts. An outcome unknown before stays
        unknown (the one copy more is still owed, never more), and so it ends."""
        attempts, unknown = job.attempts + 1, _was_unknown(job)
        if attempts >= self.config.smtp.max_attempts:
            log.warning("%s: giving up after %d attempt%s: %s", job.address, attempts,
                        "" if attempts == 1 else "s", reply)
            self._record(job, status=DeliveryStatus.UNKNOWN if unknown else DeliveryStatus.FAILED,
                         reply=reply, unknown=unknown)
            return
        delay = self.config.smtp.retry_delay * 2 ** (attempts - 1)
        self._record(job, status=DeliveryStatus.QUEUED, reply=reply, next_attempt=self.clock() + delay,
                     unknown=unknown)

    def _record(self, job: Job, *, status: str, reply: Reply, sent: datetime | None = None,
                next_attempt: datetime | None = None, unknown: bool = False) -> None:
        """`unknown`: an earlier copy may have arrived; the mark stays with the delivery (in its
        last error) until it is settled."""
        text = (OUTCOME_UNKNOWN if unknown else "") + str(reply)
        self.results.record(Result(
            job.delivery_id, status, job.attempts + 1, text, sent=sent,
            next_attempt=next_attempt, last_error=None if status is DeliveryStatus.SENT else text))

    def _totals(self) -> EditionTotals:
        with self.sessions.begin() as session:
            completed_now = complete_if_done(session, self.edition.id, self.clock())
            if completed_now:  # exactly once, with the completion
                settle_send_time_bounces(session, self.edition.id, self.clock(),
                                         self.config.bounces.soft_limit)
            counts = delivery_counts(session, self.edition.id)
        if completed_now:
            log.info("%s edition %d complete", self.edition.digest, self.edition.number)
        return EditionTotals(self.edition.digest, self.edition.number, self.edition.release_count,
                             counts.get(DeliveryStatus.SENT, 0), counts.get(DeliveryStatus.FAILED, 0),
                             counts.get(DeliveryStatus.QUEUED, 0), completed_now,
                             counts.get(DeliveryStatus.UNKNOWN, 0), self.paused)


def _was_unknown(job: Job) -> bool:
    """Whether a copy of this delivery went out before without its reply."""
    return (job.last_error or "").startswith(OUTCOME_UNKNOWN)
