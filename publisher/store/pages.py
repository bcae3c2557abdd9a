"""Releases' own pages (a source with `fetch_pages`): which to fetch, and what a fetch gave."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from publisher.store.models import Release, ReleasePage


@dataclass(frozen=True)
class PageToFetch:
    release_id: int
    url: str
    etag: str | None
    last_modified: str | None


def pages_to_fetch(session: Session, source: str) -> list[PageToFetch]:
    """The source's releases with a link whose page was never read, failed last time, or that
    changed since it was read; those whose text came from their feed are left as they are."""
    rows = session.execute(
        select(Release.id, Release.url, ReleasePage.etag, ReleasePage.last_modified)
        .outerjoin(ReleasePage, ReleasePage.release_id == Release.id)
        .where(Release.source == source, Release.url.is_not(None), Release.withdrawn.is_(None))
        .where(or_(ReleasePage.release_id.is_(None) & Release.body_html.is_(None),
                   ReleasePage.problem.is_not(None), Release.updated > ReleasePage.fetched))
        .order_by(Release.published.desc()))
    return [PageToFetch(release_id, url, etag, modified) for release_id, url, etag, modified in rows if url]


def record_page(session: Session, release_id: int, now: datetime, *, etag: str | None = None,
                last_modified: str | None = None, problem: str | None = None) -> None:
    row = session.get(ReleasePage, release_id) or ReleasePage(release_id=release_id)
    row.fetched, row.problem = now, problem
    if problem is None:
        row.etag, row.last_modified = etag, last_modified
    session.add(row)


def keep_article(session: Session, release_id: int, body_html: str, image_url: str | None, now: datetime) -> bool:
    """The page's article as the release's text, and its picture when it has none; whether
    anything changed (its `updated` then moves, and so do the feeds)."""
    release = session.get(Release, release_id)
    if release is None:
        return False
    changed = release.body_html != body_html or (image_url is not None and release.image_url is None)
    if changed:
        release.body_html = body_html
        release.image_url = release.image_url or image_url
        release.updated = now
        for link in release.links:  # (each country's copy of `updated`, which the feeds' index reads)
            link.updated = now
    return changed
