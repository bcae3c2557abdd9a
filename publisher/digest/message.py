"""What one recipient's digest message holds: its Message-ID, its signed links, and the fixed
parts of their variant of the edition (subject, List-Id, the rendered HTML and text) ready to
be filled in."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parseaddr

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from publisher.clicks.links import LinkSigner, LinkTarget, MessageLinks
from publisher.config import Digest
from publisher.digest.render import EditionConfig, digest_title
from publisher.languages import LANGUAGES
from publisher.mail.message import Dkim, Links, MessageFactory, Recipient, link_mark, no_links
from publisher.store.digests import digest_named
from publisher.store.models import Edition, EditionLink, EditionVariant
from publisher.subscribers.tokens import Signer
from publisher.subscribers.verp import unsubscribe_address, verp_address
from publisher.urls import (
    PREFERENCES_PATH,
    UNSUBSCRIBE_PATH,
    click_prefix,
    site_host,
    token_url_prefix,
)


@dataclass(frozen=True)
class EditionMessages:
    """What each message of an edition is made from: its variant's factory and language (by
    variant id; a handful, one per choice of countries and language), and the recipient's links."""

    factories: dict[int, tuple[MessageFactory, str]]
    links: RecipientLinks


def edition_messages(sessions: sessionmaker[Session], config: EditionConfig, edition: Edition, key: str,
                     dkim_key: Dkim | None) -> EditionMessages:
    """Worked out once per send, before the first message: `key` signs every token and link."""
    with sessions() as session:
        digest = digest_named(session, edition.digest, retired=True)
        variants = session.scalars(select(EditionVariant).where(EditionVariant.edition_id == edition.id))
        signer = LinkSigner(key)
        factories = {variant.id: (message_factory(config, digest, variant, dkim_key,
                                                  links=counted_links(session, config, variant, signer)),
                                  variant.language)
                     for variant in variants}
    return EditionMessages(factories, RecipientLinks(config, edition, Signer(key)))


class RecipientLinks:
    """Per-recipient Message-ID and signed links of one edition (the fixed parts worked out
    once: this runs for every message)."""

    def __init__(self, config: EditionConfig, edition: Edition, signer: Signer) -> None:
        # The edition's random key makes it unique across installations and recreated
        # databases; the same for the same delivery, so a resumed edition sends the same ID.
        self._id = f"<{edition.digest}.{edition.number}.{{}}.{edition.message_key}@{site_host(config.site)}>"
        self._prefixes = {language: (token_url_prefix(config.site, UNSUBSCRIBE_PATH, language),
                                     token_url_prefix(config.site, PREFERENCES_PATH, language))
                          for language in LANGUAGES}
        self._sign = signer.sign
        self._return_path = verp_address(config.mail.bounce_address, signer, edition.id)
        self._mailto = unsubscribe_address(config.mail.bounce_address, signer, edition.id)

    def recipient(self, subscriber_id: int, address: str, nonce: str,
                  language: str = LANGUAGES[0]) -> Recipient:
        """Their links open the pages in `language` (their variant's)."""
        unsubscribe, preferences = self._prefixes.get(language, self._prefixes[LANGUAGES[0]])
        return Recipient(
            address=address,
            message_id=self._id.format(subscriber_id),
            unsubscribe_url=unsubscribe + self._sign("unsubscribe", subscriber_id, nonce),
            preferences_url=preferences + self._sign("preferences", subscriber_id, nonce),
            return_path=self._return_path(subscriber_id),
            unsubscribe_mailto=self._mailto(subscriber_id),
        )


def counted_links(session: Session, config: EditionConfig, variant: EditionVariant, signer: LinkSigner) -> Links:
    """The variant's link marks filled with /r/ addresses made for each message (none when its
    links were not counted)."""
    numbers = session.scalars(select(EditionLink.number).where(EditionLink.variant_id == variant.id)).all()
    if not numbers:
        return no_links
    return MessageLinks(signer, click_prefix(config.site), variant.edition_id, variant.id,
                        {number: link_mark(number) for number in numbers})


def direct_links(links: Mapping[int, LinkTarget]) -> Links:
    """The variant's link marks filled with where they lead (a test copy, a preview: nobody's
    clicks are counted)."""
    values = {link_mark(number): link.target for number, link in links.items()}
    return lambda: values


def stored_targets(session: Session, variant_id: int) -> dict[int, LinkTarget]:
    return {row.number: LinkTarget(row.target, row.kind, row.release_id)
            for row in session.scalars(select(EditionLink).where(EditionLink.variant_id == variant_id))}


def message_factory(config: EditionConfig, digest: Digest, variant: EditionVariant,
                    dkim_key: Dkim | None, *, subject_prefix: str = "",
                    links: Links = no_links) -> MessageFactory:
    mailto = config.mail.unsubscribe_mailto or parseaddr(config.mail.sender)[1]
    return MessageFactory(
        sender=config.site.sender_in(config.mail.sender, variant.language), subject=subject_prefix + variant.subject,
        list_id=f"{digest.name}.{site_host(config.site)}", list_name=digest_title(config, digest),
        unsubscribe_mailto=mailto, html_part=variant.html, text_part=variant.text,
        boundary=f"publisher_alt_{variant.id}", dkim_key=dkim_key, links=links,
    )
