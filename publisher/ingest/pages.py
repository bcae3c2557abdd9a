"""A release's own page read for its article and lead picture, politely: the host's robots.txt
honoured (read once per run; missing: all allowed; unreadable: nothing allowed), one page at a
time and `delay` apart on each host, a conditional GET, the size and time limits of its source,
and a User-Agent that names us. The article is found by trafilatura, its HTML then cleaned
(safehtml.py); the picture is the page's `og:image`."""

from __future__ import annotations

import time
import urllib.robotparser
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from publisher.errors import InputError
from publisher.ingest.fetch import USER_AGENT, Fetched, HttpError, fetch
from publisher.safehtml import clean_html, html_text

MIN_TEXT = 100  # characters of text an article has at least


@dataclass(frozen=True)
class Article:
    body_html: str
    image_url: str | None


@dataclass(frozen=True)
class PageRead:
    """What one fetch gave: an article (with the page's validators), nothing new (304), or a
    problem (the page is tried again next time)."""
    article: Article | None = None
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False
    problem: str | None = None


class PageReader:
    def __init__(self, timeout: float, max_bytes: int, delay: float,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> None:
        self.timeout, self.max_bytes, self.delay, self.sleep, self.clock = timeout, max_bytes, delay, sleep, clock
        self._robots: dict[str, urllib.robotparser.RobotFileParser | None] = {}  # by scheme://host
        self._last: dict[str, float] = {}  # each host's last request

    def read(self, url: str, etag: str | None, last_modified: str | None) -> PageRead:
        if not self._allowed(url):
            return PageRead(problem="robots.txt asks us not to read it")
        try:
            fetched = self._fetch(url, etag, last_modified)
            if fetched.not_modified:
                return PageRead(etag=etag, last_modified=last_modified, not_modified=True)
            article = extract_article(fetched.text(url), url)
        except InputError as exc:  # (not the page's text either: one page's problem, never the run's)
            return PageRead(problem=exc.problem)
        if article is None:
            return PageRead(problem="no article found on the page")
        return PageRead(article, fetched.etag, fetched.last_modified)

    def _fetch(self, url: str, etag: str | None, last_modified: str | None) -> Fetched:
        host = urlsplit(url).netloc
        wait = self._last.get(host, -self.delay) + self.delay - self.clock()
        if wait > 0:
            self.sleep(wait)
        try:
            return fetch(url, etag=etag, last_modified=last_modified, timeout=self.timeout, max_bytes=self.max_bytes)
        finally:
            self._last[host] = self.clock()

    def _allowed(self, url: str) -> bool:
        parts = urlsplit(url)
        site = f"{parts.scheme}://{parts.netloc}"
        if site not in self._robots:
            self._robots[site] = self._read_robots(site)
        rules = self._robots[site]
        return rules is not None and rules.can_fetch(USER_AGENT.split(" ", 1)[0], url)

    def _read_robots(self, site: str) -> urllib.robotparser.RobotFileParser | None:
        """The site's rules; allowing everything when it has none (404), nothing when they
        cannot be read (RFC 9309: an unreachable robots.txt means no crawling)."""
        rules = urllib.robotparser.RobotFileParser(site + "/robots.txt")
        try:
            fetched = self._fetch(site + "/robots.txt", None, None)
            rules.parse(fetched.text(site).splitlines())
        except HttpError as exc:
            if exc.status not in (404, 410):
                return None
            rules.parse([])
        except InputError:
            return None
        return rules


def extract_article(page: str, url: str) -> Article | None:
    """The page's article as clean HTML and its og:image; None when it holds no article."""
    import trafilatura  # its first import costs a second: only a source that reads pages pays it

    found = trafilatura.extract(page, output_format="html", include_images=True, include_links=True,
                                include_comments=False, url=url, favor_precision=True)
    if not found:
        return None
    body = clean_html(_inner_body(found), url)
    if len(html_text(body)) < MIN_TEXT:  # a menu, a cookie notice: no article
        return None
    metadata = trafilatura.extract_metadata(page, default_url=url)
    image = urljoin(url, metadata.image) if metadata is not None and metadata.image else None
    return Article(body, image if image and urlsplit(image).scheme == "https" else None)


def _inner_body(document: str) -> str:
    """trafilatura's HTML is a whole document: the body's content."""
    start, end = document.find("<body>"), document.rfind("</body>")
    return document[start + len("<body>"):end] if start >= 0 and end > start else document
