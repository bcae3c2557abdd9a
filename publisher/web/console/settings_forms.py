"""What the console's forms for settings that live in the database (a digest's, a source's)
share: their routes, the stored row of one in effect, and where each setting comes from, for
the form to say beside it (config.toml, or an operator's change and what the file says)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from fastapi import FastAPI, Form
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel
from sqlalchemy.orm import Session, sessionmaker

from publisher.config import Config
from publisher.store.models import StoredSettings
from publisher.store.settings import FILE, Kind, differences, named

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


def shown_settings(fields: str = Form("", max_length=2000)) -> frozenset[str] | None:
    """The settings the submitted form showed, named in its hidden `fields` (a route's
    dependency); None from a form made before forms named them: all it sent is taken."""
    return frozenset(fields.split()) or None


def only_shown(values: dict[str, Any], shown: frozenset[str] | None) -> dict[str, Any]:
    """What the form set. A setting it did not show (a form opened before an upgrade added it)
    stays as it is: read from the form, it would have been cleared (an absent checkbox is off)."""
    return values if shown is None else {key: value for key, value in values.items() if key in shown}


class SettingsForms:
    """New, settings, change, retire, under `root` (each subclass writes the routes themselves:
    their form fields differ)."""

    root: str
    kind: Kind[Any]

    def add_to(self, app: FastAPI) -> None:
        one = self.root + "/{name}"
        for path, method, handler in ((f"{self.root}/new", "GET", "blank"), (f"{self.root}/new", "POST", "create"),
                                      (f"{one}/settings", "GET", "settings"), (f"{one}/settings", "POST", "change"),
                                      (f"{one}/retire", "POST", "retire")):
            app.add_api_route(path, getattr(self, handler), methods=[method], include_in_schema=False,
                              response_class=HTMLResponse if method == "GET" else JSONResponse)

    def row(self, sessions: sessionmaker[Session], name: str) -> StoredSettings:
        """The stored row of the one in effect of that name; NotFound (a 404) otherwise."""
        with sessions() as session:
            named(self.kind, session, name)
            row = session.get(self.kind.table, name)
        assert row is not None
        return row
