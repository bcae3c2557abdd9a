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

from sqlalchemy.orm import Session, sessionmaker

from publisher.clock import utc_now
from publisher.config import Smtp
from publisher.dates import counted
from publisher.digest.claimer import Claimer
from publisher.digest.deliver import Deliverer, Job
from publisher.digest.editions import complete_if_done
from publisher.digest.lease import Lease
from publisher.digest.message import EditionMessages
from publisher.digest.outage import Outage
from publisher.digest.pace import SharedRate
from publisher.digest.pausewatch import PauseWatch
from publisher.digest.record import ResultWriter
from publisher.mail.transport import Connection, Transport, TransportError
from publisher.store.db import engine_of, retrying
from publisher.store.editions import delivery_counts
from publisher.store.models import Edition
from publisher.store.statuses import DeliveryStatus
from publisher.subscribers.bounces import settle_send_time_bounces

log = logging.getLogger(__name__)

BATCH_PER_CONNECTION = 250  # deliveries claimed at a time, per connection (the default)
# Jobs go to the sending threads a few at a time: handed over one by one, every message woke a
# waiting thread through queue.Queue's Python-level locks. A few at a time, a batch's last
# messages wait on a slower connection for a handful of messages at most.
JOBS_PER_HANDOUT = 8


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


class EditionSender:
    """Claims an edition's deliveries a batch at a time and hands them to its sending threads
    (a Deliverer's each, over a connection of its own), while a keeper renews the lease and a
    watcher looks for a pause; completes the edition when nothing is left."""

    def __init__(self, sessions: sessionmaker[Session], smtp: Smtp, edition: Edition,
                 transport: Transport, messages: EditionMessages, *, soft_limit: int,
                 clock: Callable[[], datetime] = utc_now,
                 progress: Callable[[int], None] | None = None,
                 stop: threading.Event | None = None,
                 batch: int = BATCH_PER_CONNECTION) -> None:
        self.sessions, self.smtp, self.edition = sessions, smtp, edition
        self.soft_limit = soft_limit  # bounces.soft_limit: settling the bounces of the send
        self.messages, self.transport, self.clock = messages, transport, clock
        self.progress = progress or (lambda _n: None)
        self.stop = stop or threading.Event()
        self.rate = SharedRate(engine_of(sessions), transport.description, smtp.rate_limit, self.stop)
        self.outage = Outage(smtp.reconnect_max.total_seconds(), self.stop)
        self.lease = Lease(smtp.lease, clock)
        self.pause = PauseWatch(sessions, edition.digest)
        self.claimer = Claimer(sessions, edition.id, self.lease, batch * smtp.connections, self.pause, clock,
                               self.stop, self.progress)
        # Set by the first sending thread that finds no message can go out (it also sets `stop`);
        # read once every sending thread has been joined.
        self.fatal: TransportError | None = None
        self.paused = False  # an operator paused the digest: the send stopped with the rest queued

    def run(self) -> EditionTotals:
        """Send until every delivery is final (or `stop` is set), then complete the edition."""
        results = ResultWriter(engine_of(self.sessions), self.stop, self.smtp.connections)
        deliverer = self.deliverer(results)
        done = threading.Event()
        helpers = [threading.Thread(target=self.lease.keep, args=(done, self.claimer.renew), name="lease", daemon=True),
                   threading.Thread(target=self.pause.watch, args=(done,), name="pause", daemon=True)]
        work: queue.Queue[list[Job] | None] = queue.Queue()
        workers = [threading.Thread(target=self._work, args=(work, deliverer), name=f"sender-{n}")
                   for n in range(self.smtp.connections)]
        for thread in helpers + workers:
            thread.start()
        try:
            self._hand_out(work)
        finally:
            for _ in workers:
                work.put(None)
            for worker in workers:
                worker.join()
            results.close()
            done.set()
            for helper in helpers:
                helper.join()
            retrying(self.claimer.release, self.stop, "releasing claims")
        if self.fatal is not None:
            raise self.fatal
        return retrying(self._totals, self.stop, "completing the edition")

    def deliverer(self, results: ResultWriter) -> Deliverer:
        return Deliverer(self.smtp, self.messages, results, self.lease, self.outage, self.rate,
                         lambda: self.stop.is_set() or self.pause.halted.is_set(), self.clock, self.progress)

    def _hand_out(self, work: queue.Queue[list[Job] | None]) -> None:
        """Batch after batch to the sending threads, each sent before the next is claimed."""
        while not self.stop.is_set():
            halted = self.pause.halted
            jobs = None if halted.is_set() else retrying(self.claimer.ready_jobs, self.stop, "claiming deliveries")
            if self.claimer.paused or halted.is_set():  # even if resumed since: it was halted
                self.paused = True
                log.info("%s edition %d: paused by an operator; the rest stays queued",
                         self.edition.digest, self.edition.number)
                return
            if jobs is not None:
                for start in range(0, len(jobs), JOBS_PER_HANDOUT):
                    work.put(jobs[start:start + JOBS_PER_HANDOUT])
                work.join()
            elif not retrying(self.claimer.wait_for_retries, self.stop, "waiting for deliveries"):
                return

    def _work(self, work: queue.Queue[list[Job] | None], deliverer: Deliverer) -> None:
        """One sending thread with its own connection, reused for every message it sends."""
        connection = self.transport.connect()
        try:
            while (jobs := work.get()) is not None:
                try:
                    for job in jobs:
                        self._deliver(deliverer, connection, job)
                finally:
                    work.task_done()
        finally:
            connection.close()

    def _deliver(self, deliverer: Deliverer, connection: Connection, job: Job) -> None:
        try:
            deliverer.deliver(connection, job)
        except TransportError as exc:  # no message can go out: stop, all stays queued
            self.fatal = self.fatal or exc
            self.stop.set()
        except Exception:  # logged; the delivery stays queued for the next run
            log.exception("delivery %d to %s", job.delivery_id, job.address)

    def _totals(self) -> EditionTotals:
        with self.sessions.begin() as session:
            completed_now = complete_if_done(session, self.edition.id, self.clock())
            if completed_now:  # exactly once, with the completion
                settle_send_time_bounces(session, self.edition.id, self.clock(), self.soft_limit)
            counts = delivery_counts(session, self.edition.id)
        if completed_now:
            log.info("%s edition %d complete", self.edition.digest, self.edition.number)
        return EditionTotals(self.edition.digest, self.edition.number, self.edition.release_count,
                             counts.get(DeliveryStatus.SENT, 0), counts.get(DeliveryStatus.FAILED, 0),
                             counts.get(DeliveryStatus.QUEUED, 0), completed_now,
                             counts.get(DeliveryStatus.UNKNOWN, 0), self.paused)

