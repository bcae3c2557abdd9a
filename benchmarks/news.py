"""News page benchmark: the first page, one country's first page, a later page and searches, on
100,000 generated releases (SQLite; English, Chinese and Mongolian titles).

    .venv/bin/python benchmarks/news.py [--size 100000] [--repeat 9]

Each query goes through `store.releases.news` (what `/` and `/countries/cn/` run) and, in the
same run, as the same SQL written by hand on a plain sqlite3 connection: the baseline. Reports
the median of each in ms and their ratio. Targets: every ratio <= 1.5; a search <= 300 ms (a
scan of the folded text: README says why there is no index). Most of a first page's time is
counting every release of its scope, which "Page 1 of N" needs; the baseline counts too.
The generated database is kept in $TMPDIR/publisher-bench so a second run starts at once.
"""

from __future__ import annotations

import argparse
import hashlib
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert
from sqlalchemy.orm import Session, sessionmaker

from publisher.config import parse_config
from publisher.store.db import open_store
from publisher.store.models import Release, ReleaseCountry
from publisher.store.releases import news, searchable

CACHE = Path(tempfile.gettempdir()) / "publisher-bench"
TITLES = ("Workshop on decent work number {i} in Beijing", "关于体面劳动的第{i}次研讨会在北京举行",
          "Улаанбаатарт {i} дугаар семинар боллоо")
PER_PAGE = 20


def store(size: int) -> tuple[sessionmaker[Session], Path]:
    path = CACHE / f"news-{size}.db"
    CACHE.mkdir(exist_ok=True)
    text = (f'[site]\nname = "Bench office"\nbase_url = "https://bench.example.org"\n'
            f'[database]\nurl = "sqlite:///{path}"\n'
            '[[countries]]\ncode = "CN"\nname = "China"\ntimezone = "UTC"\n'
            '[[countries]]\ncode = "MN"\nname = "Mongolia"\ntimezone = "UTC"\n')
    sessions = open_store(parse_config(text, "bench.toml", CACHE))
    with sessions() as session:
        if session.query(Release.id).limit(1).first() is None:
            _generate(sessions, size)
    return sessions, path


def _generate(sessions: sessionmaker[Session], size: int) -> None:
    start, step = datetime(2005, 1, 1, tzinfo=UTC), timedelta(days=365 * 20) / size
    with sessions.begin() as session:
        for first in range(0, size, 20_000):
            releases, tags = [], []
            for i in range(first, min(first + 20_000, size)):
                when, title = start + step * i, TITLES[i % 3].format(i=i)
                summary = f"Summary {i}: decent work, social protection and skills."
                releases.append({"id": i + 1, "source_key": f"k{i}", "permanent_id": f"tag:b,2005:{i}",
                                 "slug": f"r-{i}", "title": title, "summary": summary, "published": when,
                                 "updated": when, "source": "bench", "search_text": searchable(title, summary),
                                 "content_hash": hashlib.md5(b"%d" % i).hexdigest()})
                tags += [{"release_id": i + 1, "country_code": code, "published": when, "updated": when}
                         for code in (("CN",), ("MN",), ("CN", "MN"))[i % 3]]
            session.execute(insert(Release), releases)
            session.execute(insert(ReleaseCountry), tags)
            print(f"  generated {min(first + 20_000, size):,}/{size:,}", end="\r", file=sys.stderr)
    print(file=sys.stderr)


def _plain(connection: sqlite3.Connection, country: str | None, words: str, page: int) -> int:
    """The same page and count, as SQL written by hand."""
    where, args = ("r.withdrawn IS NULL", []) if country is None else ("c.country_code = ?", [country])
    if words:
        where += " AND r.search_text LIKE ? ESCAPE '\\'"
        args.append(f"%{words.casefold()}%")
        join = "" if country is None else " JOIN release_countries c ON c.release_id = r.id"
    else:
        join = "" if country is None else " JOIN release_countries c ON c.release_id = r.id"
    order = "r.published DESC, r.id DESC" if country is None else "c.published DESC, c.release_id DESC"
    sql = f"FROM releases r{join} WHERE {where}"
    total = connection.execute(f"SELECT count(*) {sql}", args).fetchone()[0]
    rows = connection.execute(f"SELECT r.* {sql} ORDER BY {order} LIMIT ? OFFSET ?",
                              [*args, PER_PAGE, (page - 1) * PER_PAGE]).fetchall()
    ids = [row[0] for row in rows]
    connection.execute(f"SELECT * FROM release_countries WHERE release_id IN ({','.join('?' * len(ids))})",
                       ids).fetchall()  # (what selectinload reads)
    return total


def _median_ms(work: Callable[[], object], repeat: int) -> float:
    work()  # (warm: the page cache, the statement cache)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    sessions, path = store(args.size)
    connection = sqlite3.connect(path)
    cases = [("first page, all", None, "", 1), ("first page, CN", "CN", "", 1), ("page 50, all", None, "", 50),
             ("search 'СЕМИН' (Cyrillic, 1/3)", None, "СЕМИН", 1), ("search '研讨会' (Han)", None, "研讨会", 1),
             ("search 'number 4242 ' (1 release)", None, "number 4242 ", 1)]
    print(f"{args.size:,} releases, SQLite; median of {args.repeat}, ms")
    print(f"{'query':38} {'news()':>9} {'plain SQL':>10} {'ratio':>6}")
    worst = 0.0
    for name, country, words, page in cases:
        def ours(country: str | None = country, words: str = words, page: int = page) -> None:
            with sessions() as session:
                news(session, country, words, page, PER_PAGE)

        ms, base = _median_ms(ours, args.repeat), _median_ms(
            lambda c=country, w=words, p=page: _plain(connection, c, w, p), args.repeat)
        worst = max(worst, ms / base)
        print(f"{name:38} {ms:9.1f} {base:10.1f} {ms / base:6.2f}")
    print(f"worst ratio {worst:.2f} (target <= 1.5)")


if __name__ == "__main__":
    main()
