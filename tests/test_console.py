"""The operator console over real HTTP: signing in, a release added, edited and withdrawn as
the written feeds and the audit log show it, and what is refused (no session, another site's
form, too many passwords)."""

from __future__ import annotations

import html
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import feedparser
import httpx
import pytest
from click.testing import CliRunner
from fastapi.routing import APIRoute
from helpers import SQLITE_ONLY
from sqlalchemy import select

from publisher.cli import cli
from publisher.clock import utc_now
from publisher.operators.accounts import add_operator, remove_operator
from publisher.store.models import Release
from publisher.store.statuses import SubscriberStatus
from publisher.subscribers.people import SubscriberRow, save_subscribers
from publisher.web.app import create_app

PASSWORD = "correct horse battery staple"


@pytest.fixture
def console(web) -> Iterator[tuple]:  # type: ignore[no-untyped-def, type-arg]
    base, path, config, sessions, _server = web
    with sessions.begin() as session:
        add_operator(session, "press@example.org", PASSWORD, utc_now())
    with httpx.Client(base_url=base, follow_redirects=False, timeout=20) as client:
        yield client, config, sessions, path


def sign_in(client: httpx.Client, email: str = "press@example.org", password: str = PASSWORD,
            next_path: str = "") -> httpx.Response:
    form = client.get("/admin/login")
    token = re.search(r'name="token" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    return client.post("/admin/login", data={"email": email, "password": password, "token": token,
                                             "next": next_path})


def csrf_of(page: httpx.Response) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]


def titles_in_feed(config, country: str) -> list[str]:  # type: ignore[no-untyped-def]
    parsed = feedparser.parse(Path(config.feeds.dir, country, "atom.xml").read_bytes())
    assert not parsed.bozo, parsed.bozo_exception
    return [html.unescape(entry.title) for entry in parsed.entries]  # feedparser gives text as HTML


def test_sign_in_then_add_edit_and_withdraw_a_release(console) -> None:  # type: ignore[no-untyped-def]
    client, config, sessions, _path = console
    assert client.get("/admin").headers["location"] == "/admin/login?next=%2Fadmin"
    signed = sign_in(client, next_path="/admin/releases")
    assert signed.status_code == 303 and signed.headers["location"] == "/admin/releases"
    cookie = signed.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    listing = client.get("/admin/releases", params={"q": "mongolia"})
    assert listing.status_code == 200 and listing.headers["cache-control"] == "no-store"
    assert "press@example.org" in listing.text

    new = client.get("/admin/releases/new")
    added = client.post("/admin/releases/new", data={
        "csrf": csrf_of(new), "title": "Herders <b>and</b> decent work", "published": "2026-11-27T09:30",
        "summary": "A new survey of herders' work.", "url": "", "countries": ["MN"], "image_url": "",
        "image_credit": ""})
    assert added.status_code == 303, added.text
    edit_url = added.headers["location"].partition("?")[0]
    assert titles_in_feed(config, "mn")[0] == "Herders <b>and</b> decent work"  # rebuilt, as text
    assert "Herders <b>and</b> decent work" not in titles_in_feed(config, "cn")

    form = client.get(edit_url)
    assert "The release was added" in client.get(added.headers["location"]).text
    edited = client.post(edit_url, data={
        "csrf": csrf_of(form), "title": "Herders and decent work", "published": "2026-11-27T09:30",
        "summary": "A new survey.", "url": "https://www.ilo.org/herders", "countries": ["MN", "CN"],
        "image_url": "", "image_credit": ""})
    assert edited.status_code == 303
    assert titles_in_feed(config, "cn")[0] == "Herders and decent work"
    feed = feedparser.parse(Path(config.feeds.dir, "cn", "atom.xml").read_bytes())
    assert feed.entries[0].link == "https://www.ilo.org/herders"

    withdrawn = client.post(edit_url + "/withdraw", data={"csrf": csrf_of(form)})
    assert withdrawn.status_code == 303
    assert "Herders and decent work" not in titles_in_feed(config, "cn") + titles_in_feed(config, "mn")
    assert "Herders and decent work" not in titles_in_feed(config, "all")
    with sessions() as session:
        slug = session.scalar(select(Release.slug).where(Release.title == "Herders and decent work"))
    gone = client.get(f"/releases/{slug}")
    assert gone.status_code == 410 and "This release has been withdrawn." in gone.text

    restored = client.post(edit_url + "/restore", data={"csrf": csrf_of(client.get(edit_url))})
    assert restored.status_code == 303
    assert "Herders and decent work" in titles_in_feed(config, "cn") and "Herders and decent work" in \
        titles_in_feed(config, "mn")
    assert client.get(f"/releases/{slug}").status_code == 200
    audit = client.get("/admin/audit").text
    for action in ("release.add", "release.edit", "release.withdraw", "release.restore"):
        assert action in audit
    assert "countries</strong>: MN → CN MN" in audit


@SQLITE_ONLY
def test_an_edited_release_is_kept_by_the_next_import(console, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from helpers import SEED

    from publisher.jobs.imports import ImportRequest, import_files

    client, config, sessions, _path = console
    sign_in(client)
    found = client.get("/admin/releases", params={"q": "disaster risk"})
    first = re.search(r'href="(/admin/releases/\d+)"', found.text).group(1)  # type: ignore[union-attr]
    form = client.get(first)
    values = {name: re.search(rf'name="{name}" value="([^"]*)"', form.text).group(1)  # type: ignore[union-attr]
              for name in ("title", "published")}
    client.post(first, data={"csrf": csrf_of(form), **values, "title": "Edited by the office",
                             "summary": "", "url": "", "countries": ["CN"], "image_url": "", "image_credit": ""})
    import_files(sessions, config, [ImportRequest(str(SEED))], utc_now())
    assert "Edited by the office" in client.get(first).text


@SQLITE_ONLY
def test_every_console_route_refuses_without_a_session(web) -> None:  # type: ignore[no-untyped-def]
    base, _path, config, sessions, _server = web
    app = create_app(config, sessions).app  # inside the front (web/front.py)
    routes = [(method, route.path) for route in app.routes if isinstance(route, APIRoute)
              and route.path.startswith("/admin") and route.path != "/admin/login"
              for method in sorted(route.methods or ())]
    assert len(routes) >= 8
    with httpx.Client(base_url=base, follow_redirects=False, timeout=20) as client:
        for method, path in routes:
            response = client.request(method, path.replace("{release_id}", "1"), data={"csrf": "x"})
            assert response.status_code == 303, (method, path)
            assert response.headers["location"].startswith("/admin/login"), (method, path)


@SQLITE_ONLY
def test_a_form_from_another_site_is_refused(console) -> None:  # type: ignore[no-untyped-def]
    client, _config, _sessions, _path = console
    sign_in(client)
    for token in ("", "forged", csrf_of(client.get("/admin/releases/new"))[:-2] + "xx"):
        response = client.post("/admin/releases/new", data={
            "csrf": token, "title": "Cross-site", "published": "2026-11-27T09:30", "countries": ["CN"]})
        assert response.status_code == (400 if not token else 403), token
    assert "Cross-site" not in client.get("/admin/releases", params={"q": "cross-site"}).text
    login_token_missing = client.post("/admin/login", data={"email": "press@example.org", "password": PASSWORD,
                                                             "token": "not ours"})
    assert login_token_missing.status_code == 403


@SQLITE_ONLY
def test_the_tenth_password_in_a_minute_is_refused_unchecked(console) -> None:  # type: ignore[no-untyped-def]
    client, _config, _sessions, _path = console
    for _ in range(9):
        wrong = sign_in(client, password="not the password at all")
        assert wrong.status_code == 400 and "do not match" in wrong.text
    refused = sign_in(client)  # the right password, but the tenth try
    assert refused.status_code == 429 and refused.headers["retry-after"] == "60"
    assert "publisher_console=" not in refused.headers.get("set-cookie", "")


def test_signing_out_and_removing_an_operator_end_their_sessions(console) -> None:  # type: ignore[no-untyped-def]
    client, _config, sessions, _path = console
    sign_in(client)
    assert client.get("/admin").status_code == 200
    out = client.post("/admin/logout", data={"csrf": csrf_of(client.get("/admin"))})
    assert out.status_code == 303
    assert client.get("/admin").status_code == 303
    sign_in(client)
    assert client.get("/admin").status_code == 200
    with sessions.begin() as session:
        remove_operator(session, "press@example.org")
    assert client.get("/admin").status_code == 303


@SQLITE_ONLY
def test_operators_commands(config_path: Path) -> None:
    runner = CliRunner()
    base = ["--config", str(config_path), "operators"]
    added = runner.invoke(cli, [*base, "add", "Press@Example.org"], input=PASSWORD + "\n")
    assert added.exit_code == 0 and added.output == "added operator Press@example.org\n"
    short = runner.invoke(cli, [*base, "add", "b@example.org"], input="short\n")
    assert short.exit_code == 2 and "too short" in short.output
    token = runner.invoke(cli, [*base, "token", "press@example.org", "--label", "cms"])
    assert re.fullmatch(r"API token #1 for Press@example.org \(read\): pub_\S{40,}\n", token.output)
    listed = runner.invoke(cli, [*base, "list"])
    assert "Press@example.org" in listed.output and "#1 cms" in listed.output
    assert runner.invoke(cli, [*base, "revoke", "1"]).output == "revoked API token #1\n"
    assert runner.invoke(cli, [*base, "remove", "press@example.org"]).exit_code == 0
    assert "Press@example.org" not in runner.invoke(cli, [*base, "list"]).output


def test_subscribers_added_changed_imported_exported_and_unsubscribed(console) -> None:  # type: ignore[no-untyped-def]
    client, _config, sessions, _path = console
    sign_in(client)
    page = client.get("/admin/subscribers")
    added = client.post("/admin/subscribers", data={"csrf": csrf_of(page), "email": "Reader@Example.org",
                                                    "countries": ["MN"], "language": "mn"})
    assert added.status_code == 303
    reader = added.headers["location"].partition("?")[0]
    shown = client.get(added.headers["location"]).text
    assert "Reader@example.org" in shown and "The subscriber was added" in shown
    changed = client.post(reader, data={"csrf": csrf_of(page), "countries": ["CN", "MN"], "language": "zh_Hans"})
    assert changed.status_code == 303
    with sessions() as session:
        from publisher.subscribers.people import find_subscriber

        person = find_subscriber(session, "reader@example.org")
        assert person is not None and sorted(person.country_codes) == ["CN", "MN"]
        assert (person.language, person.status) == ("zh_Hans", "confirmed")
        nonce = person.token_nonce

    bad = client.post("/admin/subscribers/import", data={"csrf": csrf_of(page)},
                      files={"file": ("people.csv", b"email,countries\nnew@example.org,CN\nnot-an-address,CN\n")})
    assert bad.status_code == 400 and "people.csv" in bad.text and "line 3" in bad.text
    assert "new@example.org" not in client.get("/admin/subscribers", params={"q": "new@"}).text
    good = client.post("/admin/subscribers/import", data={"csrf": csrf_of(page)},
                       files={"file": ("people.csv", "email,countries\nnew@example.org,CN\nreader@example.org,MN\n")})
    assert good.status_code == 303
    assert "Imported: 1 new, 1 changed, 0 unchanged." in client.get(good.headers["location"]).text
    exported = client.get("/admin/subscribers/export.csv")
    assert exported.headers["content-disposition"] == 'attachment; filename="subscribers.csv"'
    assert "new@example.org,CN,confirmed,en," in exported.text.splitlines()

    out = client.post(reader + "/unsubscribe", data={"csrf": csrf_of(page)})
    assert out.status_code == 303
    with sessions() as session:
        person = find_subscriber(session, "reader@example.org")
        assert person is not None and person.status == "unsubscribed" and person.token_nonce != nonce
    history = client.get(reader).text
    assert "status: unsubscribed" in history
    audit = client.get("/admin/audit").text
    for action in ("subscriber.add", "subscriber.change", "subscribers.import", "subscribers.export",
                   "subscriber.unsubscribe"):
        assert action in audit
    listed = client.get("/admin/subscribers", params={"status": "unsubscribed"}).text
    assert "Reader@example.org" in listed and "new@example.org" not in listed


def test_digests_previewed_tested_paused_and_sent(console, mail_server) -> None:  # type: ignore[no-untyped-def]
    from helpers import wait_until

    from publisher.run.scheduler import ScheduleRunner
    from publisher.run.schedules import schedules

    client, config, sessions, path = console
    people = {"cn@example.org": ("CN",), "mn@example.org": ("MN",), "both@example.org": ("CN", "MN")}
    with sessions.begin() as session:
        save_subscribers(session, [SubscriberRow(email, countries) for email, countries in people.items()],
                         SubscriberStatus.CONFIRMED, utc_now())
    sign_in(client)
    digests = client.get("/admin/digests")
    name = config.digests[0].name
    assert digests.status_code == 200 and name in digests.text
    preview = re.search(rf'href="(/admin/digests/{name}/preview\?[^"]+)"', digests.text).group(1)  # type: ignore[union-attr]
    shown = client.get(html.unescape(preview))
    assert shown.status_code == 200 and "<html" in shown.text.lower() and "unsubscribe" in shown.text.lower()

    tested = client.post(f"/admin/digests/{name}/test", data={
        "csrf": csrf_of(digests), "address": "press@example.org", "countries": " ".join(config.digests[0].countries),
        "language": "zh_Hans"})
    assert tested.status_code == 303 and "done=test" in tested.headers["location"]
    [copy] = mail_server.to("press@example.org")
    assert copy.message["Subject"].startswith("[Test] ")

    paused = client.post(f"/admin/digests/{name}/pause", data={"csrf": csrf_of(digests)})
    assert paused.status_code == 303
    assert "paused" in client.get("/admin").text and "<s>" in client.get("/admin/digests").text
    schedule = next(s for s in schedules(config) if s.id == f"digest:{name}")
    runner = ScheduleRunner(sessions, config, threading.Event())
    assert runner.run(schedule, utc_now()).startswith("skipped: paused by press@example.org")
    assert all(mail_server.to(email) == [] for email in people)
    refused = client.post(f"/admin/digests/{name}/send", data={"csrf": csrf_of(digests)})
    assert refused.status_code == 409 and "is paused" in refused.text
    client.post(f"/admin/digests/{name}/resume", data={"csrf": csrf_of(digests)})
    assert "<s>" not in client.get("/admin/digests").text

    sent = client.post(f"/admin/digests/{name}/send", data={"csrf": csrf_of(digests)})
    assert sent.status_code == 303, sent.text
    report_url = sent.headers["location"].partition("?")[0]
    readers = [email for email, countries in people.items() if set(countries) & set(config.digests[0].countries)]
    wait_until(lambda: all(mail_server.to(email) for email in readers))
    wait_until(lambda: "complete" in client.get(report_url).text)
    report = client.get(report_url).text
    assert all(email in report for email in readers)
    exported = client.get(report_url + "/report.csv")
    assert exported.text.startswith("email,delivery,reply,bounce,unsubscribed_since\n")
    assert len(exported.text.splitlines()) == len(readers) + 1
    # `publisher status` credits the send to the web process that took the button's post.
    wait_until(lambda: "idle" in CliRunner().invoke(cli, ["--config", str(path), "status"]).stdout)
    status = CliRunner().invoke(cli, ["--config", str(path), "status"]).stdout
    row = next(line for line in status.splitlines() if f"send {name} 1" in line)
    cells = [cell.strip() for cell in row.strip("│ ").split("│")]
    assert cells[1:3] == ["console", "idle"] and cells[-1] == str(len(readers)), row
    audit = client.get("/admin/audit").text
    for action in ("digest.test", "digest.pause", "digest.resume", "digest.send"):
        assert action in audit


@SQLITE_ONLY
def test_sources_listed_and_imported_now(console) -> None:  # type: ignore[no-untyped-def]
    client, config, _sessions, _path = console
    sign_in(client)
    page = client.get("/admin/sources")
    source = config.sources[0].name
    assert source in page.text and "feeds" in page.text
    done = client.post(f"/admin/sources/{source}/import", data={"csrf": csrf_of(page)})
    assert done.status_code == 303
    shown = client.get(done.headers["location"]).text
    assert re.search(rf"{source}: (imported \d+ new, \d+ updated, \d+ unchanged|not modified)", shown), shown
    assert client.post("/admin/sources/nothing/import", data={"csrf": csrf_of(page)}).status_code == 404
    assert "source.import" in client.get("/admin/audit").text


@SQLITE_ONLY
def test_an_idle_session_ends_and_an_https_site_marks_the_cookie_secure(web) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from helpers import serve_app

    _base, _path, config, sessions, _server = web
    with sessions.begin() as session:
        add_operator(session, "press@example.org", PASSWORD, utc_now())
    now = [utc_now()]
    https = config.model_copy(update={"site": config.site.model_copy(update={"base_url": "https://news.example.org"})})
    for base in serve_app(create_app(https, sessions, clock=lambda: now[0])):
        with httpx.Client(base_url=base, follow_redirects=False, timeout=20) as client:
            form = client.get("/admin/login")
            assert "secure" in form.headers["set-cookie"].lower()
            token = re.search(r'name="token" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
            client.cookies.set("publisher_console_login", token)  # (httpx keeps Secure cookies off http)
            signed = client.post("/admin/login", data={"email": "press@example.org", "password": PASSWORD,
                                                       "token": token})
            assert "secure" in signed.headers["set-cookie"].lower()
            session_cookie = signed.cookies["publisher_console"]
            client.cookies.set("publisher_console", session_cookie)
            assert client.get("/admin").status_code == 200
            now[0] += config.web.session_idle - timedelta(seconds=1)
            assert client.get("/admin").status_code == 200  # a request starts the idle time again
            now[0] += config.web.session_idle + timedelta(seconds=1)
            assert client.get("/admin").status_code == 303


def test_a_busy_session_ends_after_its_lifetime(console) -> None:  # type: ignore[no-untyped-def]
    """Activity kept a session alive for ever: a stolen cookie stayed good as long as it was used."""
    from datetime import timedelta

    from publisher.operators.sessions import open_session, session_operator
    from publisher.store.models import Operator

    _client, config, sessions, _path = console
    start = utc_now()
    with sessions.begin() as session:
        operator = session.scalars(select(Operator)).first()
        secret = open_session(session, operator, start)
    idle, lifetime = config.web.session_idle, config.web.session_lifetime
    assert lifetime == timedelta(hours=12)
    moment = start
    with sessions.begin() as session:
        while moment + idle - timedelta(minutes=1) < start + lifetime:  # a request every idle time but a minute
            moment += idle - timedelta(minutes=1)
            assert session_operator(session, secret, moment, idle, lifetime) is not None
        moment += idle - timedelta(minutes=1)
        assert session_operator(session, secret, moment, idle, lifetime) is None


@SQLITE_ONLY
def test_another_spelling_of_the_address_is_counted_with_it(console) -> None:  # type: ignore[no-untyped-def]
    """The account is found by the normalized address: so are the attempts counted (a fullwidth
    letter signed in after the limit was reached)."""
    client, _config, _sessions, _path = console
    for _ in range(9):
        assert sign_in(client, password="not the password at all").status_code == 400
    refused = sign_in(client, email="press@\uff45xample.org")  # a fullwidth e
    assert refused.status_code == 429


def test_sign_ins_are_in_the_audit_log_a_failed_one_with_the_address_tried(console) -> None:  # type: ignore[no-untyped-def]
    client, _config, sessions, _path = console
    assert sign_in(client, email="press@example.org\r\nforged line", password="wrong").status_code == 400
    assert sign_in(client).status_code == 303
    from publisher.store.models import AuditEntry

    with sessions() as session:
        entries = session.execute(select(AuditEntry.actor, AuditEntry.action, AuditEntry.subject)
                                  .order_by(AuditEntry.id)).all()
    assert [tuple(entry) for entry in entries] == [
        ("sign-in from 127.0.0.1", "operator.sign_in_failed", "press@example.org forged line"),
        ("press@example.org", "operator.sign_in", "from 127.0.0.1")]


def test_the_console_shows_each_tokens_scopes(console) -> None:  # type: ignore[no-untyped-def]
    from publisher.operators.tokens import make_token, revoke_token
    from publisher.store.models import Operator

    client, _config, sessions, _path = console
    with sessions.begin() as session:
        operator = session.scalars(select(Operator)).one()
        make_token(session, operator, "the CMS <script>", utc_now(), ("releases",))
        old, _ = make_token(session, operator, "old export", utc_now(), ("subscribers", "read"))
        revoke_token(session, old.id, utc_now())
    sign_in(client)
    page = client.get("/admin/tokens")
    assert page.status_code == 200
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page.text)).split())
    assert "the CMS <script> releases" in text and "<script>" not in page.text  # escaped
    assert "old export subscribers read" in text and "revoked" in text and "never" in text


def test_a_subscriber_added_and_removed_with_the_command_line_shows_in_the_audit_log(console) -> None:  # type: ignore[no-untyped-def]
    """The command line's changes go through the same use cases as the console's: audited, as
    the operating-system user who ran the command."""
    import getpass

    client, _config, _sessions, path = console
    base = ["--config", str(path), "subscribers"]
    assert CliRunner().invoke(cli, [*base, "add", "cli-reader@example.org", "--countries", "CN"]).exit_code == 0
    assert CliRunner().invoke(cli, [*base, "remove", "cli-reader@example.org"]).exit_code == 0
    sign_in(client)
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", client.get("/admin/audit").text)).split())
    actor = f"{getpass.getuser()} (command line)"
    assert f"{actor} subscriber.remove cli-reader@example.org" in text
    assert f"{actor} subscriber.add cli-reader@example.org" in text


def test_an_editions_page_shows_its_state_now(console) -> None:  # type: ignore[no-untyped-def]
    """After "Send now" it said "being sent" for good (the notice came from the address, not the
    edition): it follows the edition while it is sent, and says when it was."""
    from publisher.jobs.digests import queue_digest, send_digest

    client, config, sessions, _path = console
    with sessions.begin() as session:
        save_subscribers(session, [SubscriberRow("cn@example.org", ("CN",))], SubscriberStatus.CONFIRMED, utc_now())
    name = config.digests[0].name
    edition = queue_digest(sessions, config, name, now=utc_now())
    assert edition is not None
    sign_in(client)
    page = f"/admin/digests/{name}/editions/{edition.number}?done=sending"
    sending = client.get(page).text
    assert '<meta http-equiv="refresh" content="5">' in sending and "this page follows it" in sending
    send_digest(sessions, config, name, now=utc_now())
    sent = client.get(page).text
    assert "refresh" not in sent and "The edition has been sent." in sent and "follows it" not in sent
