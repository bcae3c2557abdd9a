"""The built feed files as HTTP responses, held in memory: body, gzip copy, ETag and every
header prepared when a file is first asked for, so that answering a reader costs no file system
call at all.

A file is read (and compressed) once per version. Whether a held file is still current is
checked at most once a second (`recheck`), for every held file at once (a stat each): a rebuild
is seen within that second, a request between checks touches nothing. The ETag is a hash of the
bytes, so a rebuild that writes the same bytes keeps it.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path

from publisher.feeds.files import GZIP_SUFFIX, packed
from publisher.feeds.media import file_type
from publisher.web.security import HEADERS as SECURITY_HEADERS

Headers = list[tuple[bytes, bytes]]


@dataclass(frozen=True)
class Variant:
    """One encoding of a file (plain or gzip), with the headers of its 200 and of its 304."""
    body: bytes
    etag: bytes
    ok: Headers
    not_modified: Headers


@dataclass(frozen=True)
class ServedFile:
    plain: Variant
    gzipped: Variant
    mtime: float

    @property
    def body(self) -> bytes:
        return self.plain.body


MAX_CACHED = 256  # files: every feed of 80 countries with its archives, and no more
_MAX_NAMES = 4 * MAX_CACHED  # spellings of their paths remembered


class FeedFiles:
    def __init__(self, folder: Path, max_age: int = 300, recheck: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.folder = folder.resolve()
        self.max_age, self.recheck, self.clock = max_age, recheck, clock
        # By real path, least recently used first: however a path is spelled, one entry.
        self._cache: OrderedDict[Path, tuple[tuple[int, int], ServedFile]] = OrderedDict()
        self._names: dict[str, Path] = {}  # each spelling asked for, to its real path
        self._lock = threading.Lock()
        self._checked = clock()

    def get(self, relative: str) -> ServedFile | None:
        """The file at `relative` in the folder; None for anything else (no dotfiles, no way
        out, not through a link either)."""
        self._recheck()
        path = self._names.get(relative)  # (a dict read needs no lock: the GIL makes it whole)
        cached = self._cache.get(path) if path is not None else None
        if cached is not None:
            return cached[1]
        return self._load(relative)

    def _load(self, relative: str) -> ServedFile | None:
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
        served = cached[1] if cached and cached[0] == version else _served(path, stat.st_mtime, self.max_age)
        with self._lock:
            self._cache[path] = (version, served)
            self._cache.move_to_end(path)
            while len(self._cache) > MAX_CACHED:
                self._cache.popitem(last=False)
            if len(self._names) >= _MAX_NAMES:
                self._names.clear()
            self._names[relative] = path
        return served

    def _recheck(self) -> None:
        """Forget every held file that changed on disk; at most once per `recheck` seconds."""
        now = self.clock()
        if now - self._checked < self.recheck:
            return
        self._checked = now
        with self._lock:
            held = list(self._cache.items())
        changed = [path for path, (version, _) in held if _version(path) != version]
        if changed:
            with self._lock:
                for path in changed:
                    self._cache.pop(path, None)

    def _real_path(self, relative: str) -> Path | None:
        parts = Path(relative).parts
        if not parts or any(part.startswith(".") or part in ("..", "/") for part in parts) \
                or parts[-1].endswith(GZIP_SUFFIX):  # the build's gzip copies are a web server's
            return None
        try:
            path = self.folder.joinpath(*parts).resolve(strict=True)
        except (OSError, ValueError):  # missing, a NUL byte, a name too long
            return None
        if not path.is_relative_to(self.folder) or not path.is_file():
            return None
        return path


def _version(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


def _served(path: Path, mtime: float, max_age: int) -> ServedFile:
    body = path.read_bytes()
    return served_bytes(f"{path.parent.name}/{path.name}", body=body, gzipped=packed(body),
                        sha256=hashlib.sha256(body).hexdigest(), mtime=mtime, max_age=max_age)


def served_bytes(relative: str, *, body: bytes, gzipped: bytes, sha256: str, mtime: float,
                 max_age: int) -> ServedFile:
    """A file's two answers (plain and gzip) with their headers; its ETag from the hash of its
    bytes, so that every node, from its folder or from the store, gives the same one."""
    content_type = file_type(relative)
    etag = sha256[:32]
    common: Headers = [(b"last-modified", formatdate(mtime, usegmt=True).encode()),
                       (b"vary", b"Accept-Encoding"), (b"cache-control", f"public, max-age={max_age}".encode()),
                       *SECURITY_HEADERS]

    def variant(data: bytes, tag: str, encoding: Headers) -> Variant:
        validators: Headers = [(b"etag", tag.encode()), *common]
        ok = [(b"content-type", content_type.encode()), (b"content-length", str(len(data)).encode()),
              *encoding, *validators]
        return Variant(data, tag.encode(), ok, validators)

    return ServedFile(variant(body, f'"{etag}"', []),
                      variant(gzipped, f'"{etag}-gz"', [(b"content-encoding", b"gzip")]),
                      mtime)
