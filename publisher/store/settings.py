"""Settings kept in the database so that every process reads the same ones and a change needs no
restart: the digests and the sources of releases, each a `Kind`.

One source of truth, the database; config.toml seeds it. An item nobody changed elsewhere
follows the file (origin FILE: each start makes it say what the file says, or retires it when
the file drops it). A change from the console, the API or `publisher digests apply` makes it the
database's own (origin OPERATOR): the file no longer changes it, and where the two differ the
console and `publisher digests diff` say so.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from publisher.config import Config
from publisher.errors import NotFound
from publisher.store.audit import record
from publisher.store.models import StoredSettings

FILE = "config.toml"  # the item follows config.toml
OPERATOR = "operator"  # changed by an operator: the database's own

M = TypeVar("M", bound=BaseModel)


def _nothing(_session: Session, _before: Any, _after: Any, _others: Sequence[Any]) -> None:
    return None


@dataclass(frozen=True)
class Kind(Generic[M]):
    noun: str  # "digest", "source": in audit actions and messages
    table: type[StoredSettings]
    model: type[M]
    values: Callable[[M], dict[str, Any]]  # every key, as config.toml writes it (JSON-able)
    of_file: Callable[[Config], Sequence[M]]
    unknown: type[NotFound] = NotFound
    # Before a save: (session, what was in effect or None, what will be, the others in effect).
    before_save: Callable[[Session, M | None, M, Sequence[M]], None] = _nothing

    def text(self, item: M) -> str:
        return json.dumps(self.values(item), ensure_ascii=False, sort_keys=True)

    def of(self, row: StoredSettings) -> M:
        """The stored settings, checked when they were stored, as the model."""
        values = {key: tuple(value) if isinstance(value, list) else value
                  for key, value in json.loads(row.settings).items()}
        return self.model.model_validate(values)


@dataclass(frozen=True)
class Change:
    action: str  # digest.create, digest.change, digest.retire, source.create, ...
    name: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


def rows(kind: Kind[M], session: Session) -> list[StoredSettings]:
    """Every item the database has, retired ones too, by name."""
    return list(session.scalars(select(kind.table).order_by(kind.table.name)))


def live(kind: Kind[M], session: Session, config: Config) -> tuple[M, ...]:
    """The items in effect now: the file's order first, then by name."""
    order = {_name(item): i for i, item in enumerate(kind.of_file(config))}
    found = [row for row in rows(kind, session) if row.retired is None]
    found.sort(key=lambda row: (order.get(row.name, len(order)), row.name))
    return tuple(kind.of(row) for row in found)


def named(kind: Kind[M], session: Session, name: str, *, retired: bool = False) -> M:
    """One by name (a retired one too when asked); kind.unknown naming the ones in effect."""
    row = session.get(kind.table, name)
    if row is None or (row.retired is not None and not retired):
        known = ", ".join(r.name for r in rows(kind, session) if r.retired is None) or "none"
        raise kind.unknown(f"no {kind.noun} named {name!r} (there are: {known})")
    return kind.of(row)


def save(kind: Kind[M], session: Session, item: M, origin: str, actor: str, now: datetime) -> Change | None:
    """Store a checked item (a retired one of that name comes back), audited; None when it
    was already so."""
    name = _name(item)
    text = kind.text(item)
    row = session.get(kind.table, name)
    if row is not None and row.settings == text and row.retired is None and origin in (row.origin, OPERATOR):
        return None  # (the same settings applied from elsewhere are no change; the file's own again is)
    live_row = None if row is None or row.retired is not None else row
    kind.before_save(session, kind.of(live_row) if live_row else None, item,
                     [kind.of(r) for r in rows(kind, session) if r.retired is None and r.name != name])
    if row is None:
        row = kind.table()
        row.name = name
        session.add(row)
    before = json.loads(row.settings) if live_row else None
    row.settings, row.origin, row.changed, row.changed_by, row.retired = text, origin, now, actor, None
    change = Change(f"{kind.noun}.{'create' if before is None else 'change'}", name, before, json.loads(text))
    _audit(kind, session, change, actor, now)
    return change


def retire(kind: Kind[M], session: Session, name: str, origin: str, actor: str, now: datetime) -> Change | None:
    """The item is no longer in effect (what it made stays); None when it was retired."""
    row = session.get(kind.table, name)
    if row is None:
        named(kind, session, name)  # kind.unknown
        return None
    if row.retired is not None:
        return None
    row.retired, row.origin, row.changed, row.changed_by = now, origin, now, actor
    change = Change(f"{kind.noun}.retire", name, json.loads(row.settings), None)
    _audit(kind, session, change, actor, now)
    return change


def _audit(kind: Kind[M], session: Session, change: Change, actor: str, now: datetime) -> None:
    record(session, actor, change.action, f"{kind.noun} {change.name}", now, before=change.before,
           after=change.after)


def follow(kind: Kind[M], session: Session, config: Config, now: datetime) -> list[Change]:
    """Make the items that follow config.toml say what it says: new ones added, changed ones
    changed, dropped ones retired, each audited as the file's; the operators' own left alone.
    An empty table (a new install, or a kind new to it) is seeded, which is no one's change."""
    found = {row.name: row for row in rows(kind, session)}
    if not found:
        for item in kind.of_file(config):
            row = kind.table()
            row.name, row.settings, row.origin, row.changed, row.changed_by = _name(item), kind.text(item), FILE, \
                now, FILE
            session.add(row)
        return []
    changes = [save(kind, session, item, FILE, FILE, now) for item in kind.of_file(config)
               if _name(item) not in found or found[_name(item)].origin == FILE]
    named_ = {_name(item) for item in kind.of_file(config)}
    changes += [retire(kind, session, row.name, FILE, FILE, now) for row in found.values()
                if row.origin == FILE and row.name not in named_]
    return [change for change in changes if change is not None]


def file_changes(kind: Kind[M], session: Session, config: Config) -> list[str]:
    """What following the file would change (`follow`): a line per key of an item that follows
    it, per item it adds (or brings back) and per item it retires."""
    stored = {row.name: row for row in rows(kind, session)}
    lines, in_file = [], set()
    for item in kind.of_file(config):
        name = _name(item)
        in_file.add(name)
        row, text = stored.get(name), kind.text(item)
        if row is None or (row.origin == FILE and row.retired is not None):
            lines.append(f"{name}: added")
        elif row.origin == FILE and row.settings != text:
            theirs, mine = json.loads(text), json.loads(row.settings)  # (both as JSON reads them)
            lines += [f"{name}.{key}: {theirs.get(key)!r} (in effect: {mine.get(key)!r})"
                      for key in sorted(theirs.keys() | mine.keys()) if theirs.get(key) != mine.get(key)] \
                or [f"{name}: changed"]
    lines += [f"{name}: retired" for name, row in stored.items()
              if row.origin == FILE and row.retired is None and name not in in_file]
    return lines


def differences(kind: Kind[M], row: StoredSettings, config: Config) -> dict[str, tuple[Any, Any]]:
    """Per key where the database and config.toml differ: (the file's value, the one in effect).
    An item the file lacks differs in every key (the file's value None)."""
    mine = json.loads(row.settings)
    theirs = next((kind.values(item) for item in kind.of_file(config) if _name(item) == row.name), None)
    if theirs is None:
        return {key: (None, value) for key, value in mine.items()}
    return {key: (theirs.get(key), value) for key, value in mine.items() if theirs.get(key) != value}


def divergence(kind: Kind[M], row: StoredSettings, config: Config) -> list[str]:
    """What an item in effect that an operator changed says differently from config.toml: a line
    per key, or one line when the file lacks it; nothing for one that follows the file."""
    if row.retired is not None or row.origin == FILE:
        return []
    if row.name not in {_name(item) for item in kind.of_file(config)}:
        return [f"{row.name}: not in config.toml (made by {row.changed_by})"]
    return [f"{row.name}.{key}: {mine!r} in effect (by {row.changed_by}), config.toml: {theirs!r}"
            for key, (theirs, mine) in differences(kind, row, config).items()]


def _name(item: BaseModel) -> str:
    return str(vars(item)["name"])  # (every Kind's model has one: its primary key)
