"""Digests created, changed and retired in the console and the API, over real HTTP: checked as
`config check` checks them, audited, with each setting's source shown; and, in headless
Chromium, a digest created in the console is sent by a `publisher run` that was already
running, then its schedule changed there stops the old time firing."""

from __future__ import annotations

import inspect
import json
import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers import FAST_FIRE_EVERY, SQLITE_ONLY, editions, set_keys, start_run, stop, wait_until
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import select
from test_console import PASSWORD, csrf_of, sign_in
from test_console_browser import axe_violations, fits, wait_for_title

from publisher.clock import utc_now
from publisher.jobs.imports import ImportRequest, import_files
from publisher.operators.accounts import add_operator
from publisher.operators.tokens import make_token
from publisher.store.models import AuditEntry, Edition, ScheduleRun
from publisher.store.statuses import SubscriberStatus
from publisher.subscribers.people import SubscriberRow, find_subscriber, save_subscribers, set_digests
from publisher.web.console.digest_forms import SHOWN as DIGEST_SHOWN
from publisher.web.console.digest_forms import digest_fields
from publisher.web.console.source_forms import SHOWN as SOURCE_SHOWN
from publisher.web.console.source_forms import source_fields

FORM = {"name": "mongolia-weekly", "countries": ["MN"], "cron": "0 9 * * MON", "timezone": "Asia/Ulaanbaatar",
        "max_items": "10", "first_edition_window": "14d", "subject": "Mongolia: {releases}", "subject_zh_Hans": "",
        "subject_mn": "Монгол: {releases}", "title": "", "title_zh_Hans": "", "title_mn": ""}


def audit(sessions) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    with sessions() as session:
        return [(e.actor, e.action, e.subject) for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))
                if e.action.startswith("digest.")]


@pytest.fixture
def signed_in(web):  # type: ignore[no-untyped-def]
    base, _path, config, sessions, _server = web
    with sessions.begin() as session:
        add_operator(session, "press@example.org", PASSWORD, utc_now())
    with httpx.Client(base_url=base, follow_redirects=False, timeout=20) as client:
        sign_in(client)
        yield client, config, sessions


def test_a_digest_created_changed_and_retired_in_the_console(signed_in) -> None:  # type: ignore[no-untyped-def]
    client, _config, sessions = signed_in
    new = client.get("/admin/digests/new")
    assert new.status_code == 200 and 'name="cron"' in new.text
    refused = client.post("/admin/digests/new", data={**FORM, "csrf": csrf_of(new), "cron": "0 9 * * MONDAY",
                                                       "countries": ["MN", "XX"], "timezone": "Mars/Base"})
    assert refused.status_code == 400
    for key in ("cron:", "timezone:"):
        assert key in refused.text
    assert 'value="Mars/Base"' in refused.text  # what was typed stays in the form
    made = client.post("/admin/digests/new", data={**FORM, "csrf": csrf_of(new)})
    assert made.status_code == 303
    assert made.headers["location"] == "/admin/digests/mongolia-weekly/settings?done=created"
    settings = client.get("/admin/digests/mongolia-weekly/settings")
    assert "Made by press@example.org (config.toml has no such digest)." in settings.text
    assert "At 09:00, only on Monday (Asia/Ulaanbaatar; 0 9 * * MON)" in settings.text
    assert "Монгол: {releases}" in settings.text
    listing = client.get("/admin/digests").text
    assert "mongolia-weekly" in listing and "changed by press@example.org" in listing

    shipped = client.get("/admin/digests/china-weekly/settings")
    assert "These settings come from config.toml." in shipped.text
    values = {**FORM, "name": "china-weekly", "countries": ["CN"], "cron": "0 8 * * TUE", "timezone": "Asia/Shanghai",
              "max_items": "20", "subject": "ILO China: {releases} ({dates})",
              "subject_zh_Hans": "国际劳工组织中国：{releases}（{dates}）",
              "subject_mn": "ОУХБ Хятад: {releases} ({dates})",
              "first_edition_window": "3650d"}
    saved = client.post("/admin/digests/china-weekly/settings", data={**values, "csrf": csrf_of(shipped)})
    assert saved.headers["location"].endswith("done=saved")
    after = client.get("/admin/digests/china-weekly/settings").text
    assert "changed by press@example.org; config.toml says: 0 9 * * MON" in after
    assert after.count("same as config.toml") >= 5  # the other settings are the file's still
    retired = client.post("/admin/digests/mongolia-weekly/retire", data={"csrf": csrf_of(shipped)})
    assert retired.headers["location"] == "/admin/digests?done=retired"
    assert "mongolia-weekly" not in client.get("/admin/digests").text
    assert client.get("/admin/digests/mongolia-weekly/settings").status_code == 404
    assert audit(sessions) == [("press@example.org", "digest.create", "digest mongolia-weekly"),
                               ("press@example.org", "digest.change", "digest china-weekly"),
                               ("press@example.org", "digest.retire", "digest mongolia-weekly")]


def test_a_form_opened_before_an_upgrade_leaves_the_settings_it_did_not_show(signed_in) -> None:  # type: ignore[no-untyped-def]
    client, _config, _sessions = signed_in
    values = {**FORM, "name": "china-weekly", "countries": ["CN"], "cron": "0 8 * * TUE", "timezone": "Asia/Shanghai",
              "max_items": "20", "first_edition_window": "3650d", "count_clicks_for": "30d"}

    def save(extra: dict[str, str]) -> str:
        return saved_form(client, "/admin/digests/china-weekly/settings", {**values, **extra},
                          {"pictures", "track_links", "cron"})

    shown = save({"pictures": "yes", "track_links": "yes"})
    assert 'name="pictures" value="yes" checked' in shown and 'name="track_links" value="yes" checked' in shown
    older = " ".join(key for key in ("name", "countries", "cron", "timezone", "max_items", "subject", "subjects"))
    kept = save({"fields": older, "cron": "0 7 * * TUE"})  # neither box on that form: both left as they were
    assert 'name="pictures" value="yes" checked' in kept and 'name="track_links" value="yes" checked' in kept
    assert "0 7 * * TUE" in kept
    cleared = save({"fields": ""})  # a form that names none: what it sent is all (the boxes off)
    assert 'name="pictures" value="yes">' in cleared and 'name="track_links" value="yes">' in cleared


def saved_form(client: Any, path: str, values: dict[str, Any], showing: set[str]) -> str:
    """The settings form at `path` posted with `values` (its own hidden `fields`, which name at
    least `showing`, unless `values` names others), and the form as it reads after."""
    form = client.get(path)
    fields = re.search(r'name="fields" value="([^"]*)"', form.text).group(1)  # type: ignore[union-attr]
    assert showing <= set(fields.split())
    saved = client.post(path, data={"csrf": csrf_of(form), "fields": fields, **values})
    assert saved.status_code == 303
    return str(client.get(path).text)


def test_each_settings_form_names_every_setting_its_fields_give() -> None:
    """Its hidden `fields` come from SHOWN: a setting the fields give but SHOWN lacks would never
    be saved from the form."""
    source = {"input_format": "listing", "cron": "0 5 * * *"}  # (a blank format or schedule gives no key)
    for fields, shown, given in ((digest_fields, DIGEST_SHOWN, {}), (source_fields, SOURCE_SHOWN, source)):
        defaults = {name: parameter.default.default for name, parameter in inspect.signature(fields).parameters.items()}
        assert set(fields(**defaults | given)) == set(shown), fields.__name__


def test_digests_created_changed_and_retired_through_the_api(web) -> None:  # type: ignore[no-untyped-def]
    base, _path, _config, sessions, _server = web
    with sessions.begin() as session:
        operator = add_operator(session, "cms@example.org", "a long enough password", utc_now())
        _row, reader = make_token(session, operator, "reader", utc_now(), ("read",))
        _row, sender = make_token(session, operator, "sender", utc_now(), ("sending",))
    body = {"name": "mongolia-weekly", "countries": ["MN"], "cron": "0 9 * * MON", "timezone": "Asia/Ulaanbaatar"}
    with httpx.Client(base_url=base + "/api/v1", timeout=20) as client:
        as_reader = {"Authorization": f"Bearer {reader}"}
        assert client.post("/digests", json=body, headers=as_reader).status_code == 403
        client.headers["Authorization"] = f"Bearer {sender}"
        bad = client.post("/digests", json={**body, "countries": ["ZZ"], "subject": "{x}"})
        assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
        assert bad.json()["problems"] == ["countries[0]: unknown country 'ZZ'",
                                          "subject: unknown placeholder {x}; use {count}, {dates}, {end}, "
                                          "{name}, {releases}, {start}"]
        made = client.post("/digests", json=body)
        assert made.status_code == 201 and made.json()["first_edition_window"] == "14d"
        assert client.post("/digests", json=body).status_code == 422  # exists
        changed = client.patch("/digests/mongolia-weekly", json={"cron": "@daily", "max_items": 5})
        assert changed.json()["cron"] == "@daily" and changed.json()["max_items"] == 5
        assert client.patch("/digests/mongolia-weekly", json={"name": "other"}).status_code == 422
        listed = {d["name"]: d for d in client.get("/digests", headers=as_reader).json()}
        assert listed["mongolia-weekly"]["source"] == "operator"
        assert listed["mongolia-weekly"]["cron_in_words"] == "At 00:00 (Asia/Ulaanbaatar; @daily)"
        assert listed["china-weekly"]["source"] == "config.toml"
        assert client.delete("/digests/mongolia-weekly").json() == {"digest": "mongolia-weekly", "retired": True}
        assert client.delete("/digests/mongolia-weekly").status_code == 404
        assert "mongolia-weekly" not in {d["name"] for d in client.get("/digests", headers=as_reader).json()}
    assert [action for _, action, _ in audit(sessions)] == ["digest.create", "digest.change", "digest.retire"]


@SQLITE_ONLY
def test_a_digest_made_in_the_console_is_sent_by_the_running_scheduler_and_its_new_schedule_holds(
        web, browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    base, path, config, sessions, server = web
    set_keys(path, "scheduler", changes_poll='"0.5s"')
    with sessions.begin() as session:
        add_operator(session, "press@example.org", PASSWORD, utc_now())
        save_subscribers(session, [SubscriberRow("herder@example.org", ("MN",))], SubscriberStatus.CONFIRMED, utc_now())
        herder = find_subscriber(session, "herder@example.org")
        assert herder is not None
        set_digests(herder, ["mongolia-monthly", "mongolia-now"])  # (a digest they chose, to come)
    running = start_run(path, tmp_path / "run.log", fast_fire=True)
    try:
        wait_until(lambda: "scheduler running" in (tmp_path / "run.log").read_text())
        browser.delete_all_cookies()
        browser.set_window_size(375, 812)
        browser.get(base + "/admin/login?next=/admin/digests/new")
        browser.find_element(By.ID, "email").send_keys("press@example.org")
        browser.find_element(By.ID, "password").send_keys(PASSWORD)
        browser.find_element(By.CSS_SELECTOR, "main button[type=submit]").click()
        wait_for_title(browser, "New digest")
        problems = {"new digest": axe_violations(browser)}
        browser.find_element(By.ID, "name").send_keys("mongolia-now")
        browser.find_element(By.CSS_SELECTOR, "input[name=countries][value=MN]").click()
        typed = (("cron", "* * * * *"), ("timezone", "Asia/Ulaanbaatar"), ("first_edition_window", "3650d"))
        for field, value in typed:
            browser.find_element(By.ID, field).clear()
            browser.find_element(By.ID, field).send_keys(value)
        browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
        wait_for_title(browser, "mongolia-now")
        assert "The digest was created" in browser.find_element(By.TAG_NAME, "main").text
        problems["digest settings"] = axe_violations(browser)
        assert fits(browser)
        readers = {"herder@example.org"}
        wait_until(lambda: len(server.received) == len(readers), 30)
        assert {m.recipients[0] for m in server.received} == readers
        assert "digest:mongolia-now: added, Every minute" in (tmp_path / "run.log").read_text()

        cron = browser.find_element(By.ID, "cron")
        cron.clear()
        cron.send_keys("0 9 1 1 *")
        browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
        WebDriverWait(browser, 15).until(lambda driver: "done=saved" in driver.current_url)
        wait_until(lambda: "digest:mongolia-now: now At 09:00" in (tmp_path / "run.log").read_text())
        wait_until(lambda: _run_finished(sessions, "digest:mongolia-now"))  # (one begun before the change)
        news = tmp_path / "news.json"
        news.write_text(json.dumps([{"title": "Herders' news", "published": datetime.now(UTC).isoformat(),
                                     "countries": ["MN"]}]))
        import_files(sessions, config, [ImportRequest(str(news))], datetime.now(UTC))
        time.sleep(FAST_FIRE_EVERY * 2 + 1)  # every-minute fire times would have come twice
        with sessions() as session:
            made = session.scalars(select(Edition.number).where(Edition.digest == "mongolia-now")).all()
        assert made == [1] and len(server.received) == len(readers)
    finally:
        assert stop(running) == 0
    assert problems == {name: [] for name in problems}
    assert editions(sessions)  # (the edition is the store's, as the report shows it)


def _run_finished(sessions, schedule_id: str) -> bool:  # type: ignore[no-untyped-def]
    with sessions() as session:
        run = session.get(ScheduleRun, schedule_id)
    return run is not None and run.finished is not None


def test_schedules_in_the_console_speak_the_operators_language(signed_in) -> None:  # type: ignore[no-untyped-def]
    client, _config, _sessions = signed_in
    english = client.get("/admin/digests").text
    assert "At 09:00, only on Monday (Asia/Shanghai; 0 9 * * MON)" in english
    chinese = client.get("/admin/digests", params={"lang": "zh_Hans"}).text
    assert "At 09:00" not in chinese and "Monday" not in chinese and "周一 09:00" in chinese
    mongolian = client.get("/admin/digests/china-weekly/settings", params={"lang": "mn"}).text
    assert "At 09:00" not in mongolian and "Mon " not in mongolian and "09:00" in mongolian


def test_counts_on_the_digests_page_agree_with_their_number(signed_in) -> None:  # type: ignore[no-untyped-def]
    client, _config, sessions = signed_in
    with sessions.begin() as session:
        save_subscribers(session, [SubscriberRow("one@example.org", ("CN",))], SubscriberStatus.CONFIRMED, utc_now())
    page = " ".join(client.get("/admin/digests").text.split())
    assert "Edition 1 would send 19 releases to 1 reader." in page  # (not "1 readers")
    chinese = " ".join(client.get("/admin/digests", params={"lang": "zh_Hans"}).text.split())
    assert "第 1 期将向 1 位读者发送 19 条新闻稿。" in chinese
