"""The digests in effect (store/settings.py keeps them: seeded from config.toml, following it
until an operator changes one, then the database's own)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from publisher.config import Digest
from publisher.config.write import digest_values
from publisher.errors import UnknownDigest
from publisher.store import settings
from publisher.store.choices import pin_default_readers
from publisher.store.models import StoredDigest, StoredSettings
from publisher.store.settings import FILE, OPERATOR, Change, Kind

__all__ = ["DIGESTS", "FILE", "OPERATOR", "Change", "digest_named", "digest_of", "retire", "save", "stored_rows"]


def _pin(session: Session, before: Digest | None, after: Digest, others: Sequence[Digest]) -> None:
    if before is None:  # a digest new to readers: those who chose none keep exactly what they get
        pin_default_readers(session, after, others)


DIGESTS = Kind("digest", StoredDigest, Digest, digest_values, lambda config: config.digests,
               unknown=UnknownDigest, before_save=_pin)


def digest_of(row: StoredSettings) -> Digest:
    return DIGESTS.of(row)


def stored_rows(session: Session) -> list[StoredSettings]:
    """Every digest the database has, retired ones too, by name."""
    return settings.rows(DIGESTS, session)


def digest_named(session: Session, name: str, *, retired: bool = False) -> Digest:
    """A digest by name (a retired one too when asked: an edition opened before it was retired
    is still sent); UnknownDigest naming the known ones."""
    return settings.named(DIGESTS, session, name, retired=retired)


def save(session: Session, digest: Digest, origin: str, actor: str, now: datetime) -> Change | None:
    return settings.save(DIGESTS, session, digest, origin, actor, now)


def retire(session: Session, name: str, origin: str, actor: str, now: datetime) -> Change | None:
    """The digest makes no more editions (its editions and pages stay); None when it was retired."""
    return settings.retire(DIGESTS, session, name, origin, actor, now)

