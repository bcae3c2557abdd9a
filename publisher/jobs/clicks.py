"""Clicks on counted links: recorded in batches, and folded into counts per link when an
edition's counting ends (its clicks and its key deleted). A click is a reader's action, not a
change anyone made: it is not written to the audit log."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from publisher.clicks.counts import edition_links, live_clicks
from publisher.clicks.figures import Counted
from publisher.clicks.links import ReaderHashes
from publisher.clicks.machines import set_aside
from publisher.store.clicks import ClickRow, insert_clicks
from publisher.store.digests import digest_named
from publisher.store.models import Edition, EditionLink, EditionVariant, LinkClick

log = logging.getLogger(__name__)


# A click as the redirect saw it, before it is stored (the nonce only ever in memory): when
# (time.time()), the edition, variant and link (their numbers' digits, as the link spelled them
# and the redirect checked them against the variant's: no number made on its way), the message's
# nonce, the edition's click key, the request's method and User-Agent. A plain tuple: made on
# every redirect, and handed to the writing process as marshal data (web/offload.py), it costs a
# fraction of a named one.
Noted = tuple[float, str, str, str, str, str, str, str]


def record_clicks(sessions: sessionmaker[Session], noted: Sequence[Noted]) -> int:
    """Store the clicks (a keyed hash of each message's value, never the value), in one
    transaction, of the editions still counted (a front may have noted some just after counting
    ended); returns how many."""
    if not noted:
        return 0
    with sessions.begin() as session:
        counted = {str(edition) for edition in session.scalars(select(Edition.id).where(
            Edition.id.in_({int(click[1]) for click in noted}), Edition.click_key.is_not(None)))}
        reader_of = ReaderHashes()
        rows = [ClickRow(int(edition), int(variant), int(link), reader_of(nonce, key), at, set_aside(method, agent))
                for at, edition, variant, link, nonce, key, method, agent in noted if edition in counted]
        insert_clicks(session, rows)
    return len(rows)


def close_counting(sessions: sessionmaker[Session], now: datetime) -> list[Edition]:
    """Fold the clicks of every edition whose counting window (its digest's count_clicks_for)
    has passed into counts per link, then delete them and the edition's key."""
    with sessions() as session:
        open_ = list(session.scalars(select(Edition).where(Edition.click_key.is_not(None))))
        due = [edition.id for edition in open_
               if edition.created + digest_named(session, edition.digest, retired=True).count_clicks_for <= now]
    closed = []
    for edition_id in due:
        with sessions.begin() as session:
            edition = session.get(Edition, edition_id)
            if edition is not None and edition.click_key is not None:
                _fold(session, edition, now)
                closed.append(edition)
    if closed:
        log.info("clicks counted and folded for %d editions", len(closed))
    return closed


def _fold(session: Session, edition: Edition, now: datetime) -> None:
    links = edition_links(session, edition.id)
    figures = live_clicks(session, edition.id, links)
    for link in links:
        counted = figures.links.get((link.variant_id, link.number), Counted())
        session.execute(update(EditionLink).where(EditionLink.variant_id == link.variant_id,
                                                  EditionLink.number == link.number)
                        .values(clicks=counted.clicks, readers=counted.readers, automatic=counted.automatic))
    for variant_id in session.scalars(select(EditionVariant.id).where(EditionVariant.edition_id == edition.id)):
        counted = figures.variants.get(variant_id, Counted())
        session.execute(update(EditionVariant).where(EditionVariant.id == variant_id)
                        .values(clicks=counted.clicks, readers=counted.readers, automatic=counted.automatic))
    session.execute(delete(LinkClick).where(LinkClick.edition_id == edition.id))
    edition.click_key, edition.counted = None, now
