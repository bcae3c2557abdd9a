"""The digest's HTML in a real browser: it fits a 600 px and a 375 px wide screen."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import NOW, mail_config, setup_store, sqlite_store

from publisher.jobs.samples import preview_digest

SHOTS = Path(__file__).resolve().parent.parent / "build" / "screenshots"


@pytest.mark.parametrize("width", [600, 375])
def test_digest_fits_the_screen_without_sideways_scrolling(tmp_path, browser, width: int) -> None:  # type: ignore[no-untyped-def]
    path = mail_config(tmp_path, sqlite_store(tmp_path), None)
    config, sessions = setup_store(path)
    preview = preview_digest(sessions, config, "china-weekly", tmp_path / "out", NOW)
    assert preview is not None
    [html, _, _] = preview.files
    browser.set_window_size(width, 900)
    browser.get(html.as_uri())
    inner = browser.execute_script("return window.innerWidth")
    scroll = browser.execute_script("return document.documentElement.scrollWidth")
    assert scroll <= inner, f"{scroll}px of content in a {inner}px window"
    container = browser.execute_script(
        "return document.querySelector('.container').getBoundingClientRect().width")
    assert container == pytest.approx(min(600, inner), abs=1)
    title_size = browser.execute_script(
        "return parseFloat(getComputedStyle(document.querySelector('.item-title')).fontSize)")
    assert title_size >= 17  # readable on a phone
    SHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SHOTS / f"digest-{width}.png"))
