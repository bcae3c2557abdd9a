"""An operator's change to subscribers (console or API): made and written to the audit log in
one transaction."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from publisher.config import Config
from publisher.dates import counted
from publisher.errors import InvalidValue, NotFound
from publisher.operators.audit import record
from publisher.store.db import engine_of
from publisher.store.effect import in_effect
from publisher.store.models import Subscriber
from publisher.store.statuses import SubscriberStatus
from publisher.subscribers.people import (
    SubscriberCounts,
    SubscriberRow,
    chunked,
    export_csv,
    find_subscriber,
    list_subscribers,
    parse_subscriber_csv,
    remove_subscriber,
    save_subscribers,
    set_countries,
    set_digests,
    subscriber_values,
    unsubscribe_subscriber,
)


class UnknownSubscriber(NotFound):
    """No subscriber has that number."""


def digest_names(sessions: sessionmaker[Session], config: Config) -> list[str]:
    """The digests a subscriber may be given: those in effect."""
    with sessions() as session:
        return [digest.name for digest in in_effect(session, config).digests]


def existing_subscriber(session: Session, subscriber_id: int) -> Subscriber:
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None:
        raise UnknownSubscriber(f"no subscriber has the number {subscriber_id}")
    return subscriber


def add(sessions: sessionmaker[Session], actor: str, row: SubscriberRow, now: datetime) -> int:
    """A new subscriber (confirmed unless the row says pending); InvalidValue for a known address."""
    with sessions.begin() as session:
        if find_subscriber(session, row.email) is not None:
            raise InvalidValue(f"email: {row.email} is a subscriber already")
        save_subscribers(session, [row], SubscriberStatus.CONFIRMED, now)
        subscriber = find_subscriber(session, row.email)
        assert subscriber is not None  # (just saved)
        record(session, actor, "subscriber.add", subscriber.email, now, after=subscriber_values(subscriber))
        return subscriber.id


def save(sessions: sessionmaker[Session], actor: str, row: SubscriberRow, now: datetime, *,
         pending: bool = False) -> SubscriberCounts:
    """A subscriber added, or a known one's countries and language changed (the command
    line's `subscribers add`); audited when anything changed."""
    with sessions.begin() as session:
        counts = save_subscribers(session, [row], SubscriberStatus.PENDING if pending else SubscriberStatus.CONFIRMED,
                                  now)
        for address, before, after in counts.changes:
            record(session, actor, "subscriber.add" if before is None else "subscriber.change", address, now,
                   before=before, after=after)
    return counts


def remove(sessions: sessionmaker[Session], actor: str, address: str, now: datetime) -> bool:
    """Delete a subscriber and their delivery history; False when there is none."""
    with sessions.begin() as session:
        subscriber = find_subscriber(session, address)
        if subscriber is None:
            return False
        before = subscriber_values(subscriber)
        remove_subscriber(session, subscriber)
        record(session, actor, "subscriber.remove", before["email"], now, before=before)
    return True


def change(sessions: sessionmaker[Session], actor: str, subscriber_id: int, countries: Sequence[str],
           language: str, now: datetime, digests: Sequence[str] | None = None) -> None:
    """Their countries, language and (when given) digests; audited when anything changed."""
    if not countries:
        raise InvalidValue("countries: choose at least one country")
    with sessions.begin() as session:
        subscriber = existing_subscriber(session, subscriber_id)
        before = subscriber_values(subscriber)
        set_countries(subscriber, countries)
        if digests is not None:
            set_digests(subscriber, digests)
        subscriber.language = language
        session.flush()
        if subscriber_values(subscriber) != before:
            record(session, actor, "subscriber.change", subscriber.email, now, before=before,
                   after=subscriber_values(subscriber))


def unsubscribe(sessions: sessionmaker[Session], actor: str, subscriber_id: int, now: datetime) -> None:
    """No more digests; every link mailed to them before stops working (a new nonce)."""
    with sessions.begin() as session:
        subscriber = existing_subscriber(session, subscriber_id)
        if subscriber.status == SubscriberStatus.UNSUBSCRIBED:
            return
        before = subscriber_values(subscriber)
        unsubscribe_subscriber(subscriber, now)
        record(session, actor, "subscriber.unsubscribe", subscriber.email, now, before=before,
               after=subscriber_values(subscriber))


MAX_CSV = 5_000_000  # bytes: some 100,000 subscribers
IMPORT_CHUNK = 1_000  # rows stored in one transaction
WRITERS_TURN = 0.1  # seconds between chunks on SQLite, for the writers that wait (its busy handler is not fair)


def import_csv(sessions: sessionmaker[Session], config: Config, actor: str, data: bytes, name: str,
               now: datetime, *, pending: bool = False) -> SubscriberCounts:
    """A CSV file's rows (the columns of `publisher subscribers import`), all checked first and
    stored IMPORT_CHUNK rows to a transaction (a 100,000-row file held SQLite's write lock for
    74 s: the site's sign-ups failed meanwhile); InvalidValue or InputError naming the file and
    line, with nothing stored. New subscribers are confirmed, unless `pending` (they are then
    mailed nothing until confirmed)."""
    if len(data) > MAX_CSV:
        raise InvalidValue(f"{name}: larger than {MAX_CSV // 1_000_000} MB")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidValue(f"{name}: not UTF-8 text") from None
    # every row checked first:
    rows = parse_subscriber_csv(text, name, config.country_codes, digest_names(sessions, config))
    total = SubscriberCounts()
    status = SubscriberStatus.PENDING if pending else SubscriberStatus.CONFIRMED
    one_writer = engine_of(sessions).dialect.name == "sqlite"
    for chunk in chunked(rows, IMPORT_CHUNK):  # SQLite has one writer: the site's writes go between
        with sessions.begin() as session:
            counts = save_subscribers(session, chunk, status, now)
            for address, before, after in counts.changes:  # who changed, each with before and after
                record(session, actor, "subscriber.import", address, now, before=before, after=after)
        total.add(counts)
        if one_writer:  # a writer waiting for the lock sleeps up to 100 ms between looks: let it in
            time.sleep(WRITERS_TURN)
    with sessions.begin() as session:
        record(session, actor, "subscribers.import", name, now,
               after={"new": total.new, "updated": total.updated, "unchanged": total.unchanged,
                      "kept_stopped": total.kept_stopped})
    return total


def export(sessions: sessionmaker[Session], actor: str, now: datetime) -> str:
    """Every subscriber as CSV. An export changes nothing, but it hands out personal data: the
    audit log says who took it."""
    with sessions() as session:
        found = list_subscribers(session)
        text = export_csv(found)
    with sessions.begin() as session:
        record(session, actor, "subscribers.export", counted(len(found), "subscriber"), now)
    return text
