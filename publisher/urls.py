"""Every URL the site hands out, in one place: feeds, release pages, subscription links, digests.

Links that leave the service (in feeds, mail and pages) are absolute and built from
`site.base_url`, where this service answers (and `feeds.base_url` for the feed files); links
to the office's own site, and the names in ids, from `site.home_url`. Nothing else assembles
them.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

if TYPE_CHECKING:  # sections only read: the web server's writing process imports this without pydantic
    from publisher.config import Feeds, Site

# The paths the web app answers, with the names the link builders below use.
RELEASE_PATH = "/releases/{slug}"
SUBSCRIBE_PATH = "/subscribe"
CONFIRM_PATH = "/confirm"
PREFERENCES_PATH = "/preferences"
UNSUBSCRIBE_PATH = "/unsubscribe"
DIGESTS_PATH = "/digests/"
DIGEST_FEED_PATH = "/digests/feed.xml"
HEALTH_PATH = "/healthz"
CLICK_PATH = "/r/"  # counted links: /r/{edition}.{variant}.{link}.{nonce}.{mac}


def site_host(site: Site) -> str:
    """The host of the office's site, as Message-IDs, List-Ids and tag: URIs use it (the
    office's name, wherever this service happens to be served)."""
    return _home_parts(site.home)[0]


def feed_url(site: Site, feeds: Feeds, relative: str) -> str:
    """A file under feeds/, e.g. `cn/atom.xml`, where it is served."""
    return f"{feeds.url(site)}/{relative}"


def release_url(site: Site, slug: str) -> str:
    """The page of a release that has no URL of its own."""
    return site.base_url + RELEASE_PATH.format(slug=slug)


def release_link(site: Site, own: str | None, slug: str) -> str:
    """Where a release is read: its own URL, else its page here, on the current site.base_url
    (the host is never stored: moving the site moves every link, in feeds and in mail)."""
    return own or release_url(site, slug)


def release_path(site: Site, slug: str) -> str:
    """A release's path under the office's site: its permanent tag: id is built on it."""
    return _home_parts(site.home)[1] + RELEASE_PATH.format(slug=slug)


@functools.lru_cache(maxsize=16)  # asked once per new release by an import (a tenth of its rows' cost)
def _home_parts(home: str) -> tuple[str, str]:
    """The host and the path of the office's site."""
    split = urlsplit(home)
    return split.hostname or "localhost", split.path


def subscribe_url(site: Site) -> str:
    return site.base_url + SUBSCRIBE_PATH


def token_url_prefix(site: Site, path: str, language: str = "en") -> str:
    """`{base}/{path}?token=`: the signed token is appended per recipient. A reader of another
    language than English gets `?lang=...&token=`: the page opens in their language."""
    lang = "" if language == "en" else f"lang={quote(language)}&"
    return f"{site.base_url}{path}?{lang}token="


def token_url(site: Site, path: str, token: str, language: str = "en") -> str:
    return token_url_prefix(site, path, language) + quote(token)


def digest_edition_path(digest: str, number: int) -> str:
    return f"{DIGESTS_PATH}{digest}/{number}"


def digest_edition_url(site: Site, digest: str, number: int,
                       countries: Sequence[str] = ()) -> str:
    """The edition's page; with `countries`, only their releases (a reader's own choice)."""
    only = f"?countries={'+'.join(countries)}" if countries else ""
    return site.base_url + digest_edition_path(digest, number) + only


def digest_feed_url(site: Site) -> str:
    return site.base_url + DIGEST_FEED_PATH


def click_prefix(site: Site) -> str:
    """Where counted links start: the rest is per message (publisher/clicks/links.py)."""
    return site.base_url + CLICK_PATH
