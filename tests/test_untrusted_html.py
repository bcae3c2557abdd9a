"""HTML from outside (a JSON or CSV body_html, a feed's content) is cleaned before it is stored, and
the full text then reaches the Atom, RSS and JSON feeds and the release page, and comes back the
same through our own feed."""

from __future__ import annotations

import json
import logging

import feedparser
import pytest
from helpers import NOW, SQLITE_ONLY, add_releases, seeded, sqlite_store
from lxml import etree
from lxml import html as lxml_html
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from test_feed_sources import second_store

from publisher.jobs.imports import ImportRequest, import_files
from publisher.safehtml import clean_html
from publisher.store.models import Release
from publisher.urls import RELEASE_PATH
from publisher.web.app import create_app

PAGE = "https://www.ilo.org/beijing/news/green-jobs"
HOSTILE = """<p onclick="steal()" style="display:none">Green jobs <b>grow</b> in <a href="/beijing/">Beijing</a>.</p>
<script>alert("script")</script><style>p { display: none }</style>
<p><a href="javascript:alert('link')">a script link</a> <a href="data:text/html,<script>x</script>">data</a>
<a href="https://www.ilo.org/report.pdf" onmouseover="steal()">the report</a></p>
<iframe src="https://evil.example/frame">framed</iframe><form action="https://evil.example/"><input name="q"></form>
<img src="pictures/site.jpg" alt="The site" onerror="steal()"><img src="http://plain.example/x.jpg" alt="plain">
<object data="https://evil.example/x.swf"></object><svg><script>alert(1)</script></svg><!-- a comment -->"""


def body_of(sessions: sessionmaker[Session], title: str) -> str:
    with sessions() as session:
        body = session.scalar(select(Release.body_html).where(Release.title == title))
    assert body is not None
    return body


def shape(body: str) -> list[tuple[object, ...]]:
    """What an HTML fragment says, however it is written (attribute order, `<img />`)."""
    tree = lxml_html.fragment_fromstring(body, create_parent="div")
    return [(element.tag, sorted(element.attrib.items()), (element.text or "").strip(), (element.tail or "").strip())
            for element in tree.iter()]


def assert_harmless(body: str) -> None:
    tree = lxml_html.fragment_fromstring(body, create_parent="div")
    assert not tree.xpath("//script|//style|//iframe|//form|//input|//object|//svg|//comment()")
    for element in tree.iter():
        assert not [name for name in element.attrib if name.startswith("on") or name == "style"], element.attrib
    for link in tree.xpath("//a/@href"):
        assert link.startswith(("https://", "http://", "mailto:")), link
    assert all(source.startswith("https://") for source in tree.xpath("//img/@src"))


def test_hostile_html_in_a_json_import_is_cleaned_before_it_is_stored(tmp_path, db_url, caplog) -> None:  # type: ignore[no-untyped-def]
    config, sessions = seeded(tmp_path, db_url)
    with caplog.at_level(logging.WARNING):
        add_releases(sessions, config, tmp_path, {"title": "Green jobs in Beijing", "published": "2026-11-20",
                                                  "url": PAGE, "body_html": HOSTILE})
    body = body_of(sessions, "Green jobs in Beijing")
    assert_harmless(body)
    assert "steal" not in body and "alert" not in body and "comment" not in body
    assert '<a href="https://www.ilo.org/beijing/" rel="noopener noreferrer nofollow">Beijing</a>' in body  # absolute
    assert '<img src="https://www.ilo.org/beijing/news/pictures/site.jpg" alt="The site">' in body
    assert "plain.example" not in body and "<b>grow</b>" in body and "the report</a>" in body
    assert "record 1: its HTML held scripts" in caplog.text


def test_a_csv_body_is_cleaned_too(tmp_path) -> None:  # type: ignore[no-untyped-def]
    config, sessions = seeded(tmp_path, sqlite_store(tmp_path))
    news = tmp_path / "news.csv"
    news.write_text('title,published,url,body_html\nIn a table,2026-11-21,https://www.ilo.org/a,'
                    '"<p>Fine<script>alert(1)</script><a href=\'javascript:x()\'>x</a></p>"\n', "utf-8")
    import_files(sessions, config, [ImportRequest(str(news))], NOW)
    assert body_of(sessions, "In a table") == '<p>Fine<a rel="noopener noreferrer nofollow">x</a></p>'


@pytest.mark.parametrize("html", [
    '<a href="JaVaScRiPt:alert(1)">x</a>', '<a href="&#106;avascript:alert(1)">x</a>', "<img src=x onerror=alert(1)>",
    '<p style="position:fixed;top:0">cover</p>', "<math><mi xlink:href='javascript:alert(1)'>x</mi></math>",
    '<a href="vbscript:msgbox(1)">x</a>', "<scr<script>ipt>alert(1)</script>", '<base href="https://evil.example/">',
    '<meta http-equiv="refresh" content="0;url=https://evil.example/">', '<link rel="stylesheet" href="https://e/">',
])
def test_each_known_trick_is_taken_out(html: str) -> None:
    cleaned = clean_html(html, PAGE)
    assert_harmless(cleaned or "<p></p>")
    assert not any(word in cleaned.lower() for word in ("javascript", "vbscript", "onerror", "position", "<base",
                                                        "<meta", "<link", "<math"))


@SQLITE_ONLY
def test_the_full_text_reaches_every_feed_and_the_release_page_and_comes_back_through_a_feed(tmp_path, db_url) -> None:  # type: ignore[no-untyped-def]
    config, sessions = seeded(tmp_path, db_url, dir=f'"{tmp_path / "feeds"}"')
    add_releases(sessions, config, tmp_path, {"title": "Green jobs in Beijing", "published": "2026-11-20",
                                              "url": PAGE, "summary": "Jobs that grow.", "body_html": HOSTILE})
    body = body_of(sessions, "Green jobs in Beijing")
    feeds = tmp_path / "feeds" / "cn"
    atom_xml = etree.fromstring((feeds / "atom.xml").read_bytes())
    [content] = atom_xml.findall("{http://www.w3.org/2005/Atom}entry/{http://www.w3.org/2005/Atom}content")
    assert content.get("type") == "html" and content.text == body  # the stored text, escaped once
    atom = feedparser.parse((feeds / "atom.xml").read_bytes()).entries[0]
    rss = feedparser.parse((feeds / "rss.xml").read_bytes()).entries[0]
    item = json.loads((feeds / "feed.json").read_text("utf-8"))["items"][0]
    assert atom.title == rss.title == item["title"] == "Green jobs in Beijing"
    assert atom.content[0].type == "text/html" and shape(atom.content[0].value) == shape(body)
    assert atom.summary == rss.summary == item["summary"] == "Jobs that grow."
    assert "<b>grow</b>" in rss.content[0].value and "content:encoded" in (feeds / "rss.xml").read_text("utf-8")
    assert item["content_html"] == body

    from fastapi.testclient import TestClient

    with sessions() as session:
        slug = session.scalar(select(Release.slug).where(Release.title == "Green jobs in Beijing"))
    page = TestClient(create_app(config, sessions)).get(RELEASE_PATH.format(slug=slug))
    assert page.status_code == 200
    article = lxml_html.fromstring(page.text).xpath("//div[@class='body']")[0]
    assert article.xpath("string(.//b)") == "grow" and not page.text.count("<script")

    second_config, second = second_store(tmp_path, "second")
    import_files(second, second_config, [ImportRequest(str(feeds / "atom.xml"))], NOW)
    assert shape(body_of(second, "Green jobs in Beijing")) == shape(body)


def test_a_page_in_the_browser_runs_nothing_from_a_release(tmp_path, browser, live_server) -> None:  # type: ignore[no-untyped-def]
    config, sessions = seeded(tmp_path, sqlite_store(tmp_path))
    add_releases(sessions, config, tmp_path, {"title": "Green jobs in Beijing", "published": "2026-11-20",
                                              "url": PAGE, "body_html": HOSTILE})
    holder, base = live_server
    holder.app = create_app(config, sessions)
    try:
        with sessions() as session:
            slug = session.scalar(select(Release.slug).where(Release.title == "Green jobs in Beijing"))
        browser.get(base + RELEASE_PATH.format(slug=slug))
        assert browser.execute_script("return document.querySelector('div.body b').textContent") == "grow"
        assert browser.execute_script("return document.scripts.length") == 0
        assert not browser.execute_script("return document.querySelectorAll('iframe, form, object, svg').length")
    finally:
        holder.app = None
