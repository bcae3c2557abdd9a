"""The optional parts of feeds: RFC 5005 archives a reader can page through, and WebSub pings."""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import feedparser
import httpx
import pytest
from helpers import jing, seeded, sqlite_store
from lxml import etree

from publisher.feeds.model import COUNTRY_SCHEME
from publisher.jobs.feeds import rebuild_feeds
from publisher.jobs.imports import ImportRequest, import_files
from publisher.web.app import create_app

FEEDS_URL = "http://127.0.0.1:8080/feeds/"


def _file(folder: Path, url: str) -> Path:
    assert url.startswith(FEEDS_URL)
    return folder / url.removeprefix(FEEDS_URL)


def _page_back(folder: Path, code: str) -> tuple[set[str], list[str]]:
    """Follow prev-archive from the subscription feed, as an RFC 5005 reader does."""
    seen: set[str] = set()
    visited = []
    path: Path | None = folder / code / "atom.xml"
    while path is not None:
        parsed = feedparser.parse(path.read_bytes())
        assert parsed.bozo == 0
        seen |= {entry.id for entry in parsed.entries}
        visited.append(str(path.relative_to(folder)))
        prev = [link.href for link in parsed.feed.links if link.rel == "prev-archive"]
        path = _file(folder, prev[0]) if prev else None
    return seen, visited


def test_archives_let_a_reader_page_through_every_release(tmp_path: Path) -> None:
    config, sessions = seeded(tmp_path, sqlite_store(tmp_path), archive="true",
                              max_items="2")
    folder = Path(config.feeds.dir)
    everything, visited = _page_back(folder, "all")
    assert visited == ["all/atom.xml", "all/archive/2022.xml", "all/archive/2021.xml"]
    assert len(everything) == 20
    assert len(_page_back(folder, "mn")[0]) == 1 and len(_page_back(folder, "cn")[0]) == 19

    older = etree.parse(str(folder / "all" / "archive" / "2021.xml")).getroot()
    ns = {"a": "http://www.w3.org/2005/Atom", "fh": "http://purl.org/syndication/history/1.0"}
    assert older.find("fh:archive", ns) is not None
    links = {link.get("rel"): link.get("href") for link in older.findall("a:link", ns)}
    assert links["current"] == FEEDS_URL + "all/atom.xml"
    assert links["next-archive"] == FEEDS_URL + "all/archive/2022.xml"
    assert links["self"] == FEEDS_URL + "all/archive/2021.xml"
    assert "prev-archive" not in links
    jing([*sorted(folder.glob("*/archive/*.xml")), folder / "all" / "atom.xml"])
    assert rebuild_feeds(sessions, config).changed == []


class _Hub(BaseHTTPRequestHandler):
    pings: ClassVar[list[dict[str, list[str]]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        _Hub.pings.append(urllib.parse.parse_qs(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hub() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hub)
    _Hub.pings = []
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hub"
    server.shutdown()
    server.server_close()


def test_websub_hub_link_and_pings_for_changed_feeds(tmp_path: Path, hub: str) -> None:
    config, sessions = seeded(tmp_path, sqlite_store(tmp_path), hub=f'"{hub}"')
    folder = Path(config.feeds.dir)
    for name in ("atom.xml", "rss.xml"):
        parsed = feedparser.parse((folder / "cn" / name).read_bytes())
        assert {link.rel: link.href for link in parsed.feed.links}["hub"] == hub
    pinged = sorted(ping["hub.url"][0] for ping in _Hub.pings)
    assert all(ping["hub.mode"] == ["publish"] for ping in _Hub.pings)
    assert pinged == sorted(f"{FEEDS_URL}{code}/{name}" for code in ("all", "cn", "mn")
                            for name in ("atom.xml", "feed.json", "rss.xml"))
    _Hub.pings.clear()
    assert rebuild_feeds(sessions, config).pinged == 0 and _Hub.pings == []  # nothing changed


def test_a_hub_that_is_down_never_fails_the_build(tmp_path: Path, caplog) -> None:  # type: ignore[no-untyped-def]
    config, _sessions = seeded(tmp_path, sqlite_store(tmp_path),
                              hub='"http://127.0.0.1:9/hub"')
    assert (Path(config.feeds.dir) / "cn" / "atom.xml").is_file()
    assert "WebSub hub http://127.0.0.1:9/hub: ping" in caplog.text


def test_a_releases_category_reaches_every_format_and_its_page(tmp_path: Path, live_server) -> None:  # type: ignore[no-untyped-def]
    config, sessions = seeded(tmp_path, sqlite_store(tmp_path))
    home = tmp_path / "home.txt"
    home.write_text("What's new\n\n  1. World Employment & Social Outlook\n\n"
                    "    ILO warns of insecurity in China's labour market\n\n    16 June 2023\n",
                    "utf-8")
    import_files(sessions, config, [ImportRequest(str(home))], datetime(2026, 11, 27, tzinfo=UTC))
    folder = Path(config.feeds.dir)
    for name in ("atom.xml", "rss.xml"):
        parsed = feedparser.parse((folder / "cn" / name).read_bytes())
        assert parsed.bozo == 0
        newest = parsed.entries[0]
        assert newest.title == "ILO warns of insecurity in China's labour market"
        words = [[tag.term for tag in entry.get("tags", []) if tag.get("scheme") != COUNTRY_SCHEME]
                 for entry in parsed.entries]  # (besides the countries every entry names)
        assert words[0] == ["World Employment & Social Outlook"], name
        assert not any(words[1:])
    items = json.loads((folder / "cn" / "feed.json").read_text("utf-8"))["items"]
    assert items[0]["tags"] == ["World Employment & Social Outlook"]
    assert all("tags" not in item for item in items[1:])
    jing([folder / "cn" / "atom.xml"])
    live_server[0].app = create_app(config, sessions)
    try:
        page = httpx.get(newest.link.replace("http://127.0.0.1:8080", live_server[1]))
    finally:
        live_server[0].app = None
    assert '<p class="category">World Employment &amp; Social Outlook</p>' in page.text
