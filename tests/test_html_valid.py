"""Every public page and every mail a reader gets, in en, zh-Hans and mn, as the W3C's Nu Html
Checker (vnu, the validator behind validator.w3.org/nu) judges them: no error at all; and as
axe-core judges them in headless Chromium on a phone's screen: no violation, nothing wider than
the screen.

A reader's whole way is walked over real HTTP with the mail read from a real SMTP server:
the news, a country, a search, the feeds, a release, a missing page, subscribing, the
confirmation mail, confirming, preferences, the "already subscribed" mail, a digest, its archive
page, unsubscribing, a dead link. Every document goes to one run of vnu."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import httpx
import lxml.html
import pytest
from helpers import local, need
from test_console_browser import SQLITE_ONLY, axe_violations, fits
from test_web_subscriptions import send_digest, subscribe

VNU = Path(__file__).parent / "browser" / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"
LANGUAGES = ("en", "zh_Hans", "mn")


def vnu_errors(files: list[Path]) -> dict[str, list[str]]:
    """Each file's errors, as `line: message`; every file is named, with none when valid."""
    if not VNU.exists():
        need("vnu.jar is not installed (npm ci --prefix tests/browser)")
    java = shutil.which("java")
    if java is None:
        need("java is not installed (Debian: default-jre-headless)")
    # One short run: the quick compiler alone and the serial collector halve the JVM's CPU time.
    quick = ["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"]
    checked = subprocess.run([java, "-Xss8m", *quick, "-jar", str(VNU), "--errors-only", "--format", "json",
                              "--exit-zero-always", *map(str, files)], capture_output=True, timeout=120, check=True)
    found: dict[str, list[str]] = {file.name: [] for file in files}
    for message in json.loads(checked.stderr)["messages"]:
        name = message.get("url", "").rsplit("/", 1)[-1]
        found.setdefault(name, []).append(f"{message.get('lastLine', '?')}: {message['message']}")
    return found


# Latin words a Chinese or Mongolian reader may meet outside text marked lang="en": the names of
# feed formats. (Addresses and links are taken out first.)
NAMES = {"Atom", "RSS", "JSON Feed", "OPML"}
_ADDRESSES = re.compile(r"\S+@\S+|https?://\S+")
_LATIN = re.compile(r"[A-Za-z][A-Za-z'’-]+(?: [A-Za-z][A-Za-z'’-]+)*")


def english_shown(html: str) -> set[str]:
    """The Latin words a reader sees that are not in an element marked lang="en" (the <title>
    aside: it cannot mark a release's English title inside it)."""
    found: set[str] = set()
    for element in lxml.html.fromstring(html).iter():
        if not isinstance(element.tag, str) or element.tag in ("style", "script", "title", "head"):
            continue
        if _language(element) != "en" and element.text:
            found.update(_LATIN.findall(_ADDRESSES.sub(" ", element.text)))
        parent = element.getparent()
        if parent is not None and _language(parent) != "en" and element.tail:
            found.update(_LATIN.findall(_ADDRESSES.sub(" ", element.tail)))
    return found - NAMES


def _language(element) -> str | None:  # type: ignore[no-untyped-def]
    return next((e.get("lang") for e in (element, *element.iterancestors()) if e.get("lang")), None)


def html_of(message) -> str:  # type: ignore[no-untyped-def]
    body = message.get_body(("html",))
    assert body is not None
    return str(body.get_content())


class Documents:
    """What a reader was shown, each kept as a file for the validator."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.files = folder, []  # type: ignore[var-annotated]
        folder.mkdir()

    def keep(self, name: str, html: str) -> str:
        file = self.folder / f"{len(self.files):02d}-{name}.html"
        file.write_text(html, "utf-8")
        self.files.append(file)
        return html

    def page(self, name: str, response: httpx.Response, status: int = 200) -> str:
        assert response.status_code == status, (name, response.status_code)
        assert response.headers["content-type"].startswith("text/html"), name
        return self.keep(name, response.text)


@pytest.mark.slow  # the JVM, headless Chromium
@SQLITE_ONLY
def test_every_public_page_and_mail_in_each_language_passes_vnu_and_axe(web, browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    base, path, _config, _sessions, server = web
    shown = Documents(tmp_path / "shown")
    release = re.search(r'href="(/releases/[^"?]+)', httpx.get(base + "/").text).group(1)  # type: ignore[union-attr]
    for language in LANGUAGES:
        lang = {"lang": language}
        for name, where, status in (("news", "/", 200), ("country", "/countries/mn/", 200),
                                    ("search", "/?q=social", 200), ("nothing-found", "/?q=zzzz", 200),
                                    ("feeds", "/feeds/", 200), ("release", release, 200),
                                    ("missing", "/no/such/page", 404), ("dead-link", "/confirm?token=x", 400),
                                    ("subscribe", "/subscribe", 200), ("digests", "/digests/", 200)):
            shown.page(f"{language}-{name}", httpx.get(base + where, params=lang), status)
        shown.page(f"{language}-subscribe-mistaken", subscribe(base, "not an address", [], language=language), 400)
        email = f"reader-{language.lower()}@example.org"
        shown.page(f"{language}-subscribed", subscribe(base, email, ["CN"], language=language))
        confirmation = server.to(email)[0].message
        mail = shown.keep(f"{language}-confirm-mail", html_of(confirmation))
        # (a Subject too long for its first line starts on the next: unfolded, one space leads)
        assert lxml.html.fromstring(mail).findtext(".//title") == confirmation["Subject"].strip()
        confirm = re.search(r'href="([^"]+/confirm\?[^"]+)"', mail).group(1).replace("&amp;", "&")  # type: ignore[union-attr]
        confirmed = shown.page(f"{language}-confirmed", httpx.get(local(confirm, base)))
        preferences = re.search(r'href="(/preferences\?[^"]+)"', confirmed).group(1).replace("&amp;", "&")  # type: ignore[union-attr]
        with httpx.Client(base_url=base) as client:
            form = shown.page(f"{language}-preferences", client.get(preferences))
            csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
            shown.page(f"{language}-preferences-saved", client.post(preferences, data={"countries": ["CN", "MN"],
                                                                                        "csrf": csrf}))
        subscribe(base, email, ["CN"], language=language)
        shown.keep(f"{language}-already-mail", html_of(server.to(email)[-1].message))
    sent = send_digest(path)
    assert sent.endswith("3 sent, 0 failed\n"), sent
    for language in LANGUAGES:
        digest = server.to(f"reader-{language.lower()}@example.org")[-1].message
        shown.keep(f"{language}-digest-mail", html_of(digest))
        shown.page(f"{language}-edition", httpx.get(base + "/digests/china-weekly/1", params={"lang": language}))
        one_click = local(re.findall(r"<([^>]+)>", digest["List-Unsubscribe"])[0], base)
        shown.page(f"{language}-unsubscribe", httpx.get(one_click))
        typed = {"Content-Type": "application/x-www-form-urlencoded"}
        unsubscribing = httpx.post(one_click, content=b"List-Unsubscribe=One-Click", headers=typed)
        shown.page(f"{language}-unsubscribed", unsubscribing)
    assert len(shown.files) == 3 * 21
    english = {file.name: english_shown(file.read_text("utf-8")) for file in shown.files if "-en-" not in file.name}
    assert {name: words for name, words in english.items() if words} == {}
    errors = vnu_errors(shown.files)
    assert {name: found for name, found in errors.items() if found} == {}
    browser.set_window_size(375, 812)
    for file in shown.files:  # (from the file: what a page shows needs nothing from the server)
        browser.get(file.as_uri())
        language = file.stem.split("-")[1]
        assert browser.execute_script("return document.documentElement.lang") == language.replace("_", "-"), file.name
        errors[file.name] = axe_violations(browser) + ([] if fits(browser) else ["wider than the phone"])
    assert {name: found for name, found in errors.items() if found} == {}
