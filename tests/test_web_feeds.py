"""Feeds over real HTTP (uvicorn on 127.0.0.1, httpx): types, validators, 304, gzip, HEAD."""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import httpx
import pytest
from helpers import seeded, sqlite_store, wait_until
from sqlalchemy import select

from publisher.jobs.feeds import rebuild_feeds
from publisher.jobs.imports import ImportRequest, import_files
from publisher.store.models import Release
from publisher.web.app import create_app

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@pytest.fixture
def site(tmp_path: Path, live_server) -> Iterator[tuple[str, object, object, Path]]:  # type: ignore[no-untyped-def]
    config, sessions = seeded(tmp_path, sqlite_store(tmp_path))
    holder, base = live_server
    holder.app = create_app(config, sessions)
    yield base, config, sessions, tmp_path
    holder.app = None


@pytest.mark.parametrize(("path", "kind"), [
    ("cn/atom.xml", "application/atom+xml"), ("mn/rss.xml", "application/rss+xml"),
    ("all/feed.json", "application/feed+json"), ("feeds.opml", "text/x-opml"),
    ("index.html", "text/html"),
])
def test_each_file_has_its_type_validators_and_cache_control(site, path: str, kind: str) -> None:  # type: ignore[no-untyped-def]
    base, *_ = site
    response = httpx.get(f"{base}/feeds/{path}", headers={"Accept-Encoding": "identity"})
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == kind
    assert response.headers["etag"].startswith('"') and response.headers["last-modified"]
    assert response.headers["cache-control"] == "public, max-age=300"
    assert "content-encoding" not in response.headers


def test_conditional_get_answers_304(site) -> None:  # type: ignore[no-untyped-def]
    base, *_ = site
    url = f"{base}/feeds/cn/atom.xml"
    first = httpx.get(url)
    assert feedparser.parse(first.content).bozo == 0
    by_etag = httpx.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert by_etag.status_code == 304 and by_etag.content == b""
    assert by_etag.headers["etag"] == first.headers["etag"]
    by_date = httpx.get(url, headers={"If-Modified-Since": first.headers["last-modified"],
                                      "Accept-Encoding": "identity"})
    assert by_date.status_code == 304
    stale = httpx.get(url, headers={"If-None-Match": '"something-else"'})
    assert stale.status_code == 200


def test_etag_stays_after_a_no_change_rebuild_and_changes_after_a_change(site) -> None:  # type: ignore[no-untyped-def]
    base, config, sessions, tmp_path = site
    url = f"{base}/feeds/cn/atom.xml"
    before = httpx.get(url).headers["etag"]
    assert rebuild_feeds(sessions, config).changed == []
    assert httpx.get(url).headers["etag"] == before
    news = tmp_path / "news.json"
    news.write_text(json.dumps([{"title": "New in China", "published": "2026-11-26"}]))
    import_files(sessions, config, [ImportRequest(str(news))], NOW + timedelta(1))
    # Served from memory: a rebuild is seen at the next check of the files, within a second.
    deadline = time.monotonic() + 3
    while (after := httpx.get(url, headers={"If-None-Match": before})).status_code == 304:
        assert time.monotonic() < deadline, "the rebuilt feed was not served within 3 s"
        time.sleep(0.1)
    assert after.status_code == 200 and after.headers["etag"] != before
    assert feedparser.parse(after.content).entries[0].title == "New in China"


def test_gzip_when_asked_and_head_without_a_body(site) -> None:  # type: ignore[no-untyped-def]
    base, *_ = site
    url = f"{base}/feeds/all/rss.xml"
    with httpx.Client() as client:
        raw = client.get(url, headers={"Accept-Encoding": "gzip"})
        plain = client.get(url, headers={"Accept-Encoding": "identity"})
    assert raw.headers["content-encoding"] == "gzip" and raw.headers["vary"] == "Accept-Encoding"
    assert raw.content == plain.content  # httpx undid the gzip
    assert int(raw.headers["content-length"]) == len(gzip.compress(plain.content, mtime=0))
    head = httpx.head(url, headers={"Accept-Encoding": "identity"})
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(plain.content))
    assert head.headers["etag"] == plain.headers["etag"]


@pytest.mark.parametrize("path", ["/feeds/.build-state.json", "/feeds/../config.toml",
                                  "/feeds/cn/../../x.db", "/feeds/nope.xml", "/feeds/cn",
                                  "/feeds/cn%00/atom.xml", "/feeds/" + "a" * 260 + "/atom.xml",
                                  "/feeds/cn/passwd.xml"])
def test_nothing_but_the_feed_files_is_served(site, path: str) -> None:  # type: ignore[no-untyped-def]
    base, _config, _sessions, folder = site
    (folder / "feeds" / "cn" / "passwd.xml").symlink_to("/etc/passwd")  # a link out of feeds/
    assert httpx.get(base + path).status_code == 404


def test_one_file_is_cached_once_however_its_path_is_spelled(site) -> None:  # type: ignore[no-untyped-def]
    from publisher.web.files import FeedFiles

    files = FeedFiles(site[3] / "feeds")
    bodies = {files.get("cn" + "/" * n + "atom.xml").body for n in range(1, 60)}  # type: ignore[union-attr]
    assert len(bodies) == 1 and len(files._cache) == 1


@pytest.mark.parametrize(("accept", "gzipped"), [
    ("gzip", True), ("gzip;q=0, identity", False), ("identity", False), ("*", True),
    ("*;q=0.5, gzip;q=0", False), ("br, GZIP;q=0.8", True), ("gzip;q=nonsense", False),
])
def test_gzip_only_where_the_client_accepts_it(site, accept: str, gzipped: bool) -> None:  # type: ignore[no-untyped-def]
    response = httpx.get(site[0] + "/feeds/cn/atom.xml", headers={"Accept-Encoding": accept})
    assert (response.headers.get("content-encoding") == "gzip") is gzipped


def test_a_method_not_allowed_names_get_and_head(site) -> None:  # type: ignore[no-untyped-def]
    response = httpx.post(site[0] + "/feeds/cn/atom.xml")
    assert response.status_code == 405
    assert {m.strip() for m in response.headers["allow"].split(",")} == {"GET", "HEAD"}


def test_index_page_and_release_pages(site) -> None:  # type: ignore[no-untyped-def]
    base, config, sessions, tmp_path = site
    for path in ("/feeds/", "/feeds"):  # the feeds' index (the news is at /)
        index = httpx.get(base + path)
        assert index.status_code == 200 and index.text.count('<link rel="alternate"') == 9
    news = tmp_path / "evil.json"
    news.write_text(json.dumps([{"title": "<script>alert(1)</script> & China", "published": "2026-11-26",
                                 "summary": "One.\n\nTwo & <b>three</b>.", "image_credit": "© Me"}]))
    import_files(sessions, config, [ImportRequest(str(news))], NOW)
    wait_until(lambda: b"alert(1)" in httpx.get(f"{base}/feeds/cn/atom.xml").content, 3)  # seen within a second
    entry = feedparser.parse(httpx.get(f"{base}/feeds/cn/atom.xml").content).entries[0]
    page = httpx.get(entry.link.replace(config.site.base_url, base))
    assert page.status_code == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; China" in page.text and "<script>" not in page.text
    assert "<p>Two &amp; &lt;b&gt;three&lt;/b&gt;.</p>" in page.text and "© Me" in page.text
    assert "16 June 2022" in httpx.get(
        base + "/releases/ilo-supports-inclusion-of-musculoskeletal-disorders-into-the-list-of").text
    assert httpx.get(base + "/releases/no-such-release").status_code == 404


def test_healthz(site) -> None:  # type: ignore[no-untyped-def]
    base, *_ = site
    health = httpx.get(base + "/healthz").json()
    assert health["database"] == "ok" and health["feeds_built"]
    assert health["next_digest"]["name"] in ("china-weekly", "mongolia-monthly")


def test_every_response_carries_the_security_headers(site) -> None:  # type: ignore[no-untyped-def]
    for path in ("/", "/feeds/cn/atom.xml", "/subscribe", "/digests/", "/healthz",
                 "/releases/no-such-release", "/no/such/page"):
        headers = httpx.get(site[0] + path).headers
        assert "default-src 'none'" in headers["content-security-policy"], path
        assert "frame-ancestors 'none'" in headers["content-security-policy"], path
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["referrer-policy"] == "no-referrer" and headers["x-frame-options"] == "DENY", path


def test_a_missing_page_is_a_page_in_the_readers_language_and_json_under_api(site) -> None:  # type: ignore[no-untyped-def]
    base, *_ = site
    for path in ("/no-such-page", "/feeds/nope.xml"):
        page = httpx.get(base + path, headers={"Accept-Language": "zh-CN,zh;q=0.9"})
        assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
        assert "未找到" in page.text and "此地址没有页面。" in page.text
    english = httpx.get(base + "/no-such-page")
    assert "There is no page at this address." in english.text
    api = httpx.get(base + "/api/v1/nothing")
    assert (api.status_code, api.headers["content-type"], api.json()["status"]) == (
        404, "application/problem+json", 404)


def test_a_meeting_of_several_days_shows_its_days_on_its_page_in_each_language(site) -> None:  # type: ignore[no-untyped-def]
    base, config, sessions, tmp_path = site
    listing = tmp_path / "meetings.txt"
    listing.write_text("2015\n\n  1. Tripartite meeting on herders in Mongolia\n\n    30 September - 2 October 2015\n\n"
                       "  2. Beijing forum on apprenticeship in China\n\n    21–22 September 2015\n", "utf-8")
    page = tmp_path / "meetings.html"
    page.write_text('<ul><li><a href="https://www.ilo.org/beijing/news/1">Hohhot seminar on skills in China</a>'
                    "<time>28 Feb - 1 Mar 2016</time></li></ul>", "utf-8")
    news = tmp_path / "meetings.json"
    news.write_text(json.dumps([{"title": "Year-end review in Ulaanbaatar, Mongolia", "published": "2015-12-30",
                                 "ends": "2016-01-02"}]), "utf-8")
    outcome = import_files(sessions, config, [ImportRequest(str(listing)), ImportRequest(str(news)),
                                              ImportRequest(str(page), "html")], NOW)
    assert [counts.new for _, counts in outcome.files] == [2, 1, 1]
    with sessions() as session:
        days = {r.title.split()[0]: (r.published.astimezone(config.site.zone).date().isoformat(), r.ends.isoformat())
                for r in session.scalars(select(Release).where(Release.ends.is_not(None)))}
    assert days == {"Tripartite": ("2015-09-30", "2015-10-02"), "Beijing": ("2015-09-21", "2015-09-22"),
                    "Hohhot": ("2016-02-28", "2016-03-01"), "Year-end": ("2015-12-30", "2016-01-02")}
    shown = {
        ("tripartite-meeting-on-herders-in-mongolia", "en"): "30 September – 2 October 2015",
        ("beijing-forum-on-apprenticeship-in-china", "en"): "21–22 September 2015",
        ("beijing-forum-on-apprenticeship-in-china", "zh_Hans"): "2015年9月21日至22日",
        ("year-end-review-in-ulaanbaatar-mongolia", "mn"):
            "2015 оны арван хоёрдугаар сарын 30 – 2016 оны нэгдүгээр сарын 2",
    }
    for (slug, language), text in shown.items():
        shown_text = httpx.get(f"{base}/releases/{slug}", params={"lang": language}).text.replace("\u202f", " ")
        assert text in shown_text, (slug, language)  # (CLDR's Mongolian years keep a narrow no-break space)
