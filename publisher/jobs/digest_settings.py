"""An operator's changes to the digests themselves (console, API, `publisher digests`): create,
change, retire, apply a file; each checked exactly as config.toml's `[[digests]]` are, audited,
and in effect in every running scheduler within `scheduler.changes_poll`."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from publisher.config import Config, Digest
from publisher.config.load import check_digest
from publisher.config.write import digest_values, digests_toml
from publisher.errors import ConfigError, InvalidValue
from publisher.store.digests import (
    DIGESTS,
    FILE,
    OPERATOR,
    Change,
    digest_named,
    digest_of,
    retire,
    save,
    stored_rows,
)
from publisher.store.effect import in_effect
from publisher.store.models import StoredDigest
from publisher.store.settings import divergence


def checked(config: Config, values: Mapping[str, Any], source: str) -> Digest:
    """ConfigError naming each key that is wrong, as `config check` names them."""
    return check_digest(values, config.country_codes, source)


def create_digest(sessions: sessionmaker[Session], config: Config, actor: str,
                  values: Mapping[str, Any], now: datetime) -> Digest:
    """A new digest (or a retired one back, with these settings); InvalidValue when one of that
    name is in effect."""
    digest = checked(config, values, "new digest")
    with sessions.begin() as session:
        row = session.get(StoredDigest, digest.name)
        if row is not None and row.retired is None:
            raise InvalidValue(f"a digest named {digest.name!r} exists; change it, or choose another name")
        save(session, digest, OPERATOR, actor, now)
    return digest


def change_digest(sessions: sessionmaker[Session], config: Config, actor: str, name: str,
                  values: Mapping[str, Any], now: datetime) -> Change | None:
    """The digest with `values` over its present settings (its name stays: editions carry it);
    None when nothing changed."""
    if values.get("name", name) != name:
        raise InvalidValue(f"a digest keeps its name ({name}); retire it and create another instead")
    with sessions.begin() as session:
        present = digest_values(digest_named(session, name))
        digest = checked(config, {**present, **values, "name": name}, f"digest {name}")
        return save(session, digest, OPERATOR, actor, now)


def retire_digest(sessions: sessionmaker[Session], actor: str, name: str, now: datetime) -> bool:
    """The digest makes no more editions (an unfinished one is finished; its pages stay);
    False when it was retired already."""
    with sessions.begin() as session:
        return retire(session, name, OPERATOR, actor, now) is not None


def export_digests(sessions: sessionmaker[Session], config: Config) -> str:
    """The digests in effect as `[[digests]]` tables, for a file kept in git."""
    with sessions() as session:
        return digests_toml(in_effect(session, config).digests)


def apply_file(sessions: sessionmaker[Session], config: Config, actor: str, path: Path,
               now: datetime, *, config_path: Path | None = None) -> list[Change]:
    """Make the digests in effect those of the file's `[[digests]]`: each created or changed,
    the ones it lacks retired; all checked before any is stored, in one transaction. Applying
    the config file itself (`config_path`) makes the digests follow it again."""
    digests = read_digests(config, path)
    follows = config_path is not None and path.resolve() == config_path.resolve()
    origin, by = (FILE, f"{actor} ({FILE})") if follows else (OPERATOR, f"{actor} ({path.name})")
    with sessions.begin() as session:
        changes = [save(session, digest, origin, by, now) for digest in digests]
        named = {digest.name for digest in digests}
        changes += [retire(session, row.name, origin, by, now)
                    for row in stored_rows(session) if row.name not in named and row.retired is None]
    return [change for change in changes if change is not None]


def divergences(sessions: sessionmaker[Session], config: Config) -> list[str]:
    """A line per setting in effect that is not config.toml's (an operator's change), per digest
    in effect that the file lacks, and per digest naming a country the file no longer has:
    nothing differs silently."""
    lines = []
    with sessions() as session:
        for row in stored_rows(session):
            if row.retired is not None:
                continue
            unknown = sorted(set(digest_of(row).countries) - set(config.country_codes))
            if unknown:
                lines.append(f"{row.name}: countries config.toml no longer has: {' '.join(unknown)} "
                             "(its readers of them get nothing; change the digest)")
            lines += divergence(DIGESTS, row, config)
    return lines


def read_digests(config: Config, path: Path) -> Sequence[Digest]:
    """The file's `[[digests]]`, each checked; ConfigError naming the file and every key wrong."""
    try:
        raw = tomllib.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(str(path), [f"cannot read: {exc}"]) from None
    tables = raw.get("digests", [])
    if not isinstance(tables, list) or not all(isinstance(table, dict) for table in tables):
        raise ConfigError(str(path), ["digests: expected [[digests]] tables"])
    problems: list[str] = []
    digests: list[Digest] = []
    for i, table in enumerate(tables):
        try:
            digests.append(checked(config, table, str(path)))
        except ConfigError as exc:
            problems += [f"digests[{i}].{problem}" for problem in exc.problems]
    names = [digest.name for digest in digests]
    problems += [f"digests: duplicate name {name!r}" for name in sorted({n for n in names if names.count(n) > 1})]
    if problems:
        raise ConfigError(str(path), problems)
    return digests
