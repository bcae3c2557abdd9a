"""Stores imported entries idempotently: new ones inserted, changed ones updated, the rest left."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from slugify import slugify as make_slug
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from publisher.config import Config
from publisher.ingest.entry import Entry
from publisher.ingest.tagging import Tagger
from publisher.store.models import Release, ReleaseCountry
from publisher.urls import release_path, release_url, site_host

log = logging.getLogger(__name__)

_SLUG_LENGTH = 80
_MARKUP = re.compile(r"<[^>]*>|&#?\w+;")
_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]")
_LOOKUP_CHUNK = 500


@dataclass
class ImportCounts:
    new: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.new or self.updated)


def save_entries(
    session: Session, entries: Sequence[Entry], *, config: Config, source: str, now: datetime
) -> ImportCounts:
    """Insert or update `entries` in the session's transaction; the caller commits or rolls back."""
    tagger = Tagger(config)
    unique = _first_of_each(entries, source)
    stored = _stored_by_key(session, list(unique))
    counts = ImportCounts()
    slugs_taken: set[str] = set()
    for key, given in unique.items():
        release = stored.get(key)
        entry = given if release is None else merged(given, release)
        countries = tagger.countries(entry, source)
        content_hash = _content_hash(entry, countries)
        if release is None:
            slug = _free_slug(session, entry, slugs_taken)
            session.add(_new_release(entry, key, slug, countries, content_hash, config, source))
            counts.new += 1
        elif release.content_hash == content_hash:
            counts.unchanged += 1
        else:
            _update(release, entry, countries, content_hash, config, source, now)
            counts.updated += 1
    session.flush()
    return counts


def _first_of_each(entries: Iterable[Entry], source: str) -> dict[str, Entry]:
    unique: dict[str, Entry] = {}
    for entry in entries:
        first = unique.setdefault(entry.source_key, entry)
        if first is not entry:
            log.warning("%s: %s is the same release as %s; stored once", source, entry.where,
                        first.where)
    return unique


def _stored_by_key(session: Session, keys: list[str]) -> dict[str, Release]:
    stored: dict[str, Release] = {}
    for start in range(0, len(keys), _LOOKUP_CHUNK):
        query = (
            select(Release)
            .where(Release.source_key.in_(keys[start:start + _LOOKUP_CHUNK]))
            .options(selectinload(Release.links))
        )
        stored.update((release.source_key, release) for release in session.scalars(query))
    return stored


def merged(entry: Entry, release: Release) -> Entry:
    """The entry, with what its source left out taken from the stored release: pages differ in
    what they show (a listing, the home page, a cut-off page), and an absent field is not news
    that the field was removed. A field that is present replaces the stored one."""
    return replace(entry, summary=entry.summary or release.summary,
                   body_html=entry.body_html or release.body_html,
                   image_url=entry.image_url or release.image_url,
                   image_credit=entry.image_credit or release.image_credit,
                   category=entry.category or release.category)


def _content_hash(entry: Entry, countries: tuple[str, ...]) -> str:
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
    for word in make_slug(text).split("-"):  # the longest run of whole words from the start
        candidate = f"{slug}-{word}" if slug else word[:_SLUG_LENGTH]
        if len(candidate) > _SLUG_LENGTH:
            break
        slug = candidate
    return slug or "release"


def _free_slug(session: Session, entry: Entry, taken_now: set[str]) -> str:
    base = slugify(entry.title)
    with session.no_autoflush:
        taken = set(session.scalars(select(Release.slug).where(Release.slug.startswith(base))))
    taken |= taken_now
    dated = f"{base}-{entry.published.date().isoformat()}"
    candidates = [base, dated] + [f"{dated}-{n}" for n in range(2, len(taken) + 3)]
    slug = next(candidate for candidate in candidates if candidate not in taken)
    taken_now.add(slug)
    return slug


def permanent_id(config: Config, entry: Entry, slug: str) -> str:
    """A tag: URI (RFC 4151) on the site's domain and the release's date, e.g.
    `tag:www.ilo.org,2022-06-16:/beijing/releases/ilo-supports-inclusion`."""
    day = entry.published.date().isoformat()
    return f"tag:{site_host(config)},{day}:{release_path(config, slug)}"


def _new_release(
    entry: Entry, key: str, slug: str, countries: tuple[str, ...], content_hash: str,
    config: Config, source: str,
) -> Release:
    release = Release(
        source_key=key,
        permanent_id=permanent_id(config, entry, slug),
        slug=slug,
        updated=entry.published,
        links=[],
    )
    _fill(release, entry, content_hash, source, fallback_url=release_url(config, slug))
    _tag(release, countries)
    return release


def _update(
    release: Release, entry: Entry, countries: tuple[str, ...], content_hash: str,
    config: Config, source: str, now: datetime,
) -> None:
    # The permanent id and the slug stay: readers and links already know them.
    _fill(release, entry, content_hash, source, fallback_url=release_url(config, release.slug))
    release.updated = max(now, entry.published)
    _tag(release, countries)


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


def _tag(release: Release, countries: tuple[str, ...]) -> None:
    kept = [link for link in release.links if link.country_code in countries]
    for link in kept:
        link.published, link.updated = release.published, release.updated
    have = {link.country_code for link in kept}
    release.links = kept + [
        ReleaseCountry(country_code=code, published=release.published, updated=release.updated)
        for code in countries if code not in have
    ]
