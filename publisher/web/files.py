"""The built feed files as HTTP responses: type, validators, and a gzip copy, kept per version.

A file is read (and compressed) once per version (its size and mtime), not once per request;
the ETag is a hash of its bytes, so a rebuild that writes nothing keeps it.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
from collections import OrderedDict
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


MAX_CACHED = 256  # files: every feed of 80 countries with its archives, and no more


class FeedFiles:
    def __init__(self, folder: Path) -> None:
        self.folder = folder.resolve()
        # By real path, least recently used first: however a path is spelled, one entry.
        self._cache: OrderedDict[Path, tuple[tuple[int, int], ServedFile]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, relative: str) -> ServedFile | None:
        """The file at `relative` in the folder; None for anything else (no dotfiles, no way
        out, not through a link either)."""
        path = self._real_path(relative)
        if path is None:
            return None
        try:
            stat = path.stat()
        except OSError:
            return None
        version = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            cached = self._cache.get(path)
            if cached and cached[0] == version:
                self._cache.move_to_end(path)
                return cached[1]
        served = _load(path, stat.st_mtime)
        with self._lock:
            self._cache[path] = (version, served)
            self._cache.move_to_end(path)
            while len(self._cache) > MAX_CACHED:
                self._cache.popitem(last=False)
        return served

    def _real_path(self, relative: str) -> Path | None:
        parts = Path(relative).parts
        if not parts or any(part.startswith(".") or part in ("..", "/") for part in parts):
            return None
        try:
            path = self.folder.joinpath(*parts).resolve(strict=True)
        except (OSError, ValueError):  # missing, a NUL byte, a name too long
            return None
        if not path.is_relative_to(self.folder) or not path.is_file():
            return None
        return path


def _load(path: Path, mtime: float) -> ServedFile:
    body = path.read_bytes()
    content_type = media_type(path.name, path.suffix, in_archive=path.parent.name == "archive")
    return ServedFile(body, gzip.compress(body, mtime=0), f'"{hashlib.sha256(body).hexdigest()[:32]}"',
                      formatdate(mtime, usegmt=True), mtime, content_type)
