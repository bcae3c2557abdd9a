"""The built feed files as HTTP responses: type, validators, and a gzip copy, kept per version.

A file is read (and compressed) once per version (its size and mtime), not once per request;
the ETag is a hash of its bytes, so a rebuild that writes nothing keeps it.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path

from publisher.feeds.media import media_type


@dataclass(frozen=True)
class ServedFile:
    body: bytes
    gzipped: bytes
    etag: str
    last_modified: str  # an HTTP date
    mtime: float
    content_type: str


class FeedFiles:
    def __init__(self, folder: Path) -> None:
        self.folder = folder.resolve()
        self._cache: dict[str, tuple[tuple[int, int], ServedFile]] = {}
        self._lock = threading.Lock()

    def get(self, relative: str) -> ServedFile | None:
        """The file at `relative` in the folder; None for anything else (no dotfiles, no way out)."""
        parts = Path(relative).parts
        if not parts or any(part.startswith(".") or part in ("..", "/") for part in parts):
            return None
        path = self.folder.joinpath(*parts)
        try:
            stat = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        if not path.is_file():
            return None
        version = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            cached = self._cache.get(relative)
        if cached and cached[0] == version:
            return cached[1]
        served = _load(path, stat.st_mtime)
        with self._lock:
            self._cache[relative] = (version, served)
        return served


def _load(path: Path, mtime: float) -> ServedFile:
    body = path.read_bytes()
    content_type = media_type(path.name, path.suffix, in_archive=path.parent.name == "archive")
    return ServedFile(body, gzip.compress(body, mtime=0), f'"{hashlib.sha256(body).hexdigest()[:32]}"',
                      formatdate(mtime, usegmt=True), mtime, content_type)
