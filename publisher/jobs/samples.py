"""The next edition as one reader would get it, recorded nowhere: a test copy, a preview."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.utils import parseaddr
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from publisher.config import Config
from publisher.digest.editions import make_edition, plan_edition
from publisher.digest.message import RecipientLinks, message_factory
from publisher.mail.message import Recipient, load_dkim, personalize
from publisher.mail.transport import Reply, Transport, make_transport
from publisher.store.models import Edition
from publisher.store.statuses import EditionStatus
from publisher.subscribers.keys import signing_key
from publisher.subscribers.people import normalize_email
from publisher.subscribers.tokens import Signer

PREVIEW_ADDRESS = "subscriber@example.org"


@dataclass(frozen=True)
class Sample:
    """The next edition's message as one recipient would get it; nothing is recorded."""

    edition: Edition
    recipient: Recipient
    message: bytes


def sample_message(
    sessions: sessionmaker[Session], config: Config, name: str, address: str, now: datetime,
    *, eight_bit: bool = True,
) -> Sample | None:
    digest = config.digest(name)
    with sessions() as session:
        plan = plan_edition(session, digest)
        if plan is None:
            return None
        edition = plan.resumed or make_edition(config, digest, plan.selection, plan.number,
                                               period="sample", status=EditionStatus.SAMPLE, now=now)
    if plan.resumed is None:
        edition.id = 0  # never stored
    signer = Signer(signing_key(config))
    recipient = RecipientLinks(config, edition, signer).recipient(0, address, nonce="")  # nobody's links
    factory = message_factory(config, digest, edition, load_dkim(config))
    return Sample(edition, recipient, factory.build(recipient, now, eight_bit=eight_bit))


def send_test_copy(sessions: sessionmaker[Session], config: Config, name: str, address: str,
                   now: datetime, transport: Transport | None = None) -> Reply | None:
    address = normalize_email(address)
    connection = (transport or make_transport(config)).connect()
    try:
        sample = sample_message(sessions, config, name, address, now,
                                eight_bit=connection.accepts_8bit())
        if sample is None:
            return None
        sender = parseaddr(config.mail.sender)[1]
        return connection.send(sender, address, sample.message, sample.recipient.message_id)
    finally:
        connection.close()


def preview_digest(sessions: sessionmaker[Session], config: Config, name: str, out: Path,
                   now: datetime) -> list[Path] | None:
    """Write NAME.html, NAME.txt and NAME.eml of the next edition into `out`."""
    sample = sample_message(sessions, config, name, PREVIEW_ADDRESS, now)
    if sample is None:
        return None
    out.mkdir(parents=True, exist_ok=True)
    files = {
        out / f"{name}.html": personalize(sample.edition.html, sample.recipient, escape=True),
        out / f"{name}.txt": personalize(sample.edition.text, sample.recipient, escape=False),
    }
    for path, content in files.items():
        path.write_text(content, "utf-8")
    eml = out / f"{name}.eml"
    eml.write_bytes(sample.message)
    return [*files, eml]
