"""Readers in English, Chinese and Mongolian: the pages they see, the mail they get (real
aiosmtpd, real SQLite and PostgreSQL, headless Chromium)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import lxml.html
import pytest
from click.testing import CliRunner
from helpers import local, open_link
from sqlalchemy import select

from publisher.cli import cli
from publisher.store.models import EditionVariant

SHOTS = Path(__file__).resolve().parent.parent / "build" / "screenshots"


def subscribe(base: str, email: str, language: str, lang: str = "") -> httpx.Response:
    query = f"?lang={lang}" if lang else ""
    with httpx.Client(base_url=base) as client:
        form = client.get("/subscribe" + query)
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
        return client.post("/subscribe" + query, data={"email": email, "countries": ["CN"],
                                                       "language": language, "csrf": csrf})


def words(text: str) -> str:
    return " ".join(text.split())


def test_a_reader_who_chooses_chinese_gets_chinese_mail(web) -> None:  # type: ignore[no-untyped-def]
    base, path, _config, sessions, server = web
    answer = subscribe(base, "reader@example.org", "zh_Hans", lang="zh_Hans")
    assert answer.status_code == 200 and "请查收邮件" in answer.text
    assert answer.headers["content-language"] == "zh-Hans"
    [letter] = server.to("reader@example.org")
    assert letter.message["Subject"] == "请确认订阅国际劳工组织中国和蒙古国局的新闻"
    assert letter.message["From"].addresses[0].display_name == "国际劳工组织中国和蒙古国局"  # (site.names)
    text, html = (part.get_content() for part in letter.message.iter_parts())
    assert "有人（希望是您本人）申请用 reader@example.org 接收国际劳工组织中国和蒙古国局关于中国的新闻" in words(text)
    assert '<html lang="zh-Hans">' in html  # a BCP 47 tag (zh_Hans, the locale id, is no HTML language)
    assert f"<title>{letter.message['Subject']}</title>" in html
    link = re.search(r"(https?://\S+/confirm\?lang=zh_Hans&token=\S+)", text).group(1)  # type: ignore[union-attr]
    confirmed = httpx.get(local(link, base))  # the page speaks the reader's language too
    assert confirmed.status_code == 200 and "订阅成功" in confirmed.text
    subscribe(base, "english@example.org", "en")
    english_letter = server.to("english@example.org")[0]
    english_link = re.search(r"(https?://\S+/confirm\?token=\S+)",
                             next(english_letter.message.iter_parts()).get_content()).group(1)  # type: ignore[union-attr]
    assert httpx.get(local(english_link, base)).status_code == 200

    sent = CliRunner().invoke(cli, ["--config", str(path), "digest", "send", "china-weekly"])
    assert sent.stdout.endswith("2 sent, 0 failed\n"), sent.stderr
    chinese = server.to("reader@example.org")[-1].message
    assert re.fullmatch(r"国际劳工组织中国：19 条新闻稿（2021年\d+月\d+日\s*–\s*2022年6月16日）", chinese["Subject"])
    assert chinese["From"].addresses[0].display_name == "国际劳工组织中国和蒙古国局"
    text, html = (part.get_content() for part in chinese.iter_parts())
    assert "您收到此邮件，是因为 reader@example.org 订阅了国际劳工组织中国和蒙古国局关于中国的新闻。" in words(text)
    dates = [p.text_content() for p in lxml.html.fromstring(html).cssselect(".item-date")]
    # The releases exist in English only: marked so (WCAG 2.1 SC 3.1.2), in a Chinese document.
    titles = lxml.html.fromstring(html).cssselect(".item-title")
    assert titles and {title.get("lang") for title in titles} == {"en"}
    assert dates[0] == "2022年6月16日"
    assert "退订" in html and "选择国家" in html
    for line in ("选择国家：http", "退订：http", "中国订阅源：http"):  # full-width colons, no space
        assert line in text, line
    assert ": " not in text.replace("http://", "").replace("https://", "")
    one_click = re.findall(r"<([^>]+)>", chinese["List-Unsubscribe"])[0]
    assert "/unsubscribe?lang=zh_Hans&token=" in one_click
    assert "停止向 reader@example.org 发送" in httpx.get(local(one_click, base)).text
    archive = lxml.html.fromstring(httpx.get(base + "/digests/?lang=zh_Hans").text)
    [listed] = archive.cssselect("main li a")
    assert listed.text == chinese["Subject"] and listed.get("href") == "/digests/china-weekly/1?lang=zh_Hans"
    edition = httpx.get(base + listed.get("href")).text
    assert "/subscribe?lang=zh_Hans" in edition and "19 条新闻稿" in edition
    english = server.to("english@example.org")[-1].message
    assert 'class="item-title" lang=' not in english.get_body(("html",)).get_content()  # (English in English)
    release = lxml.html.fromstring(open_link(titles[0].cssselect("a")[0].get("href"), base,
                                             params={"lang": "zh_Hans"}).text)
    assert release.get("lang") == "zh-Hans" and release.cssselect("h1")[0].get("lang") == "en"
    assert english["Subject"].startswith("ILO China: 19 new releases (")
    assert english["From"].addresses[0].display_name == "ILO Country Office for China and Mongolia"
    assert "You receive this email because english@example.org subscribed" in words(
        next(english.iter_parts()).get_content())
    with sessions() as session:
        variants = session.execute(select(EditionVariant.countries, EditionVariant.language)
                                   .order_by(EditionVariant.language)).all()
    assert [tuple(v) for v in variants] == [("CN", "en"), ("CN", "zh_Hans")]


def test_pages_speak_the_language_asked_for(web) -> None:  # type: ignore[no-untyped-def]
    base = web[0]
    chinese = httpx.get(base + "/subscribe", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"})
    assert chinese.headers["content-language"] == "zh-Hans" and '<html lang="zh-Hans">' in chinese.text
    page = lxml.html.fromstring(chinese.text)
    assert page.cssselect("h1")[0].text == "订阅" and "中国" in chinese.text
    assert page.cssselect("title")[0].text == "订阅 · 国际劳工组织中国和蒙古国局"  # the office's name, in Chinese
    assert page.cssselect("header a")[0].text == "国际劳工组织中国和蒙古国局"
    mongolian = httpx.get(base + "/subscribe?lang=mn", headers={"Accept-Language": "zh-CN"})
    assert lxml.html.fromstring(mongolian.text).cssselect("h1")[0].text == "Захиалах"
    assert lxml.html.fromstring(mongolian.text).cssselect("header a")[0].text == (
        "ОУХБ-ын Хятад, Монгол дахь суурин төлөөлөгчийн газар")
    switch = {a.get("hreflang"): a.get("href") for a in
              lxml.html.fromstring(mongolian.text).cssselect("nav.languages a")}
    assert switch == {"en": "/subscribe?lang=en", "zh-Hans": "/subscribe?lang=zh_Hans"}
    english = httpx.get(base + "/subscribe", headers={"Accept-Language": "fr-FR"})
    assert english.headers["content-language"] == "en"
    bad = httpx.get(base + "/unsubscribe?token=1.2.x&lang=mn")
    assert bad.status_code == 400 and "Холбоос хүчингүй байна." in bad.text


@pytest.mark.slow  # headless Chromium
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the page is the same on either
@pytest.mark.parametrize("language", ["en", "zh_Hans", "mn"])
def test_the_subscribe_page_fits_a_phone_in_every_language(web, browser, language: str) -> None:  # type: ignore[no-untyped-def]
    base = web[0]
    browser.set_window_size(375, 812)
    browser.get(f"{base}/subscribe?lang={language}")
    assert browser.execute_script("return document.documentElement.lang") == language.replace("_", "-")
    SHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SHOTS / f"subscribe-375-{language}.png"))
    width = browser.execute_script("return document.documentElement.scrollWidth")
    assert width <= browser.execute_script("return window.innerWidth")
    selected = browser.execute_script("return document.getElementById('language').value")
    assert selected == language
