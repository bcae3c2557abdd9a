"""An operator in headless Chromium at phone width: sign in, add a release with the form and
find it in the rebuilt feed; axe-core on every console page finds nothing against WCAG 2.1
A/AA, and no page scrolls sideways."""

from __future__ import annotations

import html
from pathlib import Path

import feedparser
import pytest
from helpers import SQLITE_ONLY, need
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from publisher.clock import utc_now
from publisher.operators.accounts import add_operator

pytestmark = pytest.mark.slow  # headless Chromium

AXE = Path(__file__).resolve().parent / "browser" / "node_modules" / "axe-core" / "axe.min.js"
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
PASSWORD = "correct horse battery staple"


def axe_violations(browser) -> list[str]:  # type: ignore[no-untyped-def]
    if not AXE.exists():
        need("axe-core is not installed (npm ci --prefix tests/browser)")
    browser.execute_script(AXE.read_text("utf-8"))
    found = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {runOnly: {type: 'tag', values: arguments[0]}})"
        ".then(r => done(r.violations.map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))))"
        ".catch(e => done(['axe failed: ' + e]));", WCAG)
    return list(found)


def wait_for_title(browser, start: str) -> None:  # type: ignore[no-untyped-def]
    WebDriverWait(browser, 15).until(lambda driver: driver.title.startswith(start))


def press_and_wait(browser, button, title: str) -> None:  # type: ignore[no-untyped-def]
    """Submit a form whose answer has the same title as the page: wait for the page to go."""
    button.click()
    WebDriverWait(browser, 15).until(lambda _driver: _gone(button))
    wait_for_title(browser, title)


def _gone(element) -> bool:  # type: ignore[no-untyped-def]
    """Whether the page that held `element` went. Mid-navigation Chromium may answer "Node with
    given id does not belong to the document" instead of a stale reference: gone all the same."""
    try:
        element.is_enabled()
    except WebDriverException:  # StaleElementReferenceException among them
        return True
    return False


def fits(browser) -> bool:  # type: ignore[no-untyped-def]
    return bool(browser.execute_script(
        "return document.documentElement.scrollWidth <= window.innerWidth"))


def sign_in_on_a_phone(browser, base: str, sessions, path: str, title: str) -> list[str]:  # type: ignore[no-untyped-def]
    """An operator made, and signed in on a phone's screen on the way to `path` (whose title
    starts with `title`); what axe found on the sign-in page."""
    with sessions.begin() as session:
        add_operator(session, "press@example.org", PASSWORD, utc_now())
    browser.delete_all_cookies()
    browser.set_window_size(375, 812)
    browser.get(base + path)
    wait_for_title(browser, "Sign in")
    problems = axe_violations(browser)
    browser.find_element(By.ID, "email").send_keys("press@example.org")
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "main button[type=submit]").click()
    wait_for_title(browser, title)
    return problems


@SQLITE_ONLY
def test_an_operator_adds_a_release_on_a_phone(web, browser) -> None:  # type: ignore[no-untyped-def]
    base, _path, config, sessions, server = web
    problems = {"login": sign_in_on_a_phone(browser, base, sessions, "/admin/releases", "Releases")}
    problems["releases"] = axe_violations(browser)
    assert fits(browser)

    browser.find_element(By.LINK_TEXT, "Add a release").click()
    wait_for_title(browser, "Add a release")
    problems["new release"] = axe_violations(browser)
    browser.find_element(By.ID, "title").send_keys("Herders & decent work in Mongolia")
    browser.find_element(By.ID, "summary").send_keys("A survey of herders' working lives.")
    browser.find_element(By.CSS_SELECTOR, "input[name=countries][value=MN]").click()
    browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    wait_for_title(browser, "Herders & decent work")
    assert "The release was added" in browser.find_element(By.TAG_NAME, "main").text
    problems["release"] = axe_violations(browser)
    assert fits(browser)
    feed = feedparser.parse(Path(config.feeds.dir, "mn", "atom.xml").read_bytes())
    assert html.unescape(feed.entries[0].title) == "Herders & decent work in Mongolia"

    browser.get(base + "/admin/subscribers")
    wait_for_title(browser, "Subscribers")
    browser.find_element(By.ID, "email").send_keys("reader@example.org")
    browser.find_element(By.CSS_SELECTOR, "form[aria-labelledby=add] input[value=CN]").click()
    browser.find_element(By.CSS_SELECTOR, "form[aria-labelledby=add] button").click()
    wait_for_title(browser, "reader@example.org")
    problems["subscriber"] = axe_violations(browser)
    browser.find_element(By.CSS_SELECTOR, "main input[name=countries][value=MN]").click()  # CN and MN now
    browser.find_element(By.XPATH, "//main//button[text()='Save']").click()
    WebDriverWait(browser, 15).until(lambda driver: "done=saved" in driver.current_url)
    with sessions() as session:
        from publisher.subscribers.people import find_subscriber

        reader = find_subscriber(session, "reader@example.org")
        assert reader is not None and sorted(reader.country_codes) == ["CN", "MN"]
    browser.get(base + "/admin/digests")
    wait_for_title(browser, "Digests")
    problems["digests"] = axe_violations(browser)
    first = browser.find_element(By.CSS_SELECTOR, "main section")
    digest = first.find_element(By.TAG_NAME, "h2").text
    first.find_element(By.PARTIAL_LINK_TEXT, "Preview").click()
    WebDriverWait(browser, 15).until(lambda driver: "/preview" in driver.current_url)
    assert "unsubscribe" in browser.find_element(By.TAG_NAME, "body").text.lower()  # the mail, as a page
    browser.back()
    wait_for_title(browser, "Digests")
    first = browser.find_element(By.CSS_SELECTOR, "main section")
    press_and_wait(browser, first.find_element(By.XPATH, ".//button[text()='Send a test copy']"), "Digests")
    assert "The test copy was sent." in browser.find_element(By.TAG_NAME, "main").text
    [copy] = server.to("press@example.org")
    assert copy.message["Subject"].startswith("[Test] ")
    pause = browser.find_element(By.CSS_SELECTOR, "main section").find_element(By.XPATH, ".//button[text()='Pause']")
    press_and_wait(browser, pause, "Digests")
    section = browser.find_element(By.CSS_SELECTOR, "main section")
    assert "Its next fire time is skipped" in section.text and section.find_elements(By.TAG_NAME, "s")
    problems["digests, paused"] = axe_violations(browser)
    browser.get(base + "/admin")
    wait_for_title(browser, "Dashboard")
    row = browser.find_element(By.XPATH, f"//td[starts-with(., 'digest:{digest}')]/..")
    assert "paused" in row.text and row.find_elements(By.TAG_NAME, "s")
    for name, path in (("dashboard", "/admin"), ("audit", "/admin/audit"), ("subscribers", "/admin/subscribers"),
                       ("sources", "/admin/sources"), ("API tokens", "/admin/tokens"),
                       ("dashboard in Chinese", "/admin?lang=zh_Hans"), ("audit in Mongolian", "/admin/audit?lang=mn")):
        browser.get(base + path)
        WebDriverWait(browser, 15).until(lambda driver: driver.find_elements(By.TAG_NAME, "h1"))
        problems[name] = axe_violations(browser)
        assert fits(browser), name
    assert "release.add" in browser.find_element(By.TAG_NAME, "main").text
    assert {name: found for name, found in problems.items() if found} == {}
