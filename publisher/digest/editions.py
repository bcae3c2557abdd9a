"""Editions: created once before any mail goes out (a variant rendered per distinct choice of
countries among the readers, one queued delivery per reader with something new), resumed until
every delivery is final, completed exactly once."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Subquery, case, func, insert, literal, select, update
from sqlalchemy.orm import Session

from publisher.config import Digest
from publisher.digest.render import Content, EditionConfig, Rendered, edition_subject, render_variant
from publisher.digest.select import Waiting, waiting_releases
from publisher.i18n import Texts, texts
from publisher.languages import LANGUAGES
from publisher.store.choices import reads
from publisher.store.editions import unfinished_edition
from publisher.store.locks import edition_key, take_turn
from publisher.store.models import (
    Delivery,
    Edition,
    EditionLink,
    EditionRelease,
    EditionVariant,
    Subscriber,
    SubscriberCountry,
    new_nonce,
)
from publisher.store.statuses import DeliveryStatus, EditionStatus, SubscriberStatus

log = logging.getLogger(__name__)

_LANGUAGE_BITS = 4  # room for the index of each of languages.LANGUAGES


def reader_choices(digest: Digest) -> Subquery:
    """Each confirmed subscriber of the digest's countries who reads it (store/choices.py), with
    their choice as one number (`key`): the countries among the digest's as a bit mask (bit i:
    the digest's i-th country), times 4, plus the index of their language. One row per reader."""
    bits = {code: 1 << index for index, code in enumerate(digest.countries)}
    language = case({tag: index for index, tag in enumerate(LANGUAGES)}, value=Subscriber.language,
                    else_=0)
    key = func.sum(case(bits, value=SubscriberCountry.country_code)) * _LANGUAGE_BITS + language
    return (select(SubscriberCountry.subscriber_id.label("subscriber_id"), key.label("key"))
            .join(Subscriber, Subscriber.id == SubscriberCountry.subscriber_id)
            .where(Subscriber.status == SubscriberStatus.CONFIRMED,
                   SubscriberCountry.country_code.in_(digest.countries),
                   reads(digest.name, SubscriberCountry.subscriber_id))
            .group_by(SubscriberCountry.subscriber_id, Subscriber.language).subquery())


def choice_of(digest: Digest, key: int) -> tuple[tuple[str, ...], str]:
    """The countries and the language a reader_choices key stands for."""
    mask, language = divmod(key, _LANGUAGE_BITS)
    return (tuple(sorted(code for index, code in enumerate(digest.countries) if mask >> index & 1)),
            LANGUAGES[language])


def next_number(session: Session, digest: str) -> int:
    return (session.scalar(select(func.max(Edition.number)).where(Edition.digest == digest)) or 0) + 1


@dataclass(frozen=True)
class VariantPlan:
    """The readers of one choice of countries and language, and what is new for them."""

    key: int
    countries: tuple[str, ...]
    language: str
    readers: int
    releases: int  # waiting releases of their countries (at most max_items are shown)


@dataclass(frozen=True)
class Plan:
    """What the next edition would be, without writing anything."""

    number: int
    waiting: Waiting | None  # None: an unfinished edition is resumed
    variants: tuple[VariantPlan, ...]  # the choices with something new, each rendered once
    idle_readers: int  # readers whose choice has nothing new: they get nothing
    resumed: Edition | None  # an unfinished edition comes first
    queued: int = 0  # its deliveries still to send

    @property
    def recipients(self) -> int:
        return self.queued if self.resumed else sum(variant.readers for variant in self.variants)

    @property
    def makes_edition(self) -> bool:
        """Whether sending now makes (or resumes) an edition: not when nothing is new, unless
        it is the digest's first (made even when silent: it marks where the digest began)."""
        return self.resumed is not None or bool(self.releases) or self.number == 1

    @property
    def releases(self) -> int:
        if self.resumed is not None:
            return self.resumed.release_count
        return len(self.waiting.releases) if self.waiting else 0


def plan_edition(session: Session, digest: Digest, now: datetime) -> Plan:
    """The unfinished edition, else what the next one would be (see Plan.makes_edition)."""
    unfinished = unfinished_edition(session, digest.name)
    if unfinished is not None:
        queued = session.scalar(select(func.count()).where(
            Delivery.edition_id == unfinished.id, Delivery.status == DeliveryStatus.QUEUED)) or 0
        return Plan(unfinished.number, None, (), 0, unfinished, queued)
    waiting = waiting_releases(session, digest, now)
    choices = reader_choices(digest)
    variants, idle = [], 0
    for key, readers in session.execute(select(choices.c.key, func.count()).group_by(choices.c.key)
                                        .order_by(choices.c.key)):
        countries, language = choice_of(digest, key)
        releases = waiting.count(countries)
        if releases:
            variants.append(VariantPlan(key, countries, language, readers, releases))
        else:
            idle += readers
    return Plan(next_number(session, digest.name), waiting, tuple(variants), idle, None)


def open_edition(
    session: Session, config: EditionConfig, digest: Digest, period: str, now: datetime
) -> Edition | None:
    """The unfinished edition of this digest, else a new one for what is waiting, else None.

    Processes opening an edition of one digest take turns (`_take_turns`) from before the plan
    reads anything to the caller's commit: on SQLite that turn is the database's write lock, so
    every other write waits while the variants are rendered. The new edition, its variants and
    its deliveries are written in the caller's transaction; should a second process make the
    same edition regardless, it fails on the unique (digest, number) or (digest, period) with an
    IntegrityError, and its caller starts over, to find the first one's edition unfinished.
    """
    _take_turns(session, digest.name)
    plan = plan_edition(session, digest, now)
    if not plan.makes_edition:
        log.info("%s: no new releases since the last edition; nothing to send", digest.name)
        return None
    if plan.resumed is not None or plan.waiting is None:
        return plan.resumed
    rendered = {variant.key: render_choice(session, config, digest, plan.waiting, plan.number,
                                           variant.countries, texts(variant.language))
                for variant in plan.variants}
    edition = new_edition(digest, plan.waiting, plan.number, period=period, now=now)
    session.add(edition)
    session.flush()
    variants = {variant.key: _variant_row(edition, variant, *rendered[variant.key])
                for variant in plan.variants}
    session.add_all(variants.values())
    session.flush()
    links = [{"variant_id": row.id, "number": number, "target": link.target, "kind": link.kind,
              "release_id": link.release_id}
             for key, row in variants.items() for number, link in rendered[key][0].links.items()]
    if links:
        session.execute(insert(EditionLink), links)
    # The releases this plan found, not a query again: one stored meanwhile waits for the next.
    if plan.waiting.releases:
        session.execute(insert(EditionRelease), [{"edition_id": edition.id, "release_id": release}
                                                 for release in plan.waiting.releases])
    if variants:
        _queue_deliveries(session, digest, edition, {key: row.id for key, row in variants.items()})
    return edition


def new_edition(digest: Digest, waiting: Waiting, number: int, *, period: str,
                now: datetime) -> Edition:
    """The edition of what is waiting, before its variants; not added to any session."""
    published = list(waiting.published.values())
    return Edition(
        digest=digest.name, number=number, period=period, status=EditionStatus.SENDING,
        created=now, since=waiting.period.since, message_key=new_nonce()[:16],
        click_key=secrets.token_hex(32) if digest.track_links else None,
        release_count=len(waiting.releases),
        more_count=max(len(waiting.releases) - digest.max_items, 0),
        first_published=min(published, default=None), last_published=max(published, default=None),
        subject=edition_subject(digest, published) if published else "",
    )


def render_choice(session: Session, config: EditionConfig, digest: Digest, waiting: Waiting,
                  number: int, countries: tuple[str, ...], language: Texts
                  ) -> tuple[Rendered, int, int]:
    """The variant for readers of `countries` in `language`: rendered, releases shown, releases
    left over."""
    releases = waiting.newest(session, countries, digest.max_items)
    more = waiting.count(countries) - len(releases)
    content = Content(digest, number, countries, releases, more, language, waiting.published_of(countries))
    return render_variant(config, content), len(releases), more


def _variant_row(edition: Edition, variant: VariantPlan, rendered: Rendered, shown: int,
                 more: int) -> EditionVariant:
    return EditionVariant(edition_id=edition.id, countries=" ".join(variant.countries),
                          language=variant.language, release_count=shown, more_count=more, subject=rendered.subject,
                          html=rendered.html, text=rendered.text)


def _queue_deliveries(session: Session, digest: Digest, edition: Edition,
                      variant_ids: dict[int, int]) -> None:
    """One queued delivery per reader whose choice has something new, in one statement."""
    readers = reader_choices(digest)
    session.execute(insert(Delivery).from_select(
        ["subscriber_id", "edition_id", "variant_id", "status", "attempts"],
        select(readers.c.subscriber_id, literal(edition.id),
               case(variant_ids, value=readers.c.key), literal(DeliveryStatus.QUEUED.value),
               literal(0)).where(readers.c.key.in_(variant_ids))))


def _take_turns(session: Session, digest: str) -> None:
    """Processes opening an edition of one digest do it one after the other, until the
    transaction ends. Without it a second process could look for an unfinished edition just
    before the first commits its new one, then make another of the same releases under the
    next number (and a different period: a manual send, or a fire time beside one), and
    everyone would get both. On SQLite the turn is the write lock, taken before the plan reads
    anything, so that its reads see one snapshot (a CI run under load mailed every reader twice
    when they did not)."""
    take_turn(session.connection(), edition_key(digest))


def complete_if_done(session: Session, edition_id: int, now: datetime) -> bool:
    """Mark the edition complete (its period then counts) when no delivery is left queued.
    Only the call that changes the status returns True: completion happens exactly once."""
    left = session.scalar(select(func.count()).where(
        Delivery.edition_id == edition_id, Delivery.status == DeliveryStatus.QUEUED))
    if left:
        return False
    result = session.execute(
        update(Edition).where(Edition.id == edition_id, Edition.status == EditionStatus.SENDING)
        .values(status=EditionStatus.COMPLETE, completed=now))
    return cast(CursorResult[Any], result).rowcount == 1
