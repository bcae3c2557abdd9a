"""Stores imported entries idempotently: new ones inserted, changed ones updated, the rest left."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from slugify import slugify as make_slug
from sqlalchemy import insert, select
from sqlalchemy.orm import Session, selectinload

from publisher.config import Config
from publisher.ingest.entry import Entry
from publisher.ingest.tagging import Tagger
from publisher.store.models import Release, ReleaseCountry
from publisher.urls import release_path, release_url, site_host

log = logging.getLogger(__name__)

MANUAL = "console"  # the source of a release an operator added or edited: no import changes it
_SLUG_LENGTH = 80
_MARKUP = re.compile(r"<[^>]*>|&#?\w+;")
_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]")
_LOOKUP_CHUNK = 500
_DIGIT_COMMA = re.compile(r"(?<=\d),(?=\d)")
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


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
_CHUNK = 2_000  # entries looked up, allocated slugs and written together


def save_entries(
    session: Session, entries: Iterable[Entry], *, config: Config, source: str, now: datetime,
) -> ImportCounts:
    """Insert or update `entries` in the session's transaction, a chunk at a time (the entries
    may be read as they are saved: memory stays flat in the file's size); the caller commits or
    rolls back."""
    saver = _Saver(session, config, source, now)
    seen: dict[str, str] = {}  # source key -> where it was, for the warning about a repeat
    chunk: list[Entry] = []
    for entry in entries:
        first = seen.setdefault(entry.source_key, entry.where)
        if first != entry.where:
            log.warning("%s: %s is the same release as %s; stored once", source, entry.where, first)
            continue
        chunk.append(entry)
        if len(chunk) == _CHUNK:
            saver.save(chunk)
            chunk = []
    saver.save(chunk)
    return saver.counts


@dataclass
class _Stored:
    """What the import needs of a stored release, read without loading it whole."""
    id: int
    content_hash: str
    summary: str
    body_html: str | None
    image_url: str | None
    image_credit: str | None
    category: str | None
    source: str
    withdrawn: datetime | None

    def kept(self, importing: str) -> bool:
        """Whether an import leaves it alone: an operator withdrew or edited it."""
        return self.withdrawn is not None or (self.source == MANUAL and importing != MANUAL)


class _Saver:
    def __init__(self, session: Session, config: Config, source: str, now: datetime) -> None:
        self.session, self.config, self.source, self.now = session, config, source, now
        self.tagger = Tagger(config)
        self.slugs = _Slugs(session)
        self.counts = ImportCounts()

    def save(self, chunk: list[Entry]) -> None:
        if not chunk:
            return
        stored = self._stored({entry.source_key for entry in chunk})
        new: list[tuple[Entry, tuple[str, ...], str]] = []
        updated: dict[int, tuple[Entry, tuple[str, ...], str]] = {}
        for given in chunk:
            found = stored.get(given.source_key)
            if found is not None and found.kept(self.source):
                self.counts.unchanged += 1
                continue
            entry = given if found is None else merged(given, found)
            countries = self.tagger.countries(entry, self.source)
            content_hash = release_hash(entry, countries)
            if found is None:
                new.append((entry, countries, content_hash))
            elif found.content_hash == content_hash:
                self.counts.unchanged += 1
            else:
                updated[found.id] = (entry, countries, content_hash)
        self._insert(new)
        self._update(updated)

    def _stored(self, keys: set[str]) -> dict[str, _Stored]:
        table = _RELEASES
        fields = [table.c[name] for name in _Stored.__dataclass_fields__]
        rows = self.session.execute(select(table.c.source_key, *fields).where(table.c.source_key.in_(keys)))
        return {row[0]: _Stored(*row[1:]) for row in rows}

    def _insert(self, new: list[tuple[Entry, tuple[str, ...], str]]) -> None:
        """New releases and their countries, each table in one statement (Core: a release
        becomes no ORM object)."""
        if not new:
            return
        slugs = self.slugs.allocate([entry for entry, _, _ in new])
        rows = [_release_row(entry, slug, content_hash, self.config, self.source)
                for (entry, _, content_hash), slug in zip(new, slugs, strict=True)]
        self.session.execute(insert(_RELEASES), rows)  # executemany: faster than RETURNING the ids
        ids: dict[str, int] = dict(self.session.execute(  # rows of (key, id)
            select(_RELEASES.c.source_key, _RELEASES.c.id).where(
                _RELEASES.c.source_key.in_([row["source_key"] for row in rows]))).all())
        self.session.execute(insert(_COUNTRIES), [
            {"release_id": ids[entry.source_key], "country_code": code, "published": entry.published,
             "updated": entry.published}
            for entry, countries, _ in new for code in countries])
        self.counts.new += len(new)

    def _update(self, updated: dict[int, tuple[Entry, tuple[str, ...], str]]) -> None:
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
    query for the whole chunk, not one per release."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.taken_now: set[str] = set()  # allocated by this import

    def allocate(self, entries: list[Entry]) -> list[str]:
        bases = [slugify(entry.title) for entry in entries]
        dated = [f"{base}-{entry.published.date().isoformat()}" for base, entry in zip(bases, entries, strict=True)]
        taken = self._taken({*bases, *dated}) | self.taken_now
        slugs = []
        for base, day in zip(bases, dated, strict=True):
            slug = base if base not in taken else day if day not in taken else self._numbered(day, taken)
            taken.add(slug)
            self.taken_now.add(slug)
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


def _release_row(entry: Entry, slug: str, content_hash: str, config: Config, source: str) -> dict[str, object]:
    return {"source_key": entry.source_key, "permanent_id": permanent_id(config, entry, slug), "slug": slug,
            "title": entry.title, "summary": entry.summary, "body_html": entry.body_html,
            "url": entry.url or release_url(config, slug), "image_url": entry.image_url,
            "image_credit": entry.image_credit, "category": entry.category, "published": entry.published,
            "updated": entry.published, "source": source, "content_hash": content_hash}


def merged(entry: Entry, release: Release | _Stored) -> Entry:
    """The entry, with what its source left out taken from the stored release: pages differ in
    what they show (a listing, the home page, a cut-off page), and an absent field is not news
    that the field was removed. A field that is present replaces the stored one."""
    return replace(entry, summary=entry.summary or release.summary,
                   body_html=entry.body_html or release.body_html,
                   image_url=entry.image_url or release.image_url,
                   image_credit=entry.image_credit or release.image_credit,
                   category=entry.category or release.category)


def release_hash(entry: Entry, countries: tuple[str, ...]) -> str:
    content = [entry.title, entry.summary, entry.body_html, entry.url, entry.image_url,
               entry.image_credit, entry.published.isoformat(), sorted(countries)]
    if entry.category:  # (added later: the hash of a release without one stays as it was)
        content.append(entry.category)
    return hashlib.sha256(json.dumps(content, ensure_ascii=False).encode()).hexdigest()


def slugify(title: str) -> str:
    """A readable Latin slug: markup dropped, Chinese as pinyin, other scripts transliterated
    (Mongolian Cyrillic, accents), words joined by hyphens, cut at a word boundary; `release`
    when nothing is left."""
    text = _MARKUP.sub(" ", title)
    if _HAN.search(text):
        # Loaded here: a fifth of a second, and only Chinese titles need it.
        from pypinyin import lazy_pinyin

        text = " ".join(lazy_pinyin(text))
    slug = ""
    for word in _latin_slug(text).split("-"):  # the longest run of whole words from the start
        candidate = f"{slug}-{word}" if slug else word[:_SLUG_LENGTH]
        if len(candidate) > _SLUG_LENGTH:
            break
        slug = candidate
    return slug or "release"


def _latin_slug(text: str) -> str:
    """python-slugify's slug; for plain ASCII text (most titles, and pinyin) the same result
    by two regular expressions instead of eight (a property test holds them equal)."""
    if not text.isascii() or "&" in text:
        return make_slug(text)
    text = _DIGIT_COMMA.sub("", text.replace("'", "-").lower())  # 1,000 -> 1000, as it does
    return _NOT_SLUG.sub("-", text).strip("-")


def permanent_id(config: Config, entry: Entry, slug: str) -> str:
    """A tag: URI (RFC 4151) on the site's domain and the release's date, e.g.
    `tag:www.ilo.org,2022-06-16:/beijing/releases/ilo-supports-inclusion`."""
    day = entry.published.date().isoformat()
    return f"tag:{site_host(config)},{day}:{release_path(config, slug)}"


def update_release(
    release: Release, entry: Entry, countries: tuple[str, ...], content_hash: str,
    config: Config, source: str, now: datetime,
) -> None:
    # The permanent id and the slug stay: readers and links already know them.
    _fill(release, entry, content_hash, source, fallback_url=release_url(config, release.slug))
    release.updated = max(now, entry.published)
    tag(release, countries)


def _fill(release: Release, entry: Entry, content_hash: str, source: str, fallback_url: str) -> None:
    release.title = entry.title
    release.summary = entry.summary
    release.body_html = entry.body_html
    release.url = entry.url or fallback_url
    release.image_url = entry.image_url
    release.image_credit = entry.image_credit
    release.category = entry.category
    release.published = entry.published
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
