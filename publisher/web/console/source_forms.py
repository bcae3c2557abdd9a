"""A source's settings in the console: create one (an http(s) URL or a shipped file), change
one (where, which format, when, limits), retire one; each checked as `config check` checks,
audited, and followed by a running scheduler within seconds (jobs/source_settings.py). The form
shows where each setting comes from: config.toml, or an operator's change."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import Depends, Form, Query, Request
from fastapi import Path as FastPath
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session, sessionmaker

from publisher.bundled import BUNDLED_PREFIX, bundled_names
from publisher.config import Config
from publisher.config.model import INPUT_FORMATS
from publisher.config.write import source_values
from publisher.crontab import checked
from publisher.errors import ConfigError, InvalidValue
from publisher.jobs import source_settings as changes
from publisher.run.schedules import Schedule
from publisher.store.models import StoredSettings
from publisher.store.sources import SOURCES as SOURCE_KIND
from publisher.web.console.guard import Operator, signed_in, signed_in_form
from publisher.web.console.settings_forms import SettingsForms, only_shown, origin_of, shown_settings
from publisher.web.console.views import ADMIN, ConsolePage

SOURCES = f"{ADMIN}/sources"
Name = FastPath(..., max_length=100)


# The settings the form shows (each named in its hidden `fields`, so that a later one is known
# to have been absent from it): the keys source_fields gives, a blank format or schedule included.
SHOWN = ("name", "location", "format", "cron", "timeout", "max_bytes", "fetch_pages", "page_delay", "categories")


def source_fields(new_name: str = Form("", alias="name", max_length=100), location: str = Form("", max_length=2000),
                  input_format: str = Form("", alias="format", max_length=20), cron: str = Form("", max_length=200),
                  timeout: str = Form("", max_length=20), max_bytes: str = Form("", max_length=12),
                  fetch_pages: str = Form(""), page_delay: str = Form("", max_length=20),
                  categories: str = Form("", max_length=10_000)) -> dict[str, Any]:
    """The source form, as the file would say it (a route's dependency); an empty format or
    schedule is none (the format told from the document; imported only by hand)."""
    values: dict[str, Any] = {"name": new_name.strip(), "location": location.strip(),
                              "timeout": timeout.strip() or "30s",
                              "max_bytes": int(max_bytes) if max_bytes.strip().isdigit() else max_bytes,
                              "fetch_pages": bool(fetch_pages), "page_delay": page_delay.strip() or "1s",
                              "categories": category_lines(categories)}
    cron = " ".join(cron.split())
    return values | ({"format": input_format} if input_format else {}) | ({"cron": cron} if cron else {})


def category_lines(text: str) -> dict[str, str]:
    """"word = CODE" lines as a mapping; a line without "=" is kept whole with no country, for
    the check to name it."""
    pairs = (line.rpartition("=") for line in text.splitlines() if line.strip())
    return {(word or code).strip(): code.strip().upper() if word else "" for word, _, code in pairs}


class SourceForms(SettingsForms):
    root, kind = SOURCES, SOURCE_KIND

    def __init__(self, config: Config, sessions: sessionmaker[Session], clock: Callable[[], datetime]) -> None:
        self.config, self.sessions, self.clock = config, sessions, clock

    def blank(self, request: Request, operator: Operator = Depends(signed_in)) -> HTMLResponse:
        page = ConsolePage(request, self.config, operator)
        return self._form(page, {"name": "", "location": "https://", "timeout": "30s", "max_bytes": 5_000_000,
                                 "fetch_pages": False, "page_delay": "1s", "categories": {}}, None)

    def create(self, request: Request, values: dict[str, Any] = Depends(source_fields),
               shown: frozenset[str] | None = Depends(shown_settings),
               operator: Operator = Depends(signed_in_form)) -> Response:
        page = ConsolePage(request, self.config, operator)
        try:
            source = changes.create_source(self.sessions, operator.email, only_shown(values, shown), self.clock())
        except (ConfigError, InvalidValue) as exc:
            return self._form(page, values, None, error=exc, status=400)
        return page.redirect(f"{SOURCES}/{source.name}/settings", done="created")

    def settings(self, request: Request, name: str = Name, done: str = Query("", max_length=20),
                 operator: Operator = Depends(signed_in)) -> HTMLResponse:
        page = ConsolePage(request, self.config, operator)
        row = self.row(self.sessions, name)
        return self._form(page, source_values(SOURCE_KIND.of(row)), row, done=done)

    def change(self, request: Request, name: str = Name, values: dict[str, Any] = Depends(source_fields),
               shown: frozenset[str] | None = Depends(shown_settings),
               operator: Operator = Depends(signed_in_form)) -> Response:
        page = ConsolePage(request, self.config, operator)
        row = self.row(self.sessions, name)
        # (a blank format or schedule in the form means none: the stored one goes)
        values = {"format": None, "cron": None, **values, "name": name}
        try:
            changed = changes.change_source(self.sessions, operator.email, name,
                                            {**only_shown(values, shown), "name": name}, self.clock())
        except (ConfigError, InvalidValue) as exc:
            return self._form(page, values, row, error=exc, status=400)
        return page.redirect(f"{SOURCES}/{name}/settings", done="saved" if changed else "unchanged")

    def retire(self, request: Request, name: str = Name, operator: Operator = Depends(signed_in_form)) -> Response:
        page = ConsolePage(request, self.config, operator)
        changes.retire_source(self.sessions, operator.email, name, self.clock())
        return page.redirect(SOURCES, done=page._("%(name)s: retired") % {"name": name})

    def _form(self, page: ConsolePage, values: dict[str, Any], row: StoredSettings | None, *,
              error: Exception | None = None, done: str = "", status: int = 200) -> HTMLResponse:
        problems = error.problems if isinstance(error, ConfigError) else [str(error)] if error else []
        return page.render("source_form.html", status, title=row.name if row else page._("New source"),
                           values=values, row=row, origin=origin_of(SOURCE_KIND, row, self.config),
                           problems=problems, done=done, fields=" ".join(SHOWN), formats=INPUT_FORMATS,
                           shipped=[BUNDLED_PREFIX + name for name in bundled_names()],
                           schedule=self._schedule(values.get("cron")))

    def _schedule(self, cron: str | None) -> tuple[str, list[datetime]]:
        """The cron line in words and its next three fire times (in the site's zone, as the
        scheduler reads a source's), when the line is right."""
        try:
            schedule = Schedule("", "source", "", checked(cron or ""), self.config.site.zone)
        except ValueError:  # the form says why
            return "", []
        return schedule.in_words, schedule.next_fire_times(self.clock(), 3)
