"""An edition's clicks as the store holds them: counted from its clicks while it is counted,
from the folded counts of its links after."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from publisher.clicks.figures import Counted, Seen, count_clicks
from publisher.store.models import Edition, EditionLink, EditionVariant, LinkClick


def edition_links(session: Session, edition_id: int) -> list[EditionLink]:
    return list(session.scalars(select(EditionLink).join(EditionVariant, EditionVariant.id == EditionLink.variant_id)
                                .where(EditionVariant.edition_id == edition_id)
                                .order_by(EditionLink.variant_id, EditionLink.number)))


def edition_clicks(session: Session, edition: Edition) -> dict[tuple[int, int], Counted]:
    """Per (variant, link) of the edition."""
    links = edition_links(session, edition.id)
    if edition.counted is not None:
        return {(link.variant_id, link.number): Counted(link.clicks or 0, link.readers or 0, link.automatic or 0)
                for link in links}
    return live_clicks(session, edition.id, links)


def live_clicks(session: Session, edition_id: int, links: list[EditionLink]) -> dict[tuple[int, int], Counted]:
    numbers: dict[int, set[int]] = defaultdict(set)
    for link in links:
        numbers[link.variant_id].add(link.number)
    seen = (Seen(*row) for row in session.execute(
        select(LinkClick.variant_id, LinkClick.link, LinkClick.reader, LinkClick.at, LinkClick.automatic)
        .where(LinkClick.edition_id == edition_id)))
    return count_clicks(seen, numbers)
