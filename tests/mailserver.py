"""A real SMTP server for tests: aiosmtpd on 127.0.0.1, recording what it accepts.

`decide(address, attempt)` may return an SMTP reply ("451 ...", "550 ...") to refuse a message
after its data, `refuse_rcpt(address)` one to refuse the recipient at RCPT. With `pipelining`
the server advertises PIPELINING (RFC 2920; aiosmtpd reads pipelined commands in order).
`stop_after = N` accepts N messages, then refuses every further one; `on_stop` runs once,
shortly after the first refusal (a test kills the client there). The pause lets the replies
already given reach the client first, as they would from a real server.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


@dataclass
class Received:
    sender: str
    recipients: list[str]
    data: bytes
    at: float = field(default_factory=time.monotonic)  # when it was accepted

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.data, policy=email.policy.default)  # type: ignore[return-value]


@dataclass
class MailServer:
    host: str = "127.0.0.1"
    port: int = 0
    received: list[Received] = field(default_factory=list)
    attempts: dict[str, int] = field(default_factory=dict)
    decide: Callable[[str, int], str | None] = lambda _address, _attempt: None
    refuse_rcpt: Callable[[str], str | None] = lambda _address: None
    drop: Callable[[str, int], bool] = lambda _address, _attempt: False  # hang up instead
    pipelining: bool = True
    delay: float = 0.0  # seconds each message takes to accept
    stop_after: int | None = None
    on_stop: Callable[[], None] = lambda: None
    stopping: bool = False

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # type: ignore[no-untyped-def]  # noqa: N802 (aiosmtpd's names)
        session.host_name = hostname
        if self.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:  # type: ignore[no-untyped-def]  # noqa: N802 (aiosmtpd's names)
        verdict = self.refuse_rcpt(address)
        if verdict:
            return verdict
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:  # type: ignore[no-untyped-def]  # noqa: N802 (aiosmtpd's names)
        address = envelope.rcpt_tos[0]
        attempt = self.attempts[address] = self.attempts.get(address, 0) + 1
        if self.stop_after is not None and len(self.received) >= self.stop_after:
            if not self.stopping:
                self.stopping = True
                await asyncio.sleep(0.3)
                self.on_stop()
            return "421 4.3.2 shutting down"
        if self.delay:
            await asyncio.sleep(self.delay)
            if server.transport is None or server.transport.is_closing():
                return "421 4.4.2 the client went away"  # it never saw a reply: not accepted
        if self.drop(address, attempt):
            server.transport.close()  # the client sees the connection go, and no reply
            return "421 4.4.2 connection dropped"
        verdict = self.decide(address, attempt)
        if verdict:
            return verdict
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos),
                                      envelope.original_content or envelope.content))
        return "250 2.0.0 Message accepted for delivery"

    def to(self, address: str) -> list[Received]:
        return [r for r in self.received if address in r.recipients]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start(server: MailServer, *, same_port: bool = False, **smtp_options: Any) -> Controller:
    """Serve on a free port (or again on the one it had); `smtp_options` go to aiosmtpd (TLS,
    authentication)."""
    if not same_port:
        server.port = free_port()
    controller = Controller(server, hostname=server.host, port=server.port, **smtp_options)
    controller.start()
    return controller
