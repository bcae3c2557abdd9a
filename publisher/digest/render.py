"""Renders an edition's variants, each once: Jinja2 templates, CSS inlined by premailer,
recipient marks kept."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from publisher.clicks.links import LinkTarget
from publisher.config import Config, Country, Digest, Feeds, Mail, Site, country_in
from publisher.digest.linkbook import LinkBook
from publisher.i18n import ENGLISH, Texts, country_names, labelled
from publisher.mail.lines import wrap_html, wrap_text
from publisher.mail.message import MARK_PREFERENCES, MARK_RECIPIENT, MARK_UNSUBSCRIBE, link_numbers
from publisher.store.models import Release
from publisher.templating import render
from publisher.urls import digest_edition_url, feed_url, release_link


@dataclass(frozen=True)
class EditionConfig:
    """What making, showing and mailing an edition reads of the config: the office's site, the
    mail section (templates, sender, return paths), the feeds (a digest links to them) and the
    countries (their names)."""

    site: Site
    mail: Mail
    feeds: Feeds
    countries: tuple[Country, ...]

    @classmethod
    def of(cls, config: Config) -> EditionConfig:
        return cls(config.site, config.mail, config.feeds, config.countries)

    def country(self, code: str) -> Country:
        return country_in(self.countries, code)


@dataclass(frozen=True)
class Rendered:
    subject: str
    html: str  # CSS inlined (for mail); the recipient marks still in it
    text: str
    links: Mapping[int, LinkTarget] = field(default_factory=dict)  # what each link mark in them stands for


@dataclass(frozen=True)
class Content:
    """What one variant of an edition shows."""

    digest: Digest
    number: int
    countries: Sequence[str]  # the readers' choice (among the digest's countries)
    releases: Sequence[Release]  # newest first, at most max_items
    more: int  # waiting releases of these countries beyond `releases`
    texts: Texts = ENGLISH  # the readers' language
    # When each release the variant carries was published (shown or not): what its subject and
    # heading count. Empty: the releases shown are all it carries.
    carried: Sequence[datetime] = ()

    @property
    def published(self) -> Sequence[datetime]:
        return self.carried or [release.published for release in self.releases]


def digest_title(config: EditionConfig, digest: Digest, texts: Texts = ENGLISH) -> str:
    own = digest.titles.get(texts.language, digest.title)
    if own:
        return own
    names = country_names(config.countries, digest.countries, texts)
    return labelled(texts, config.site.name_in(texts.language), names)


def edition_subject(digest: Digest, published: Sequence[datetime], texts: Texts = ENGLISH) -> str:
    """The digest's subject template (in the readers' language) for releases published then."""
    return subject_of(digest, len(published), min(published), max(published), texts)


def subject_of(digest: Digest, count: int, first: datetime, last: datetime, texts: Texts = ENGLISH) -> str:
    """The subject of `count` releases published from `first` to `last`, in the readers' language."""
    zone = ZoneInfo(digest.timezone)
    start, end = first.astimezone(zone), last.astimezone(zone)
    return digest.subjects.get(texts.language, digest.subject).format(
        count=count, start=start, end=end, name=digest.name,
        releases=texts.ngettext("%(num)d new release", "%(num)d new releases", count) % {"num": count},
        dates=texts.days(start.date(), end.date()))


def render_variant(config: EditionConfig, content: Content) -> Rendered:
    """The variant as mailed: subject, HTML with its CSS inlined, text."""
    book = LinkBook(config.site, content.digest, counted=True)
    context = _context(config, content, book)
    html = wrap_html(inline_css(render("email/digest.html", context, config.mail.templates, texts=content.texts)))
    text = wrap_text(render("email/digest.txt", context, config.mail.templates, texts=content.texts))
    shown = link_numbers(html, text)
    return Rendered(subject=edition_subject(content.digest, content.published, content.texts), html=html,
                    text=text, links={n: link for n, link in enumerate(book.links, 1) if n in shown})


def render_page(config: EditionConfig, content: Content) -> str:
    """The variant as its web page shows it (CSS left in its <style> block: browsers read it)."""
    return render("email/digest.html", _context(config, content, LinkBook(config.site, content.digest, counted=False)),
                  config.mail.templates, texts=content.texts)


def inline_css(html: str) -> str:
    """premailer, once per variant: no network, !important kept so @media rules still win,
    the <style> block kept for them, cssutils' warnings about mail-client CSS silenced."""
    # Loaded here: it costs a fifth of a second, and only a process that renders needs it (not
    # a worker, nor most commands).
    from premailer import Premailer

    inlined: str = Premailer(html, allow_network=False, strip_important=False, keep_style_tags=True,
                             cssutils_logging_level=logging.CRITICAL, disable_validation=True).transform()
    return inlined


def _context(config: EditionConfig, content: Content, book: LinkBook) -> dict[str, Any]:
    """The template's values; every link through `book`, in the order the mail shows them."""
    zone, texts = ZoneInfo(content.digest.timezone), content.texts
    countries = [config.country(code) for code in content.countries]
    dates = [moment.astimezone(zone).date() for moment in content.published]
    return {
        "title": digest_title(config, content.digest, texts),
        "number": content.number,
        "count": len(dates),
        "date_range": _date_range(texts, min(dates), max(dates)) if dates else "",
        "releases": [_release(release, zone, texts, book.href(release_link(config.site, release.url, release.slug),
                                                               "release", release.id), content.digest.pictures)
                     for release in content.releases],
        "more": content.more,
        "edition_url": book.href(digest_edition_url(config.site, content.digest.name, content.number,
                                                    content.countries), "more") if content.more else "",
        "feeds": [{"name": texts.country(c.code, c.name),
                   "url": book.href(feed_url(config.site, config.feeds, f"{c.code.lower()}/atom.xml"), "feed")}
                  for c in countries],
        "feeds_page": book.href(feed_url(config.site, config.feeds, "index.html"), "feeds"),
        "country_names": country_names(config.countries, content.countries, texts),
        "site_name": config.site.name_in(texts.language),
        "site_url": book.href(config.site.home, "site"),
        "counted": book.counted,
        "recipient": MARK_RECIPIENT,
        "unsubscribe_url": MARK_UNSUBSCRIBE,
        "preferences_url": MARK_PREFERENCES,
    }


def _release(release: Release, zone: ZoneInfo, texts: Texts, link: str, pictures: bool) -> dict[str, str]:
    picture = release.image_url if pictures and release.image_url and release.image_url.startswith("https://") else ""
    return {
        "title": release.title,
        "url": link,
        "date": texts.day(release.published.astimezone(zone).date()),
        "summary": release.summary,
        "picture": picture,  # linked to the release: its alt text is the link's, the title
    }


def _date_range(texts: Texts, start: date, end: date) -> str:
    first, last = texts.day(start), texts.day(end)
    return first if first == last else f"{first} – {last}"
