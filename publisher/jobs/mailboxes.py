"""Bounces and complaints fetched from where the mail system leaves them (a Maildir, an IMAP
mailbox): every message read within bounds, taken a batch at a time (jobs/bounces.py), then moved
to the handled or rejected folder. A crash before the move leaves a message to be read again; its
Message-ID keeps it from counting twice."""

from __future__ import annotations

import mailbox
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from publisher.config import Config
from publisher.jobs.bounces import Taken, Taker
from publisher.mail.imap import ImapMailbox
from publisher.mail.reports import MAX_REPORT_BYTES


@dataclass
class Fetched:
    where: str
    applied: int = 0
    unchanged: int = 0  # already applied, or a report of no failure
    kept_aside: int = 0

    def count(self, taken: Taken) -> None:
        if taken.applied:
            self.applied += 1
        elif taken.kept_aside:
            self.kept_aside += 1
        else:
            self.unchanged += 1

    def line(self) -> str:
        return (f"bounces: {self.applied} applied, {self.unchanged} unchanged, "
                f"{self.kept_aside} kept aside from {self.where}")


Progress = Callable[[int], None]
K = TypeVar("K")
_BATCH = 200  # messages taken in one transaction (and fetched over IMAP in one round trip)
_BATCH_BYTES = 32_000_000  # ... and no more bytes than these (five 40 MB messages once took 727 MB)


def fetch_bounces(sessions: sessionmaker[Session], config: Config, now: datetime,
                  progress: Progress | None = None, environ: Mapping[str, str] = os.environ) -> Iterator[Fetched]:
    """Every configured way in (bounces.maildir, bounces.imap), each read to its end and told
    as soon as it is (an IMAP server that is away does not hide what the Maildir held)."""
    if config.bounces.maildir:
        yield fetch_maildir(sessions, config, Path(config.bounces.maildir), now, progress)
    if config.bounces.imap.host:
        yield fetch_imap(sessions, config, ImapMailbox(config.bounces.imap, environ), now, progress)


def fetch_maildir(sessions: sessionmaker[Session], config: Config, folder: Path, now: datetime,
                  progress: Progress | None = None) -> Fetched:
    """Every message in the Maildir `folder`, taken a batch at a time, each then moved to its
    `.handled` or `.rejected` subfolder (Maildir++). A crash before the move leaves a message
    to be read again, and its Message-ID keeps it from counting twice. No message is read
    further than a report can be long, and a batch holds at most _BATCH_BYTES."""
    maildir = mailbox.Maildir(folder, create=False)
    folders = {False: maildir.add_folder("handled"), True: maildir.add_folder("rejected")}
    fetched = Fetched(str(folder))
    taker = Taker(sessions, config, "maildir", now)
    read = ((key, _head(maildir, key)) for key in list(maildir.iterkeys()))
    for batch in map(dict, _batches(read, len)):
        for key, taken in taker.take(batch.items()):
            fetched.count(taken)
            if len(batch[key]) > MAX_REPORT_BYTES:  # moved whole, as it came, not as it was read
                with maildir.get_file(key) as handle:
                    folders[taken.kept_aside].add(handle)
            else:
                folders[taken.kept_aside].add(batch[key])
            maildir.discard(key)
        if progress:
            progress(len(batch))
    return fetched


V = TypeVar("V")


def _batches(items: Iterable[tuple[K, V]], size: Callable[[V], int]) -> Iterator[list[tuple[K, V]]]:
    """`items` a batch at a time: up to _BATCH of them and _BATCH_BYTES (by `size`)."""
    batch: list[tuple[K, V]] = []
    held = 0
    for item in items:
        if batch and (len(batch) == _BATCH or held >= _BATCH_BYTES):
            yield batch
            batch, held = [], 0
        batch.append(item)
        held += size(item[1])
    if batch:
        yield batch


def _head(maildir: mailbox.Maildir, key: str) -> bytes:
    """A message as far as a report can be long (one byte more says it is longer)."""
    with maildir.get_file(key) as handle:
        return handle.read(MAX_REPORT_BYTES + 1)


def bounded_read(stream: BinaryIO, limit: int) -> bytes:
    """At most `limit` bytes of `stream`; the rest is read and dropped (an MTA's pipe expects
    the whole message to be taken)."""
    head = stream.read(limit)
    while stream.read(1 << 20):
        pass
    return head


def fetch_imap(sessions: sessionmaker[Session], config: Config, box: ImapMailbox, now: datetime,
               progress: Progress | None = None) -> Fetched:
    """Every message in the IMAP folder, taken a batch at a time; each batch then moved to the
    handled or rejected folder. As with a Maildir, a crash before the move means it is read
    again."""
    imap, fetched = config.bounces.imap, Fetched(box.where)
    taker = Taker(sessions, config, "imap", now)
    with box:
        # (a message counted at most as far as it is read)
        for batch in _batches(box.sizes(), lambda size: min(size, MAX_REPORT_BYTES + 1)):
            outcomes = taker.take(box.messages([uid for uid, _ in batch], MAX_REPORT_BYTES + 1))
            for _, taken in outcomes:
                fetched.count(taken)
            box.move([uid for uid, taken in outcomes if not taken.kept_aside], imap.handled_folder)
            box.move([uid for uid, taken in outcomes if taken.kept_aside], imap.rejected_folder)
            if progress:
                progress(len(outcomes))
    return fetched
