"""Pruning the deliveries of old editions: each delivery row is only the record of who got what
once an edition is complete, and a weekly edition to 1,000,000 adds 300 MB. The edition, its
variants, what it carried and its page stay; it keeps its counts by status and when it was
pruned, so `publisher report` still says how it went (without the list of recipients)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select
from sqlalchemy.orm import Session, sessionmaker

from publisher.dates import counted
from publisher.store.editions import delivery_counts
from publisher.store.models import Delivery, Edition
from publisher.store.statuses import EditionStatus


@dataclass
class Pruned:
    editions: int = 0
    deliveries: int = 0

    def line(self, older_than: str) -> str:
        return (f"pruned {counted(self.deliveries, 'delivery', 'deliveries')} of "
                f"{counted(self.editions, 'edition')} completed more than {older_than} ago")


def prune_deliveries(sessions: sessionmaker[Session], older_than: timedelta, now: datetime,
                     batch: int = 10_000, progress: Callable[[int], None] | None = None) -> Pruned:
    """Delete the deliveries of every edition completed before `now - older_than`, `batch` rows
    per transaction (a long delete would hold its locks, and the senders wait on them). Stopped
    halfway, it finishes on the next run: the counts are kept before the first row goes."""
    with sessions() as session:
        editions = list(session.scalars(select(Edition.id).where(
            Edition.status == EditionStatus.COMPLETE, Edition.completed < now - older_than,
            Edition.pruned.is_(None)).order_by(Edition.id)))
    pruned = Pruned()
    for edition_id in editions:
        _keep_counts(sessions, edition_id)
        while True:
            with sessions.begin() as session:
                chosen = select(Delivery.id).where(Delivery.edition_id == edition_id).limit(batch)
                result = session.execute(delete(Delivery).where(Delivery.id.in_(chosen.scalar_subquery()))
                                         .execution_options(synchronize_session=False))
                gone = cast(CursorResult[Any], result).rowcount
            pruned.deliveries += gone
            if progress:
                progress(gone)
            if gone < batch:
                break
        with sessions.begin() as session:
            edition = session.get(Edition, edition_id)
            assert edition is not None
            edition.pruned = now
        pruned.editions += 1
    return pruned


def _keep_counts(sessions: sessionmaker[Session], edition_id: int) -> None:
    with sessions.begin() as session:
        edition = session.get(Edition, edition_id)
        if edition is None or edition.delivery_counts is not None:  # kept by a run that stopped
            return
        edition.delivery_counts = json.dumps(delivery_counts(session, edition_id), sort_keys=True)


def kept_counts(edition: Edition) -> dict[str, int]:
    """A pruned edition's deliveries by status, as they were before they went."""
    return dict(json.loads(edition.delivery_counts)) if edition.delivery_counts else {}
