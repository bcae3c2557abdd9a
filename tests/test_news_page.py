"""The news page at `/`, like the office's own: every release newest first, by year, twenty a
page, of one country or all, searchable in any script and case; in the reader's language; the
feeds' index at /feeds/. Over real HTTP, on the store the seed and a JSON import made."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import httpx
import lxml.html
from test_web_feeds import NOW, site  # noqa: F401 (a fixture)

from publisher.jobs.imports import ImportRequest, import_files


def page(url: str, **params: str) -> tuple[httpx.Response, lxml.html.HtmlElement]:
    response = httpx.get(url, params=params or None)  # (params, even empty, replace the URL's query)
    return response, lxml.html.fromstring(response.text)


def titles(tree: lxml.html.HtmlElement) -> list[str]:
    return [a.text_content() for a in tree.cssselect(".news h3 a")]


def add(sessions, config, folder: Path, releases: list[dict[str, object]]) -> None:  # type: ignore[no-untyped-def]
    news = folder / "more.json"
    news.write_text(json.dumps(releases, ensure_ascii=False), "utf-8")
    import_files(sessions, config, [ImportRequest(str(news))], NOW)


def test_the_news_lists_every_release_newest_first_by_year_with_links_that_work(site) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    base, _config, _sessions, _folder = site
    response, tree = page(base + "/")
    assert response.status_code == 200 and tree.cssselect("h1")[0].text == "News and press releases"
    assert [h2.text for h2 in tree.cssselect("h2.year")] == ["2022", "2021"]
    shown = titles(tree)
    assert len(shown) == 20 and shown[0].startswith("ILO supports inclusion of musculoskeletal disorders")
    assert tree.cssselect('link[rel=alternate]')[0].get("href") == "http://127.0.0.1:8080/feeds/all/atom.xml"
    links = {a.text_content(): a.get("href") for a in tree.cssselect("p.news-nav a")}
    assert links == {"Get the news by email": "/subscribe", "Feeds": "/feeds/", "Digests": "/digests/"}
    for link in [*links.values(), tree.cssselect(".news h3 a")[0].get("href")]:
        assert httpx.get(base + link).status_code == 200, link
    assert "Image: © ShutterStock 2023" in tree.text_content()


def test_pages_of_twenty_and_a_country_of_its_own(site) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    base, config, sessions, folder = site
    start = datetime(2024, 1, 1, tzinfo=UTC)
    add(sessions, config, folder, [{"title": f"Herders' cooperative number {n} in Mongolia",
                                    "published": (start + timedelta(days=n)).isoformat()} for n in range(25)])
    _, first = page(base + "/")
    assert titles(first)[0] == "Herders' cooperative number 24 in Mongolia" and len(titles(first)) == 20
    older = first.cssselect("a[rel=next]")[0].get("href")
    assert older == "/?page=2" and "Page 1 of 3" in first.text_content()
    _, second = page(base + older)
    assert titles(second)[:5] == [f"Herders' cooperative number {n} in Mongolia" for n in range(4, -1, -1)]
    assert [h2.text for h2 in second.cssselect("h2.year")] == ["2024", "2022", "2021"]
    assert httpx.get(base + "/?page=4").status_code == 404
    response, mongolia = page(base + "/countries/mn/")
    assert response.status_code == 200 and mongolia.cssselect("h1")[0].text == "Mongolia"
    assert len(titles(mongolia)) == 20 and all("Mongolia" in title for title in titles(mongolia))
    assert mongolia.cssselect('link[rel=alternate]')[0].get("href").endswith("/feeds/mn/atom.xml")
    assert httpx.get(base + "/countries/xx/").status_code == 404


def test_search_finds_words_in_any_script_and_case(site) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    base, config, sessions, folder = site
    add(sessions, config, folder, [
        {"title": "МОНГОЛ УЛСЫН ХӨДӨЛМӨРИЙН ХУУЛЬ", "published": "2024-02-01", "countries": ["MN"]},
        {"title": "中国尘肺病防治宣传视频发布", "published": "2024-02-02", "summary": "100% 的工人",
         "countries": ["CN"]},
    ])
    for words, expected in (("pneumoconiosis", ["Chinese celebrity actor, in collaboration with the ILO, "
                                                 "campaigns for the prevention of pneumoconiosis"]),
                            ("монгол улсын", ["МОНГОЛ УЛСЫН ХӨДӨЛМӨРИЙН ХУУЛЬ"]),
                            ("尘肺病", ["中国尘肺病防治宣传视频发布"]), ("100%", ["中国尘肺病防治宣传视频发布"]),
                            ("0%", ["中国尘肺病防治宣传视频发布"]), ("_", []), ("no such words", [])):
        _response, tree = page(base + "/", q=words)
        assert titles(tree) == expected, words
        assert tree.cssselect("#q")[0].get("value") == words
    _, mongolia = page(base + "/countries/mn/", q="pneumoconiosis")
    assert titles(mongolia) == [] and "No release matches." in mongolia.text_content()


def test_the_news_speaks_the_readers_language_and_keeps_it(site) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    base, *_ = site
    response, tree = page(base + "/", lang="zh_Hans")
    assert response.headers["content-language"] == "zh-Hans" and tree.get("lang") == "zh-Hans"
    assert tree.cssselect("h1")[0].text == "新闻与新闻稿"
    assert tree.cssselect("title")[0].text == "新闻与新闻稿 · 国际劳工组织中国和蒙古国局"
    assert tree.cssselect(".news h3")[0].get("lang") == "en"  # (the releases are in English)
    assert tree.cssselect(".news .meta")[0].text_content().startswith("2022年6月16日")
    countries = {a.text: a.get("href") for a in tree.cssselect("nav.news-nav a")}
    assert countries == {"中国": "/countries/cn/?lang=zh_Hans", "蒙古": "/countries/mn/?lang=zh_Hans"}
    assert tree.cssselect("input[name=lang]")[0].get("value") == "zh_Hans"
    _, mongolian = page(base + "/countries/cn/", lang="mn")
    assert mongolian.cssselect("h1")[0].text == "Хятад"


def test_the_feeds_index_names_each_feed_in_the_readers_language(site) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    base, *_ = site
    for language, names in (("zh_Hans", ["中国", "蒙古", "所有国家"]), ("mn", ["Хятад", "Монгол", "Бүх улс"]),
                            ("en", ["China", "Mongolia", "All countries"])):
        response, tree = page(base + "/feeds/", lang=language)
        tag = language.replace("_", "-")
        assert response.headers["content-language"] == tag and tree.get("lang") == tag
        assert [strong.text for strong in tree.cssselect(".feeds strong")] == names
        alternates = tree.cssselect("link[rel=alternate]")
        assert len(alternates) == 9 and alternates[0].get("title") == f"{names[0]} (Atom)"
        for link in tree.cssselect(".formats a"):  # each a feed of its type
            feed = httpx.get(link.get("href").replace("http://127.0.0.1:8080", base))
            assert feed.headers["content-type"].startswith(link.get("type"))
            entries = (json.loads(feed.content)["items"] if link.get("type") == "application/feed+json"
                       else feedparser.parse(feed.content).entries)
            assert entries, link.get("href")
    assert httpx.get(base + "/feeds/", headers={"Accept-Language": "mn"}).headers["content-language"] == "mn"
    assert httpx.head(base + "/feeds/").status_code == 200


def test_every_public_page_links_to_the_news_subscribing_the_digests_and_the_feeds(site) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    base, *_ = site
    _, news = page(base + "/", lang="mn")
    release = news.cssselect(".news h3 a")[0].get("href")
    for path in (release, "/no/such/page?lang=mn", "/digests/?lang=mn", "/subscribe?lang=mn"):
        tree = lxml.html.fromstring(httpx.get(base + path).text)
        links = [a.get("href") for a in tree.cssselect("nav.sections a")]
        current = [strong.text for strong in tree.cssselect("nav.sections strong")]
        assert len(links) + len(current) == 4, path
        assert set(links) <= {"/?lang=mn", "/subscribe?lang=mn", "/digests/?lang=mn", "/feeds/?lang=mn"}, path
        for link in links:
            assert httpx.get(base + link).status_code == 200, link
