"""Where a variant's counted links lead, as the redirect reads it; and clicks written in a few
statements per batch, whatever its size: SQLite takes up to 500 rows a statement (one VALUES list
of them), PostgreSQL a whole batch from arrays (unnest).

Few statements matter more than their speed: the driver lets go of the interpreter lock around
each statement it runs, and a writer thread that must take it back for every row of a batch,
while the web server keeps it busy, waits up to a switch interval each time (measured: an
executemany of a second's clicks under load fell seconds behind). On SQLite the VALUES lists took
3.0 µs a row, where one statement reading a JSON parameter (json_each) took 6.6 (2,500 rows, the
JSON made included)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import NamedTuple

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from publisher.store.models import Edition, EditionLink, EditionVariant, Release

_COLUMNS = "edition_id, variant_id, link, reader, at, automatic"
_SQLITE_ROWS = 500  # a statement: 3,000 parameters, well within SQLite's 32,766
_POSTGRESQL = text(f"""INSERT INTO link_clicks ({_COLUMNS})
SELECT * FROM unnest(CAST(:editions AS integer[]), CAST(:variants AS integer[]), CAST(:links AS integer[]),
                     CAST(:readers AS varchar[]), CAST(:times AS timestamptz[]), CAST(:automatic AS varchar[]))""")


class ClickRow(NamedTuple):
    edition: int
    variant: int
    link: int
    reader: str
    at: float  # seconds since the epoch
    automatic: str


def insert_clicks(session: Session, rows: Sequence[ClickRow]) -> None:
    if not rows:
        return
    if session.get_bind().dialect.name == "postgresql":
        editions, variants, links, readers, times, automatic = map(list, zip(*rows, strict=True))
        session.execute(_POSTGRESQL, {"editions": editions, "variants": variants, "links": links, "readers": readers,
                                      "times": [datetime.fromtimestamp(at, UTC) for at in times],
                                      "automatic": automatic})
        return
    connection = session.connection()
    for start in range(0, len(rows), _SQLITE_ROWS):
        chunk = rows[start:start + _SQLITE_ROWS]
        connection.exec_driver_sql(_sqlite_insert(len(chunk)), tuple(
            value for row in chunk for value in (*row[:4], _sqlite_time(row.at), row.automatic)))


@functools.lru_cache(maxsize=4)  # the full chunk's, and a batch's last
def _sqlite_insert(count: int) -> str:
    return f"INSERT INTO link_clicks ({_COLUMNS}) VALUES " + ", ".join(["(?, ?, ?, ?, ?, ?)"] * count)


def _sqlite_time(at: float) -> str:
    """As UTCDateTime writes a time on SQLite: UTC, without its zone, to the microsecond."""
    whole, micro = divmod(round(at * 1_000_000), 1_000_000)
    return f"{_second(whole)}.{micro:06d}"


@functools.lru_cache(maxsize=8)  # clicks come many a second: each second made once
def _second(whole: int) -> str:
    return datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%d %H:%M:%S")


class Target(NamedTuple):
    number: int
    target: str
    slug: str | None  # of the release it reads
    withdrawn: bool  # that release was withdrawn


class VariantTargets(NamedTuple):
    edition: int
    key: str | None  # the edition's click key; None: its counting has ended
    targets: list[Target]


def variant_targets(session: Session, variant_id: int) -> VariantTargets | None:
    """None when no such variant is stored."""
    edition = session.execute(select(Edition.id, Edition.click_key)
                              .join(EditionVariant, EditionVariant.edition_id == Edition.id)
                              .where(EditionVariant.id == variant_id)).first()
    if edition is None:
        return None
    rows = session.execute(select(EditionLink.number, EditionLink.target, Release.slug, Release.withdrawn)
                           .outerjoin(Release, Release.id == EditionLink.release_id)
                           .where(EditionLink.variant_id == variant_id)).all()
    return VariantTargets(edition.id, edition.click_key, [Target(number, target, slug, withdrawn is not None)
                                                          for number, target, slug, withdrawn in rows])
