"""`publisher import URL --backfill`: a feed's older pages followed for a first import. Our own
feeds with yearly archives (RFC 5005), served over loopback, give an empty store every release;
a JSON Feed paged without end is followed 100 pages and no further; a loop is read once."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import NOW, QuietHandler, seeded, serve_http, sqlite_store
from mailserver import free_port
from sqlalchemy import select
from test_feed_sources import second_store

from publisher.cli import cli
from publisher.errors import InputError
from publisher.jobs.imports import ImportRequest, import_files
from publisher.store.models import Release


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def archived(tmp_path: Path) -> Iterator[tuple[str, dict[str, tuple[object, ...]]]]:
    """Our feeds with yearly archives and 5 releases in the current feed, served as files; the
    releases of the store they were built from."""
    port = free_port()
    _config, sessions = seeded(tmp_path, sqlite_store(tmp_path), archive="true", max_items="5",
                               base_url=f'"http://127.0.0.1:{port}/feeds"', dir=f'"{tmp_path / "feeds"}"')
    releases = stored(sessions)
    for base in serve_http(functools.partial(Quiet, directory=str(tmp_path)), port):
        yield f"{base}/feeds/all/atom.xml", releases


def stored(sessions) -> dict[str, tuple[object, ...]]:  # type: ignore[no-untyped-def]
    """Each release as a feed carries it: its title, when, and where."""
    with sessions() as session:
        return {r.title: (r.published, tuple(r.country_codes)) for r in session.scalars(select(Release))}


def test_a_feed_with_archives_gives_an_empty_store_every_release(archived, tmp_path) -> None:  # type: ignore[no-untyped-def]
    feed, releases = archived
    config, sessions = second_store(tmp_path, "second")
    alone = import_files(sessions, config, [ImportRequest(feed)], NOW)
    assert alone.files[0][1].new == 5 and len(releases) == 20  # the current feed: its newest five
    path = tmp_path / "second" / "config.toml"
    printed = CliRunner().invoke(cli, ["--config", str(path), "import", "--backfill", feed]).stdout
    assert printed.startswith(f"imported 15 new, 0 updated, 5 unchanged from {feed} and 2 older pages\n"), printed
    assert stored(sessions) == releases


PAGE = {"version": "https://jsonfeed.org/version/1.1", "title": "Paged"}


class Endless(QuietHandler):
    """/page/N: one item, and next_url /page/N+1, without end; /loop/N: two pages naming each other."""

    def do_GET(self) -> None:  # noqa: N802 (http.server names it)
        kind, number = self.path.strip("/").split("/")
        page = int(number)
        following = f"/page/{page + 1}" if kind == "page" else f"/loop/{1 - page}"
        item = {"id": f"{kind}-{page}", "title": f"Release {page} in China", "url": f"https://example.org/{kind}/{page}",
                "date_published": f"2026-{1 + page % 12:02d}-01T00:00:00Z"}
        self.answer(200, json.dumps({**PAGE, "items": [item], "next_url": following}).encode(), "application/feed+json")


@pytest.fixture
def endless() -> Iterator[str]:
    yield from serve_http(Endless)


def test_pages_without_end_are_followed_a_hundred_times_and_a_loop_once(endless, tmp_path, caplog) -> None:  # type: ignore[no-untyped-def]
    config, sessions = second_store(tmp_path, "paged")
    read: list[int] = []  # what a terminal's progress bar is told: each older page's bytes
    outcome = import_files(sessions, config, [ImportRequest(endless + "/page/0", backfill=True)], NOW, read.append)
    assert outcome.files[0][1].new == 101 and len(read) == 100 and min(read) > 100
    assert "and 100 older pages (stopped after 100 older pages" in outcome.lines()[0]
    assert f"{endless}/page/101 and any after it were not read" in caplog.text
    looped = import_files(sessions, config, [ImportRequest(endless + "/loop/0", backfill=True)], NOW)
    assert looped.files[0][1].new == 2 and "and 1 older pages" in looped.lines()[0]


def test_backfill_is_for_a_feed_at_a_web_address(tmp_path, endless) -> None:  # type: ignore[no-untyped-def]
    config, sessions = second_store(tmp_path, "files")
    news = tmp_path / "news.json"
    news.write_text(json.dumps([{"title": "In China", "published": "2026-11-20"}]))
    with pytest.raises(InputError, match="give the feed's http\\(s\\) address"):
        import_files(sessions, config, [ImportRequest(str(news), backfill=True)], NOW)
