"""Where each stored thing stands: the statuses of subscribers, editions, deliveries and
processes, as enums. The database holds their values as plain strings."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import String, TypeDecorator
from sqlalchemy.engine import Dialect


class SubscriberStatus(StrEnum):
    PENDING = "pending"  # asked to subscribe; not confirmed yet
    CONFIRMED = "confirmed"  # receives digests
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"  # a hard bounce, or soft ones in bounces.soft_limit editions in a row
    COMPLAINED = "complained"  # marked a digest as spam (an ARF report)


class BounceKind(StrEnum):
    HARD = "hard"  # the address does not exist (5xx, a DSN's "failed" with 5.x.x)
    SOFT = "soft"  # temporary (4xx) until the retries ran out, or a DSN's 4.x.x failure
    COMPLAINT = "complaint"
    UNSUBSCRIBE = "unsubscribe"  # a mail to the List-Unsubscribe address (not a bounce, kept alike)


class EditionStatus(StrEnum):
    SENDING = "sending"  # deliveries are queued or being sent
    COMPLETE = "complete"  # every delivery is final; its period counts for the next
    SAMPLE = "sample"  # a preview or test copy, never stored


class DeliveryStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"  # the recipient left before it went out
    UNKNOWN = "unknown"  # sent twice and neither reply came: it may have arrived


# How a delivery's last_error begins after a message whose reply never came: it is sent once
# more (with the same Message-ID), and a second such outcome settles it as UNKNOWN.
OUTCOME_UNKNOWN = "outcome unknown: "


class ProcessRole(StrEnum):
    WORKER = "worker"
    SCHEDULER = "scheduler"
    CONSOLE = "console"  # an operator's "Send now", sent by the web process that took it


class ProcessState(StrEnum):
    IDLE = "idle"  # a worker with nothing to send
    SENDING = "sending"
    ACTIVE = "active"  # the scheduler holding the lock
    STANDBY = "standby"  # a scheduler waiting for the lock
    STOPPED = "stopped"


class StatusColumn(TypeDecorator[Any]):
    """A status enum stored as its string value (VARCHAR(16)), read back as the enum."""

    impl = String(16)
    cache_ok = True

    def __init__(self, enum: type[StrEnum]) -> None:
        super().__init__()
        self.enum = enum

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else self.enum(value).value

    def process_result_value(self, value: Any, dialect: Dialect) -> StrEnum | None:
        return None if value is None else self.enum(value)
