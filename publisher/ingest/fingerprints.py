"""Whether a file is imported again unchanged, told without reading its entries: the same bytes,
under the same rules, onto the releases its last import left. Any difference (one byte, a
keyword of a country, a release another import or a person changed since) means a full import.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from publisher.ingest.rules import IngestConfig
from publisher.store.models import ImportFingerprint, Release

# Raised whenever a change to the importers would store a file's entries differently.
_IMPORTER_VERSION = 1
_BLOCK = 1 << 20


def file_digest(path: str) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as file:
        while block := file.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def rules_digest(config: IngestConfig, fmt: str | None, categories: Mapping[str, str] | None = None) -> str:
    """What, besides the file, decides what its import stores (`categories`: its source's)."""
    rules = [_IMPORTER_VERSION, fmt, config.site.model_dump(mode="json"),
             config.tagging.model_dump(mode="json"), [c.model_dump(mode="json") for c in config.countries]]
    if categories:  # (added later: the digest of a file without them stays as it was)
        rules.append(dict(categories))
    return hashlib.sha256(json.dumps(rules, sort_keys=True).encode()).hexdigest()


def store_digest(session: Session, location: str) -> str:
    """The releases this location's imports stored, as they are now (index ix_releases_source)."""
    # Core rows, hashed as they come (one text of them all would cost 50 MB at 100,000).
    digest = hashlib.sha256()
    rows = session.connection().execute(select(Release.source_key, Release.content_hash)
                                        .where(Release.source == location).order_by(Release.source_key))
    for key, content_hash in rows:
        digest.update(f"{key}\0{content_hash}\n".encode())
    return digest.hexdigest()


def unchanged_entries(session: Session, location: str, file: str, rules: str) -> int | None:
    """How many entries the file holds, when importing it again would change nothing; else None."""
    last = session.get(ImportFingerprint, location)
    if last is None or (last.file_digest, last.rules_digest) != (file, rules):
        return None
    return last.entries if store_digest(session, location) == last.store_digest else None


def remember(session: Session, location: str, file: str, rules: str, entries: int, now: datetime) -> None:
    session.flush()
    session.merge(ImportFingerprint(location=location, file_digest=file, rules_digest=rules,
                                    store_digest=store_digest(session, location), entries=entries,
                                    imported=now))
