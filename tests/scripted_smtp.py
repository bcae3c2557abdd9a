"""A hand-written SMTP server for behaviours aiosmtpd will not show: one that closes the
connection after a 421 (RFC 5321 section 3.8: aiosmtpd keeps it open), one that stores a
message and then drops the line before its reply, one whose reply to the message is garbage.

`script(address, attempt)` says what happens to each message, by recipient and the count of
times that recipient was tried (from 1):
- "accept": stored, 250
- "451": refused for now
- "store-then-drop": stored, then the connection closed without a reply
- "garbage": stored, then a line that is no SMTP reply
- "421-rcpt": 421 to RCPT, then the connection closed (with PIPELINING the client has already
  sent DATA, and its next read finds the line gone)
- "silent": stored, then no reply at all, until the client hangs up
- "silent-rcpt": no reply to RCPT (nor to anything after it), until the client hangs up
- "half-data": half a reply line to DATA ("35", no line end), then silence until the client
  hangs up
It offers PIPELINING and 8BITMIME, on 127.0.0.1 only (with implicit TLS when given a
context), and serves until `stop`.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class ScriptedServer:
    script: Callable[[str, int], str] = lambda _address, _attempt: "accept"
    port: int = 0
    host: str = "127.0.0.1"
    tls: ssl.SSLContext | None = None  # implicit TLS (smtp.security = "tls") with this context
    received: list[tuple[str, bytes]] = field(default_factory=list)  # (recipient, data)
    attempts: dict[str, int] = field(default_factory=dict)
    _listener: socket.socket | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> ScriptedServer:
        self._listener = socket.create_server((self.host, 0))
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self._running = True
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def stop(self) -> None:
        self._running = False
        if self._listener is not None:
            self._listener.close()

    def copies(self, address: str) -> int:
        return sum(1 for recipient, _ in self.received if recipient == address)

    def _accept(self) -> None:
        assert self._listener is not None
        while self._running:
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        connection.settimeout(30)
        if self.tls is not None:
            connection = self.tls.wrap_socket(connection, server_side=True)
        with connection, connection.makefile("rb") as lines:
            connection.sendall(b"220 scripted ESMTP\r\n")
            recipient, step = "", "accept"
            for line in iter(lines.readline, b""):
                verb = line[:4].upper()
                if verb in (b"EHLO", b"HELO"):
                    connection.sendall(b"250-scripted\r\n250-PIPELINING\r\n250 8BITMIME\r\n")
                elif verb == b"RCPT":
                    recipient = line.split(b"<", 1)[1].split(b">", 1)[0].decode()
                    with self._lock:
                        attempt = self.attempts[recipient] = self.attempts.get(recipient, 0) + 1
                    step = self.script(recipient, attempt)
                    if step == "silent-rcpt":
                        lines.read()  # whatever the client sends, until it hangs up
                        return
                    if step == "421-rcpt":
                        connection.sendall(b"421 4.7.0 too many connections, closing\r\n")
                        return
                    connection.sendall(b"250 2.1.5 OK\r\n")
                elif verb == b"DATA":
                    if step == "half-data":
                        connection.sendall(b"35")
                        lines.read()
                        return
                    connection.sendall(b"354 go ahead\r\n")
                    data = b"".join(iter(lines.readline, b".\r\n"))
                    if not self._end_message(connection, recipient, step, data):
                        return
                elif verb == b"QUIT":
                    connection.sendall(b"221 bye\r\n")
                    return
                else:  # MAIL, RSET, NOOP
                    connection.sendall(b"250 OK\r\n")

    def _end_message(self, connection: socket.socket, recipient: str, step: str, data: bytes) -> bool:
        """Answer the message as scripted; False when the connection is to close."""
        if step == "451":
            connection.sendall(b"451 4.3.0 try again later\r\n")
            return True
        with self._lock:
            self.received.append((recipient, data))
        if step == "store-then-drop":
            return False
        if step == "silent":
            connection.recv(1)  # until the client hangs up
            return False
        connection.sendall(b"hello this is not a reply\r\n" if step == "garbage" else b"250 2.0.0 queued\r\n")
        return True
