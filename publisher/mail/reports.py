"""What a message that came back says: a delivery status notification (RFC 3464), a complaint
(ARF, RFC 5965), one of the non-standard bounces many servers still send (flufl.bounce reads
those), or nothing we understand. Pure: no database, no policy."""

from __future__ import annotations

import email
import email.parser
import email.policy
import re
from collections.abc import Iterable
from dataclasses import dataclass
from email.message import Message

from publisher.store.statuses import BounceKind

# Where the address a bounce was sent to shows (the VERP return path of ours), in the order
# mail systems set them.
ENVELOPE_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To")
_STATUS = re.compile(r"\b([245])\.\d{1,3}\.\d{1,3}\b")


@dataclass(frozen=True)
class Report:
    kind: BounceKind | None  # None: a report that changes nothing (delayed, delivered)
    recipients: tuple[str, ...]  # the addresses it is about, as it names them
    diagnostic: str
    message_id: str | None


class Unreadable(Exception):
    """A message that is no bounce, complaint or report we can read: it is kept aside."""


# A report is a few parts deep (multipart/report, message/rfc822, the original's alternative):
# more containers than this is no report. Python's parser recurses once per level, and a
# message nested a few thousand levels deep would raise RecursionError in it.
MAX_CONTAINERS = 64
# A report with the original attached is a few hundred KB at most: a larger message is no
# report we read (and is not read whole: see jobs/bounces.py).
MAX_REPORT_BYTES = 4_000_000
_CONTAINER = re.compile(rb"(?i)content-type:[ \t]*(?:\r?\n[ \t]+)?(?:multipart|message)/")


def parse_message(raw: bytes) -> Message:
    """compat32: the lenient parser (bounces are often broken, and not always UTF-8).
    Unreadable, before parsing, when the message is too large or holds too many nested parts;
    and when the parser itself gives up on it."""
    if len(raw) > MAX_REPORT_BYTES:
        raise Unreadable(f"larger than {MAX_REPORT_BYTES // 1_000_000} MB: no report we read")
    if len(_CONTAINER.findall(raw)) > MAX_CONTAINERS:
        raise Unreadable(f"more than {MAX_CONTAINERS} multipart or message parts: no report we read")
    try:
        return email.message_from_bytes(raw, policy=email.policy.compat32)
    except (RecursionError, MemoryError) as exc:
        raise Unreadable(f"could not be parsed ({type(exc).__name__})") from None


def parse_headers(raw: bytes) -> Message:
    """Only the header block (the body is left as text): what it came to, its Message-ID."""
    return email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw)


def read_report(message: Message) -> Report:
    """The report `message` holds (parse_message made it); Unreadable when it is none we
    understand."""
    if not message.keys():
        raise Unreadable("no mail headers")
    message_id = message_id_of(message)
    report_type = str(message.get_param("report-type") or "").lower() if message.get_content_type() == \
        "multipart/report" else ""
    if report_type == "feedback-report":
        return Report(BounceKind.COMPLAINT, _complained_about(message), _feedback_type(message), message_id)
    if report_type == "delivery-status":
        kind, recipients, diagnostic = _delivery_status(message)
        return Report(kind, recipients, diagnostic, message_id)
    return _nonstandard(message, message_id)


def message_id_of(message: Message) -> str | None:
    return _header(message, "Message-ID") or None


def envelope_addresses(message: Message) -> tuple[str, ...]:
    """The addresses a message came to, as the receiving system recorded them."""
    return tuple(address for name in ENVELOPE_HEADERS for address in _addresses(message, name))


def complaint_return_paths(message: Message) -> tuple[str, ...]:
    """Where a feedback-loop report (ARF, RFC 5965) names the return path of the mail it is
    about: its `Original-Mail-From`, and the attached original's `Return-Path`. Such a report
    comes to the FBL mailbox, not to the return path, so our mark is there, not in its envelope."""
    if message.get_content_type() != "multipart/report" or \
            str(message.get_param("report-type") or "").lower() != "feedback-report":
        return ()
    found: list[str] = []
    for part in message.walk():
        if part.get_content_type() == "message/feedback-report":
            found += [_address_field(_header(block, "Original-Mail-From")) for block in _blocks(part)]
        elif part.get_content_type() in ("message/rfc822", "text/rfc822-headers"):
            found += [address for original in _attached(part) for address in _addresses(original, "Return-Path")]
    return tuple(address for address in found if address)


def _delivery_status(message: Message) -> tuple[BounceKind | None, tuple[str, ...], str]:
    """RFC 3464: per recipient, Action and Status (and the server's Diagnostic-Code)."""
    blocks = [block for part in message.walk() if part.get_content_type() == "message/delivery-status"
              for block in _blocks(part)]
    # Its first word: a comment after it, or a stray byte, leaves it a failure
    failed = [block for block in blocks if _header(block, "Action").lower().partition(" ")[0] == "failed"]
    if not blocks:
        raise Unreadable("a delivery status report without its status part")
    if not failed:
        return None, (), "; ".join(f"{_header(b, 'Action')} {_header(b, 'Status')}"
                                   for b in blocks[1:]).strip()
    hard = any(_status_class(block) == "5" for block in failed)
    recipients = tuple(_address_field(_header(block, "Final-Recipient") or _header(block, "Original-Recipient"))
                       for block in failed)
    diagnostic = "; ".join(" ".join(f"{name}: {_header(block, name)}" for name in
                                    ("Status", "Diagnostic-Code") if _header(block, name))
                           for block in failed)
    return (BounceKind.HARD if hard else BounceKind.SOFT), tuple(r for r in recipients if r), diagnostic


def _status_class(block: Message) -> str:
    """The first digit of a block's `Status` (2, 4 or 5); a failure without one counts as 5."""
    found = _STATUS.search(_header(block, "Status"))
    return found.group(1) if found else "5"


def _blocks(part: Message) -> list[Message]:
    """The header blocks of a message/delivery-status part (email parses them as a list)."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return [block for block in payload if isinstance(block, Message)]
    text = payload.decode("latin-1") if isinstance(payload, bytes) else str(payload)
    return [email.message_from_string(chunk) for chunk in re.split(r"\r?\n\r?\n", text) if chunk.strip()]


def _complained_about(message: Message) -> tuple[str, ...]:
    for part in message.walk():
        if part.get_content_type() == "message/feedback-report":
            for block in _blocks(part):
                if recipient := _header(block, "Original-Rcpt-To"):
                    return (_address_field(recipient),)
        if part.get_content_type() in ("message/rfc822", "text/rfc822-headers"):
            for original in _attached(part):
                if original.get("To"):
                    return tuple(_addresses(original, "To"))
    return ()


def _attached(part: Message) -> list[Message]:
    """The original a report part carries: a message/rfc822 part's message, or the header
    block of a text/rfc822-headers part."""
    inner = part.get_payload()
    if isinstance(inner, list):
        return [original for original in inner[:1] if isinstance(original, Message)]
    return _blocks(part)[:1]


def _feedback_type(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "message/feedback-report":
            for block in _blocks(part):
                if kind := _header(block, "Feedback-Type"):
                    return f"Feedback-Type: {kind}"
    return "Feedback-Type: abuse"


def _nonstandard(message: Message, message_id: str | None) -> Report:
    from flufl.bounce import all_failures

    try:
        temporary, permanent = all_failures(message)
    except Exception as exc:  # noqa: BLE001 (its detectors trip on broken input: not a bounce we read)
        raise Unreadable(f"not a bounce that can be read ({type(exc).__name__})") from None
    if not temporary and not permanent:
        raise Unreadable("no failed recipient found: not a bounce, complaint or report")
    kind = BounceKind.HARD if permanent else BounceKind.SOFT
    recipients = tuple(sorted(_text(address) for address in (permanent or temporary)))
    text = _plain_text(message)
    return Report(kind, recipients, _about(text, recipients[0]) or " ".join(text.split())[:500], message_id)


def _plain_text(message: Message) -> str:
    """The bounce's first text/plain part: its prose."""
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                return _decoded(payload, part.get_content_charset()).replace("\r\n", "\n")
    return ""


def _decoded(payload: bytes, charset: str | None) -> str:
    try:
        return payload.decode(charset or "utf-8", "replace")
    except LookupError:  # a charset Python does not know: the message is still read
        return payload.decode("utf-8", "replace")


_SMTP_REPLY = re.compile(r"(?m)^[ \t]*([45]\d\d[ -])")  # a line that starts with a reply code


def _about(text: str, address: str) -> str:
    """What a prose bounce says of `address`: in the paragraph naming it (Exim, qmail and the
    like), the server's reply from its code on (`550 5.1.1 ...`), else the whole paragraph;
    not the boilerplate that opens the text."""
    for paragraph in re.split(r"\n[ \t]*\n", text):
        if address.lower() in paragraph.lower():
            reply = _SMTP_REPLY.search(paragraph)
            return " ".join(paragraph[reply.start(1) if reply else 0:].split())[:500]
    return ""


def _header(message: Message, name: str) -> str:
    """A field's text, its whitespace folded; "" when absent. (The lenient parser gives a field
    with 8-bit bytes as a `Header`, not a str: str() reads both.)"""
    value = message.get(name)
    return " ".join(str(value).split()) if value is not None else ""


def _addresses(message: Message, name: str) -> Iterable[str]:
    from email.utils import getaddresses

    values = message.get_all(name) or []
    return [address for _, address in getaddresses([str(value) for value in values]) if address]


def _address_field(value: str) -> str:
    """`rfc822; someone@example.org` -> `someone@example.org`."""
    return value.partition(";")[2].strip().strip("<>") if ";" in value else value.strip().strip("<>")


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
