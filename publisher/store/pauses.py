"""Paused digests: which, since when, by whom."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from publisher.store.models import DigestPause


def pauses(session: Session) -> dict[str, DigestPause]:
    return {pause.digest: pause for pause in session.scalars(select(DigestPause))}


def pause_of(session: Session, digest: str) -> DigestPause | None:
    return session.get(DigestPause, digest)


def set_pause(session: Session, digest: str, by: str, now: datetime) -> bool:
    """Pause `digest`; False when it was paused already."""
    if session.get(DigestPause, digest) is not None:
        return False
    session.add(DigestPause(digest=digest, paused=now, by=by))
    return True


def clear_pause(session: Session, digest: str) -> bool:
    """Resume `digest`; False when it was not paused."""
    pause = session.get(DigestPause, digest)
    if pause is None:
        return False
    session.delete(pause)
    return True
