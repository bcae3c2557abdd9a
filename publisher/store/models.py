"""Typed SQLAlchemy 2 models of what the store holds."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime

from sqlalchemy import (
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeEngine

from publisher.store.statuses import (
    BounceKind,
    DeliveryStatus,
    EditionStatus,
    ProcessRole,
    ProcessState,
    StatusColumn,
    SubscriberStatus,
)


class UTCDateTime(TypeDecorator[datetime]):
    """Stored as UTC, returned timezone-aware on every database.

    SQLite has no time zone type and gives naive values back; PostgreSQL's timestamptz gives them
    in the session's zone. Both come back as aware UTC, and naive values are refused on the way in.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[datetime]:
        if dialect.name == "sqlite":
            return _SQLiteText()  # type: ignore[no-untyped-call]
        return super().load_dialect_impl(dialect)

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | str | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: store timezone-aware datetimes only")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":  # the text SQLite's DATETIME writes, written in C
            return value.replace(tzinfo=None).isoformat(" ", "microseconds")
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class _SQLiteText(sqlite.DATETIME):
    """SQLite's DATETIME, given its text by UTCDateTime: its own formatting, in Python, was a
    twentieth of a large import's time."""

    def bind_processor(self, dialect: Dialect) -> None:
        return None


def new_nonce() -> str:
    return secrets.token_hex(16)


class Base(DeclarativeBase):
    pass


class Country(Base):
    __tablename__ = "countries"

    code: Mapped[str] = mapped_column(String(2), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(35))


class Release(Base):
    __tablename__ = "releases"
    __table_args__ = (Index("ix_releases_newest", "published", "id"),
                      Index("ix_releases_source", "source", "source_key"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The identity an import recognises a release by: its URL, else its date and normalized title.
    source_key: Mapped[str] = mapped_column(String(600), unique=True)
    # The permanent id (a tag: URI) feeds give; assigned once, never changed.
    permanent_id: Mapped[str] = mapped_column(String(300), unique=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    title: Mapped[str] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str | None] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(String(2000))  # its own; None: its page here (urls.release_link)
    image_url: Mapped[str | None] = mapped_column(String(2000))
    image_credit: Mapped[str | None] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(Text)  # a kicker line: a report, a campaign
    published: Mapped[datetime] = mapped_column(UTCDateTime())
    ends: Mapped[date | None] = mapped_column(Date)  # the last day of an event of several days
    updated: Mapped[datetime] = mapped_column(UTCDateTime())
    source: Mapped[str] = mapped_column(String(500))
    content_hash: Mapped[str] = mapped_column(String(64))
    # Title and summary case-folded as Python folds every script (SQLite's lower() folds ASCII
    # only): what the news page's search looks in (store/releases.py `searchable`).
    search_text: Mapped[str] = mapped_column(Text, default="", server_default="")
    # When an operator withdrew it: it has no countries from then (no feed, no digest), its page
    # says so, and imports leave it as it is.
    withdrawn: Mapped[datetime | None] = mapped_column(UTCDateTime())
    withdrawn_countries: Mapped[str | None] = mapped_column(String(200))  # its codes then: a restore's

    links: Mapped[list[ReleaseCountry]] = relationship(
        back_populates="release", cascade="all, delete-orphan", order_by="ReleaseCountry.country_code"
    )

    @property
    def country_codes(self) -> list[str]:
        return [link.country_code for link in self.links]


class ReleaseCountry(Base):
    """A release's country tag. `published` and `updated` are copied here so that "newest N
    releases of country X", and whether they changed, are one range scan of the index."""

    __tablename__ = "release_countries"
    __table_args__ = (
        Index("ix_release_countries_newest", "country_code", "published", "release_id", "updated"),
    )

    release_id: Mapped[int] = mapped_column(
        ForeignKey("releases.id", ondelete="CASCADE"), primary_key=True
    )
    country_code: Mapped[str] = mapped_column(
        ForeignKey("countries.code", ondelete="RESTRICT"), primary_key=True
    )
    published: Mapped[datetime] = mapped_column(UTCDateTime())
    updated: Mapped[datetime] = mapped_column(UTCDateTime())

    release: Mapped[Release] = relationship(back_populates="links")


class Subscriber(Base):
    __tablename__ = "subscribers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320))  # normalized, as the person wrote it
    email_key: Mapped[str] = mapped_column(String(320), unique=True)  # lower case: no duplicates
    status: Mapped[SubscriberStatus] = mapped_column(StatusColumn(SubscriberStatus))
    status_since: Mapped[datetime] = mapped_column(UTCDateTime())
    created: Mapped[datetime] = mapped_column(UTCDateTime())
    # Random, never sent: every signed link of this subscriber is bound to it, so a new one
    # revokes them all (and an id used again by someone else comes with another).
    token_nonce: Mapped[str] = mapped_column(String(32), default=lambda: new_nonce())
    # The nonce their links had when they last unsubscribed: such a link, followed again, may
    # only say that they are unsubscribed (RFC 8058 one-click is repeated by mail clients).
    left_nonce: Mapped[str | None] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(16), default="en")  # of their mail (languages.LANGUAGES)
    soft_bounces: Mapped[int] = mapped_column(Integer, default=0)  # editions in a row, since the last delivery

    follows: Mapped[list[SubscriberCountry]] = relationship(
        back_populates="subscriber", cascade="all, delete-orphan",
        order_by="SubscriberCountry.country_code",
    )

    # The digests they chose; none: every digest of their countries (what everyone had before
    # readers chose digests; a digest created later is not added to it: store/choices.py).
    chosen: Mapped[list[SubscriberDigest]] = relationship(
        back_populates="subscriber", cascade="all, delete-orphan", order_by="SubscriberDigest.digest",
    )

    @property
    def country_codes(self) -> list[str]:
        return [follow.country_code for follow in self.follows]

    @property
    def digest_names(self) -> list[str]:
        return [choice.digest for choice in self.chosen]


class SubscriberCountry(Base):
    __tablename__ = "subscriber_countries"
    __table_args__ = (Index("ix_subscriber_countries_country", "country_code", "subscriber_id"),)

    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True
    )
    country_code: Mapped[str] = mapped_column(
        ForeignKey("countries.code", ondelete="RESTRICT"), primary_key=True
    )

    subscriber: Mapped[Subscriber] = relationship(back_populates="follows")


class SubscriberDigest(Base):
    """A digest a reader chose."""

    __tablename__ = "subscriber_digests"
    __table_args__ = (Index("ix_subscriber_digests_digest", "digest", "subscriber_id"),)

    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True)
    digest: Mapped[str] = mapped_column(String(100), primary_key=True)

    subscriber: Mapped[Subscriber] = relationship(back_populates="chosen")


class Edition(Base):
    """One issue of a digest. Written before any mail goes out; its number and period are unique
    per digest, so two processes cannot make the same edition twice. Its variants (one per
    distinct choice of countries among its readers) keep what was rendered, so a resumed
    edition sends exactly what the first recipients got."""

    __tablename__ = "editions"
    __table_args__ = (
        UniqueConstraint("digest", "number", name="uq_editions_number"),
        UniqueConstraint("digest", "period", name="uq_editions_period"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    digest: Mapped[str] = mapped_column(String(100))
    number: Mapped[int] = mapped_column(Integer)
    period: Mapped[str] = mapped_column(String(100))  # the fire time it stands for, or "manual ..."
    status: Mapped[EditionStatus] = mapped_column(StatusColumn(EditionStatus))
    created: Mapped[datetime] = mapped_column(UTCDateTime())
    completed: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The start of the edition's period: releases published before it were left out.
    since: Mapped[datetime] = mapped_column(UTCDateTime())
    # Random, made once: with the recipient it makes each Message-ID unique in the world.
    message_key: Mapped[str] = mapped_column(String(32), default=lambda: new_nonce()[:16])
    release_count: Mapped[int] = mapped_column(Integer)  # every release it carries, all variants
    more_count: Mapped[int] = mapped_column(Integer)  # left out of the widest variant (max_items)
    first_published: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_published: Mapped[datetime | None] = mapped_column(UTCDateTime())
    subject: Mapped[str] = mapped_column(Text)  # as the whole edition reads (web list, feed)
    # When its deliveries were pruned (`publisher editions prune`), and how many each status had.
    pruned: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivery_counts: Mapped[str | None] = mapped_column(Text)  # JSON: {"sent": 998, "failed": 2}
    # Random, made once when its links are counted: clicks keep a keyed hash of their message's
    # random value, never the value. Deleted (with the clicks) when counting ends, at `counted`.
    click_key: Mapped[str | None] = mapped_column(String(64))
    counted: Mapped[datetime | None] = mapped_column(UTCDateTime())


class EditionVariant(Base):
    """An edition as the readers of one choice of countries get it, rendered once."""

    __tablename__ = "edition_variants"
    __table_args__ = (UniqueConstraint("edition_id", "countries", "language", name="uq_edition_variants"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    edition_id: Mapped[int] = mapped_column(ForeignKey("editions.id", ondelete="CASCADE"))
    countries: Mapped[str] = mapped_column(String(200))  # codes, space-separated, sorted
    language: Mapped[str] = mapped_column(String(16), default="en")
    release_count: Mapped[int] = mapped_column(Integer)
    more_count: Mapped[int] = mapped_column(Integer)  # waiting releases beyond max_items
    subject: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)  # inlined once; recipient marks still in it
    text: Mapped[str] = mapped_column(Text)
    # Its readers who clicked any counted link, their clicks, and the automatic ones, folded
    # from link_clicks when counting ended (None until then).
    clicks: Mapped[int | None] = mapped_column(Integer)
    readers: Mapped[int | None] = mapped_column(Integer)
    automatic: Mapped[int | None] = mapped_column(Integer)


class EditionLink(Base):
    """A counted link of a variant: where its /r/ address leads (nowhere else), and once counting
    ended, what was counted."""

    __tablename__ = "edition_links"

    variant_id: Mapped[int] = mapped_column(ForeignKey("edition_variants.id", ondelete="CASCADE"),
                                            primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    target: Mapped[str] = mapped_column(Text)
    release_id: Mapped[int | None] = mapped_column(ForeignKey("releases.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(20))  # release, more, feed, feeds, site
    # Folded from link_clicks when counting ended (None until then).
    clicks: Mapped[int | None] = mapped_column(Integer)
    readers: Mapped[int | None] = mapped_column(Integer)
    automatic: Mapped[int | None] = mapped_column(Integer)


class LinkClick(Base):
    """A click on a counted link while its edition is counted. `reader` is a keyed hash of the
    message's random value (the same for every link of one message), which tells one reader
    clicking twice from two readers and names nobody; `automatic` says why a click was set aside
    (HEAD, a known crawler), or is empty."""

    __tablename__ = "link_clicks"
    __table_args__ = (Index("ix_link_clicks_edition", "edition_id", "variant_id", "link"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    edition_id: Mapped[int] = mapped_column(ForeignKey("editions.id", ondelete="CASCADE"))
    variant_id: Mapped[int] = mapped_column(Integer)
    link: Mapped[int] = mapped_column(Integer)
    reader: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    automatic: Mapped[str] = mapped_column(String(20), default="")


class EditionRelease(Base):
    """A release an edition carries (all of them, beyond max_items too: its web page lists them)."""

    __tablename__ = "edition_releases"
    __table_args__ = (Index("ix_edition_releases_release", "release_id"),)

    edition_id: Mapped[int] = mapped_column(ForeignKey("editions.id", ondelete="CASCADE"),
                                            primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id", ondelete="CASCADE"),
                                            primary_key=True)


class DigestStart(Base):
    """Where an operator said a digest starts (`publisher digest start NAME --from DATE`)."""

    __tablename__ = "digest_starts"

    digest: Mapped[str] = mapped_column(String(100), primary_key=True)
    since: Mapped[datetime] = mapped_column(UTCDateTime())  # releases published from then are news
    set_at: Mapped[datetime] = mapped_column(UTCDateTime())  # it counts for the next edition after


class StoredSettings:
    """Settings that live on in the database (a digest, a source): config.toml seeds them and
    keeps them while nobody changed them elsewhere (origin "config.toml"); a change from the
    console, the API or `publisher digests apply` makes the database their home (origin
    "operator") until the file is applied again."""

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    settings: Mapped[str] = mapped_column(Text)  # the checked section's fields, as JSON
    origin: Mapped[str] = mapped_column(String(20))
    changed: Mapped[datetime] = mapped_column(UTCDateTime())
    changed_by: Mapped[str] = mapped_column(String(320))
    retired: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class StoredDigest(StoredSettings, Base):
    """A digest as it is in effect."""

    __tablename__ = "digests"


class StoredSource(StoredSettings, Base):
    """A source of releases as it is in effect: where it is read from, how, and when."""

    __tablename__ = "sources"


DELIVERIES_FILLFACTOR = 50


class DigestPause(Base):
    """A digest an operator paused: its schedule makes no edition until it is resumed (the
    releases wait, and the first edition after carries them)."""

    __tablename__ = "digest_pauses"

    digest: Mapped[str] = mapped_column(String(100), primary_key=True)
    paused: Mapped[datetime] = mapped_column(UTCDateTime())
    by: Mapped[str] = mapped_column(String(320))


class Delivery(Base):
    """One recipient of one edition: the row that makes sending exactly once."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("edition_id", "subscriber_id", name="uq_deliveries_recipient"),
        Index("ix_deliveries_queue", "edition_id", "status", "next_attempt"),
        # Claims take the queued deliveries in id order: this index hands them over in that
        # order, so a claim reads about as many rows as it takes, not the whole edition.
        Index("ix_deliveries_queued", "edition_id", "id",
              postgresql_where=text("status = 'queued'"), sqlite_where=text("status = 'queued'")),
        # Room on each page: a claim (claimed_by, claimed_until: no index) then updates its row in
        # place (a HOT update) instead of leaving a dead copy behind (docs/scaling.md).
        {"postgresql_with": {"fillfactor": DELIVERIES_FILLFACTOR}},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    edition_id: Mapped[int] = mapped_column(ForeignKey("editions.id", ondelete="CASCADE"))
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    variant_id: Mapped[int] = mapped_column(ForeignKey("edition_variants.id", ondelete="CASCADE"))
    status: Mapped[DeliveryStatus] = mapped_column(StatusColumn(DeliveryStatus))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    reply: Mapped[str | None] = mapped_column(Text)  # the server's answer to the message
    sent: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A sender working on it, until when: another sender takes it only after the lease ends.
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ScheduleRun(Base):
    """When each schedule last ran, and for which fire time: restarts catch up from here."""

    __tablename__ = "schedule_runs"

    schedule_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    last_fire: Mapped[datetime] = mapped_column(UTCDateTime())  # the fire time it stood for
    started: Mapped[datetime] = mapped_column(UTCDateTime())
    finished: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[str | None] = mapped_column(Text)
    succeeded: Mapped[datetime | None] = mapped_column(UTCDateTime())  # the last run that did not fail


class ImportFingerprint(Base):
    """What a file's last import found, so that importing it again unchanged is a check, not a
    second read: the file's bytes, the rules that shaped what was stored (countries, tagging,
    site), and the releases it left (their content hashes), each as a SHA-256."""

    __tablename__ = "import_fingerprints"

    location: Mapped[str] = mapped_column(String(1000), primary_key=True)
    file_digest: Mapped[str] = mapped_column(String(64))
    rules_digest: Mapped[str] = mapped_column(String(64))
    store_digest: Mapped[str] = mapped_column(String(64))
    entries: Mapped[int] = mapped_column(Integer)  # releases the file holds
    imported: Mapped[datetime] = mapped_column(UTCDateTime())


class SourceState(Base):
    """What the last fetch of an http(s) source said, for the next conditional GET."""

    __tablename__ = "source_states"

    source: Mapped[str] = mapped_column(String(200), primary_key=True)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    fetched: Mapped[datetime] = mapped_column(UTCDateTime())


class SendRate(Base):
    """The shared pace of one mail server: its next free sending slot, which every sender of
    every process takes from in small blocks (smtp.rate_limit holds across all of them)."""

    __tablename__ = "send_rates"

    server: Mapped[str] = mapped_column(String(300), primary_key=True)
    # Seconds since the epoch, by the database server's clock where it has one (PostgreSQL).
    next_slot: Mapped[float] = mapped_column(Float)


class Process(Base):
    """A `publisher worker` or `publisher run` process, as it last reported itself."""

    __tablename__ = "processes"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)  # host:pid:random
    role: Mapped[ProcessRole] = mapped_column(StatusColumn(ProcessRole))
    state: Mapped[ProcessState] = mapped_column(StatusColumn(ProcessState))
    started: Mapped[datetime] = mapped_column(UTCDateTime())
    seen: Mapped[datetime] = mapped_column(UTCDateTime())
    handled: Mapped[int] = mapped_column(Integer, default=0)  # deliveries it finished


class BounceEvent(Base):
    """A bounce or complaint about one address, kept with what it said (nothing is deleted).
    `message_id` is the bounce message's own: each is applied once however often it arrives."""

    __tablename__ = "bounce_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    edition_id: Mapped[int | None] = mapped_column(Integer)
    kind: Mapped[BounceKind] = mapped_column(StatusColumn(BounceKind))
    source: Mapped[str] = mapped_column(String(20))  # smtp (at send time), pipe, imap, maildir
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    message_id: Mapped[str | None] = mapped_column(String(500), unique=True)
    diagnostic: Mapped[str] = mapped_column(Text)


class RejectedMessage(Base):
    """A message that came in as a bounce but could not be understood, kept aside with why."""

    __tablename__ = "rejected_messages"
    # Looked up by Message-ID so that a message read again (a crash before its move) is kept once
    __table_args__ = (Index("ix_rejected_messages_message_id", "message_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    message_id: Mapped[str | None] = mapped_column(String(500))
    reason: Mapped[str] = mapped_column(Text)
    raw: Mapped[bytes] = mapped_column(LargeBinary)


class RequestEvent(Base):
    """One counted request (a form post, a confirmation mail), for limits that hold across every
    web process. The key is stored hashed: an address or a client, never readable here."""

    __tablename__ = "request_events"
    __table_args__ = (Index("ix_request_events_key", "bucket", "key_hash", "at"),
                      Index("ix_request_events_age", "bucket", "at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bucket: Mapped[str] = mapped_column(String(40))  # which limit
    key_hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class Operator(Base):
    """A person who runs the office's publishing from the console (/admin)."""

    __tablename__ = "operators"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    email_key: Mapped[str] = mapped_column(String(320), unique=True)  # lower case
    password_hash: Mapped[str] = mapped_column(String(200))  # argon2id, with its parameters
    created: Mapped[datetime] = mapped_column(UTCDateTime())


class OperatorSession(Base):
    """A console login: the cookie holds the session's secret (signed), the store its hash, so
    logging out or removing the operator ends it at once."""

    __tablename__ = "operator_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id", ondelete="CASCADE"), index=True)
    created: Mapped[datetime] = mapped_column(UTCDateTime())
    seen: Mapped[datetime] = mapped_column(UTCDateTime())  # the idle timeout counts from here


class ApiToken(Base):
    """A bearer token for /api/v1, stored as its hash: shown once when made, revocable."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created: Mapped[datetime] = mapped_column(UTCDateTime())
    used: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # What it may do, space-separated (operators/tokens.py SCOPES); "all" for tokens made before.
    scopes: Mapped[str] = mapped_column(String(100), server_default="all")


class AuditEntry(Base):
    """One change an operator made: who, when, what, and the thing before and after (JSON).
    The operator's address is copied, so the entry outlives their account."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(320))  # an operator's address, or "command line"
    action: Mapped[str] = mapped_column(String(60))  # "release.add", "subscriber.unsubscribe", ...
    subject: Mapped[str] = mapped_column(Text)  # what it changed, in words
    before: Mapped[str | None] = mapped_column(Text)
    after: Mapped[str | None] = mapped_column(Text)


class FeedFile(Base):
    """A built feed file (a feed, an archive, the index page, the OPML list) as the last build made
    it: its bytes and gzip copy, so that every web node answers the same feeds whatever folder
    it has; written by the build beside the copy in `feeds.dir`."""

    __tablename__ = "feed_files"

    path: Mapped[str] = mapped_column(String(300), primary_key=True)  # in the folder: "cn/atom.xml"
    body: Mapped[bytes] = mapped_column(LargeBinary)
    gzipped: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))  # of body: the ETag, the same on every node
    fingerprint: Mapped[str] = mapped_column(String(64))  # of what it was built from (feeds/build.py)
    changed: Mapped[datetime] = mapped_column(UTCDateTime())  # when its bytes last changed: Last-Modified


class ReleasePage(Base):
    """What fetching a release's own page last gave (a source with `fetch_pages`): its validators
    for the next conditional GET, when it was tried, and why it failed (it is tried again)."""

    __tablename__ = "release_pages"

    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id", ondelete="CASCADE"), primary_key=True)
    etag: Mapped[str | None] = mapped_column(String(200))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    fetched: Mapped[datetime] = mapped_column(UTCDateTime())
    problem: Mapped[str | None] = mapped_column(Text)  # None: read
