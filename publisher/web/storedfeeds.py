"""The built feed files from the store, held in memory: what every web node answers, whatever its
own folder holds.

All of them are read when the app is made (a node started after a build answers at once). Then,
while requests come, the store's hashes are compared with the held copies every half second,
in a worker thread, and only the files that changed are read: a build on any machine is answered
everywhere within a second. After a quiet spell the first request waits for that comparison (one
small question), so no answer is older than a second; under load none waits, except one for a file
not held (a 404 is never given for a file a build made more than half a second ago). No thread of its own:
an app nobody asks costs nothing. A request reads the held dictionary, which is replaced whole.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from publisher.store.feedfiles import file_versions, stored_files
from publisher.store.models import FeedFile
from publisher.web.files import ServedFile, served_bytes

log = logging.getLogger(__name__)

CHECK_EVERY = 0.5  # seconds


class StoredFeeds:
    def __init__(self, sessions: sessionmaker[Session], max_age: int, every: float = CHECK_EVERY) -> None:
        self.sessions, self.max_age, self.every = sessions, max_age, every
        self.files: dict[str, ServedFile] = {}
        self._hashes: dict[str, str] = {}
        self._lock = threading.Lock()  # one refresh at a time
        self._checked = 0.0
        self._busy = False
        self.refresh()

    def due(self) -> bool:
        """Whether it is time to look again (checked without a coroutine: most requests)."""
        return time.monotonic() - self._checked >= self.every

    async def fresh(self, relative: str) -> None:
        """When due(): held copies at most `every` old, or twice that while a look is under way;
        a file not held waits for the look (a build elsewhere may have made it a moment ago)."""
        if relative not in self.files or time.monotonic() - self._checked > 2 * self.every:
            await run_in_threadpool(self.refresh)
        elif not self._busy:
            self._busy = True
            asyncio.get_running_loop().run_in_executor(None, self.refresh)

    def get(self, relative: str) -> ServedFile | None:
        return self.files.get(relative)

    def refresh(self) -> None:
        """Read what changed in the store since the last look; on a database error keep what
        is held (and say so), and look again next time."""
        with self._lock:
            self._checked = time.monotonic()
            try:
                self._read_changes()
            except SQLAlchemyError as exc:
                log.warning("feeds: cannot read the built files from the database (%s); "
                            "answering with those held", exc.__class__.__name__)
            finally:
                self._busy = False

    def _read_changes(self) -> None:
        with self.sessions() as session:
            versions = file_versions(session)
            changed = [path for path, sha256 in versions.items() if self._hashes.get(path) != sha256]
            rows = stored_files(session, None if len(changed) == len(versions) else changed)
        if not rows and len(versions) == len(self._hashes):
            return
        files = {path: served for path, served in self.files.items() if path in versions}
        hashes = {path: sha256 for path, sha256 in self._hashes.items() if path in versions}
        for row in rows:
            files[row.path], hashes[row.path] = self._served(row), row.sha256
        self.files, self._hashes = files, hashes

    def _served(self, row: FeedFile) -> ServedFile:
        return served_bytes(row.path, body=row.body, gzipped=row.gzipped, sha256=row.sha256,
                            mtime=row.changed.timestamp(), max_age=self.max_age)
