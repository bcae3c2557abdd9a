"""Real feed readers show every title exactly as written: newsboat (Debian), feedparser, and
JavaScript parsers (@rowanmanning/feed-parser for RSS and Atom, feedsmith for JSON Feed), for
text holding `&`, `<`, markup, quotes, Chinese and Mongolian."""

from __future__ import annotations

import html
import json
import os
import shutil
import sqlite3
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import pytest
from helpers import ROOT, need

from publisher.feeds.model import FeedItem, FeedMeta
from publisher.feeds.render import render_atom, render_json_feed, render_rss

TITLES = [
    "Decent work & <b>green</b> jobs",
    'Quotes "double" and \'single\' & <',
    "a < b > c & d",
    "国际劳工组织与中国签署“体面劳动”协议",
    "Монголын ажилчдын эрх & <хамгаалал>",
    "Plain title",
]
READERS = ROOT / "tests" / "readers"
WHEN = datetime(2024, 5, 1, tzinfo=UTC)
META = FeedMeta(code="cn", title="Feed", subtitle="Sub", self_url="https://x.org/feeds/cn/atom.xml",
                site_url="https://x.org", language="en", author="Office", updated=WHEN)


@pytest.fixture(scope="module")
def feeds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("feeds")
    items = [FeedItem(id=f"tag:x.org,2024:{n}", title=title, link=f"https://x.org/r/{n}",
                      published=WHEN - timedelta(days=n), updated=WHEN - timedelta(days=n))
             for n, title in enumerate(TITLES)]
    files = {"atom": folder / "atom.xml", "rss": folder / "rss.xml", "json": folder / "feed.json"}
    for path, render in zip(files.values(), (render_atom, render_rss, render_json_feed), strict=True):
        path.write_bytes(render(META, items))
    return files


def test_newsboat_shows_every_title_exactly(feeds: dict[str, Path], tmp_path: Path) -> None:
    if not shutil.which("newsboat"):
        need("newsboat is not installed")
    shown = {}
    for name in ("atom", "rss"):  # (newsboat reads no JSON Feed)
        (tmp_path / "urls").write_text(f"file://{feeds[name]}\n", "utf-8")
        cache = tmp_path / f"{name}.db"
        subprocess.run(["newsboat", "-u", str(tmp_path / "urls"), "-c", str(cache), "-x", "reload"],
                       env={**os.environ, "HOME": str(tmp_path)}, capture_output=True, timeout=60,
                       check=True)
        with sqlite3.connect(cache) as db:
            shown[name] = [title for (title,) in db.execute("SELECT title FROM rss_item ORDER BY pubDate DESC")]
    assert shown == {"atom": TITLES, "rss": TITLES}


def test_a_javascript_parser_shows_every_title_exactly(feeds: dict[str, Path]) -> None:
    if not shutil.which("node") or not (READERS / "node_modules").is_dir():
        need("node, or the parsers in tests/readers (npm ci --prefix tests/readers), are missing")
    done = subprocess.run(["node", str(READERS / "titles.mjs"), *map(str, feeds.values())],
                          capture_output=True, text=True, timeout=60, check=True)
    shown = json.loads(done.stdout)
    assert {name: shown[str(path)] for name, path in feeds.items()} == {
        "atom": TITLES, "rss": TITLES, "json": TITLES}


def test_feedparser_shows_every_atom_title_exactly(feeds: dict[str, Path]) -> None:
    """Atom says which titles are HTML; feedparser (and the W3C validator) go by it. (Its RSS
    titles are plain text, which feedparser's guess takes for HTML when they hold a tag:
    tests/test_feed_escaping.py.)"""
    parsed = feedparser.parse(feeds["atom"].read_bytes())
    assert parsed.bozo == 0
    shown = [entry.title if entry.title_detail.type == "text/plain" else html.unescape(entry.title)
             for entry in parsed.entries]
    assert shown == TITLES
