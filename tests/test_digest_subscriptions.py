"""Readers choose digests: with two Mongolia digests, a reader who chose one gets one mail, and
a reader who had chosen none before the second was made keeps exactly what they had."""

from __future__ import annotations

import re

import httpx
from click.testing import CliRunner
from helpers import local, status_of
from sqlalchemy.orm import Session, sessionmaker

from publisher.cli import cli
from publisher.clock import utc_now
from publisher.jobs.digest_settings import create_digest
from publisher.operators.accounts import add_operator
from publisher.operators.tokens import make_token
from publisher.store.statuses import SubscriberStatus
from publisher.subscribers.people import SubscriberRow, find_subscriber, save_subscribers

WEEKLY = {"name": "mongolia-weekly", "countries": ["MN"], "cron": "0 9 * * MON", "timezone": "Asia/Ulaanbaatar",
          "subject": "Mongolia this week: {releases}", "first_edition_window": "3650d"}


def form_post(base: str, path: str, data: dict[str, object]) -> httpx.Response:
    with httpx.Client(base_url=base) as client:
        form = client.get(path)
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
        return client.post(path, data={**data, "csrf": csrf})


def send(path, name: str) -> str:  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, ["--config", str(path), "digest", "send", name]).stdout


def choices(sessions: sessionmaker[Session], email: str) -> list[str]:
    with sessions() as session:
        found = find_subscriber(session, email)
        assert found is not None
        return found.digest_names


def test_a_reader_of_one_of_two_mongolia_digests_gets_one_mail(web) -> None:  # type: ignore[no-untyped-def]
    base, path, config, sessions, server = web
    with sessions.begin() as session:  # a reader from before readers chose digests
        save_subscribers(session, [SubscriberRow("old@example.org", ("MN",))], SubscriberStatus.CONFIRMED, utc_now())
    create_digest(sessions, config, "press@example.org", WEEKLY, utc_now())
    assert choices(sessions, "old@example.org") == ["mongolia-monthly"]  # what they had, and no more

    form = httpx.get(base + "/subscribe").text
    assert form.count('name="digests"') == 3 and "Mongolia this week" not in form
    refused = form_post(base, "/subscribe", {"email": "new@example.org", "countries": ["MN"],
                                             "digests": ["china-weekly"]})
    assert refused.status_code == 400 and "Choose a country of each digest you chose." in refused.text
    answer = form_post(base, "/subscribe", {"email": "new@example.org", "countries": ["MN"],
                                            "digests": ["mongolia-weekly"]})
    assert "Check your inbox" in answer.text
    [letter] = server.to("new@example.org")
    link = re.search(r"(https?://\S+/confirm\?token=\S+)", next(letter.message.iter_parts()).get_content())
    assert link is not None and httpx.get(local(link.group(1), base)).status_code == 200
    assert status_of(sessions, "new@example.org") == "confirmed"
    assert choices(sessions, "new@example.org") == ["mongolia-weekly"]

    assert send(path, "mongolia-weekly").endswith("1 sent, 0 failed\n")
    assert send(path, "mongolia-monthly").endswith("1 sent, 0 failed\n")
    new_mail = [m.message["Subject"] for m in server.to("new@example.org")][1:]
    old_mail = [m.message["Subject"] for m in server.to("old@example.org")]
    assert len(new_mail) == 1 and new_mail[0].startswith("Mongolia this week: ")
    assert len(old_mail) == 1 and old_mail[0].startswith("ILO Mongolia: ")


def test_preferences_show_and_change_the_chosen_digests(web) -> None:  # type: ignore[no-untyped-def]
    base, _path, config, sessions, server = web
    create_digest(sessions, config, "press@example.org", WEEKLY, utc_now())
    form_post(base, "/subscribe", {"email": "r@example.org", "countries": ["MN", "CN"],
                                   "digests": ["mongolia-weekly", "china-weekly"]})
    text = next(server.to("r@example.org")[0].message.iter_parts()).get_content()
    confirmed = httpx.get(local(re.search(r"(https?://\S+/confirm\?token=\S+)", text).group(1), base))  # type: ignore[union-attr]
    found = re.search(r'href="([^"]*/preferences\?token=[^"]+)"', confirmed.text)
    assert found is not None
    preferences = found.group(1).replace("&amp;", "&")  # (a path on this site)
    page = httpx.get(base + preferences).text
    checked = re.findall(r'name="digests" value="([^"]+)" checked', page)
    assert checked == ["china-weekly", "mongolia-weekly"]
    saved = form_post(base, preferences,
                      {"countries": ["MN", "CN"], "digests": ["china-weekly", "mongolia-monthly", "mongolia-weekly"]})
    assert saved.status_code == 200
    assert choices(sessions, "r@example.org") == []  # every digest: none to keep (every digest of theirs)


def test_the_api_and_the_command_line_speak_digests(web) -> None:  # type: ignore[no-untyped-def]
    base, path, _config, sessions, _server = web
    with sessions.begin() as session:
        operator = add_operator(session, "cms@example.org", "a long enough password", utc_now())
        _row, token = make_token(session, operator, "cms", utc_now(), ("all",))
    with httpx.Client(base_url=base + "/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=20) as client:
        unknown = client.post("/subscribers", json={"email": "a@example.org", "countries": ["MN"], "digests": ["no"]})
        assert unknown.status_code == 422 and "unknown digest 'no'" in unknown.json()["detail"]
        made = client.post("/subscribers", json={"email": "a@example.org", "countries": ["MN", "CN"],
                                                 "digests": ["mongolia-monthly"]})
        assert made.status_code == 201 and made.json()["digests"] == ["mongolia-monthly"]
        changed = client.patch(f"/subscribers/{made.json()['id']}", json={"digests": []})
        assert changed.json()["digests"] == []  # every digest of their countries
    result = CliRunner().invoke(cli, ["--config", str(path), "subscribers", "add", "b@example.org",
                                      "--countries", "MN", "--digests", "mongolia-monthly"])
    assert result.exit_code == 0, result.output
    assert choices(sessions, "b@example.org") == ["mongolia-monthly"]
    refused = CliRunner().invoke(cli, ["--config", str(path), "subscribers", "add", "b@example.org",
                                       "--countries", "MN", "--digests", "weekly"])
    assert refused.exit_code == 2 and "unknown digest 'weekly'" in refused.output


def test_an_operator_sets_a_subscribers_digests_in_the_console(web) -> None:  # type: ignore[no-untyped-def]
    from test_console import PASSWORD, csrf_of, sign_in

    base, _path, _config, sessions, _server = web
    with sessions.begin() as session:
        add_operator(session, "press@example.org", PASSWORD, utc_now())
        save_subscribers(session, [SubscriberRow("r@example.org", ("CN", "MN"), digests=("china-weekly",))],
                         SubscriberStatus.CONFIRMED, utc_now())
        found = find_subscriber(session, "r@example.org")
        assert found is not None
        page_path = f"/admin/subscribers/{found.id}"
    with httpx.Client(base_url=base, timeout=20) as client:
        sign_in(client)
        page = client.get(page_path)
        assert re.findall(r'name="digests" value="([^"]+)" checked', page.text) == ["china-weekly"]
        client.post(page_path, data={"csrf": csrf_of(page), "countries": ["CN", "MN"], "language": "en",
                                     "digests": ["mongolia-monthly", "no-such"]})
    assert choices(sessions, "r@example.org") == ["mongolia-monthly"]
