"""Where a setting an operator may change comes from (a digest's, a source's), for a form to
say beside each: config.toml, or an operator's change and what the file says instead."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel

from publisher.config import Config
from publisher.store.models import StoredSettings
from publisher.store.settings import FILE, Kind, differences

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Origin:
    follows_file: bool  # it says what config.toml says
    in_file: bool
    changed_by: str
    changed: datetime | None
    file_values: dict[str, Any]  # config.toml's value of each key where the two differ


def origin_of(kind: Kind[M], row: StoredSettings | None, config: Config) -> Origin:
    if row is None:
        return Origin(False, False, "", None, {})
    in_file = any(vars(item)["name"] == row.name for item in kind.of_file(config))
    differ = differences(kind, row, config) if in_file else {}
    return Origin(row.origin == FILE, in_file, row.changed_by, row.changed,
                  {key: theirs for key, (theirs, _mine) in differ.items()})
