"""A mailbox on an IMAP server (RFC 9051, 3501), over TLS: its messages read by UID in batches,
each moved to another folder once handled (MOVE, RFC 6851; or COPY, \\Deleted and EXPUNGE
where the server lacks it). Nothing is marked read or moved until the caller says so."""

from __future__ import annotations

import imaplib
import os
import re
import socket
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from types import TracebackType
from typing import Any

from publisher.config.model import Imap
from publisher.errors import PublisherError
from publisher.mail.tls import trusting

DEADLINE_TIMEOUTS = 10  # a command's whole reply may take this many times bounces.imap.timeout
_UID = re.compile(rb"\bUID (\d+)")
_UID_SIZE = re.compile(rb"(?=.*\bUID (\d+))(?=.*\bRFC822\.SIZE (\d+))")


class MailboxError(PublisherError):
    """The IMAP server cannot be reached, refuses the login, or refuses a command."""


class ImapMailbox:
    """`with ImapMailbox(config.bounces.imap) as box:` logs in and selects the folder."""

    def __init__(self, imap: Imap, environ: Mapping[str, str] = os.environ) -> None:
        self.imap = imap
        self.user, self.password = (_from_env(environ, name) for name in (imap.user_env, imap.password_env))
        self.where = f"imap://{imap.host}:{imap.port}/{imap.folder}"
        self._client: imaplib.IMAP4 | None = None
        self._count = 0  # messages in the folder when it was selected
        self._capabilities: set[bytes] = set()

    def __enter__(self) -> ImapMailbox:
        client = self._connect()
        try:
            with self._deadline(client, "LOGIN"):
                client.login(self.user, self.password)
        except imaplib.IMAP4.error as exc:
            client.shutdown()
            raise MailboxError(f"{self.where}: login as {self.user} refused ({_text(exc)}); "
                               f"are {self.imap.user_env} and {self.imap.password_env} right?") from exc
        except OSError as exc:  # no answer in time
            client.shutdown()
            raise MailboxError(f"{self.where}: LOGIN failed ({_text(exc) or type(exc).__name__})") from exc
        self._client = client
        capabilities = self._call("CAPABILITY", client.capability)[0] or b""
        self._capabilities = set(capabilities.upper().split())
        for folder in (self.imap.handled_folder, self.imap.rejected_folder):
            status, reply = client.create(_quoted(folder))
            if status != "OK" and b"ALREADYEXISTS" not in (reply[0] or b"").upper():
                raise MailboxError(f"{self.where}: cannot create folder {folder!r} ({_text(reply)})")
        selected = self._call(f"SELECT {self.imap.folder}", client.select, _quoted(self.imap.folder))
        self._count = int(selected[0] or 0)
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        try:
            client.close()
            client.logout()
        except (imaplib.IMAP4.error, OSError):
            client.shutdown()  # leaving anyway: what was not moved is read again next time

    def sizes(self) -> list[tuple[int, int]]:
        """Each message's UID and size, in UID order: a line per message (a UID SEARCH answers
        in one line, which imaplib refuses past a megabyte: some 140,000 messages)."""
        if not self._count:
            return []
        reply = self._call("FETCH", self._session.fetch, "1:*", "(UID RFC822.SIZE)")
        found = (_UID_SIZE.search(line) for line in reply if isinstance(line, bytes))
        return sorted((int(match.group(1)), int(match.group(2))) for match in found if match)

    def messages(self, uids: list[int], limit: int) -> Iterator[tuple[int, bytes]]:
        """The first `limit` bytes of each message of `uids` (one round trip for all), without
        setting \\Seen."""
        if not uids:
            return
        reply = self._call("UID FETCH", self._session.uid, "FETCH", _set(uids), f"(BODY.PEEK[]<0.{limit}>)")
        for part in reply:
            if isinstance(part, tuple):
                uid = _UID.search(part[0])
                if uid:
                    yield int(uid.group(1)), part[1]

    def move(self, uids: list[int], folder: str) -> None:
        if not uids:
            return
        uid, numbers = self._session.uid, _set(uids)
        if b"MOVE" in self._capabilities:
            self._call(f"UID MOVE to {folder}", uid, "MOVE", numbers, _quoted(folder))
            return
        self._call(f"UID COPY to {folder}", uid, "COPY", numbers, _quoted(folder))
        self._call("UID STORE", uid, "STORE", numbers, "+FLAGS.SILENT", r"(\Deleted)")
        if b"UIDPLUS" in self._capabilities:  # only these: others may have flagged messages too
            self._call("UID EXPUNGE", uid, "EXPUNGE", numbers)
        else:
            self._call("EXPUNGE", self._session.expunge)

    @contextmanager
    def _deadline(self, client: imaplib.IMAP4, command: str) -> Iterator[None]:
        """The connection is cut when `command` runs past DEADLINE_TIMEOUTS times bounces.imap.timeout
        (that bounds each read: a server trickling a byte at a time would never reach it)."""
        seconds = self.imap.timeout.total_seconds() * DEADLINE_TIMEOUTS
        cut = threading.Event()

        def cut_off() -> None:
            cut.set()
            with suppress(OSError):
                client.sock.shutdown(socket.SHUT_RDWR)

        timer = threading.Timer(seconds, cut_off)
        timer.start()
        try:
            yield
        except (OSError, imaplib.IMAP4.error) as exc:
            if cut.is_set():
                raise TimeoutError(f"no whole reply to {command} in {seconds:g} s") from exc
            raise
        finally:
            timer.cancel()

    @property
    def _session(self) -> imaplib.IMAP4:
        if self._client is None:
            raise RuntimeError("use the mailbox inside its with block")
        return self._client

    def _connect(self) -> imaplib.IMAP4:
        imap = self.imap
        context = trusting(imap.ca_file)
        timeout = imap.timeout.total_seconds()
        try:
            if imap.security == "tls":
                return imaplib.IMAP4_SSL(imap.host, imap.port, ssl_context=context, timeout=timeout)
            client = imaplib.IMAP4(imap.host, imap.port, timeout=timeout)
            client.starttls(context)
            return client
        except (OSError, imaplib.IMAP4.error) as exc:
            raise MailboxError(f"{self.where}: cannot connect ({_text(exc)})") from exc

    def _call(self, command: str, method: Callable[..., tuple[str, list[Any]]], *args: str) -> list[Any]:
        """The reply's data, or a MailboxError naming the command (also when the line drops, or
        the reply does not come whole within the deadline)."""
        try:
            with self._deadline(self._session, command):
                status, data = method(*args)
        except (OSError, imaplib.IMAP4.error) as exc:
            raise MailboxError(f"{self.where}: {command} failed ({_text(exc) or type(exc).__name__})") from exc
        if status != "OK":
            raise MailboxError(f"{self.where}: {command} refused ({_text(data)})")
        return data


def _from_env(environ: Mapping[str, str], name: str) -> str:
    value = environ.get(name, "")
    if not value:
        raise MailboxError(f"bounces.imap: set the environment variable {name} (the login is never read "
                           "from the config file)")
    return value


def _set(uids: list[int]) -> str:
    return ",".join(str(uid) for uid in uids)


def _quoted(folder: str) -> str:
    """An IMAP quoted string (config keeps folder names to printable ASCII)."""
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _text(detail: object) -> str:
    if isinstance(detail, list):
        detail = b" ".join(part for part in detail if isinstance(part, bytes))
    if isinstance(detail, bytes):
        return detail.decode("utf-8", "replace")
    return str(detail)
