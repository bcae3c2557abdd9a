"""Reading the own pages of a source's new and changed releases (`fetch_pages`), after its import:
each page's article becomes its release's text, its og:image the release's picture when it has
none. One page at a time, each result in a short transaction of its own; a page that cannot be
fetched or read leaves its release as it was, and is tried again on the next run."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from publisher.config import Config, Source
from publisher.ingest.entry import Entry
from publisher.ingest.pages import PageReader
from publisher.ingest.prepare import release_hash
from publisher.store.models import Release
from publisher.store.pages import keep_article, pages_to_fetch, record_page

log = logging.getLogger(__name__)


@dataclass
class PageCounts:
    fetched: int = 0
    unchanged: int = 0  # 304, or the same article again
    failed: int = 0

    def clause(self) -> str:
        return f"pages: {self.fetched} fetched, {self.unchanged} unchanged, {self.failed} failed"


def read_pages(sessions: sessionmaker[Session], config: Config, source: Source, now: datetime,
               reader: PageReader | None = None) -> PageCounts:
    """Every page the source's releases wait for; the feeds rebuilt when an article changed one."""
    with sessions() as session:
        todo = pages_to_fetch(session, source.location)
    reader = reader or PageReader(source.timeout.total_seconds(), source.max_bytes, source.page_delay.total_seconds())
    counts = PageCounts()
    for done, page in enumerate(todo, start=1):
        read = reader.read(page.url, page.etag, page.last_modified)
        with sessions.begin() as session:
            if read.problem is not None:
                counts.failed += 1
                log.warning("%s: %s; tried again next time", page.url, read.problem)
                record_page(session, page.release_id, now, problem=read.problem)
            else:
                kept = read.article is not None and keep_article(
                    session, page.release_id, read.article.body_html, read.article.image_url, now)
                if kept:
                    counts.fetched += 1
                    rehash(session, page.release_id)
                else:
                    counts.unchanged += 1
                record_page(session, page.release_id, now, etag=read.etag, last_modified=read.last_modified)
        log.info("%s: page %d of %d read: %s", source.name, done, len(todo), page.url)
    if todo:
        log.info("%s: %s", source.name, counts.clause())
    if counts.fetched:  # an article changed a release
        from publisher.jobs.feeds import rebuild_feeds

        rebuild_feeds(sessions, config)
    return counts


def rehash(session: Session, release_id: int) -> None:
    """The release's content hash as an import of its source will now compute it (its feed's
    fields, with the article and picture the store fills in): the next import finds it unchanged."""
    release = session.get(Release, release_id)
    if release is None:
        return
    entry = Entry(title=release.title, published=release.published, summary=release.summary, url=release.url,
                  image_url=release.image_url, image_credit=release.image_credit, category=release.category,
                  body_html=release.body_html, ends=release.ends)
    release.content_hash = release_hash(entry, tuple(release.country_codes))
