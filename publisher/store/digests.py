"""The digests in effect, kept in the database so that every process reads the same ones and a
change needs no restart.

One source of truth, the database; config.toml seeds it. A digest nobody changed elsewhere
follows the file (origin FILE: each start makes it say what the file says, or retires it when
the file drops it). A change from the console, the API or `publisher digests apply` makes it the
database's own (origin OPERATOR): the file no longer changes it, and where the two differ the
console and `publisher digests diff` say so.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from publisher.config import Config, Digest
from publisher.config.write import digest_values
from publisher.errors import UnknownDigest
from publisher.store import locks
from publisher.store.audit import record
from publisher.store.choices import pin_default_readers
from publisher.store.models import StoredDigest

FILE = "config.toml"  # the digest follows config.toml
OPERATOR = "operator"  # changed by an operator: the database's own


def settings_text(digest: Digest) -> str:
    return json.dumps(digest_values(digest), ensure_ascii=False, sort_keys=True)


def digest_of(row: StoredDigest) -> Digest:
    """The stored settings, checked when they were stored, as the model."""
    values: dict[str, Any] = json.loads(row.settings)
    values["countries"] = tuple(values["countries"])
    return Digest.model_validate(values)


def stored_rows(session: Session) -> list[StoredDigest]:
    """Every digest the database has, retired ones too, by name."""
    return list(session.scalars(select(StoredDigest).order_by(StoredDigest.name)))


def in_effect(session: Session, config: Config) -> Config:
    """The config with the digests in effect now (the file's order first, then by name)."""
    order = {digest.name: i for i, digest in enumerate(config.digests)}
    rows = [row for row in stored_rows(session) if row.retired is None]
    rows.sort(key=lambda row: (order.get(row.name, len(order)), row.name))
    return config.model_copy(update={"digests": tuple(digest_of(row) for row in rows)})


def digest_named(session: Session, name: str, *, retired: bool = False) -> Digest:
    """A digest by name (a retired one too when asked: an edition opened before it was retired
    is still sent); UnknownDigest naming the known ones."""
    row = session.get(StoredDigest, name)
    if row is None or (row.retired is not None and not retired):
        known = ", ".join(r.name for r in stored_rows(session) if r.retired is None) or "none"
        raise UnknownDigest(f"no digest named {name!r} (there are: {known})")
    return digest_of(row)


@dataclass(frozen=True)
class Change:
    action: str  # digest.create, digest.change, digest.retire
    name: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


def save(session: Session, digest: Digest, origin: str, actor: str, now: datetime) -> Change | None:
    """Store a checked digest (a retired one of that name comes back), audited; None when it
    was already so."""
    text = settings_text(digest)
    row = session.get(StoredDigest, digest.name)
    if row is not None and row.settings == text and row.retired is None and origin in (row.origin, OPERATOR):
        return None  # (the same settings applied from elsewhere are no change; the file's own again is)
    before = None if row is None or row.retired is not None else json.loads(row.settings)
    if before is None:
        pin_default_readers(session, digest, [digest_of(r) for r in stored_rows(session) if r.retired is None])
    if row is None:
        row = StoredDigest(name=digest.name)
        session.add(row)
    row.settings, row.origin, row.changed, row.changed_by, row.retired = text, origin, now, actor, None
    change = Change("digest.create" if before is None else "digest.change", digest.name, before,
                    json.loads(text))
    _audit(session, change, actor, now)
    return change


def retire(session: Session, name: str, origin: str, actor: str, now: datetime) -> Change | None:
    """The digest makes no more editions (its editions and pages stay); None when it was retired."""
    row = session.get(StoredDigest, name)
    if row is None:
        digest_named(session, name)  # UnknownDigest
        return None
    if row.retired is not None:
        return None
    row.retired, row.origin, row.changed, row.changed_by = now, origin, now, actor
    change = Change("digest.retire", name, json.loads(row.settings), None)
    _audit(session, change, actor, now)
    return change


def _audit(session: Session, change: Change, actor: str, now: datetime) -> None:
    record(session, actor, change.action, f"digest {change.name}", now, before=change.before, after=change.after)


def follow_file(session: Session, config: Config, now: datetime) -> list[Change]:
    """Make the digests that follow config.toml say what it says: new ones added, changed ones
    changed, dropped ones retired, each audited as the file's; the operators' own left alone.
    Writes (and takes the start-up turn) only when something differs, as a start with nothing
    to change is the rule."""
    if not _file_differs(stored_rows(session), config.digests):
        return []
    locks.take_turn(session.connection(), locks.MIGRATIONS)
    session.expire_all()  # another process may have done it while this one waited
    rows = {row.name: row for row in stored_rows(session)}
    if not rows:  # a new install: seeded, which is no one's change
        session.add_all(StoredDigest(name=digest.name, settings=settings_text(digest), origin=FILE,
                                     changed=now, changed_by=FILE) for digest in config.digests)
        return []
    changes = []
    for digest in config.digests:
        row = rows.get(digest.name)
        if row is None or row.origin == FILE:
            changes.append(save(session, digest, FILE, FILE, now))
    named = {digest.name for digest in config.digests}
    for row in rows.values():
        if row.origin == FILE and row.name not in named:
            changes.append(retire(session, row.name, FILE, FILE, now))
    return [change for change in changes if change is not None]


def _file_differs(rows: Iterable[StoredDigest], digests: Iterable[Digest]) -> bool:
    stored = {row.name: row for row in rows}
    named = set()
    for digest in digests:
        named.add(digest.name)
        row = stored.get(digest.name)
        if row is None or (row.origin == FILE and (row.retired is not None or row.settings != settings_text(digest))):
            return True
    return any(row.origin == FILE and row.retired is None and name not in named for name, row in stored.items())


def differences(row: StoredDigest, config: Config) -> dict[str, tuple[Any, Any]]:
    """Per key where the database and config.toml differ: (the file's value, the one in effect).
    A digest the file lacks differs in every key (the file's value None)."""
    mine = json.loads(row.settings)
    theirs = next((digest_values(d) for d in config.digests if d.name == row.name), None)
    if theirs is None:
        return {key: (None, value) for key, value in mine.items()}
    return {key: (theirs.get(key), value) for key, value in mine.items() if theirs.get(key) != value}
