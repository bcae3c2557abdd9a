"""Sources over http(s): the office's HTML page, conditional GET, broken pages, size limits."""

from __future__ import annotations

import html
import re
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from helpers import SEED, sqlite_store, write_config
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from publisher.cli import cli
from publisher.config import load_config
from publisher.dates import format_day_month_year
from publisher.errors import InputError
from publisher.ingest.entry import Entry, normalize_space
from publisher.ingest.html_page import parse_html_page
from publisher.ingest.listing import parse_listing
from publisher.jobs.imports import import_source
from publisher.run.scheduler import ScheduleRunner
from publisher.run.schedules import schedules
from publisher.store.db import open_store
from publisher.store.models import Release, ScheduleRun

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def office_page(entries: list[Entry]) -> str:
    """A news page built the way the office's site lists releases."""
    items, year = [], None
    for number, entry in enumerate(entries, start=1):
        if entry.published.year != year:
            year = entry.published.year
            items.append(f"</ol><h2>{year}</h2><ol>")
        credit = (f'<figure><img src="/img/{number}.jpg" alt=""><figcaption>'
                  f"{html.escape(entry.image_credit)}</figcaption></figure>"
                  if entry.image_credit else "")
        summary = "".join(f"<p>{html.escape(p)}</p>" for p in entry.summary.split("\n\n") if p)
        items.append(
            f"<li>{credit}<a href=\"/beijing/news/WCMS_{number}/lang--en/index.htm\">"
            f"{html.escape(entry.title)}</a>\n<span class=\"date\">"
            f"{format_day_month_year(entry.published.date())}</span>\n{summary}</li>")
    return ("<!DOCTYPE html><html><head><title>News</title><script>var x = '<li>';</script>"
            "</head><body><nav><ul><li><a href=\"/beijing\">Home</a></li>"
            "<li><a href=\"/beijing/news\">News</a></li></ul></nav><main>"
            "<h1>News and press releases</h1><ol>" + "".join(items) + "</ol></main></body></html>")


def _fields(entry: Entry) -> tuple[object, ...]:
    return entry.title, entry.published, entry.summary, entry.image_credit


def test_the_office_page_parses_to_the_seed_releases_with_their_links() -> None:
    seed = parse_listing(SEED.read_text("utf-8"), "seed", SHANGHAI)
    url = "https://www.ilo.org/beijing/news"
    parsed = parse_html_page(office_page(seed), url, SHANGHAI)
    assert [_fields(e) for e in parsed] == [_fields(e) for e in seed]
    assert parsed[0].url == "https://www.ilo.org/beijing/news/WCMS_1/lang--en/index.htm"
    assert len({e.url for e in parsed}) == 20


texts = st.text(st.characters(exclude_categories=("Cs", "Cc")), min_size=1, max_size=40).map(
    normalize_space).filter(lambda t: t and not t.startswith("©") and not t[0].isdigit())


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(texts, st.dates(min_value=datetime(1990, 1, 1).date()),
                          st.lists(texts, max_size=2), st.none() | texts.map(lambda t: "© " + t)),
                max_size=5))
def test_any_office_page_parses_back(rows) -> None:  # type: ignore[no-untyped-def]
    entries = [Entry(title=t, published=datetime(d.year, d.month, d.day, tzinfo=SHANGHAI),
                     summary="\n\n".join(s), image_credit=c) for t, d, s, c in rows]
    if not entries:
        with pytest.raises(InputError, match="no releases found"):
            parse_html_page(office_page(entries), "https://x.org/news", SHANGHAI)
        return
    parsed = parse_html_page(office_page(entries), "https://x.org/news", SHANGHAI)
    assert [_fields(e) for e in parsed] == [_fields(e) for e in entries]


def _store(tmp_path: Path, url: str, **source: str):  # type: ignore[no-untyped-def]
    """The shipped config with its one source replaced by `url` (format from the response)."""
    path = write_config(tmp_path, sqlite_store(tmp_path))
    text = path.read_text("utf-8")
    extra = "".join(f"{key} = {value}\n" for key, value in source.items())
    text = text[:text.index("[[sources]]")] + (
        f'[[sources]]\nname = "office"\nlocation = "{url}"\ncron = "*/5 * * * *"\n{extra}')
    path.write_text(text, "utf-8")
    config = load_config(path, environ={})
    return config, open_store(config)


def _count(sessions) -> int:  # type: ignore[no-untyped-def]
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(Release))


def test_a_page_served_over_http_is_imported_then_304_imports_nothing(tmp_path, site) -> None:  # type: ignore[no-untyped-def]
    state, url = site
    state.body = office_page(parse_listing(SEED.read_text("utf-8"), "s", SHANGHAI)).encode()
    config, sessions = _store(tmp_path, url)
    [source] = config.sources
    first = import_source(sessions, config, source, NOW)
    assert first.lines()[0] == f"imported 20 new, 0 updated, 0 unchanged from {url}"
    assert _count(sessions) == 20
    with sessions() as session:
        link = session.scalar(select(Release.url).order_by(Release.published.desc()).limit(1))
    assert link == url.removesuffix("/news") + "/beijing/news/WCMS_1/lang--en/index.htm"
    again = import_source(sessions, config, source, NOW)
    assert again.not_modified and again.lines() == [f"not modified since the last fetch: {url}"]
    assert state.requests[-1]["If-None-Match"] == '"v1"'
    assert state.requests[-1]["If-Modified-Since"] == "Fri, 27 Nov 2026 10:00:00 GMT"


def test_a_sources_last_run_says_when_the_import_began_and_when_it_ended(tmp_path, site) -> None:  # type: ignore[no-untyped-def]
    """An import by hand ("import now" in the console) showed its start as its end."""
    state, url = site
    state.body = office_page(parse_listing(SEED.read_text("utf-8"), "s", SHANGHAI)).encode()
    config, sessions = _store(tmp_path, url)
    ended = NOW + timedelta(minutes=3)
    import_source(sessions, config, config.sources[0], NOW, clock=lambda: ended)
    with sessions() as session:
        run = session.get(ScheduleRun, "source:office")
    assert (run.started, run.finished, run.succeeded) == (NOW, ended, ended)


def test_a_broken_page_imports_nothing_and_the_next_good_fetch_works(tmp_path, site) -> None:  # type: ignore[no-untyped-def]
    state, url = site
    seed_text = SEED.read_text("utf-8")
    state.content_type = "text/plain; charset=utf-8"
    state.body = seed_text[: seed_text.index("27 November 2021")].encode()  # cut off mid-item
    config, sessions = _store(tmp_path, url)
    runner = ScheduleRunner(sessions, config, threading.Event(), clock=lambda: NOW)
    job = next(s for s in schedules(config) if s.kind == "source")
    outcome = runner.run(job, NOW)
    assert outcome.startswith("failed: ") and "expected a date such as '16 June 2022'" in outcome
    assert _count(sessions) == 0
    with sessions() as session:
        assert session.get(ScheduleRun, job.id).outcome == outcome
    state.body, state.etag = seed_text.encode(), '"v2"'
    assert runner.run(job, NOW).startswith(f"imported 20 new, 0 updated, 0 unchanged from {url}")
    assert state.requests[-1].get("If-None-Match") is None  # the broken fetch was not remembered
    assert _count(sessions) == 20


def test_a_response_over_the_size_limit_is_refused(tmp_path, site) -> None:  # type: ignore[no-untyped-def]
    state, url = site
    state.body = b"x" * 5000
    config, sessions = _store(tmp_path, url, max_bytes="1000")
    assert config.sources[0].format is None
    with pytest.raises(InputError, match="larger than 1000 bytes"):
        import_source(sessions, config, config.sources[0], NOW)
    assert _count(sessions) == 0


def test_an_unreachable_source_is_a_clear_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    config, sessions = _store(tmp_path, "http://127.0.0.1:9/news", timeout='"2s"')
    with pytest.raises(InputError, match=re.escape("http://127.0.0.1:9/news: cannot fetch")):
        import_source(sessions, config, config.sources[0], NOW)


def test_publisher_import_takes_a_url_too(tmp_path, site) -> None:  # type: ignore[no-untyped-def]
    state, url = site
    state.body = office_page(parse_listing(SEED.read_text("utf-8"), "s", SHANGHAI)).encode()
    _, sessions = _store(tmp_path, url)
    config_path = tmp_path / "config.toml"
    result = CliRunner().invoke(cli, ["--config", str(config_path), "import", url])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"imported 20 new, 0 updated, 0 unchanged from {url}\n")
    assert _count(sessions) == 20
    state.body = b"x" * 6_000_000  # the same size limit as a source's
    result = CliRunner().invoke(cli, ["--config", str(config_path), "import", url])
    assert result.exit_code == 1 and "larger than 5000000 bytes" in result.stderr
