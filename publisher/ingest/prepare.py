"""What an import works out of each entry before it looks at the store: repeats dropped, its
countries, its content hash. None of it needs the store, so a large file's entries are prepared
in a helper process while this one stores the chunk before (ingest/helper.py). (Slugs are made
where they are stored: only new releases need one, and it balances the two processes.)"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from collections.abc import Iterable, Iterator
from typing import NamedTuple

from publisher.ingest.entry import Entry
from publisher.ingest.tagging import Tagger
from publisher.safehtml import clean_html, looks_hostile

log = logging.getLogger(__name__)

CHUNK = 2_000  # entries prepared, looked up, given slugs and written together


class Prepared(NamedTuple):
    entry: Entry
    countries: tuple[str, ...]
    content_hash: str


class Chunk(NamedTuple):
    prepared: list[Prepared]
    repeats: list[tuple[str, str]]  # (where, where it was first): the same release again, left out


def prepare(entry: Entry, tagger: Tagger, source: str) -> Prepared:
    entry = cleaned(entry, source)
    if entry.categories:  # a feed's: one naming a country says where, not what
        entry = dataclasses.replace(entry, category=tagger.kicker(entry.categories))
    countries = tagger.countries(entry, source)
    return Prepared(entry, countries, release_hash(entry, countries))


def cleaned(entry: Entry, source: str) -> Entry:
    """The entry with its HTML made harmless (safehtml.py), as it will be stored."""
    if not entry.body_html:
        return entry
    if looks_hostile(entry.body_html):
        log.warning("%s: %s: its HTML held scripts, event handlers, frames, forms or script links; "
                    "they were removed", source, entry.where)
    return dataclasses.replace(entry, body_html=clean_html(entry.body_html, entry.url) or None)


def prepared_chunks(entries: Iterable[Entry], tagger: Tagger, source: str,
                    size: int = CHUNK) -> Iterator[Chunk]:
    """`entries` prepared, `size` at a time, each release once (the first time it comes)."""
    seen: dict[bytes, str] = {}  # the source key's digest -> where it was
    chunk = Chunk([], [])
    for entry in entries:
        first = seen.setdefault(_digest(entry.source_key), entry.where)
        if first != entry.where:
            chunk.repeats.append((entry.where, first))
            continue
        chunk.prepared.append(prepare(entry, tagger, source))
        if len(chunk.prepared) == size:
            yield chunk
            chunk = Chunk([], [])
    if chunk.prepared or chunk.repeats:
        yield chunk


def _digest(key: str) -> bytes:
    """128 bits of a source key: a third of the memory of the key (100,000 keys: 8 MB less)
    and, for two keys, a chance of 2**-128 of being alike."""
    return hashlib.blake2b(key.encode(), digest_size=16).digest()


def release_hash(entry: Entry, countries: tuple[str, ...]) -> str:
    content = [entry.title, entry.summary, entry.body_html, entry.url, entry.image_url,
               entry.image_credit, entry.published.isoformat(), sorted(countries)]
    if entry.category:  # (added later: the hash of a release without one stays as it was)
        content.append(entry.category)
    if entry.ends:  # (so too)
        content.append(entry.ends.isoformat())
    return hashlib.sha256(json.dumps(content, ensure_ascii=False).encode()).hexdigest()

