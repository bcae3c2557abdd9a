"""Renders an edition once: Jinja2 templates, CSS inlined by premailer, recipient marks kept."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from publisher.config import Config, Digest
from publisher.dates import counted, format_day_month_year, short_date_range
from publisher.digest.select import Selection
from publisher.mail.lines import wrap_html, wrap_text
from publisher.mail.message import MARK_PREFERENCES, MARK_RECIPIENT, MARK_UNSUBSCRIBE
from publisher.store.models import Release
from publisher.templating import render
from publisher.urls import feed_url


@dataclass(frozen=True)
class RenderedEdition:
    subject: str
    html: str  # CSS inlined; the recipient marks still in it
    text: str
    first_published: datetime
    last_published: datetime


def digest_title(config: Config, digest: Digest) -> str:
    names = [config.country(code).name for code in digest.countries]
    return digest.title or f"{config.site.name}: {' and '.join(names)}"


def render_edition(config: Config, digest: Digest, selection: Selection, number: int) -> RenderedEdition:
    zone = ZoneInfo(digest.timezone)
    dates = [release.published.astimezone(zone) for release in selection.releases]
    start, end = min(dates), max(dates)
    context = _context(config, digest, selection, number, start, end, zone)
    html = render("email/digest.html", context, config.mail.templates)
    return RenderedEdition(
        subject=digest.subject.format(
            count=len(selection.releases), start=start, end=end, name=digest.name,
            releases=counted(len(selection.releases), "new release"),
            dates=short_date_range(start.date(), end.date())),
        html=wrap_html(inline_css(html)),
        text=wrap_text(render("email/digest.txt", context, config.mail.templates)),
        first_published=min(release.published for release in selection.releases),
        last_published=max(release.published for release in selection.releases),
    )


def inline_css(html: str) -> str:
    """premailer, once per edition: no network, !important kept so @media rules still win,
    the <style> block kept for them, cssutils' warnings about mail-client CSS silenced."""
    # Loaded here: it costs a fifth of a second, and only a process that renders needs it (not
    # a worker, nor most commands).
    from premailer import Premailer

    inlined: str = Premailer(html, allow_network=False, strip_important=False, keep_style_tags=True,
                             cssutils_logging_level=logging.CRITICAL, disable_validation=True).transform()
    return inlined


def _context(config: Config, digest: Digest, selection: Selection, number: int,
             start: datetime, end: datetime, zone: ZoneInfo) -> dict[str, Any]:
    countries = [config.country(code) for code in digest.countries]
    return {
        "title": digest_title(config, digest),
        "language": config.site.language,
        "number": number,
        "date_range": _date_range(start, end),
        "releases": [_release(release, zone) for release in selection.releases],
        "more": selection.more,
        "feeds": [{"name": c.name, "url": feed_url(config, f"{c.code.lower()}/atom.xml")}
                  for c in countries],
        "feeds_page": feed_url(config, "index.html"),
        "country_names": " and ".join(c.name for c in countries),
        "site_name": config.site.name,
        "site_url": config.site.base_url,
        "recipient": MARK_RECIPIENT,
        "unsubscribe_url": MARK_UNSUBSCRIBE,
        "preferences_url": MARK_PREFERENCES,
    }


def _release(release: Release, zone: ZoneInfo) -> dict[str, str]:
    return {
        "title": release.title,
        "url": release.url,
        "date": format_day_month_year(release.published.astimezone(zone).date()),
        "summary": release.summary,
        "credit": release.image_credit or "",
    }


def _date_range(start: datetime, end: datetime) -> str:
    first, last = format_day_month_year(start.date()), format_day_month_year(end.date())
    return first if first == last else f"{first} – {last}"
