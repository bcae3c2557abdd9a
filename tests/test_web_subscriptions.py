"""Subscribing over real HTTP, with the mail read from a real SMTP server."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest
from click.testing import CliRunner
from helpers import SITE, local, mail_config, serve_app, setup_store, sqlite_store, status_of
from sqlalchemy import select

from publisher.cli import cli
from publisher.jobs.imports import ImportRequest, import_files
from publisher.store.models import Subscriber
from publisher.web.app import create_app


def subscribe(base: str, email: str, countries: list[str], *, language: str | None = None) -> httpx.Response:
    """The form as a reader fills it in; in `language`, the page and the mail chosen."""
    where = f"/subscribe?lang={language}" if language else "/subscribe"
    with httpx.Client(base_url=base) as client:
        form = client.get(where)
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
        data = {"email": email, "countries": countries, "csrf": csrf}
        return client.post(where, data={**data, "language": language} if language else data)


def send_digest(path: Path) -> str:
    return CliRunner().invoke(cli, ["--config", str(path), "digest", "send", "china-weekly"]).stdout


def test_subscribe_confirm_receive_unsubscribe_and_receive_no_more(web, tmp_path) -> None:  # type: ignore[no-untyped-def]
    base, path, config, sessions, server = web
    answer = subscribe(base, "Reader@Example.org", ["CN"])
    assert answer.status_code == 200 and "Check your inbox" in answer.text
    [letter] = server.to("Reader@example.org")
    text = next(letter.message.iter_parts()).get_content()
    confirm_link = re.search(r"(https?://\S+/confirm\?token=\S+)", text).group(1)  # type: ignore[union-attr]
    assert status_of(sessions, "reader@example.org") == "pending"
    assert send_digest(path).endswith("0 sent, 0 failed\n")  # nobody before confirming
    page = httpx.get(local(confirm_link, base))
    assert page.status_code == 200 and "You are subscribed" in page.text
    assert status_of(sessions, "reader@example.org") == "confirmed"

    news = tmp_path / "news.json"
    news.write_text(json.dumps([{"title": "New in China", "published": "2026-11-26"}]))
    import_files(sessions, config, [ImportRequest(str(news))], datetime.now(UTC))
    assert send_digest(path).endswith("1 sent, 0 failed\n")
    digest = server.to("Reader@example.org")[-1].message
    one_click = re.findall(r"<([^>]+)>", digest["List-Unsubscribe"])[0]
    assert httpx.get(local(one_click, base)).status_code == 200  # a GET shows a button...
    assert status_of(sessions, "reader@example.org") == "confirmed"  # ...and changes nothing
    done = httpx.post(local(one_click, base), content=b"List-Unsubscribe=One-Click",
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert done.status_code == 200 and not done.is_redirect and "unsubscribed" in done.text
    assert status_of(sessions, "reader@example.org") == "unsubscribed"
    preferences = re.search(r"(https?://\S+/preferences\?token=[^\s\"<]+)", digest_text(digest)).group(1)  # type: ignore[union-attr]
    revoked = httpx.get(local(preferences, base))  # unsubscribing revoked every link mailed before
    assert revoked.status_code == 400 and "does not work" in revoked.text
    # Published after the last edition began: news, but for nobody now.
    published = datetime.now(UTC).isoformat()
    news.write_text(json.dumps([{"title": "More from China", "published": published}]))
    import_files(sessions, config, [ImportRequest(str(news))], datetime.now(UTC) + timedelta(1))
    assert send_digest(path).endswith("0 sent, 0 failed\n")
    assert len(server.to("Reader@example.org")) == 2  # the confirmation and one digest


def digest_text(message) -> str:  # type: ignore[no-untyped-def]
    return next(message.iter_parts()).get_content()


def test_a_confirm_link_of_someone_removed_does_not_confirm_who_gets_their_id(web) -> None:  # type: ignore[no-untyped-def]
    base, path, _config, sessions, server = web
    subscribe(base, "first@example.org", ["CN"])
    text = digest_text(server.to("first@example.org")[0].message)
    old_link = re.search(r"(https?://\S+/confirm\?token=\S+)", text).group(1)  # type: ignore[union-attr]
    with sessions() as session:
        first_id = session.scalars(select(Subscriber.id)).one()
    CliRunner().invoke(cli, ["--config", str(path), "subscribers", "remove", "first@example.org"])
    subscribe(base, "second@example.org", ["CN"])
    with sessions() as session:  # SQLite gives the freed id again; PostgreSQL a new one
        second = session.scalars(select(Subscriber)).one()
    page = httpx.get(local(old_link, base))
    assert page.status_code == 400 and status_of(sessions, "second@example.org") == "pending"
    assert len(server.to("second@example.org")) == 1 and second.email == "second@example.org"
    if str(sessions.kw["bind"].url).startswith("sqlite"):
        assert second.id == first_id  # the case this guards against


@pytest.mark.parametrize("refusal", ["550 5.1.1 no such user", "451 4.3.0 try later"])
def test_a_mail_server_that_refuses_the_confirmation_changes_nothing_the_visitor_sees(web, refusal: str) -> None:  # type: ignore[no-untyped-def]
    base, _path, _config, sessions, server = web
    server.decide = lambda address, _attempt: refusal if address == "refused@example.org" else None
    refused = subscribe(base, "refused@example.org", ["CN"])
    taken = subscribe(base, "taken@example.org", ["CN"])
    assert refused.status_code == taken.status_code == 200
    assert refused.text.replace("refused@", "taken@") == taken.text
    assert status_of(sessions, "refused@example.org") == "pending"  # they can ask again
    assert server.attempts["refused@example.org"] == 1 and len(server.to("taken@example.org")) == 1


def test_an_internationalized_address_gets_its_confirmation(web) -> None:  # type: ignore[no-untyped-def]
    import email
    import email.policy

    base, _path, _config, sessions, server = web
    assert subscribe(base, "ü@example.org", ["MN"]).status_code == 200
    [letter] = server.to("ü@example.org")
    message = email.message_from_string(letter.data.decode("utf-8"), policy=email.policy.default)
    assert message["To"].addresses[0].addr_spec == "ü@example.org"
    assert status_of(sessions, "ü@example.org") == "pending"


def test_the_answer_does_not_tell_whether_an_address_is_known(web) -> None:  # type: ignore[no-untyped-def]
    base, _path, _config, _sessions, _server = web
    first = subscribe(base, "known@example.org", ["CN"]).text
    again = subscribe(base, "known@example.org", ["CN"]).text
    other = subscribe(base, "other@example.org", ["MN"]).text
    assert first == again == other.replace("other@", "known@")


def test_forged_or_altered_tokens_get_400_and_change_nothing(web) -> None:  # type: ignore[no-untyped-def]
    base, _path, _config, sessions, server = web
    subscribe(base, "reader@example.org", ["CN"])
    text = next(server.received[0].message.iter_parts()).get_content()
    token = re.search(r"token=(\S+)", text).group(1)  # type: ignore[union-attr]
    subscriber_id, issued, signature = token.split(".")
    for forged in [f"{int(subscriber_id) + 1}.{issued}.{signature}", f"{subscriber_id}.{issued}.AAAA",
                   "garbage", token]:
        for path_ in (f"/unsubscribe?token={forged}", f"/preferences?token={forged}"):
            assert httpx.get(base + path_).status_code == 400  # a confirm token is for confirming
        response = httpx.post(f"{base}/unsubscribe?token={forged}",
                              data={"List-Unsubscribe": "One-Click"})
        assert response.status_code == 400
    assert httpx.get(f"{base}/confirm?token={subscriber_id}.{issued}.AAAA").status_code == 400
    assert status_of(sessions, "reader@example.org") == "pending"


def test_a_post_from_another_site_is_refused(web) -> None:  # type: ignore[no-untyped-def]
    base, _path, _config, _sessions, server = web
    response = httpx.post(base + "/subscribe", data={"email": "x@example.org", "countries": ["CN"],
                                                     "csrf": "guessed"})
    assert response.status_code == 400 and server.received == []
    # A cookie another site planted (it can set one for this domain) matches the form it
    # posts, but carries no signature of ours.
    response = httpx.post(base + "/subscribe", cookies={"publisher_csrf": "planted"},
                          data={"email": "x@example.org", "countries": ["CN"], "csrf": "planted"})
    assert response.status_code == 400 and server.received == []


@pytest.mark.parametrize("data", [{"countries": ["CN"]}, {"email": "x" * 400 + "@example.org", "csrf": "c"}])
def test_a_form_missing_or_overlong_fields_gets_the_400_page(web, data) -> None:  # type: ignore[no-untyped-def]
    base = web[0]
    response = httpx.post(base + "/subscribe", data=data)
    assert response.status_code == 400 and response.headers["content-type"].startswith("text/html")
    assert "Please try again" in response.text


def test_confirmation_mails_per_address_are_limited(web) -> None:  # type: ignore[no-untyped-def]
    base, _path, _config, _sessions, server = web
    answers = {subscribe(base, "eager@example.org", ["CN"]).text for _ in range(5)}
    assert len(answers) == 1  # the same page every time
    assert len(server.to("eager@example.org")) == 3


def test_the_limits_hold_across_web_processes(web) -> None:  # type: ignore[no-untyped-def]
    """A second app on the same database (as a second `publisher serve` would be) counts the
    same mails: the fourth for one address in an hour is not sent, whichever app is asked."""
    from publisher.store.db import open_store

    base, _path, config, _sessions, server = web
    for other in serve_app(create_app(config, open_store(config))):
        for target in (base, other, base, other, other):
            subscribe(target, "eager@example.org", ["CN"])
    assert len(server.to("eager@example.org")) == 3


def test_preferences_change_the_countries(web) -> None:  # type: ignore[no-untyped-def]
    base, _path, _config, sessions, server = web
    subscribe(base, "reader@example.org", ["CN"])
    text = next(server.received[0].message.iter_parts()).get_content()
    confirmed = httpx.get(local(re.search(r"(https?://\S+/confirm\?token=\S+)", text).group(1), base))  # type: ignore[union-attr]
    link = re.search(r'href="(/preferences\?token=[^"]+)"', confirmed.text).group(1)  # type: ignore[union-attr]
    with httpx.Client(base_url=base) as client:
        form = client.get(link.replace("&amp;", "&"))
        assert 'value="CN" checked' in form.text and 'value="MN" checked' not in form.text
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
        saved = client.post(link, data={"countries": ["MN"], "csrf": csrf})
    assert saved.status_code == 200 and "Mongolia" in saved.text
    with sessions() as session:
        subscriber = session.scalars(select(Subscriber)).one()
        assert subscriber.country_codes == ["MN"]


def test_sent_editions_as_pages_and_as_a_feed(web) -> None:  # type: ignore[no-untyped-def]
    import feedparser

    base, path, _config, _sessions, _server = web
    assert "No digest has been sent yet." in httpx.get(base + "/digests/").text
    CliRunner().invoke(cli, ["--config", str(path), "subscribers", "add", "a@example.org",
                             "--countries", "CN"])
    assert send_digest(path).endswith("1 sent, 0 failed\n")
    listing = httpx.get(base + "/digests/")
    assert "ILO China: 19 new releases" in listing.text
    links = re.findall(r'href="([^"]+)"', listing.text)
    assert {"/digests/feed.xml", "/subscribe", "/digests/china-weekly/1"} <= set(links)
    for link in (link for link in links if link.startswith("/")):  # every link works from here
        assert httpx.get(urljoin(base + "/digests/", link)).status_code == 200, link
    page = httpx.get(base + "/digests/china-weekly/1")
    assert page.status_code == 200 and "ILO supports inclusion" in page.text
    assert "a@example.org" not in page.text and "PUBLISHER-MARK" not in page.text
    assert httpx.get(base + "/digests/china-weekly/2").status_code == 404
    feed = feedparser.parse(httpx.get(base + "/digests/feed.xml").content)
    assert feed.bozo == 0 and feed.entries[0].title.startswith("ILO China: 19 new releases")
    assert feed.entries[0].link == f"{SITE}/digests/china-weekly/1"


@pytest.mark.slow  # waits out a server's delay
def test_a_slow_mail_server_gets_one_confirmation(tmp_path: Path, mail_server) -> None:  # type: ignore[no-untyped-def]
    """It answers after the command timeout: the confirmation is waited for, not sent twice."""
    path = mail_config(tmp_path, sqlite_store(tmp_path), mail_server, timeout='"1s"')
    config, sessions = setup_store(path, {})
    mail_server.delay = 1.5
    for base in serve_app(create_app(config, sessions)):
        assert subscribe(base, "patient@example.org", ["CN"]).status_code == 200
    assert mail_server.attempts == {"patient@example.org": 1}
    assert len(mail_server.to("patient@example.org")) == 1


def test_a_stopped_address_comes_back_only_by_confirming(web) -> None:  # type: ignore[no-untyped-def]
    """Anyone can post any address: someone who complained gets no mail from it, and someone
    who left stays out until they follow the link mailed to them."""
    base, _path, _config, sessions, server = web
    for address, status in (("angry@example.org", "complained"), ("left@example.org", "unsubscribed")):
        assert run_cli(["subscribers", "add", address, "--countries", "MN"], _path) == 0
        with sessions.begin() as session:
            session.scalars(select(Subscriber).where(Subscriber.email == address)).one().status = status  # type: ignore[assignment]
        assert subscribe(base, address, ["CN"]).status_code == 200
    assert server.to("angry@example.org") == [] and status_of(sessions, "angry@example.org") == "complained"
    assert status_of(sessions, "left@example.org") == "unsubscribed"  # until the link is followed
    [letter] = server.to("left@example.org")
    link = re.search(r"(https?://\S+/confirm\?token=\S+)", digest_text(letter.message)).group(1)  # type: ignore[union-attr]
    assert httpx.get(local(link, base)).status_code == 200
    assert status_of(sessions, "left@example.org") == "confirmed"


def run_cli(args: list[str], path: Path) -> int:
    return CliRunner().invoke(cli, ["--config", str(path), *args]).exit_code


def test_a_second_one_click_unsubscribe_says_so_and_opens_nothing(web, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Mail clients repeat one-click POSTs: the second said "This link does not work"."""
    base, path, config, sessions, server = web
    subscribe(base, "twice@example.org", ["CN"])
    confirm = re.search(r"(https?://\S+/confirm\?token=\S+)", digest_text(server.to("twice@example.org")[0].message))
    assert httpx.get(local(confirm.group(1), base)).status_code == 200  # type: ignore[union-attr]
    news = tmp_path / "news.json"
    news.write_text(json.dumps([{"title": "New in China", "published": "2026-11-26"}]))
    import_files(sessions, config, [ImportRequest(str(news))], datetime.now(UTC))
    assert send_digest(path).endswith("1 sent, 0 failed\n")
    one_click = re.findall(r"<([^>]+)>", server.to("twice@example.org")[-1].message["List-Unsubscribe"])[0]
    for _ in range(2):
        done = httpx.post(local(one_click, base), content=b"List-Unsubscribe=One-Click",
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert done.status_code == 200 and "You are unsubscribed" in done.text
    again = httpx.get(local(one_click, base))
    assert again.status_code == 200 and "You are unsubscribed" in again.text and "preferences" not in again.text
    assert status_of(sessions, "twice@example.org") == "unsubscribed"


@pytest.mark.parametrize(("query", "header", "said"), [
    ({}, "zh-TW,zh;q=0.9,en;q=0.5", True), ({"lang": "zh-HK"}, "", True), ({}, "zh-Hant", True),
    ({}, "zh-CN,zh-TW;q=0.5", False), ({}, "en", False), ({"lang": "zh_Hans"}, "zh-TW", False)])
def test_a_reader_asking_for_traditional_chinese_is_told_it_is_simplified(web, query, header: str,
                                                                          said: bool) -> None:  # type: ignore[no-untyped-def]
    base, *_ = web
    page = httpx.get(base + "/subscribe", params=query, headers={"Accept-Language": header} if header else {})
    assert page.status_code == 200
    assert ("本站只提供简体中文版本" in page.text) is said


def test_the_subscription_forms_cookie_is_secure_on_an_https_site(web) -> None:  # type: ignore[no-untyped-def]
    """Behind a proxy that speaks plain http to the app, the form's cookie went without Secure
    (the console's sign-in form had it): one rule for both now."""
    _base, _path, config, sessions, _server = web
    https = config.model_copy(update={"site": config.site.model_copy(update={"base_url": "https://news.example.org"})})
    for base in serve_app(create_app(https, sessions)):
        for path in ("/subscribe", "/admin/login"):
            cookie = httpx.get(base + path).headers["set-cookie"].lower()
            assert "secure" in cookie and "httponly" in cookie and "samesite=strict" in cookie, path


def test_what_a_reader_does_is_in_the_audit_log_as_theirs(web) -> None:  # type: ignore[no-untyped-def]
    from publisher.store.models import AuditEntry

    base, _path, _config, sessions, server = web
    subscribe(base, "own@example.org", ["CN"])
    link = re.search(r"(https?://\S+/confirm\?token=\S+)", digest_text(server.to("own@example.org")[0].message))
    assert httpx.get(local(link.group(1), base)).status_code == 200  # type: ignore[union-attr]
    with sessions() as session:
        entries = session.execute(select(AuditEntry.actor, AuditEntry.action, AuditEntry.subject)
                                  .order_by(AuditEntry.id)).all()
    assert [tuple(entry) for entry in entries] == [("reader", "subscription.request", "own@example.org"),
                                                  ("reader", "subscription.confirm", "own@example.org")]


def test_a_cookie_or_field_with_non_ascii_text_is_refused_not_a_500(web) -> None:  # type: ignore[no-untyped-def]
    """compare_digest raises TypeError on non-ASCII text: a cookie of "abc.é" gave a 500 on the
    console and a reset connection on /subscribe."""
    base, *_ = web
    with httpx.Client(base_url=base) as client:
        assert client.get("/admin", headers={"Cookie": "publisher_console=abc.\u00e9".encode()}).status_code == 303
        assert client.get("/subscribe", headers={"Cookie": "publisher_csrf=abc.\u00e9".encode()}).status_code == 200
        form = client.get("/subscribe")
        posted = client.post("/subscribe", data={"email": "a@example.org", "countries": ["CN"], "csrf": "\u00e9" * 8})
        assert form.status_code == 200 and posted.status_code == 400
