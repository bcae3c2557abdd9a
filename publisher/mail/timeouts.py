"""How long an SMTP connection waits for the server: smtp.timeout for each command's reply and
for each write, RFC 5321's ten minutes for the reply to a message.

On a plain connection under Linux the kernel keeps these limits (SO_RCVTIMEO and SO_SNDTIMEO
on a blocking socket). Python's own socket timeouts poll before every send and receive, and
changing one is a system call; each of those calls lets the other sending threads take the
interpreter. With four connections that was two more thread switches a message, and a tenth
of a digest send's CPU (measured with benchmarks/digest.py). A timed-out read or write ends as
it did: a TimeoutError, which smtplib reports as the connection lost (the kernel's timeout
returns what a read has so far; the reader here raises instead, so half a reply line is never
taken for a reply).

TLS connections keep Python's timeouts: the ssl module would read again, without end, after
the kernel's timeout.
"""

from __future__ import annotations

import io
import smtplib
import socket
import ssl
import struct
import sys

# struct timeval as 64-bit Linux lays it out: two longs, seconds and microseconds.
_KERNEL_KEPT = sys.platform.startswith("linux") and struct.calcsize("@l") == 8


def keep_in_kernel(client: smtplib.SMTP, seconds: float) -> None:
    """Let the kernel time out the client's reads and writes after `seconds`, where it can
    (after the greeting: nothing of the server's is left unread)."""
    sock = client.sock
    if sock is None or not _KERNEL_KEPT or isinstance(sock, ssl.SSLSocket):
        return
    value = _timeval(seconds)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, value)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, value)
    sock.settimeout(None)  # blocking: the kernel's limits apply
    greeted, client.file = client.file, io.BufferedReader(_KernelTimed(sock.makefile("rb", buffering=0)))
    if greeted is not None:
        greeted.close()


class _KernelTimed(io.RawIOBase):
    """A socket's reads that raise when the kernel times one out (a socket's own file returns
    None then, and a line read returns what came so far)."""

    def __init__(self, raw: io.RawIOBase) -> None:
        super().__init__()
        self._raw = raw

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        count = self._raw.readinto(buffer)
        if count is None:  # EAGAIN: SO_RCVTIMEO ran out
            raise TimeoutError("timed out")
        return count

    def close(self) -> None:
        self._raw.close()
        super().close()


def wait_for_replies(sock: socket.socket | None, seconds: float) -> None:
    """Wait up to `seconds` for each reply from now on."""
    if sock is None:
        return
    if sock.gettimeout() is None:  # kept by the kernel (keep_in_kernel)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, _timeval(seconds))
    else:
        sock.settimeout(seconds)


def _timeval(seconds: float) -> bytes:
    micros = max(1, round(seconds * 1_000_000))  # (zero would be no limit at all)
    return struct.pack("@ll", micros // 1_000_000, micros % 1_000_000)
