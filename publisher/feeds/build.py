"""Builds every feed file from the store: decides cheaply what changed, renders only that.

Each file's fingerprint is a hash of what it is made from: the config sections and code that
shape it, and the (id, updated) stamps of its releases, read from an index without loading the
releases. A file whose fingerprint matches the last build is not rendered at all; one that is
rendered but comes out byte-identical is not written, so its mtime stays.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache, partial
from importlib import resources
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from publisher.clock import utc_now
from publisher.feeds import pages, render, targets
from publisher.feeds.bucket import BucketReport, publish_to_bucket
from publisher.feeds.files import BuildState, packed, write_if_changed
from publisher.feeds.media import ATOM_TYPE
from publisher.feeds.model import FeedItem, Link
from publisher.feeds.render import render_atom, render_json_feed, render_rss
from publisher.feeds.select import (
    Stamp,
    newest_for_feed,
    newest_stamps,
    published_span,
    range_stamp,
    releases_in_range,
)
from publisher.feeds.targets import FeedConfig, FeedTarget, feed_item, feed_meta, feed_targets
from publisher.feeds.websub import ping_hub
from publisher.store.feedfiles import BuiltFile, drop_others, store_built, stored_builds, stored_files
from publisher.store.models import Release
from publisher.urls import release_link

log = logging.getLogger(__name__)

Renderer = Callable[..., bytes]
FORMATS: dict[str, Renderer] = {
    "atom.xml": render_atom, "rss.xml": render_rss, "feed.json": render_json_feed}


@dataclass
class BuildReport:
    folder: Path
    changed: list[str] = field(default_factory=list)  # paths relative to the folder
    unchanged: int = 0
    removed: int = 0  # files no build makes any more
    pinged: int = 0
    bucket: BucketReport | None = None

    def line(self) -> str:
        removed = f", {self.removed} removed" if self.removed else ""
        bucket = f"; {self.bucket.clause()}" if self.bucket else ""
        return f"feeds: {len(self.changed)} changed, {self.unchanged} unchanged{removed} in {self.folder}{bucket}"


@dataclass(frozen=True)
class _YearArchive:
    year: int
    start: datetime
    end: datetime
    stamp: tuple[object, ...]


class _Builder:
    def __init__(self, config: FeedConfig, session: Session) -> None:
        self.config = config
        self.session = session
        self.folder = Path(config.feeds.dir)
        self.state = BuildState(self.folder)
        self.report = BuildReport(self.folder)
        self.settings = _settings_digest(config)
        self.zone = config.site.zone
        self.stored = stored_builds(session)
        self.built: list[BuiltFile] = []  # for the store, which holds what every web node serves
        self.made: set[str] = set()  # every file this build makes, changed or not

    def _item(self, release: Release) -> FeedItem:
        return feed_item(release, self.zone, release_link(self.config.site, release.url, release.slug))

    def emit(self, relative: str, made_from: object, make: Callable[[], bytes]) -> None:
        fingerprint = _digest([self.settings, relative, made_from])
        self.made.add(relative)
        stored = self.stored.get(relative)
        if self.state.is_current(relative, fingerprint) and stored is not None and stored[0] == fingerprint:
            self.report.unchanged += 1
            return
        data = make()
        sha256 = hashlib.sha256(data).hexdigest()
        gzipped = packed(data)
        written = write_if_changed(self.folder / relative, data, gzipped)
        if stored != (fingerprint, sha256):
            self.built.append(BuiltFile(relative, data, gzipped, sha256, fingerprint))
        if written or stored is None or stored[1] != sha256:
            self.report.changed.append(relative)
        else:
            self.report.unchanged += 1
        self.state.record(relative, fingerprint, len(data))

    def current_feeds(
        self, target: FeedTarget, stamps: list[Stamp], archive_links: tuple[Link, ...]
    ) -> None:
        @cache
        def items() -> list[FeedItem]:
            releases = newest_for_feed(self.session, target.country, self.config.feeds.max_items)
            return [self._item(release) for release in releases]

        made_from = _digest(_stamp_list(stamps))
        for name, renderer in FORMATS.items():
            relative = f"{target.code}/{name}"
            links = archive_links if name == "atom.xml" else ()
            self.emit(relative, [made_from, _links(links)],
                      partial(self._render, renderer, target, relative, links, items))

    def _render(self, renderer: Renderer, target: FeedTarget, relative: str,
                links: tuple[Link, ...], items: Callable[[], list[FeedItem]]) -> bytes:
        return renderer(feed_meta(self.config, target, relative, items(), links=links), items())

    def archives(self, target: FeedTarget) -> tuple[Link, ...]:
        """Writes the target's yearly archives; returns the current feed's link to the newest."""
        years = self._years(target)
        for i, year in enumerate(years):
            links = [Link(self.config.url(f"{target.code}/atom.xml"), "current", ATOM_TYPE)]
            if i > 0:
                links.append(self._archive_link(target, years[i - 1], "prev-archive"))
            if i + 1 < len(years):
                links.append(self._archive_link(target, years[i + 1], "next-archive"))
            self._archive(target, year, tuple(links))
        return (self._archive_link(target, years[-1], "prev-archive"),) if years else ()

    def _archive(self, target: FeedTarget, year: _YearArchive, links: tuple[Link, ...]) -> None:
        relative = _archive_path(target, year)

        def make() -> bytes:
            releases = releases_in_range(self.session, target.country, year.start, year.end)
            items = [self._item(release) for release in releases]
            meta = feed_meta(self.config, target, relative, items, links=links, is_archive=True)
            return render_atom(meta, items)

        self.emit(relative, [list(year.stamp), _links(links)], make)

    def _archive_link(self, target: FeedTarget, year: _YearArchive, rel: str) -> Link:
        return Link(self.config.url(_archive_path(target, year)), rel, ATOM_TYPE)

    def _years(self, target: FeedTarget) -> list[_YearArchive]:
        countries = [target.country] if target.country else list(self.config.country_codes)
        spans = [span for code in countries if (span := published_span(self.session, code))]
        if not spans:
            return []
        first = min(oldest for oldest, _ in spans).astimezone(self.zone).year
        last = max(newest for _, newest in spans).astimezone(self.zone).year
        years = []
        for year in range(first, last + 1):
            start = datetime(year, 1, 1, tzinfo=self.zone)
            end = datetime(year + 1, 1, 1, tzinfo=self.zone)
            # The feed of all countries changes exactly when one of its countries' ranges does.
            stamp = tuple(range_stamp(self.session, code, start, end) for code in countries)
            if any(count for count, _ in stamp):
                years.append(_YearArchive(year, start, end, stamp))
        return years

    def pages(self) -> None:
        self.emit(pages.INDEX_NAME, None, lambda: pages.render_index(self.config))
        self.emit(pages.OPML_NAME, None, lambda: pages.render_opml(self.config))


def build_feeds(sessions: sessionmaker[Session], config: FeedConfig, *, ping: bool = True,
                clock: Callable[[], datetime] = utc_now) -> BuildReport:
    """Write every feed, archive and page that differs from what the store now says, to the
    folder and to the store (in one transaction at the end: every web node sees the new build
    at once, and a build that fails half-way leaves the store's copies as they were)."""
    with sessions() as session:
        builder = _Builder(config, session)
        all_targets = feed_targets(config)
        stamps = newest_stamps(session, [t.country for t in all_targets], config.feeds.max_items)
        for target, target_stamps in zip(all_targets, stamps, strict=True):
            archive_links = builder.archives(target) if config.feeds.archive else ()
            builder.current_feeds(target, target_stamps, archive_links)
        builder.pages()
    with sessions.begin() as session:
        store_built(session, builder.built, clock())
        removed = drop_others(session, builder.made)
    report = builder.report
    report.removed = max(removed, len(builder.state.forget_others(builder.made)))
    builder.state.save()
    if ping and config.feeds.hub:
        changed_feeds = [path for path in report.changed if path.endswith(tuple(FORMATS))]
        report.pinged = ping_hub(config.feeds.hub, [config.url(p) for p in changed_feeds])
    if config.feeds.publish.endpoint:
        with sessions() as session:
            files = stored_files(session)
        report.bucket = publish_to_bucket(config.feeds.publish, files, config.max_age)
    log.debug("%s", report.line())
    return report


def _archive_path(target: FeedTarget, year: _YearArchive) -> str:
    return f"{target.code}/archive/{year.year}.xml"


def _stamp_list(stamps: Sequence[Stamp]) -> list[object]:
    return [[release_id, str(updated)] for release_id, updated in stamps]


def _links(links: Sequence[Link]) -> list[object]:
    return [[link.href, link.rel] for link in links]


def _digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, default=str).encode()).hexdigest()


def _settings_digest(config: FeedConfig) -> str:
    """What shapes every file besides its releases: the config sections and the code that
    render feeds. Changing either rebuilds everything once."""
    code = b"".join(
        Path(module.__file__).read_bytes() for module in (render, targets, pages) if module.__file__)
    template = resources.files("publisher").joinpath("templates/feeds-index.html").read_bytes()
    sections = [config.site.model_dump(), [c.model_dump() for c in config.countries],
                config.feeds.model_dump(exclude={"cron", "dir", "publish"})]
    return _digest([sections, hashlib.sha256(code + template).hexdigest()])
