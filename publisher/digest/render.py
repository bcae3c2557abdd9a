"""Renders an edition's variants, each once: Jinja2 templates, CSS inlined by premailer,
recipient marks kept."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from publisher.config import Config, Digest
from publisher.dates import counted, format_day_month_year, short_date_range
from publisher.mail.lines import wrap_html, wrap_text
from publisher.mail.message import MARK_PREFERENCES, MARK_RECIPIENT, MARK_UNSUBSCRIBE
from publisher.store.models import Release
from publisher.templating import render
from publisher.urls import digest_edition_url, feed_url


@dataclass(frozen=True)
class Rendered:
    subject: str
    html: str  # CSS inlined (for mail); the recipient marks still in it
    text: str


@dataclass(frozen=True)
class Content:
    """What one variant of an edition shows."""

    digest: Digest
    number: int
    countries: Sequence[str]  # the readers' choice (among the digest's countries)
    releases: Sequence[Release]  # newest first, at most max_items
    more: int  # waiting releases of these countries beyond `releases`


def digest_title(config: Config, digest: Digest) -> str:
    names = [config.country(code).name for code in digest.countries]
    return digest.title or f"{config.site.name}: {' and '.join(names)}"


def edition_subject(digest: Digest, published: Sequence[datetime]) -> str:
    """The digest's subject template filled in for releases published at these times."""
    zone = ZoneInfo(digest.timezone)
    dates = [moment.astimezone(zone) for moment in published]
    start, end = min(dates), max(dates)
    return digest.subject.format(
        count=len(dates), start=start, end=end, name=digest.name,
        releases=counted(len(dates), "new release"),
        dates=short_date_range(start.date(), end.date()))


def render_variant(config: Config, content: Content) -> Rendered:
    """The variant as mailed: subject, HTML with its CSS inlined, text."""
    context = _context(config, content)
    html = render("email/digest.html", context, config.mail.templates)
    return Rendered(
        subject=edition_subject(content.digest, [release.published for release in content.releases]),
        html=wrap_html(inline_css(html)),
        text=wrap_text(render("email/digest.txt", context, config.mail.templates)),
    )


def render_page(config: Config, content: Content) -> str:
    """The variant as its web page shows it (CSS left in its <style> block: browsers read it)."""
    return render("email/digest.html", _context(config, content), config.mail.templates)


def inline_css(html: str) -> str:
    """premailer, once per variant: no network, !important kept so @media rules still win,
    the <style> block kept for them, cssutils' warnings about mail-client CSS silenced."""
    # Loaded here: it costs a fifth of a second, and only a process that renders needs it (not
    # a worker, nor most commands).
    from premailer import Premailer

    inlined: str = Premailer(html, allow_network=False, strip_important=False, keep_style_tags=True,
                             cssutils_logging_level=logging.CRITICAL, disable_validation=True).transform()
    return inlined


def _context(config: Config, content: Content) -> dict[str, Any]:
    zone = ZoneInfo(content.digest.timezone)
    countries = [config.country(code) for code in content.countries]
    dates = [release.published.astimezone(zone).date() for release in content.releases]
    return {
        "title": digest_title(config, content.digest),
        "language": config.site.language,
        "number": content.number,
        "date_range": _date_range(min(dates), max(dates)) if dates else "",
        "releases": [_release(release, zone) for release in content.releases],
        "more": content.more,
        "edition_url": digest_edition_url(config, content.digest.name, content.number,
                                          content.countries),
        "feeds": [{"name": c.name, "url": feed_url(config, f"{c.code.lower()}/atom.xml")}
                  for c in countries],
        "feeds_page": feed_url(config, "index.html"),
        "country_names": " and ".join(c.name for c in countries),
        "site_name": config.site.name,
        "site_url": config.site.home,
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
    }


def _date_range(start: date, end: date) -> str:
    first, last = format_day_month_year(start), format_day_month_year(end)
    return first if first == last else f"{first} – {last}"
