"""The next edition as one reader would get it, recorded nowhere: a test copy, a preview."""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from email.utils import parseaddr
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from publisher.clicks.links import LinkTarget
from publisher.config import Config, Digest
from publisher.digest.editions import new_edition, plan_edition, render_choice
from publisher.digest.message import RecipientLinks, direct_links, message_factory, stored_targets
from publisher.digest.render import EditionConfig
from publisher.digest.select import Waiting, latest_releases
from publisher.errors import InvalidValue
from publisher.i18n import Texts, texts
from publisher.languages import LANGUAGES, supported
from publisher.mail.message import Recipient, load_dkim, personalize
from publisher.mail.transport import Reply, Transport, make_transport
from publisher.store.digests import digest_named
from publisher.store.models import Edition, EditionVariant
from publisher.subscribers.keys import signing_key
from publisher.subscribers.people import normalize_email
from publisher.subscribers.tokens import TEST_COPY_ID, TEST_COPY_NONCE, Signer
from publisher.urls import site_host

PREVIEW_ADDRESS = "subscriber@example.org"
TEST_PREFIX = "[Test] "
SAMPLE_PREFIX = "[Sample] "  # nothing was new: the latest releases, to check the design by


@dataclass(frozen=True)
class Sample:
    """The next edition's message as readers of `countries` would get it; nothing is recorded.
    `latest`: nothing was new, so it shows the latest releases instead (a preview's sample)."""

    edition: Edition
    variant: EditionVariant
    countries: tuple[str, ...]
    recipient: Recipient
    message: bytes
    latest: bool = False
    links: Mapping[str, str] = field(default_factory=dict)  # each link mark: where it leads, directly

    def html(self) -> str:
        return personalize(self.variant.html, self.recipient, escape=True, links=self.links)

    def text(self) -> str:
        return personalize(self.variant.text, self.recipient, escape=False, links=self.links)


def chosen_countries(digest: Digest, countries: Sequence[str] | None) -> tuple[str, ...]:
    """A reader's choice among the digest's countries (all of them when none is given)."""
    codes = tuple(sorted({code.upper() for code in countries or digest.countries}))
    strangers = [code for code in codes if code not in digest.countries]
    if strangers:
        raise InvalidValue(f"{', '.join(strangers)}: not a country of digest {digest.name} "
                           f"({', '.join(digest.countries)})")
    return codes


def sample_message(
    sessions: sessionmaker[Session], config: Config, name: str, address: str, now: datetime,
    *, countries: Sequence[str] | None = None, language: str = LANGUAGES[0], eight_bit: bool = True,
    latest_if_none: bool = False,
) -> Sample | None:
    """None when nothing is new for readers of `countries`; with `latest_if_none`, the latest
    releases instead, marked as a sample (`Sample.latest`, and "[Sample]" in the subject)."""
    with sessions() as session:
        digest = digest_named(session, name)
    chosen = chosen_countries(digest, countries)
    reader = supported(language)
    if reader is None:
        raise InvalidValue(f"{language}: not a language readers get ({', '.join(LANGUAGES)})")
    latest = False
    with sessions() as session:
        found = _edition_and_variant(session, config, digest, chosen, texts(reader), now)
        if found is None and latest_if_none:
            found = _edition_and_variant(session, config, digest, chosen, texts(reader), now,
                                         latest_releases(session, digest, digest.max_items))
            latest = found is not None
    if found is None:
        return None
    edition, variant, targets = found
    sections = EditionConfig.of(config)
    links = RecipientLinks(sections, edition, Signer(signing_key(config.secrets)))
    # Links that open a page saying it was a test copy, and an ID no mailbox has seen.
    recipient = replace(links.recipient(TEST_COPY_ID, address, TEST_COPY_NONCE, variant.language),
                        message_id=f"<{digest.name}.{edition.number}.test.{secrets.token_hex(8)}"
                                   f"@{site_host(config.site)}>")
    prefix = SAMPLE_PREFIX if latest else TEST_PREFIX
    direct = direct_links(targets)  # a copy's clicks are nobody's: its links lead straight on
    factory = message_factory(sections, digest, variant, load_dkim(config.mail), subject_prefix=prefix, links=direct)
    return Sample(edition, variant, chosen, recipient, factory.build(recipient, now, eight_bit=eight_bit), latest,
                  direct())


def _edition_and_variant(session: Session, config: Config, digest: Digest,
                         chosen: tuple[str, ...], language: Texts, now: datetime,
                         instead: Waiting | None = None
                         ) -> tuple[Edition, EditionVariant, Mapping[int, LinkTarget]] | None:
    """The next edition's variant for `chosen` and `language` (or one of `instead`'s releases)."""
    plan = plan_edition(session, digest, now)
    if plan.resumed is not None and instead is None:  # what its readers of that choice are being sent
        variant = session.scalars(select(EditionVariant).where(
            EditionVariant.edition_id == plan.resumed.id,
            EditionVariant.countries == " ".join(chosen),
            EditionVariant.language == language.language)).first()
        return None if variant is None else (plan.resumed, variant, stored_targets(session, variant.id))
    waiting = instead or plan.waiting
    assert waiting is not None
    if not waiting.count(chosen):
        return None
    edition = new_edition(digest, waiting, plan.number, period="sample", now=now)
    rendered, shown, more = render_choice(session, EditionConfig.of(config), digest, waiting, plan.number, chosen,
                                          language)
    variant = EditionVariant(id=0, countries=" ".join(chosen), language=language.language,
                             release_count=shown, more_count=more,
                             subject=rendered.subject, html=rendered.html, text=rendered.text)
    return edition, variant, rendered.links


def send_test_copy(sessions: sessionmaker[Session], config: Config, name: str, address: str,
                   now: datetime, *, countries: Sequence[str] | None = None,
                   language: str = LANGUAGES[0],
                   transport: Transport | None = None) -> tuple[Sample, Reply] | None:
    address = normalize_email(address)
    connection = (transport or make_transport(config.smtp, config.mail.outbox)).connect()
    try:
        sample = sample_message(sessions, config, name, address, now, countries=countries,
                                language=language, eight_bit=connection.accepts_8bit())
        if sample is None:
            return None
        sender = parseaddr(config.mail.sender)[1]
        return sample, connection.send(sender, address, sample.message, sample.recipient.message_id)
    finally:
        connection.close()


@dataclass(frozen=True)
class Preview:
    files: list[Path]
    latest: bool  # nothing was new: a sample of the latest releases


def preview_digest(sessions: sessionmaker[Session], config: Config, name: str, out: Path,
                   now: datetime, *, countries: Sequence[str] | None = None,
                   language: str = LANGUAGES[0]) -> Preview | None:
    """Write NAME.html, NAME.txt and NAME.eml of the next edition into `out`; when nothing is
    new, of the latest releases, marked as a sample (`Sample.latest`)."""
    sample = sample_message(sessions, config, name, PREVIEW_ADDRESS, now, countries=countries,
                            language=language, latest_if_none=True)
    if sample is None:  # the digest's countries have no release at all
        return None
    out.mkdir(parents=True, exist_ok=True)
    files = {
        out / f"{name}.html": sample.html(),
        out / f"{name}.txt": sample.text(),
    }
    for path, content in files.items():
        path.write_text(content, "utf-8")
    eml = out / f"{name}.eml"
    eml.write_bytes(sample.message)
    return Preview([*files, eml], sample.latest)
