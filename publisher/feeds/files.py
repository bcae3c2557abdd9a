"""Writing feed files: atomically, only when the bytes change, with a record of what was built.

The record (`.build-state.json` in the feeds folder) maps each file to the fingerprint of the data
it was built from, so a rebuild can tell that a file is current without rendering it.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.orm import Session

from publisher.errors import PublisherError
from publisher.store.feedfiles import last_change

log = logging.getLogger(__name__)


class FeedWriteError(PublisherError, OSError):
    """A feed file could not be written (the disk is full, the folder read-only); an OSError still,
    with its message."""

STATE_NAME = ".build-state.json"
GZIP_SUFFIX = ".gz"


def write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, then rename it into place: a reader sees
    the old file or the new one, never half of one, and a crash leaves the old one intact.
    (The data is flushed before the rename; should the rename itself be lost to a power cut,
    the old file is what remains, and the next build writes it again.)"""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Not a `with` block: the file must outlive it, to be renamed into place.
        handle = tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp",  # noqa: SIM115
                                             delete=False)
    except OSError as exc:
        raise FeedWriteError(f"{path.parent}: cannot write there ({exc.strerror or exc})") from exc
    try:
        with handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(handle.name, 0o644)
        os.replace(handle.name, path)
    except BaseException as exc:
        Path(handle.name).unlink(missing_ok=True)
        if isinstance(exc, OSError):  # a full disk, a read-only folder: the old file stays as it was
            raise FeedWriteError(f"{path}: cannot write ({exc.strerror or exc}); the file before it "
                                 "is left as it was") from exc
        raise


def write_if_changed(path: Path, data: bytes, packed: bytes) -> bool:
    """Write unless the file already holds exactly these bytes (its mtime then stays); and
    beside it its gzip copy `NAME.gz` (`packed`), for a web server that serves those as they are
    (nginx's gzip_static), whenever the file is written or the copy is missing."""
    try:
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            if not gzip_copy(path).exists():
                write_atomic(gzip_copy(path), packed)
            return False
    except FileNotFoundError:
        pass
    write_atomic(gzip_copy(path), packed)
    write_atomic(path, data)
    return True


def packed(data: bytes) -> bytes:
    """The gzip copy of a file: the same bytes for the same file, on every machine."""
    return gzip.compress(data, compresslevel=9, mtime=0)


def gzip_copy(path: Path) -> Path:
    return path.with_name(path.name + GZIP_SUFFIX)


class BuildState:
    """Fingerprints of the data each file was last built from, keyed by path in the folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._path = folder / STATE_NAME
        self._entries: dict[str, dict[str, object]] = self._load()
        self._dirty = False

    def _load(self) -> dict[str, dict[str, object]]:
        try:
            data = json.loads(self._path.read_text("utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("%s: unreadable (%s); every feed is rebuilt", self._path, exc)
            return {}
        return data if isinstance(data, dict) else {}

    def is_current(self, relative: str, fingerprint: str) -> bool:
        """The file exists, has the size it was written with, was built from this data, and
        has its gzip copy beside it."""
        entry = self._entries.get(relative)
        if not entry or entry.get("fingerprint") != fingerprint:
            return False
        path = self.folder / relative
        try:
            return path.stat().st_size == entry.get("size") and gzip_copy(path).exists()
        except FileNotFoundError:
            return False

    def record(self, relative: str, fingerprint: str, size: int) -> None:
        entry = {"fingerprint": fingerprint, "size": size}
        if self._entries.get(relative) != entry:
            self._entries[relative] = entry
            self._dirty = True

    def forget_others(self, kept: set[str]) -> list[str]:
        """Remove the files this folder's builds made that the last build did not make; their
        paths."""
        gone = sorted(set(self._entries) - kept)
        for relative in gone:
            path = self.folder / relative
            for built in (path, gzip_copy(path)):
                built.unlink(missing_ok=True)
            del self._entries[relative]
            self._dirty = True
        return gone

    def save(self) -> None:
        if self._dirty:
            data = json.dumps(self._entries, indent=1, sort_keys=True).encode("utf-8")
            write_atomic(self._path, data)
            self._dirty = False


def feeds_changed(session: Session, folder: Path) -> datetime | None:
    """When a build last changed a file: as the store says (on any machine), or, before the store
    kept the files, as this machine's folder says."""
    changed = last_change(session)
    if changed is not None:
        return changed
    state = folder / STATE_NAME
    return datetime.fromtimestamp(state.stat().st_mtime, UTC) if state.exists() else None
