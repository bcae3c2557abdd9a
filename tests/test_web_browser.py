"""A person subscribing in headless Chromium: fill the form, follow the mailed link."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers import SITE, local, status_of
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

pytestmark = pytest.mark.slow  # headless Chromium

SHOTS = Path(__file__).resolve().parent.parent / "build" / "screenshots"


def test_fill_the_form_then_follow_the_confirmation_link(web, browser) -> None:  # type: ignore[no-untyped-def]
    base, _path, _config, sessions, server = web
    browser.set_window_size(390, 844)  # a phone
    browser.get(base + "/subscribe")
    assert browser.title.startswith("Subscribe")
    browser.find_element(By.ID, "email").send_keys("person@example.org")
    boxes = {box.get_attribute("value"): box for box in
             browser.find_elements(By.CSS_SELECTOR, "input[name=countries]")}
    assert all(box.is_selected() for box in boxes.values())  # every country, to begin with
    boxes["CN"].click()  # this person only wants Mongolia
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    # The click starts a navigation: wait for the answer page, not the form's heading.
    # The title, not an element: an element found on the old page may be gone a moment later.
    WebDriverWait(browser, 15).until(lambda driver: driver.title.startswith("Check your inbox"))
    SHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SHOTS / "subscribe-sent.png"))

    [letter] = server.to("person@example.org")
    text = next(letter.message.iter_parts()).get_content()
    assert "about Mongolia at person@example.org" in " ".join(text.split())
    link = re.search(r"(https?://\S+/confirm\?token=\S+)", text).group(1)  # type: ignore[union-attr]
    assert link.startswith(SITE)
    browser.get(local(link, base))
    assert browser.find_element(By.TAG_NAME, "h1").text == "You are subscribed"
    assert "person@example.org" in browser.find_element(By.TAG_NAME, "main").text
    browser.save_screenshot(str(SHOTS / "subscribe-confirmed.png"))
    assert status_of(sessions, "person@example.org") == "confirmed"
    width = browser.execute_script("return document.documentElement.scrollWidth")
    assert width <= browser.execute_script("return window.innerWidth")
