"""Feeds as sources: our own Atom, RSS and JSON feeds imported into an empty second store give
the same releases; a re-read adds nothing, a changed entry updates its release; an entry
without a date or a title is refused, naming it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import NOW, SQLITE_ONLY, add_releases, seeded, sqlite_store
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from publisher.config import Config
from publisher.errors import InputError
from publisher.ingest.read import detect_format
from publisher.jobs.imports import ImportRequest, import_files
from publisher.store.models import Release
from publisher.urls import release_link


def releases_of(sessions: sessionmaker[Session], config: Config) -> dict[str, tuple[object, ...]]:
    """Each release as a reader of a feed sees it: title, when, summary, link, image, countries."""
    with sessions() as session:
        return {release.title: (release.published, release.summary,
                                release_link(config.site, release.url, release.slug),
                                release.image_url, tuple(sorted(release.country_codes)))
                for release in session.scalars(select(Release).where(Release.withdrawn.is_(None)))}


def second_store(tmp_path: Path, name: str) -> tuple[Config, sessionmaker[Session]]:
    from helpers import write_config

    from publisher.config import load_config
    from publisher.store.db import open_store

    folder = tmp_path / name
    folder.mkdir()
    path = write_config(folder, sqlite_store(folder, "store.db"))
    text = path.read_text("utf-8").replace('dir = "feeds"', f'dir = "{folder / "feeds"}"', 1)
    path.write_text(text, "utf-8")
    config = load_config(path, environ={})
    return config, open_store(config)


@SQLITE_ONLY
@pytest.mark.parametrize("name", ["atom.xml", "rss.xml", "feed.json"])
def test_our_own_feed_imported_into_an_empty_store_gives_the_same_releases(tmp_path, db_url, name: str) -> None:  # type: ignore[no-untyped-def]
    first_config, first = seeded(tmp_path, db_url, dir=f'"{tmp_path / "feeds"}"', max_items="1000")
    # Countries chosen by hand, not as the tagging rules would (they would say China): the feed
    # carries them.
    add_releases(first, first_config, tmp_path, {"title": "A Chinese delegation visits Ulaanbaatar",
                                                 "published": "2026-11-20", "countries": ["MN"],
                                                 "image_url": "https://www.ilo.org/beijing/visit.jpg"})
    feed = tmp_path / "feeds" / "all" / name
    assert feed.exists()
    config, second = second_store(tmp_path, "second")
    outcome = import_files(second, config, [ImportRequest(str(feed))], NOW)
    assert outcome.files[0][1].new > 10
    assert releases_of(second, config) == releases_of(first, first_config)
    visit = releases_of(second, config)["A Chinese delegation visits Ulaanbaatar"]
    assert visit[3:] == ("https://www.ilo.org/beijing/visit.jpg", ("MN",))
    again = import_files(second, config, [ImportRequest(str(feed))], NOW)  # the same entries: nothing new
    assert again.files[0][1].new == 0 and releases_of(second, config) == releases_of(first, first_config)


@SQLITE_ONLY
def test_a_changed_entry_updates_its_release_and_a_json_feed_is_told_by_its_version(tmp_path, db_url) -> None:  # type: ignore[no-untyped-def]
    config, sessions = second_store(tmp_path, "only")
    item = {"id": "https://example.org/news/1", "title": "Decent work &amp; herders",
            "date_published": "2026-11-20T09:00:00+08:00", "url": "https://example.org/news/1",
            "summary": "A survey.", "content_html": "<p>The whole release.</p>", "image": "https://example.org/1.jpg",
            "tags": ["Mongolia", "Rural economy"]}  # the country's name says where; the other, what
    path = tmp_path / "news.json"
    for title in ("Decent work for herders in Mongolia", "Decent work for herders in Mongolia, updated"):
        path.write_text(json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "News",
                                    "items": [{**item, "title": title}]}), "utf-8")
        import_files(sessions, config, [ImportRequest(str(path))], NOW)
    with sessions() as session:
        [release] = session.scalars(select(Release)).all()
        assert release.title == "Decent work for herders in Mongolia, updated"
        assert (release.summary, release.image_url, release.category) == (
            "A survey.", "https://example.org/1.jpg", "Rural economy")
        assert release.published.isoformat() == "2026-11-20T01:00:00+00:00" and release.country_codes == ["MN"]


@pytest.mark.parametrize(("document", "problem"), [
    ('<rss version="2.0"><channel><title>x</title><item><title>No date</title><link>https://example.org/a</link>'
     "</item></channel></rss>", "entry 1: the entry has no date"),
    ('<feed xmlns="http://www.w3.org/2005/Atom"><title>x</title><entry><id>urn:x</id>'
     "<updated>2026-11-20T00:00:00Z</updated></entry></feed>", "entry 1: the entry has no title"),
    ("<html><body>not a feed</body></html>", "not a feed that can be read"),
])
def test_an_entry_without_a_date_or_a_title_is_refused_naming_it(tmp_path, document: str, problem: str) -> None:  # type: ignore[no-untyped-def]
    from zoneinfo import ZoneInfo

    from publisher.ingest.read import parse

    with pytest.raises(InputError) as refused:
        list(parse("feed", document, "news.xml", ZoneInfo("UTC")))
    assert problem in str(refused.value) and "news.xml" in str(refused.value)


def test_a_feed_is_told_by_its_name_or_its_content_type() -> None:
    assert detect_format("https://example.org/feed.xml") == "feed"
    assert detect_format("https://example.org/news/feed/", "application/rss+xml") == "feed"
    assert detect_format("https://example.org/news/feed/", "application/atom+xml") == "feed"
    assert detect_format("https://example.org/news/feed", "application/feed+json") == "feed"


@SQLITE_ONLY
@pytest.mark.parametrize(("name", "content_type"), [("atom.xml", "application/atom+xml"),
                                                     ("rss.xml", "application/rss+xml; charset=utf-8"),
                                                     ("feed.json", "application/feed+json")])
def test_a_feed_source_is_told_by_its_content_type_and_read_again_only_when_changed(
        tmp_path, db_url, site, name: str, content_type: str) -> None:  # type: ignore[no-untyped-def]
    from test_sources import _count, _store

    from publisher.jobs.imports import import_source

    first_config, _first = seeded(tmp_path, db_url, dir=f'"{tmp_path / "feeds"}"')
    state, url = site  # served at /news: no extension to go by
    state.body, state.content_type = (tmp_path / "feeds" / "all" / name).read_bytes(), content_type
    folder = tmp_path / "second"
    folder.mkdir()
    config, sessions = _store(folder, url)
    [source] = config.sources
    first = import_source(sessions, config, source, NOW)
    assert first.lines()[0] == f"imported 20 new, 0 updated, 0 unchanged from {url}"
    assert import_source(sessions, config, source, NOW).not_modified and _count(sessions) == 20
    assert first_config.site.base_url == config.site.base_url


@SQLITE_ONLY
def test_an_undated_entry_takes_the_time_it_was_first_read_and_keeps_it(tmp_path, db_url, caplog) -> None:  # type: ignore[no-untyped-def]
    import logging
    from datetime import timedelta

    config, sessions = second_store(tmp_path, "undated")
    path = tmp_path / "news.rss"
    path.write_text('<rss version="2.0"><channel><title>News</title><link>https://example.org/</link>'
                    "<item><title>Herders and decent work in Mongolia</title><guid>urn:news:1</guid>"
                    "<link>https://example.org/news/1</link></item></channel></rss>", "utf-8")
    caplog.set_level(logging.WARNING, "publisher.ingest.feed")
    first = import_files(sessions, config, [ImportRequest(str(path))], NOW)
    assert first.files[0][1].new == 1
    assert f"{path} entry 1 (Herders and decent work in Mongolia): no date; dated when first read" in caplog.text
    later = import_files(sessions, config, [ImportRequest(str(path))], NOW + timedelta(days=3))
    assert (later.files[0][1].new, later.files[0][1].unchanged) == (0, 1)
    with sessions() as session:
        assert session.scalars(select(Release.published)).one() == NOW


@SQLITE_ONLY
def test_a_category_naming_a_country_tags_the_release_before_the_rules(tmp_path, db_url) -> None:  # type: ignore[no-untyped-def]
    config, sessions = second_store(tmp_path, "categories")
    path = tmp_path / "news.xml"
    path.write_text('<rss version="2.0"><channel><title>News</title><link>https://example.org/</link>'
                    "<item><title>A delegation from Mongolia visits Geneva</title><guid>urn:news:1</guid>"
                    "<pubDate>Fri, 20 Nov 2026 09:00:00 +0800</pubDate><category>Events</category>"
                    "<category>china</category></item>"
                    "<item><title>A delegation from Mongolia visits Geneva again</title><guid>urn:news:2</guid>"
                    "<pubDate>Sat, 21 Nov 2026 09:00:00 +0800</pubDate><category>Events</category></item>"
                    "</channel></rss>", "utf-8")
    import_files(sessions, config, [ImportRequest(str(path))], NOW)
    with sessions() as session:
        tagged = {release.title: (release.category, tuple(release.country_codes))
                  for release in session.scalars(select(Release))}
    assert tagged == {"A delegation from Mongolia visits Geneva": ("Events", ("CN",)),  # its category
                      "A delegation from Mongolia visits Geneva again": ("Events", ("MN",))}  # the rules


FIXTURES = Path(__file__).parent / "data" / "feeds"


@pytest.mark.parametrize(("name", "expected"), [
    ("wordpress", {  # CDATA, entities in titles, a repeated guid, relative links, a script, categories
        "“Decent work” for herders & miners in Mongolia": (
            "2026-11-27", "https://labour.example.org/2026/11/decent-work-herders/", ("MN",), "Rural economy", None),
        "Skills for green jobs in China": (
            "2026-11-25", "https://labour.example.org/2026/11/green-skills/", ("CN",), None, None)}),
    ("drupal", {  # xml:base, HTML escaped in descriptions and a title, an item without a date
        "Social protection for all workers in China": (
            "2026-11-26", "https://office.example.org/news/social-protection-china", ("CN",), None, None),
        "Mongolia: a conference on wages": (
            "2026-11-27", "https://office.example.org/news/mongolia-wages", ("MN",), None, None)}),
    ("ghost", {  # everything on one line, media:content, an embedded frame in the content
        "Youth employment in Ulaanbaatar & Beijing": (
            "2026-11-24", "https://ghost.example.org/youth-employment/", ("CN", "MN"), "Youth",
            "https://ghost.example.org/content/images/2026/11/youth.jpg")}),
    ("hugo", {  # HTML summaries with relative links, guids that are the links
        "Labour statistics for Mongolia, 2026": (
            "2026-11-28", "https://hugo.example.org/releases/labour-statistics-2026/", ("MN",), None, None),
        "China joins a network on care work": (
            "2026-11-20", "https://hugo.example.org/releases/care-work/", ("CN",), None, None)}),
])
def test_feeds_as_content_systems_write_them_are_imported_with_their_fields(tmp_path, name: str,
                                                                             expected: dict[str, tuple[object, ...]],
                                                                             caplog) -> None:  # type: ignore[no-untyped-def]
    config, sessions = second_store(tmp_path, name)
    outcome = import_files(sessions, config, [ImportRequest(str(FIXTURES / f"{name}.xml"))], NOW)
    assert (outcome.files[0][1].new, outcome.files[0][1].updated) == (len(expected), 0)
    with sessions() as session:
        releases = {release.title: release for release in session.scalars(select(Release))}
        assert set(releases) == set(expected)
        for title, (day, url, countries, category, image) in expected.items():
            release = releases[title]
            assert (release.published.date().isoformat(), release.url, tuple(release.country_codes),
                    release.category, release.image_url) == (day, url, countries, category, image), title
            assert "<" not in release.summary and "  " not in release.summary and " ." not in release.summary
            body = release.body_html
            assert not body or ("script" not in body and "iframe" not in body and "<figure></figure>" not in body)
    again = import_files(sessions, config, [ImportRequest(str(FIXTURES / f"{name}.xml"))], NOW)
    assert (again.files[0][1].new, again.files[0][1].updated) == (0, 0)  # read again: nothing changes


def test_what_a_wordpress_post_holds_is_kept_and_cleaned(tmp_path, caplog) -> None:  # type: ignore[no-untyped-def]
    config, sessions = second_store(tmp_path, "wordpress")
    import_files(sessions, config, [ImportRequest(str(FIXTURES / "wordpress.xml"))], NOW)
    with sessions() as session:
        post = session.scalars(select(Release).where(Release.title.like("%herders%"))).one()
    assert post.summary.startswith("Herders and miners met in Ulaanbaatar") and "…" in post.summary
    assert post.body_html is not None and "<strong>Ulaanbaatar</strong>" in post.body_html
    assert 'src="https://labour.example.org/wp-content/uploads/2026/11/herders-1024x683.jpg"' in post.body_html
    assert 'href="https://labour.example.org/reports/safety-2026.pdf"' in post.body_html
    assert "_wpemojiSettings" not in post.body_html and "srcset" not in post.body_html
    assert "entry 3 is the same release as entry 2" in caplog.text


DESK = """<?xml version="1.0"?><rss version="2.0"><channel><title>Desk</title><link>https://desk.example.org/</link>
<item><title>Herders meet in the capital</title><link>https://desk.example.org/1</link>
<pubDate>Fri, 27 Nov 2026 10:00:00 GMT</pubDate><category>Inner Asia DESK</category><category>Herding</category>
<description>A meeting on pastures.</description></item></channel></rss>"""


def test_a_sources_own_words_for_countries_tag_its_releases(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from publisher.config import Source
    from publisher.jobs.imports import import_source

    config, sessions = second_store(tmp_path, "desk")
    feed = tmp_path / "desk.xml"
    feed.write_text(DESK, "utf-8")
    source = Source(name="desk", location=str(feed), categories={"inner asia desk": "MN"})  # type: ignore[arg-type]
    import_source(sessions, config, source, NOW)
    with sessions() as session:
        release = session.scalars(select(Release).where(Release.url == "https://desk.example.org/1")).one()
        assert (tuple(release.country_codes), release.category) == (("MN",), "Herding")


def test_a_word_for_an_unknown_country_is_refused_naming_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from helpers import write_config

    from publisher.config import load_config
    from publisher.errors import ConfigError

    path = write_config(tmp_path, sqlite_store(tmp_path))
    path.write_text(path.read_text("utf-8") + '\n[[sources]]\nname = "desk"\nlocation = "https://desk.example.org/feed"\n'
                    'categories = { "Inner Asia desk" = "XX" }\n', "utf-8")
    with pytest.raises(ConfigError, match=r"sources\[\d\]\.categories\.Inner Asia desk: unknown country 'XX'"):
        load_config(path, environ={})
