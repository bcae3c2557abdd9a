"""Which readers a digest goes to: those who chose it, and those who chose no digest (every
digest of their countries, as all readers had before they could choose). When a digest is
created, those who chose none are first pinned to the digests they get now, so that nobody
gets a digest they did not choose (a second one for Mongolia, say) without being asked."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import ColumnElement, exists, insert, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from publisher.config import Digest
from publisher.store.models import SubscriberCountry, SubscriberDigest


def reads(digest: str, subscriber_id: ColumnElement[int] | InstrumentedAttribute[int]) -> ColumnElement[bool]:
    """The subscriber chose the digest, or chose none."""
    chose = exists().where(SubscriberDigest.subscriber_id == subscriber_id)
    return or_(exists().where(SubscriberDigest.subscriber_id == subscriber_id, SubscriberDigest.digest == digest),
               ~chose)


def pin_default_readers(session: Session, new: Digest, others: Iterable[Digest]) -> int:
    """Before `new` is created: each reader of its countries who chose no digest is given the
    digests they get now (`others` that share a country with them); how many were pinned."""
    others = [digest for digest in others if digest.name != new.name]
    followed: dict[int, set[str]] = defaultdict(set)
    mine = select(SubscriberCountry.subscriber_id).where(SubscriberCountry.country_code.in_(new.countries))
    query = (select(SubscriberCountry.subscriber_id, SubscriberCountry.country_code)
             .where(SubscriberCountry.subscriber_id.in_(mine),
                    ~exists().where(SubscriberDigest.subscriber_id == SubscriberCountry.subscriber_id)))
    for subscriber_id, code in session.execute(query):
        followed[subscriber_id].add(code)
    rows = [{"subscriber_id": subscriber_id, "digest": digest.name}
            for subscriber_id, codes in followed.items() for digest in others if codes & set(digest.countries)]
    for start in range(0, len(rows), 1000):
        session.execute(insert(SubscriberDigest), rows[start:start + 1000])
    return len({row["subscriber_id"] for row in rows})
