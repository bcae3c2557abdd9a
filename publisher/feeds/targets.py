"""Which feeds there are (one per country, one for all) and their fields, from the config sections
the feeds read (`FeedConfig`)."""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from publisher.config import Config, Country, Feeds, Site
from publisher.feeds.model import FeedItem, FeedMeta, Link, one_line, trimmed
from publisher.store.models import Release
from publisher.urls import feed_url

EMPTY_FEED_UPDATED = datetime(1970, 1, 1, tzinfo=UTC)  # a feed with no entries has no newer date


@dataclass(frozen=True)
class FeedConfig:
    """What every feed file is made from besides releases: the sections of the config it reads."""

    site: Site
    countries: tuple[Country, ...]
    feeds: Feeds
    max_age: int  # seconds a reader (or the bucket's Cache-Control) may keep a file: web.cache_max_age

    @classmethod
    def of(cls, config: Config) -> FeedConfig:
        return cls(config.site, config.countries, config.feeds, int(config.web.cache_max_age.total_seconds()))

    @property
    def country_codes(self) -> tuple[str, ...]:
        return tuple(country.code for country in self.countries)

    def url(self, relative: str) -> str:
        return feed_url(self.site, self.feeds, relative)


@dataclass(frozen=True)
class FeedTarget:
    code: str  # lower case: "cn", "mn", "all"
    country: str | None  # None: every country
    name: str  # what {country} says: "China"
    language: str


def feed_targets(config: FeedConfig) -> list[FeedTarget]:
    targets = [FeedTarget(c.code.lower(), c.code, c.name, c.language) for c in config.countries]
    return [*targets, FeedTarget("all", None, config.feeds.all_name, config.site.language)]


def feed_title(config: FeedConfig, target: FeedTarget) -> str:
    return config.feeds.title.format(country=target.name, site=config.site.name)


def feed_meta(
    config: FeedConfig, target: FeedTarget, relative: str, items: list[FeedItem], *,
    links: tuple[Link, ...] = (), is_archive: bool = False,
) -> FeedMeta:
    feeds, site = config.feeds, config.site
    return FeedMeta(
        code=target.code,
        title=one_line(feed_title(config, target)),
        subtitle=one_line(feeds.subtitle.format(country=target.name, site=site.name)),
        self_url=config.url(relative),
        site_url=site.home,
        language=target.language,
        author=one_line(site.name),
        updated=max((item.updated for item in items), default=EMPTY_FEED_UPDATED),
        icon=feeds.icon or None,
        logo=feeds.logo or None,
        hub=feeds.hub or None,
        links=links,
        is_archive=is_archive,
    )


def feed_item(release: Release, zone: ZoneInfo, link: str) -> FeedItem:
    """Times are given in the site's zone (the same instants, easier to read); `link`: where it
    is read (urls.release_link)."""
    return FeedItem(
        id=release.permanent_id,
        title=one_line(release.title),
        link=link,
        published=release.published.astimezone(zone),
        updated=release.updated.astimezone(zone),
        summary=trimmed(release.summary),
        image_url=release.image_url,
        image_type=_image_type(release.image_url),
        image_credit=one_line(release.image_credit) if release.image_credit else None,
        category=one_line(release.category) if release.category else None,
        countries=tuple(release.country_codes),
        content_html=trimmed(release.body_html) or None if release.body_html else None,
    )


def _image_type(url: str | None) -> str | None:
    if not url:
        return None
    guessed, _ = mimetypes.guess_type(urlsplit(url).path)
    return guessed if guessed and guessed.startswith("image/") else "image/jpeg"
