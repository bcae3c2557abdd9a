"""Builds the bytes of one digest message per recipient, cheaply.

Everything that is the same for every recipient (subject, From, List-Id, the MIME frame) is
encoded once per edition. Per recipient, the personal values go into the already inlined HTML
and the text as plain string replacements, before any transfer encoding, so no encoding can
split a link. The parts travel as 8bit UTF-8 (their lines were kept short when the edition was
rendered), so a recipient costs a few string operations; base64 is the fallback for a server
without 8BITMIME or a part with a line too long for 8bit.
"""

from __future__ import annotations

import base64
import html
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from email.header import Header
from email.policy import SMTP
from email.utils import format_datetime, parseaddr, quote
from functools import lru_cache

from publisher.config import Mail
from publisher.mail.lines import fits_8bit

# Marks the templates carry where per-recipient values go; chosen to survive Jinja2 escaping,
# premailer and line wrapping unchanged.
MARK_UNSUBSCRIBE = "PUBLISHER-MARK-UNSUBSCRIBE-URL"
MARK_PREFERENCES = "PUBLISHER-MARK-PREFERENCES-URL"
MARK_RECIPIENT = "PUBLISHER-MARK-RECIPIENT"
_MARK_PREFIX = "PUBLISHER-MARK-"
_MARKS = re.compile(r"PUBLISHER-MARK-(?:UNSUBSCRIBE-URL|PREFERENCES-URL|RECIPIENT|LINK-\d+)")
_LONGEST_ADDRESS = 254

DKIM_HEADERS = [b"from", b"to", b"subject", b"date", b"message-id", b"list-id",
                b"list-unsubscribe", b"list-unsubscribe-post", b"auto-submitted",
                b"mime-version", b"content-type"]


def link_mark(number: int) -> str:
    """Where the address of a variant's link `number` goes (counted: a new one per message)."""
    return f"{_MARK_PREFIX}LINK-{number}"


def link_numbers(*parts: str) -> set[int]:
    """The link marks the parts hold (a template need not show every link)."""
    return {int(number) for part in parts for number in _LINK_MARKS.findall(part)}


_LINK_MARKS = re.compile(r"PUBLISHER-MARK-LINK-(\d+)")
# A variant's link marks and what each is filled with, for one message.
Links = Callable[[], Mapping[str, str]]


def no_links() -> Mapping[str, str]:
    return {}


@dataclass(frozen=True)
class Recipient:
    address: str
    message_id: str  # "<...@...>", the same each time this recipient is sent this edition
    unsubscribe_url: str
    preferences_url: str
    return_path: str = ""  # the envelope sender for this recipient (VERP); empty: the sender's
    unsubscribe_mailto: str = ""  # their signed List-Unsubscribe address; empty: the list's


@dataclass(frozen=True)
class Dkim:
    domain: str
    selector: str
    private_key: bytes  # PEM


def load_dkim(mail: Mail, environ: Mapping[str, str] = os.environ) -> Dkim | None:
    """The DKIM key when mail.dkim_domain, mail.dkim_selector and the key variable are all set."""
    key = environ.get(mail.dkim_key_env)
    if not (mail.dkim_domain and mail.dkim_selector and key):
        return None
    return Dkim(mail.dkim_domain, mail.dkim_selector, key.encode())


def personalize(template: str, recipient: Recipient, *, escape: bool,
                links: Mapping[str, str] | None = None) -> str:
    values = _values(recipient, links or {}, escape=escape)
    return _MARKS.sub(lambda match: values[match.group(0)], template)


def _values(recipient: Recipient, links: Mapping[str, str], *, escape: bool) -> dict[str, str]:
    values = {
        MARK_UNSUBSCRIBE: recipient.unsubscribe_url,
        MARK_PREFERENCES: recipient.preferences_url,
        MARK_RECIPIENT: recipient.address,
        **links,
    }
    return {mark: html.escape(value) for mark, value in values.items()} if escape else values


class _Template:
    """A part split at its marks once, the fixed pieces already UTF-8: filling it in for a
    recipient joins a few byte strings, with no scanning and no encoding of the whole part."""

    def __init__(self, text: str) -> None:
        pieces = _MARKS.split(text)
        self._fixed = [piece.encode("utf-8") for piece in pieces]
        self._marks = _MARKS.findall(text)

    def fill(self, values: dict[str, str]) -> bytes:
        out = [self._fixed[0]]
        for mark, fixed in zip(self._marks, self._fixed[1:], strict=True):
            out += (values[mark].encode("utf-8"), fixed)
        return b"".join(out)


class MessageFactory:
    """The fixed part of an edition's message, encoded once; `build` adds one recipient."""

    def __init__(self, *, sender: str, subject: str, list_id: str, list_name: str,
                 unsubscribe_mailto: str, html_part: str, text_part: str, boundary: str,
                 dkim_key: Dkim | None = None, links: Links = no_links) -> None:
        self.envelope_sender = parseaddr(sender)[1]
        self._links = links
        self._html, self._text = _Template(_crlf(html_part)), _Template(_crlf(text_part))
        # (every message's link addresses are as long as any other's)
        per_mark = max(_LONGEST_ADDRESS, len(unsubscribe_mailto) + 200, *map(len, links().values()))
        self.eight_bit_ok = all(fits_8bit(part, _MARK_PREFIX, per_mark)
                                for part in (html_part, text_part))
        self._boundary = boundary
        self._mailto = unsubscribe_mailto
        self._dkim = dkim_key
        self._fixed = b"".join([
            _fold("From", sender),
            text_header("Subject", subject),
            _fold("List-Id", f"{_phrase(list_name)} <{list_id}>"),
            b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n",
            b"Auto-Submitted: auto-generated\r\n",
            b"MIME-Version: 1.0\r\n",
            f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n'.encode(),
        ])

    def build(self, recipient: Recipient, when: datetime, *, eight_bit: bool = True) -> bytes:
        links = self._links()  # the same for both parts: one message, one set of links
        text = self._text.fill(_values(recipient, links, escape=False))
        html_part = self._html.fill(_values(recipient, links, escape=True))
        head = b"".join([
            _address_header("To", recipient.address),
            _date_line(when.replace(microsecond=0), when.tzinfo),
            f"Message-ID: {recipient.message_id}\r\n".encode(),
            # Written by hand: the email package would wrap the URL in encoded-words.
            f"List-Unsubscribe: <{_header_safe(recipient.unsubscribe_url)}>,\r\n"
            f" <mailto:{recipient.unsubscribe_mailto or self._mailto}?subject=unsubscribe>\r\n".encode(),
            self._fixed,
        ])
        encode = _part_8bit if eight_bit and self.eight_bit_ok else _part_base64
        dash = f"--{self._boundary}\r\n".encode()
        message = b"".join([
            head, b"\r\n",
            dash, encode("text/plain", text),
            dash, encode("text/html", html_part),
            f"--{self._boundary}--\r\n".encode(),
        ])
        if self._dkim is None:
            return message
        import dkim  # here: it costs a tenth of a second to load, and most installations sign nothing

        signature: bytes = dkim.sign(message, self._dkim.selector.encode(), self._dkim.domain.encode(),
                                     self._dkim.private_key, include_headers=DKIM_HEADERS)
        return signature + message


CRLF = "\r\n"


@lru_cache(maxsize=8)
def _date_line(when: datetime, _zone: tzinfo | None) -> bytes:
    """The Date header of the messages made in one second (formatting it took 5 us a message).
    The zone is part of the key: datetimes of one instant in two zones are equal."""
    return f"Date: {format_datetime(when)}\r\n".encode()


def _fold(name: str, value: str) -> bytes:
    """A header line, RFC 2047-encoded and folded where it needs to be."""
    value = _header_safe(value)
    if value.isascii() and len(name) + len(value) < 76:
        return f"{name}: {value}\r\n".encode()
    folded: str = SMTP.header_factory(name, value).fold(policy=SMTP)
    return folded.encode("ascii")


def text_header(name: str, value: str) -> bytes:
    """An unstructured header (Subject) as RFC 2047 encoded-words, cut at character boundaries
    by email.header.Header. (The email package's own folding drops the space between an ASCII
    word and the encoded words beside it: a Mongolian subject's year ran into the word after it.)"""
    value = _header_safe(value)
    if value.isascii():
        return _fold(name, value)
    # The ASCII words before the first other one stay as they are (readable in the raw message).
    first = next(i for i, char in enumerate(value) if not char.isascii())
    cut = value.rfind(" ", 0, first)
    plain, rest = (value[:cut], value[cut + 1:]) if 0 < cut <= 60 else ("", value)
    words = Header(rest, "utf-8", header_name=name + plain).encode(linesep=CRLF)  # (name: the line's start)
    return f"{name}: {plain + ' ' if plain else ''}{words}{CRLF}".encode("ascii")


def _address_header(name: str, address: str) -> bytes:
    """An address goes in as it is: an internationalized one (RFC 6531) in UTF-8, which only a
    server offering SMTPUTF8 is given (the transport sees to that); RFC 2047 encoded-words are
    not allowed in an address."""
    address = _header_safe(address)
    return _fold(name, address) if address.isascii() else f"{name}: {address}\r\n".encode()


def _phrase(text: str) -> str:
    """A display name as RFC 5322 allows it before an <id>: a quoted string (a `:` or `.` in a
    bare phrase ends it), or, outside ASCII, an encoded-word (RFC 2047 allows no other there)."""
    text = _header_safe(text)
    if text.isascii():
        return f'"{quote(text)}"'
    return Header(text, "utf-8").encode()


def _header_safe(value: str) -> str:
    # A line break in a header value would start a header of its own (header injection).
    return " ".join(value.splitlines())


def _crlf(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\n", "\r\n")
    return text if text.endswith("\r\n") else text + "\r\n"


def _part_8bit(content_type: str, body: bytes) -> bytes:
    return (f'Content-Type: {content_type}; charset="utf-8"\r\n'
            "Content-Transfer-Encoding: 8bit\r\n\r\n").encode() + body


def _part_base64(content_type: str, body: bytes) -> bytes:
    encoded = base64.encodebytes(body).replace(b"\n", b"\r\n")
    return (f'Content-Type: {content_type}; charset="utf-8"\r\n'
            "Content-Transfer-Encoding: base64\r\n\r\n").encode() + encoded
