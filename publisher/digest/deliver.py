"""Delivering one recipient's message over one connection, and recording what came of it: sent,
failed (5xx), tried again later (4xx, up to smtp.max_attempts, with a doubling delay), or an
unknown outcome (settled once). Claiming deliveries is send.py's; this only delivers them."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from publisher.config import Smtp
from publisher.digest.lease import Lease
from publisher.digest.message import EditionMessages
from publisher.digest.outage import Outage
from publisher.digest.pace import SharedRate
from publisher.digest.record import Result, ResultWriter
from publisher.mail.transport import (
    Connection,
    OutcomeUnknown,
    PermanentFailure,
    Reply,
    ServerUnavailable,
    TemporaryFailure,
)
from publisher.store.statuses import OUTCOME_UNKNOWN, DeliveryStatus

log = logging.getLogger(__name__)

REFUSALS_BEFORE_RETRY = 3  # 421s in a row to one message before it counts as its recipient's


class Job(NamedTuple):  # a thousand made per batch: a tuple costs a third of a frozen dataclass
    delivery_id: int
    subscriber_id: int
    variant_id: int
    address: str
    attempts: int
    nonce: str  # the subscriber's, which their links are signed with
    last_error: str | None

    @property
    def was_unknown(self) -> bool:
        """Whether a copy of this delivery went out before without its reply."""
        return (self.last_error or "").startswith(OUTCOME_UNKNOWN)


@dataclass(frozen=True)
class Deliverer:
    """What every sending thread shares: the edition's messages and links, the pace, the
    server's outages, the lease, the result writer; and when to stop sending."""
    smtp: Smtp
    messages: EditionMessages
    results: ResultWriter
    lease: Lease
    outage: Outage
    rate: SharedRate
    stopped: Callable[[], bool]  # told to stop, or the digest was paused
    clock: Callable[[], datetime]
    progress: Callable[[int], None]

    def deliver(self, connection: Connection, job: Job) -> None:
        """Send one message; while the server is away, wait (the claim is kept and renewed)."""
        factory, language = self.messages.factories[job.variant_id]
        recipient = self.messages.links.recipient(job.subscriber_id, job.address, job.nonce, language)
        closings = 0  # 421s to this very message, from a server that keeps answering
        while self.outage.enter():
            if not self.lease.holds():
                return
            self.rate.wait()
            if self.stopped():  # told to stop or paused: leave it queued
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

    def _settle_unknown(self, job: Job, reply: Reply) -> None:
        """The message went out and no reply came: the server may have it. Sent once more, with
        the same Message-ID (mail systems drop a copy they have seen); if that reply is lost
        too, the delivery ends as UNKNOWN. Never a loop."""
        if job.was_unknown:
            log.warning("%s: no reply to the message twice; it may have arrived: %s", job.address, reply)
            self._record(job, status=DeliveryStatus.UNKNOWN, reply=reply, unknown=True)
            return
        log.warning("%s: no reply to the message (%s); sending it once more", job.address, reply)
        self._record(job, status=DeliveryStatus.QUEUED, reply=reply, unknown=True,
                     next_attempt=self.clock() + self.smtp.retry_delay)

    def _retry_later(self, job: Job, reply: Reply) -> None:
        """A 4xx: tried again later, up to smtp.max_attempts. An outcome unknown before stays
        unknown (the one copy more is still owed, never more), and so it ends."""
        attempts, unknown = job.attempts + 1, job.was_unknown
        if attempts >= self.smtp.max_attempts:
            log.warning("%s: giving up after %d attempt%s: %s", job.address, attempts,
                        "" if attempts == 1 else "s", reply)
            self._record(job, status=DeliveryStatus.UNKNOWN if unknown else DeliveryStatus.FAILED,
                         reply=reply, unknown=unknown)
            return
        delay = self.smtp.retry_delay * 2 ** (attempts - 1)
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
