"""An operator's changes to the sources of releases (console, API): create, change, retire; each
checked exactly as config.toml's `[[sources]]` are, audited, and in effect in every running
scheduler within `scheduler.changes_poll`.

A source set from the console or the API reads an http(s) URL or a shipped file
(`bundled:NAME`), never a path on this machine: a file is config.toml's to name, as whoever
edits that file can already read the machine's files and a console operator need not."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from publisher.bundled import BUNDLED_PREFIX, bundled_names
from publisher.config import Config, Source
from publisher.config.load import check_source
from publisher.config.write import source_values
from publisher.errors import ConfigError, InvalidValue
from publisher.store import settings
from publisher.store.models import StoredSource
from publisher.store.settings import OPERATOR, Change
from publisher.store.sources import SOURCES, country_codes, source_named


def checked(values: Mapping[str, Any], known: Iterable[str], where: str) -> Source:
    """ConfigError naming each key that is wrong, as `config check` names them, and a location
    that is not an http(s) URL or a shipped file."""
    source = check_source(values, known, where)
    if source.is_remote:
        return source
    shipped = [BUNDLED_PREFIX + name for name in bundled_names()]
    if source.location not in shipped:
        raise ConfigError(where, [f"location: expected an http(s) URL or one of {', '.join(shipped)} "
                                  "(a file on the server is config.toml's to name)"])
    return source


def create_source(sessions: sessionmaker[Session], actor: str, values: Mapping[str, Any], now: datetime) -> Source:
    """A new source (or a retired one back, with these settings); InvalidValue when one of that
    name is in effect."""
    with sessions() as session:
        known = country_codes(session)
    source = checked(values, known, "new source")
    with sessions.begin() as session:
        row = session.get(StoredSource, source.name)
        if row is not None and row.retired is None:
            raise InvalidValue(f"a source named {source.name!r} exists; change it, or choose another name")
        settings.save(SOURCES, session, source, OPERATOR, actor, now)
    return source


def change_source(sessions: sessionmaker[Session], actor: str, name: str, values: Mapping[str, Any],
                  now: datetime) -> Change | None:
    """The source with `values` over its present settings (its name stays: its runs carry it);
    None when nothing changed. A location config.toml named may stay; a new one is checked."""
    if values.get("name", name) != name:
        raise InvalidValue(f"a source keeps its name ({name}); retire it and create another instead")
    with sessions.begin() as session:
        present = source_values(source_named(session, name))
        wanted = {**present, **values, "name": name}
        keeps_location = wanted["location"] == present["location"]
        known = country_codes(session)
        source = (check_source(wanted, known, f"source {name}") if keeps_location
                  else checked(wanted, known, f"source {name}"))
        return settings.save(SOURCES, session, source, OPERATOR, actor, now)


def retire_source(sessions: sessionmaker[Session], actor: str, name: str, now: datetime) -> bool:
    """The source is read no more (its releases stay); False when it was retired already."""
    with sessions.begin() as session:
        return settings.retire(SOURCES, session, name, OPERATOR, actor, now) is not None


def source_divergences(sessions: sessionmaker[Session], config: Config) -> list[str]:
    """A line per setting of a source in effect that is not config.toml's (an operator's change),
    and per source in effect that the file lacks."""
    with sessions() as session:
        return [f"source {line}" for row in settings.rows(SOURCES, session)
                for line in settings.divergence(SOURCES, row, config)]
