"""A source with `fetch_pages`: after its import, each new release's own page is read (robots.txt
honoured, a delay between pages, conditional GETs, a User-Agent naming us) and its article and
og:image kept; they reach the Atom feed and the release page. A page that answers 500, or holds no
article, leaves its release as it was and is tried again on the next run."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import feedparser
import pytest
from fastapi.testclient import TestClient
from helpers import QuietHandler, seeded, serve_http, sqlite_store
from sqlalchemy import select

from publisher.clock import utc_now
from publisher.config import Source
from publisher.jobs.imports import import_source
from publisher.store.models import Release
from publisher.urls import RELEASE_PATH
from publisher.web.app import create_app

ARTICLE = """<!DOCTYPE html><html><head><title>{title}</title>
<meta property="og:image" content="https://cdn.example.org/{name}.jpg">
<script>window.tracker = 1</script></head>
<body><nav><a href="/">Home</a> <a href="/news/">News</a> <a href="/about/">About us</a></nav>
<main><article><h1>{title}</h1>
<p>{title}: the office and its partners met this week in Beijing to talk about decent work, wages
and the safety of workers in the construction sector, where accidents remain too frequent.</p>
<p>The meeting agreed on a <a href="/plans/{name}.pdf">plan of action</a> for the next three years,
with training for inspectors and a new survey of working conditions in twelve provinces.</p>
<p onclick="steal()">More than two hundred employers, unions and officials took part in the meeting,
which the ministry hosted in its conference centre.</p></article></main>
<footer>Copyright the office. <a href="/privacy/">Privacy</a></footer></body></html>"""
EMPTY = "<!DOCTYPE html><html><head><title>Menu</title></head><body><nav><a href='/'>Home</a></nav></body></html>"


@dataclass
class Office:
    """The office's site: a feed, its pages, robots.txt; what was asked of it, and when."""
    base: str = ""
    asked: list[tuple[float, str, dict[str, str]]] = field(default_factory=list)
    failing: set[str] = field(default_factory=lambda: {"/news/flaky"})
    titles: dict[str, str] = field(default_factory=lambda: {
        "1": "Decent work in construction", "2": "Wages in China", "flaky": "Inspectors in China"})

    def feed(self) -> bytes:
        items = "".join(
            f"<item><title>{title}</title><link>{self.base}{path}</link><guid>{path}</guid>"
            f"<pubDate>Fri, 2{n} Nov 2026 10:00:00 GMT</pubDate><description>{title} in China.</description></item>"
            for n, (title, path) in enumerate([*((t, f"/news/{k}") for k, t in self.titles.items()),
                                               ("Private matters in China", "/private/3"),
                                               ("Only a menu in China", "/news/empty")]))
        return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Office</title>'
                f"<link>{self.base}/</link>{items}</channel></rss>").encode()


@pytest.fixture
def office() -> Iterator[Office]:
    state = Office()

    class Handler(QuietHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server names it)
            state.asked.append((time.monotonic(), self.path, dict(self.headers)))
            name = self.path.rsplit("/", 1)[-1]
            if self.path == "/robots.txt":
                self.answer(200, b"User-agent: *\nDisallow: /private/\n")
            elif self.path == "/feed.xml":
                self.answer(200, state.feed(), "application/rss+xml")
            elif self.path in state.failing:
                self.answer(500, b"busy")
            elif self.path == "/garbled":
                self.answer(200, b"<p>\xff\xfe\xfa</p>", "text/html; charset=utf-8")
            elif self.path == "/news/empty":
                self.answer(200, EMPTY.encode(), "text/html; charset=utf-8")
            elif self.path.startswith("/news/") and name in state.titles:
                etag = f'"{name}-{state.titles[name]}"'.replace(" ", "-")
                if self.headers.get("If-None-Match") == etag:
                    self.answer(304, b"", "text/html", ETag=etag)
                else:
                    body = ARTICLE.format(title=state.titles[name], name=name).encode()
                    self.answer(200, body, "text/html; charset=utf-8", ETag=etag)
            else:
                self.answer(404, b"no")

    for base in serve_http(Handler):
        state.base = base
        yield state


def test_each_new_releases_page_gives_its_text_and_picture_politely(office, tmp_path, db_url) -> None:  # type: ignore[no-untyped-def]
    config, sessions = seeded(tmp_path, db_url, dir=f'"{tmp_path / "feeds"}"')
    source = Source(name="office", location=f"{office.base}/feed.xml", fetch_pages=True,  # type: ignore[arg-type]
                    page_delay="0.2s")
    first = import_source(sessions, config, source, utc_now()).lines()[0]
    assert first.endswith("; pages: 2 fetched, 0 unchanged, 3 failed"), first
    with sessions() as session:
        releases = {r.title: r for r in session.scalars(select(Release).where(Release.source == source.location))}
    work = releases["Decent work in construction"]
    assert work.body_html is not None and "plan of action" in work.body_html and "twelve provinces" in work.body_html
    assert f'href="{office.base}/plans/1.pdf"' in work.body_html
    assert "steal" not in work.body_html and "tracker" not in work.body_html and "Privacy" not in work.body_html
    assert work.image_url == "https://cdn.example.org/1.jpg"
    assert releases["Private matters in China"].body_html is None and releases["Inspectors in China"].body_html is None

    pages = [(at, path, headers) for at, path, headers in office.asked if path not in ("/feed.xml",)]
    assert [path for _, path, _ in pages].count("/robots.txt") == 1 and "/private/3" not in [p for _, p, _ in pages]
    assert all(headers["User-Agent"].startswith("publisher (") for _, _, headers in pages)
    gaps = [later[0] - earlier[0] for earlier, later in itertools.pairwise(pages)]
    assert min(gaps) >= 0.19, gaps  # one at a time, page_delay apart

    atom = feedparser.parse((tmp_path / "feeds" / "cn" / "atom.xml").read_bytes())
    entry = next(e for e in atom.entries if e.title == "Decent work in construction")
    assert "plan of action" in entry.content[0].value
    page = TestClient(create_app(config, sessions)).get(RELEASE_PATH.format(slug=work.slug))
    assert "twelve provinces" in page.text and "steal" not in page.text
    assert '<figure class="lead"><img src="https://cdn.example.org/1.jpg" alt="" loading="lazy"></figure>' in page.text

    office.failing.clear()  # the next run: what failed is tried again, what was read is not
    second = import_source(sessions, config, source, utc_now()).lines()[0]
    assert second.endswith("; pages: 1 fetched, 0 unchanged, 2 failed"), second
    with sessions() as session:
        flaky = session.scalars(select(Release).where(Release.title == "Inspectors in China")).one()
        assert flaky.body_html is not None and "Inspectors in China" in flaky.body_html

    office.titles["1"] = "Decent work in construction, updated"  # a changed release: its page asked again
    asked_before = len(office.asked)
    third = import_source(sessions, config, source, utc_now()).lines()[0]
    assert "1 updated" in third and third.endswith("; pages: 1 fetched, 0 unchanged, 2 failed"), third
    again = [headers for _, path, headers in office.asked[asked_before:] if path == "/news/1"]
    assert again and again[0].get("If-None-Match") == '"1-Decent-work-in-construction"'  # conditional


def test_a_page_that_has_not_changed_answers_304_and_changes_nothing(office, tmp_path) -> None:  # type: ignore[no-untyped-def]
    config, sessions = seeded(tmp_path, sqlite_store(tmp_path))
    source = Source(name="office", location=f"{office.base}/feed.xml", fetch_pages=True,  # type: ignore[arg-type]
                    page_delay="0.01s")
    import_source(sessions, config, source, utc_now())
    with sessions.begin() as session:  # the release changed (a correction), its page did not
        work = session.scalars(select(Release).where(Release.title == "Decent work in construction")).one()
        work.updated, before = utc_now(), work.body_html
    line = import_source(sessions, config, source, utc_now()).lines()[0]
    assert "pages: 0 fetched, 1 unchanged, 3 failed" in line, line
    with sessions() as session:
        assert session.scalars(select(Release.body_html).where(Release.id == work.id)).one() == before


def test_a_page_that_is_not_the_text_it_says_is_its_problem_alone(office) -> None:  # type: ignore[no-untyped-def]
    from publisher.ingest.pages import PageReader

    reader = PageReader(timeout=5, max_bytes=100_000, delay=0)
    assert reader.read(f"{office.base}/garbled", None, None).problem == "the response is not utf-8 text"
    assert reader.read(f"{office.base}/nowhere", None, None).problem == "HTTP 404 Not Found"
    assert reader.read(f"{office.base}/news/1", None, None).article is not None  # and the next page is read


def test_a_release_page_shows_its_picture_once_and_only_over_https() -> None:
    from publisher.web.releases import lead_picture

    picture = "https://cdn.example.org/a.jpg?w=800&h=600"
    assert lead_picture(picture, "<p>Text.</p>") == picture
    assert lead_picture(picture, '<p><img src="https://cdn.example.org/a.jpg?w=800&amp;h=600"></p>') is None  # shown
    assert lead_picture("http://cdn.example.org/a.jpg", None) is None and lead_picture(None, None) is None
