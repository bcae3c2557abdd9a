"""Built feed files kept in the store: what the build compares against, and what web nodes serve."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from publisher.store.models import FeedFile


@dataclass(frozen=True)
class BuiltFile:
    path: str
    body: bytes
    gzipped: bytes
    sha256: str
    fingerprint: str


def stored_builds(session: Session) -> dict[str, tuple[str, str]]:
    """Each stored file's (fingerprint, sha256), by path: without its bytes."""
    rows = session.execute(select(FeedFile.path, FeedFile.fingerprint, FeedFile.sha256))
    return {path: (fingerprint, sha256) for path, fingerprint, sha256 in rows}


def store_built(session: Session, files: Iterable[BuiltFile], now: datetime) -> None:
    """Each file's bytes, replaced only when they differ (its `changed` then stays); its
    fingerprint always."""
    for built in files:
        row = session.get(FeedFile, built.path)
        if row is None:
            session.add(FeedFile(path=built.path, body=built.body, gzipped=built.gzipped,
                                 sha256=built.sha256, fingerprint=built.fingerprint, changed=now))
            continue
        if row.sha256 != built.sha256:
            row.body, row.gzipped, row.sha256, row.changed = built.body, built.gzipped, built.sha256, now
        row.fingerprint = built.fingerprint


def file_versions(session: Session) -> dict[str, str]:
    """Each stored file's sha256, by path: what a web node checks its copies against."""
    return dict(session.execute(select(FeedFile.path, FeedFile.sha256)).all())


def stored_files(session: Session, paths: Sequence[str] | None = None) -> list[FeedFile]:
    """The files at `paths`, or every file."""
    query = select(FeedFile) if paths is None else select(FeedFile).where(FeedFile.path.in_(paths))
    return list(session.scalars(query)) if paths is None or paths else []


def last_change(session: Session) -> datetime | None:
    """When a built file's bytes last changed, on any machine."""
    return session.scalar(select(func.max(FeedFile.changed)))


def drop_others(session: Session, kept: Iterable[str]) -> int:
    """Delete the files a build no longer makes (a country gone, an archive year emptied);
    how many."""
    gone = set(stored_builds(session)) - set(kept)
    if gone:
        session.execute(delete(FeedFile).where(FeedFile.path.in_(gone)))
    return len(gone)
