"""Stores imported entries idempotently: new ones inserted, changed ones updated, the rest left."""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime

from sqlalchemy import insert, select
from sqlalchemy.orm import Session, selectinload

from publisher.ingest.entry import Entry
from publisher.ingest.prepare import Chunk, Prepared, prepare, prepared_chunks
from publisher.ingest.rules import IngestConfig
from publisher.ingest.slugs import slugify
from publisher.ingest.tagging import Tagger
from publisher.store.models import Release, ReleaseCountry
from publisher.store.releases import searchable
from publisher.urls import release_path, site_host

log = logging.getLogger(__name__)

MANUAL = "console"  # the source of a release an operator added or edited: no import changes it
_LOOKUP_CHUNK = 500


@dataclass
class ImportCounts:
    new: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.new or self.updated)

    @property
    def total(self) -> int:
        return self.new + self.updated + self.unchanged


_RELEASES = Release.metadata.tables["releases"]  # Core tables: a new release is no ORM object
_COUNTRIES = Release.metadata.tables["release_countries"]


def save_entries(
    session: Session, entries: Iterable[Entry], *, config: IngestConfig, source: str, now: datetime,
) -> ImportCounts:
    """Insert or update `entries` in the session's transaction; the caller commits or rolls back."""
    return save_chunks(session, prepared_chunks(entries, Tagger(config), source),
                       config=config, source=source, now=now)


def save_chunks(
    session: Session, chunks: Iterable[Chunk], *, config: IngestConfig, source: str, now: datetime,
) -> ImportCounts:
    """Store prepared entries a chunk at a time (they may be read as they are saved: memory
    stays flat in the file's size), in the session's transaction."""
    saver = _Saver(session, config, source, now)
    for chunk in chunks:
        for where, first in chunk.repeats:
            log.warning("%s: %s is the same release as %s; stored once", source, where, first)
        saver.save(chunk.prepared)
        # A chunk's statements leave reference cycles behind that hold its values; at a command's
        # thresholds (cli/__init__.py) they outlived the young collections and piled up in the
        # older generations: 100,000 releases peaked 36 MB higher (benchmarks/imports.py).
        gc.collect(0)
    return saver.counts


@dataclass
class _Stored:
    """What the import needs of a stored release, read without loading it whole."""
    id: int
    content_hash: str
    published: datetime
    summary: str
    body_html: str | None
    image_url: str | None
    image_credit: str | None
    category: str | None
    ends: date | None
    source: str
    withdrawn: datetime | None

    def kept(self, importing: str) -> bool:
        """Whether an import leaves it alone: an operator withdrew or edited it."""
        return self.withdrawn is not None or (self.source == MANUAL and importing != MANUAL)


class _Saver:
    def __init__(self, session: Session, config: IngestConfig, source: str, now: datetime) -> None:
        self.session, self.config, self.source, self.now = session, config, source, now
        self.tagger = Tagger(config)
        self.slugs = _Slugs(session)
        self.counts = ImportCounts()

    def save(self, chunk: list[Prepared]) -> None:
        if not chunk:
            return
        stored = self._stored({item.entry.source_key for item in chunk})
        new: list[Prepared] = []
        updated: dict[int, Prepared] = {}
        for item in chunk:
            found = stored.get(item.entry.source_key)
            if found is None:
                new.append(item)
                continue
            if found.kept(self.source):
                self.counts.unchanged += 1
                continue
            entry = merged(item.entry, found)
            if entry != item.entry:  # the store filled in what this source leaves out
                item = prepare(entry, self.tagger, self.source)
            if found.content_hash == item.content_hash:
                self.counts.unchanged += 1
            else:
                updated[found.id] = item
        self._insert(new)
        self._update(updated)

    def _stored(self, keys: set[str]) -> dict[str, _Stored]:
        table = _RELEASES
        fields = [table.c[name] for name in _Stored.__dataclass_fields__]
        rows = self.session.execute(select(table.c.source_key, *fields).where(table.c.source_key.in_(keys)))
        return {row[0]: _Stored(*row[1:]) for row in rows}

    def _insert(self, new: list[Prepared]) -> None:
        """New releases and their countries, each table in one statement (Core: a release
        becomes no ORM object)."""
        if not new:
            return
        slugs = self.slugs.allocate(new)
        rows = [_release_row(item, slug, self.config, self.source) for item, slug in zip(new, slugs, strict=True)]
        self.session.execute(insert(_RELEASES), rows)  # executemany: faster than RETURNING the ids
        ids: dict[str, int] = dict(self.session.execute(  # rows of (key, id)
            select(_RELEASES.c.source_key, _RELEASES.c.id).where(
                _RELEASES.c.source_key.in_([row["source_key"] for row in rows]))).all())
        self.session.execute(insert(_COUNTRIES), [
            {"release_id": ids[entry.source_key], "country_code": code, "published": entry.published,
             "updated": entry.published}
            for entry, countries, _ in new for code in countries])
        self.counts.new += len(new)

    def _update(self, updated: dict[int, Prepared]) -> None:
        """Changed releases, through the ORM (they are few): fields, and their countries."""
        if not updated:
            return
        releases = self.session.scalars(select(Release).where(Release.id.in_(updated))
                                        .options(selectinload(Release.links)))
        for release in releases:
            entry, countries, content_hash = updated[release.id]
            update_release(release, entry, countries, content_hash, self.config, self.source, self.now)
        self.session.flush()
        self.counts.updated += len(updated)


class _Slugs:
    """Slugs for new releases, allocated a chunk at a time: which candidates are taken is one
    query for the whole chunk, not one per release. (Earlier chunks of the import are in the
    store by then, in this transaction.)"""

    def __init__(self, session: Session) -> None:
        self.session = session

    def allocate(self, new: list[Prepared]) -> list[str]:
        bases = [slugify(item.entry.title) for item in new]  # the date or a number added when taken
        dated = [f"{base}-{item.entry.published.date().isoformat()}" for base, item in zip(bases, new, strict=True)]
        taken = self._taken({*bases, *dated})
        slugs = []
        for base, day in zip(bases, dated, strict=True):
            slug = base if base not in taken else day if day not in taken else self._numbered(day, taken)
            taken.add(slug)
            slugs.append(slug)
        return slugs

    def _taken(self, candidates: set[str]) -> set[str]:
        column = _RELEASES.c.slug
        found: set[str] = set()
        listed = sorted(candidates)
        for start in range(0, len(listed), _LOOKUP_CHUNK):
            found.update(self.session.scalars(select(column).where(column.in_(listed[start:start + _LOOKUP_CHUNK]))))
        return found

    def _numbered(self, dated: str, taken: set[str]) -> str:
        """`dated-2`, `-3`, ...: the same title on the same day (rare; one query)."""
        column = _RELEASES.c.slug
        taken = taken | set(self.session.scalars(select(column).where(column.startswith(f"{dated}-"))))
        return next(f"{dated}-{n}" for n in range(2, len(taken) + 3) if f"{dated}-{n}" not in taken)


def _release_row(item: Prepared, slug: str, config: IngestConfig, source: str) -> dict[str, object]:
    entry = item.entry
    return {"source_key": entry.source_key, "permanent_id": permanent_id(config, entry, slug), "slug": slug,
            "title": entry.title, "summary": entry.summary, "body_html": entry.body_html,
            "url": entry.url, "image_url": entry.image_url,
            "image_credit": entry.image_credit, "category": entry.category, "published": entry.published,
            "ends": entry.ends, "search_text": searchable(entry.title, entry.summary),
            "updated": entry.published, "source": source, "content_hash": item.content_hash}


def merged(entry: Entry, release: Release | _Stored) -> Entry:
    """The entry, with what its source left out taken from the stored release: pages differ in
    what they show (a listing, the home page, a cut-off page), and an absent field is not news
    that the field was removed. A field that is present replaces the stored one. An undated
    entry keeps the date it was first read."""
    return replace(entry, published=release.published if entry.undated else entry.published,
                   summary=entry.summary or release.summary,
                   body_html=entry.body_html or release.body_html,
                   image_url=entry.image_url or release.image_url,
                   image_credit=entry.image_credit or release.image_credit,
                   category=entry.category or release.category, ends=entry.ends or release.ends)


def permanent_id(config: IngestConfig, entry: Entry, slug: str) -> str:
    """A tag: URI (RFC 4151) on the site's domain and the release's date, e.g.
    `tag:www.ilo.org,2022-06-16:/beijing/releases/ilo-supports-inclusion`."""
    day = entry.published.date().isoformat()
    return f"tag:{site_host(config.site)},{day}:{release_path(config.site, slug)}"


def update_release(
    release: Release, entry: Entry, countries: tuple[str, ...], content_hash: str,
    config: IngestConfig, source: str, now: datetime,
) -> None:
    # The permanent id and the slug stay: readers and links already know them.
    _fill(release, entry, content_hash, source)
    release.updated = max(now, entry.published)
    tag(release, countries)


def _fill(release: Release, entry: Entry, content_hash: str, source: str) -> None:
    release.title = entry.title
    release.summary = entry.summary
    release.body_html = entry.body_html
    release.url = entry.url  # none: its page here, built when shown (urls.release_link)
    release.image_url = entry.image_url
    release.image_credit = entry.image_credit
    release.category = entry.category
    release.published = entry.published
    release.ends = entry.ends
    release.search_text = searchable(entry.title, entry.summary)
    release.source = source
    release.content_hash = content_hash


def tag(release: Release, countries: tuple[str, ...]) -> None:
    kept = [link for link in release.links if link.country_code in countries]
    for link in kept:
        link.published, link.updated = release.published, release.updated
    have = {link.country_code for link in kept}
    release.links = kept + [
        ReleaseCountry(country_code=code, published=release.published, updated=release.updated)
        for code in countries if code not in have
    ]
