"""Feed build benchmark: 10 countries, 10,000 and 1,000,000 generated releases (SQLite).

    .venv/bin/python benchmarks/feeds.py [--sizes 10000,1000000] [--repeat 5]

Reports, for each size: a full build, a no-change rebuild, and in the same run the baseline:
the same entries, read by the same queries, written straight with lxml (and json). Targets:
full build <= 2x the baseline; the largest size <= 1.2x the smallest; no-change <= 5% of full.
Generated databases are kept in $TMPDIR/publisher-bench so a second run starts at once.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from lxml import etree
from sqlalchemy import insert
from sqlalchemy.orm import Session, sessionmaker

from publisher.config import Config, parse_config
from publisher.feeds.files import write_atomic
from publisher.feeds.model import COUNTRY_SCHEME
from publisher.feeds.select import newest_for_feed
from publisher.feeds.targets import FeedConfig, feed_item, feed_targets
from publisher.jobs.feeds import rebuild_feeds
from publisher.store.db import open_store
from publisher.store.models import Release, ReleaseCountry
from publisher.urls import release_link

COUNTRIES = ["AR", "BR", "CN", "DE", "FR", "IN", "JP", "MN", "US", "ZA"]
CACHE = Path(tempfile.gettempdir()) / "publisher-bench"
ATOM = "http://www.w3.org/2005/Atom"


def bench_config(folder: Path, size: int) -> Config:
    countries = "\n".join(
        f'[[countries]]\ncode = "{code}"\nname = "Country {code}"\ntimezone = "UTC"\n'
        for code in COUNTRIES)
    text = (f'[site]\nname = "Bench office"\nbase_url = "https://bench.example.org"\n'
            f'[database]\nurl = "sqlite:///{CACHE / f"releases-{size}.db"}"\n'
            f'[feeds]\ndir = "{folder}"\n{countries}')
    return parse_config(text, "bench.toml", folder)


def generate(config: Config, size: int) -> sessionmaker[Session]:
    """`size` releases over 20 years, each tagged with one or two countries."""
    sessions = open_store(config)
    with sessions() as session:
        if session.query(Release.id).limit(1).first() is not None:
            return sessions
    start = datetime(2005, 1, 1, tzinfo=UTC)
    step = timedelta(days=365 * 20) / size
    batch = 20_000
    with sessions.begin() as session:
        for first in range(0, size, batch):
            releases, tags = [], []
            for i in range(first, min(first + batch, size)):
                when = start + step * i
                releases.append({
                    "id": i + 1, "source_key": f"k{i}", "permanent_id": f"tag:bench.example.org,2005:{i}",
                    "slug": f"release-{i}", "title": f"Release {i} & <news> about work 中国",
                    "summary": f"Summary of release {i}: " + "decent work " * 12,
                    "url": f"https://bench.example.org/releases/release-{i}", "published": when,
                    "updated": when, "source": "bench", "content_hash": hashlib.md5(b"%d" % i).hexdigest(),
                })
                for code in {COUNTRIES[i % 10], COUNTRIES[(i * 7) % 10]}:
                    tags.append({"release_id": i + 1, "country_code": code, "published": when,
                                 "updated": when})
            session.execute(insert(Release), releases)
            session.execute(insert(ReleaseCountry), tags)
            print(f"  generated {min(first + batch, size):,}/{size:,}", end="\r", file=sys.stderr)
    print(file=sys.stderr)
    return sessions


def lxml_baseline(config: Config, sessions: sessionmaker[Session], folder: Path) -> None:
    """The same entries, the same queries, the same atomic writes, serialised straight with lxml:
    the difference to the full build is what feedgen and our bookkeeping cost."""
    zone = config.site.zone
    with sessions() as session:
        for target in feed_targets(FeedConfig.of(config)):
            releases = newest_for_feed(session, target.country, config.feeds.max_items)
            items = [feed_item(release, zone, release_link(config.site, release.url, release.slug))
                     for release in releases]
            out = folder / target.code
            # Written the same safe way as the real build: only the serialising differs.
            write_atomic(out / "atom.xml", _atom(items))
            write_atomic(out / "rss.xml", _rss(items))
            write_atomic(out / "feed.json", json.dumps({"version": "https://jsonfeed.org/version/1.1", "items": [
                {"id": i.id, "url": i.link, "title": i.title, "content_text": i.summary,
                 "date_published": i.published.isoformat(), "_publisher": {"countries": list(i.countries)}}
                for i in items]}, ensure_ascii=False).encode())
        write_atomic(folder / "index.html", b"<!DOCTYPE html><title>feeds</title>")
        write_atomic(folder / "feeds.opml", b"<opml version='2.0'/>")


def _atom(items: list) -> bytes:  # type: ignore[type-arg]
    feed = etree.Element(f"{{{ATOM}}}feed", nsmap={None: ATOM})
    etree.SubElement(feed, f"{{{ATOM}}}title").text = "Feed"
    for item in items:
        entry = etree.SubElement(feed, f"{{{ATOM}}}entry")
        etree.SubElement(entry, f"{{{ATOM}}}id").text = item.id
        etree.SubElement(entry, f"{{{ATOM}}}title").text = item.title
        etree.SubElement(entry, f"{{{ATOM}}}link", href=item.link)
        etree.SubElement(entry, f"{{{ATOM}}}updated").text = item.updated.isoformat()
        etree.SubElement(entry, f"{{{ATOM}}}published").text = item.published.isoformat()
        etree.SubElement(entry, f"{{{ATOM}}}summary").text = item.summary
        for code in item.countries:
            etree.SubElement(entry, f"{{{ATOM}}}category", term=code, scheme=COUNTRY_SCHEME)
    return etree.tostring(feed, pretty_print=True, xml_declaration=True, encoding="UTF-8")


def _rss(items: list) -> bytes:  # type: ignore[type-arg]
    rss = etree.Element("rss", version="2.0")
    channel = etree.SubElement(rss, "channel")
    etree.SubElement(channel, "title").text = "Feed"
    for item in items:
        node = etree.SubElement(channel, "item")
        etree.SubElement(node, "title").text = item.title
        etree.SubElement(node, "link").text = item.link
        etree.SubElement(node, "guid", isPermaLink="false").text = item.id
        etree.SubElement(node, "pubDate").text = item.published.strftime("%a, %d %b %Y %H:%M:%S %z")
        etree.SubElement(node, "description").text = item.summary
        for code in item.countries:
            etree.SubElement(node, "category", domain=COUNTRY_SCHEME).text = code
    return etree.tostring(rss, pretty_print=True, xml_declaration=True, encoding="UTF-8")


def best_of(repeat: int, run: Callable[[], object], before: Callable[[], object] = lambda: None) -> float:
    times = []
    for _ in range(repeat):
        before()
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(size: int, repeat: int) -> dict[str, float]:
    work = Path(tempfile.mkdtemp(prefix="publisher-bench-"))
    try:
        config = bench_config(work / "feeds", size)
        sessions = generate(config, size)
        folder = Path(config.feeds.dir)
        full = best_of(repeat, lambda: rebuild_feeds(sessions, config, ping=False),
                       lambda: shutil.rmtree(folder, ignore_errors=True))
        rebuild_feeds(sessions, config, ping=False)
        no_change = best_of(repeat, lambda: rebuild_feeds(sessions, config, ping=False))
        baseline = best_of(repeat, lambda: lxml_baseline(config, sessions, work / "lxml"))
        return {"full": full, "no_change": no_change, "baseline": baseline}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,1000000")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    CACHE.mkdir(exist_ok=True)
    sizes = [int(size) for size in args.sizes.split(",")]
    results = {size: measure(size, args.repeat) for size in sizes}
    print(f"{'releases':>10} {'full build':>11} {'no-change':>10} {'lxml base':>10} "
          f"{'full/base':>9} {'nochg/full':>10}")
    for size, r in results.items():
        print(f"{size:>10,} {r['full'] * 1000:>9.1f}ms {r['no_change'] * 1000:>8.1f}ms "
              f"{r['baseline'] * 1000:>8.1f}ms {r['full'] / r['baseline']:>8.2f}x "
              f"{r['no_change'] / r['full']:>9.1%}")
    smallest, largest = results[min(sizes)], results[max(sizes)]
    print(f"full build at {max(sizes):,} / at {min(sizes):,}: "
          f"{largest['full'] / smallest['full']:.2f}x (target <= 1.2x)")
    print("targets: full/base <= 2x, no-change/full <= 5%")


if __name__ == "__main__":
    main()
