"""An edition's clicks as the store holds them: counted from its clicks while it is counted,
from the folded counts of its links after."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from publisher.clicks.figures import Counted, Figures, Seen, count_clicks
from publisher.store.models import Edition, EditionLink, EditionVariant, LinkClick


def edition_links(session: Session, edition_id: int) -> list[EditionLink]:
    return list(session.scalars(select(EditionLink).join(EditionVariant, EditionVariant.id == EditionLink.variant_id)
                                .where(EditionVariant.edition_id == edition_id)
                                .order_by(EditionLink.variant_id, EditionLink.number)))


def edition_clicks(session: Session, edition: Edition, links: list[EditionLink] | None = None) -> Figures:
    """Per (variant, link) of the edition, and per variant; `links`: its links, when the caller
    has read them already."""
    links = edition_links(session, edition.id) if links is None else links
    if edition.counted is None:
        return live_clicks(session, edition.id, links)
    variants = session.scalars(select(EditionVariant).where(EditionVariant.edition_id == edition.id))
    return Figures({(link.variant_id, link.number): _folded(link) for link in links},
                   {variant.id: _folded(variant) for variant in variants})


def _folded(row: EditionLink | EditionVariant) -> Counted:
    return Counted(row.clicks or 0, row.readers or 0, row.automatic or 0)


def live_clicks(session: Session, edition_id: int, links: list[EditionLink]) -> Figures:
    numbers: dict[int, set[int]] = defaultdict(set)
    for link in links:
        numbers[link.variant_id].add(link.number)
    seen = (Seen(*row) for row in session.execute(
        select(LinkClick.variant_id, LinkClick.link, LinkClick.reader, LinkClick.at, LinkClick.automatic)
        .where(LinkClick.edition_id == edition_id)))
    return count_clicks(seen, numbers)
