"""A digest's settings in the console: create one, change one (countries, schedule, zone,
subjects, titles, size, first-edition window), retire one; each checked as `config check`
checks, audited, and followed by a running scheduler within seconds (jobs/digest_settings.py).
The form shows where each setting comes from: config.toml, or an operator's change."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from fastapi import Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session, sessionmaker

from publisher.config import Config
from publisher.config.write import digest_values
from publisher.crontab import checked
from publisher.errors import ConfigError, InvalidValue
from publisher.jobs import digest_settings as changes
from publisher.languages import LANGUAGES, NAMES
from publisher.run.schedules import Schedule
from publisher.store.digests import DIGESTS as DIGEST_KIND
from publisher.store.digests import digest_of
from publisher.store.models import StoredSettings
from publisher.web.console.digests import DIGESTS, Name
from publisher.web.console.guard import Operator, signed_in, signed_in_form
from publisher.web.console.settings_forms import SettingsForms, only_shown, origin_of, shown_settings
from publisher.web.console.views import ConsolePage

ZONES = sorted(available_timezones())
OTHER_LANGUAGES = LANGUAGES[1:]
# The settings the form shows (each named in its hidden `fields`, so that a later one is known
# to have been absent from it): the keys digest_fields gives.
SHOWN = ("name", "countries", "cron", "timezone", "max_items", "subject", "subjects", "title", "titles",
         "first_edition_window", "pictures", "track_links", "count_clicks_for", "utm_source", "utm_medium",
         "utm_campaign")


def digest_fields(new_name: str = Form("", alias="name", max_length=100), countries: list[str] = Form(default=[]),
                  cron: str = Form("", max_length=200), timezone: str = Form("", max_length=100),
                  max_items: str = Form("", max_length=10), subject: str = Form("", max_length=500),
                  title: str = Form("", max_length=500), first_edition_window: str = Form("", max_length=20),
                  subject_zh: str = Form("", alias="subject_zh_Hans", max_length=500),
                  subject_mn: str = Form("", max_length=500),
                  title_zh: str = Form("", alias="title_zh_Hans", max_length=500),
                  title_mn: str = Form("", max_length=500),
                  pictures: str = Form(""), track_links: str = Form(""),
                  count_clicks_for: str = Form("30d", max_length=20),
                  utm_source: str = Form("", max_length=100), utm_medium: str = Form("", max_length=100),
                  utm_campaign: str = Form("", max_length=100),
                  ) -> dict[str, Any]:
    """The digest form, as the file would say it (a route's dependency)."""
    others = {"subject": {"zh_Hans": subject_zh, "mn": subject_mn},
              "title": {"zh_Hans": title_zh, "mn": title_mn}}
    return {"name": new_name.strip(), "countries": countries, "cron": " ".join(cron.split()),
            "timezone": timezone.strip(), "max_items": int(max_items) if max_items.strip().isdigit() else max_items,
            "subject": subject, "subjects": {k: v for k, v in others["subject"].items() if v.strip()},
            "title": title, "titles": {k: v for k, v in others["title"].items() if v.strip()},
            "first_edition_window": first_edition_window.strip(), "pictures": bool(pictures),
            "track_links": bool(track_links),
            "count_clicks_for": count_clicks_for.strip(), "utm_source": utm_source.strip(),
            "utm_medium": utm_medium.strip(), "utm_campaign": utm_campaign.strip()}


class DigestForms(SettingsForms):
    root, kind = DIGESTS, DIGEST_KIND

    def __init__(self, config: Config, sessions: sessionmaker[Session], clock: Callable[[], datetime]) -> None:
        self.config, self.sessions, self.clock = config, sessions, clock

    def blank(self, request: Request, operator: Operator = Depends(signed_in)) -> HTMLResponse:
        page = ConsolePage(request, self.config, operator)
        values = {"name": "", "countries": [], "cron": "0 9 * * MON", "timezone": self.config.site.timezone,
                  "max_items": 20, "subject": "{releases} ({dates})", "subjects": {}, "title": "", "titles": {},
                  "first_edition_window": "14d", "pictures": False, "track_links": True, "count_clicks_for": "30d",
                  "utm_source": "", "utm_medium": "", "utm_campaign": ""}
        return self._form(page, values, None)

    def create(self, request: Request, values: dict[str, Any] = Depends(digest_fields),
               shown: frozenset[str] | None = Depends(shown_settings),
               operator: Operator = Depends(signed_in_form)) -> Response:
        page = ConsolePage(request, self.config, operator)
        try:
            digest = changes.create_digest(self.sessions, self.config, operator.email, only_shown(values, shown),
                                           self.clock())
        except (ConfigError, InvalidValue) as exc:
            return self._form(page, values, None, error=exc, status=400)
        return page.redirect(f"{DIGESTS}/{digest.name}/settings", done="created")

    def settings(self, request: Request, name: str = Name, done: str = Query("", max_length=20),
                 operator: Operator = Depends(signed_in)) -> HTMLResponse:
        page = ConsolePage(request, self.config, operator)
        row = self.row(self.sessions, name)
        return self._form(page, digest_values(digest_of(row)), row, done=done)

    def change(self, request: Request, name: str = Name, values: dict[str, Any] = Depends(digest_fields),
               shown: frozenset[str] | None = Depends(shown_settings),
               operator: Operator = Depends(signed_in_form)) -> Response:
        page = ConsolePage(request, self.config, operator)
        row = self.row(self.sessions, name)
        try:
            changed = changes.change_digest(self.sessions, self.config, operator.email, name,
                                            {**only_shown(values, shown), "name": name}, self.clock())
        except (ConfigError, InvalidValue) as exc:
            return self._form(page, {**values, "name": name}, row, error=exc, status=400)
        return page.redirect(f"{DIGESTS}/{name}/settings", done="saved" if changed else "unchanged")

    def retire(self, request: Request, name: str = Name, operator: Operator = Depends(signed_in_form)) -> Response:
        page = ConsolePage(request, self.config, operator)
        changes.retire_digest(self.sessions, operator.email, name, self.clock())
        return page.redirect(DIGESTS, done="retired")

    def _form(self, page: ConsolePage, values: dict[str, Any], row: StoredSettings | None, *,
              error: Exception | None = None, done: str = "", status: int = 200) -> HTMLResponse:
        problems = error.problems if isinstance(error, ConfigError) else [str(error)] if error else []
        return page.render("digest_form.html", status, title=row.name if row else page._("New digest"),
                           values=values, row=row, origin=origin_of(DIGEST_KIND, row, self.config), problems=problems,
                           done=done, fields=" ".join(SHOWN), countries=page.country_choices(self.config.countries),
                           zones=ZONES,
                           others=OTHER_LANGUAGES, names=NAMES, schedule=self._schedule(values))

    def _schedule(self, values: dict[str, Any]) -> tuple[str, list[datetime]]:
        """The cron line in words and its next three fire times, when line and zone are right."""
        try:
            schedule = Schedule("", "digest", "", checked(values["cron"]), ZoneInfo(values["timezone"]))
        except (ValueError, KeyError):  # (ZoneInfoNotFoundError is a KeyError) the form says why
            return "", []
        return schedule.in_words, schedule.next_fire_times(self.clock(), 3)
