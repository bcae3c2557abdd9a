"""/api/v1 over real HTTP with a bearer token: releases added, changed and withdrawn as the
written feeds, the audit log and the mail show it; errors as RFC 9457 problems; every route
refuses without a live token."""

from __future__ import annotations

import html
from collections.abc import Iterator
from pathlib import Path

import feedparser
import httpx
import pytest
from click.testing import CliRunner
from fastapi.routing import APIRoute
from helpers import SQLITE_ONLY

from publisher.cli import cli
from publisher.clock import utc_now
from publisher.operators.accounts import add_operator
from publisher.operators.tokens import make_token, revoke_token
from publisher.store.statuses import SubscriberStatus
from publisher.subscribers.people import SubscriberRow, save_subscribers
from publisher.web.app import create_app

RELEASE = {"title": "Herders and decent work", "published": "2026-11-27T09:30:00+08:00",
           "summary": "A survey of herders' work.", "countries": ["MN"]}


@pytest.fixture
def api(web) -> Iterator[tuple]:  # type: ignore[no-untyped-def, type-arg]
    base, path, config, sessions, server = web
    with sessions.begin() as session:
        operator = add_operator(session, "cms@example.org", "a long enough password", utc_now())
        row, token = make_token(session, operator, "cms", utc_now(), ("all",))
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base + "/api/v1", headers=headers, timeout=20) as client:
        yield client, config, sessions, path, server, row.id, base


def feed_titles(config, country: str) -> list[str]:  # type: ignore[no-untyped-def]
    parsed = feedparser.parse(Path(config.feeds.dir, country, "atom.xml").read_bytes())
    return [html.unescape(entry.title) for entry in parsed.entries]


def test_add_change_and_withdraw_a_release(api) -> None:  # type: ignore[no-untyped-def]
    client, config, _sessions, _path, _server, _token, _base = api
    added = client.post("/releases", json=RELEASE)
    assert added.status_code == 201, added.text
    body = added.json()
    assert added.headers["location"] == f"/api/v1/releases/{body['id']}"
    assert body["countries"] == ["MN"] and body["published"].startswith("2026-11-27T01:30:00")
    assert body["page"].endswith(f"/releases/{body['slug']}") and body["url"] == body["page"]
    assert feed_titles(config, "mn")[0] == "Herders and decent work"

    changed = client.put(f"/releases/{body['id']}", json={**RELEASE, "title": "Herders, decent work",
                                                          "countries": ["CN", "MN"]})
    assert changed.status_code == 200 and changed.json()["countries"] == ["CN", "MN"]
    assert feed_titles(config, "cn")[0] == "Herders, decent work"
    assert client.get(f"/releases/{body['id']}").json()["title"] == "Herders, decent work"
    assert client.get("/releases", params={"q": "herders, decent"}).json()["total"] == 1

    withdrawn = client.post(f"/releases/{body['id']}/withdraw")
    assert withdrawn.json()["withdrawn"] is not None and withdrawn.json()["countries"] == []
    assert "Herders, decent work" not in feed_titles(config, "cn") + feed_titles(config, "all")
    restored = client.post(f"/releases/{body['id']}/restore").json()
    assert restored["withdrawn"] is None and restored["countries"] == ["CN", "MN"]
    assert feed_titles(config, "cn")[0] == "Herders, decent work"
    audit = client.get("/audit").json()
    assert [entry["action"] for entry in audit[:4]] == ["release.restore", "release.withdraw", "release.edit",
                                                        "release.add"]
    assert audit[2]["before"]["title"] == "Herders and decent work"
    assert {entry["actor"] for entry in audit[:4]} == {"cms@example.org"}


def test_a_withdrawn_release_is_never_mailed(api) -> None:  # type: ignore[no-untyped-def]
    client, config, _sessions, path, server, _token, _base = api
    kept = client.post("/releases", json={**RELEASE, "title": "Kept and mailed",
                                          "published": utc_now().isoformat(), "countries": ["CN", "MN"]})
    gone = client.post("/releases", json={**RELEASE, "title": "Withdrawn before the digest",
                                          "published": utc_now().isoformat(), "countries": ["CN", "MN"]})
    assert kept.status_code == gone.status_code == 201
    client.post(f"/releases/{gone.json()['id']}/withdraw")
    runner = CliRunner()
    result = runner.invoke(cli, ["--config", str(path), "subscribers", "add", "reader@example.org",
                                 "--countries", "CN MN"])
    assert result.exit_code == 0, result.output
    sent = runner.invoke(cli, ["--config", str(path), "digest", "send", config.digests[0].name])
    assert sent.exit_code == 0, sent.output
    [message] = server.to("reader@example.org")
    text = next(message.message.iter_parts()).get_content()
    assert "Kept and mailed" in text and "Withdrawn before the digest" not in text


@SQLITE_ONLY
def test_errors_are_problems_naming_the_field(api) -> None:  # type: ignore[no-untyped-def]
    client, *_ = api
    missing = client.post("/releases", json={"title": "No date", "countries": ["CN"]})
    assert missing.status_code == 422
    assert missing.headers["content-type"] == "application/problem+json"
    assert {"field": "body.published", "problem": "Field required"} in missing.json()["errors"]
    for bad, field in (({"countries": ["XX"]}, "body.countries.0"), ({"url": "javascript:alert(1)"}, "body.url"),
                       ({"url": "https://x.org/a b"}, "url:"), ({"title": "Bell\x07"}, "title:"),
                       ({"published": "1066-10-14T09:00:00Z"}, "published:")):
        refused = client.post("/releases", json={**RELEASE, **bad})
        problem = refused.json()
        named = [error["field"] for error in problem.get("errors", [])] + [problem["detail"].partition(" ")[0]]
        assert refused.status_code == 422 and field in named, refused.text
    assert client.get("/releases/999999").json() == {
        "type": "about:blank", "title": "Not Found", "status": 404, "detail": "no release has the number 999999"}
    assert client.delete("/releases/1").headers["content-type"] == "application/problem+json"


@SQLITE_ONLY
def test_every_api_route_refuses_without_a_live_token(api) -> None:  # type: ignore[no-untyped-def]
    client, config, sessions, _path, _server, token_id, base = api
    app = create_app(config, sessions).app  # inside the front (web/front.py)
    routes = [(method, route.path) for route in app.routes if isinstance(route, APIRoute)
              and route.path.startswith("/api/") for method in sorted(route.methods or ())]
    assert len(routes) >= 6
    assert client.get("/releases").status_code == 200
    with sessions.begin() as session:
        revoke_token(session, token_id, utc_now())
    revoked = client.headers["authorization"]
    assert revoked.startswith("Bearer pub_")
    for headers in ({}, {"Authorization": revoked}, {"Authorization": "Bearer pub_forged"}):
        for method, route in routes:
            response = httpx.request(method, base + route.replace("{release_id}", "1"), headers=headers,
                                     json=RELEASE, timeout=20)
            assert response.status_code == 401, (method, route, headers)
            assert response.json()["status"] == 401 and response.headers["www-authenticate"].startswith("Bearer")


def test_subscribers_added_changed_and_unsubscribed(api) -> None:  # type: ignore[no-untyped-def]
    client, *_ = api
    added = client.post("/subscribers", json={"email": "Reader@Example.org", "countries": ["MN"], "language": "mn"})
    assert added.status_code == 201, added.text
    reader = added.json()
    assert (reader["email"], reader["status"], reader["countries"]) == ("Reader@example.org", "confirmed", ["MN"])
    assert added.headers["location"] == f"/api/v1/subscribers/{reader['id']}"
    again = client.post("/subscribers", json={"email": "reader@example.org", "countries": ["CN"]})
    assert again.status_code == 422 and again.json()["detail"].startswith("email:")
    changed = client.patch(f"/subscribers/{reader['id']}", json={"countries": ["CN", "MN"]})
    assert changed.json()["countries"] == ["CN", "MN"] and changed.json()["language"] == "mn"
    assert client.get("/subscribers", params={"q": "reader", "country": "CN"}).json()["total"] == 1
    assert client.get("/subscribers", params={"country": "XX"}).status_code == 422
    out = client.post(f"/subscribers/{reader['id']}/unsubscribe").json()
    assert out["status"] == "unsubscribed"
    assert [event["what"] for event in out["history"]][-1] == "status: unsubscribed"
    actions = [(entry["action"], entry["subject"]) for entry in client.get("/audit").json()[:4]]
    assert actions == [("subscriber.unsubscribe", "Reader@example.org"),
                       ("subscribers.list", "page 1 of search 'reader', country 'CN'"),  # addresses shown
                       ("subscriber.change", "Reader@example.org"), ("subscriber.add", "Reader@example.org")]
    assert client.get("/subscribers/999999").status_code == 404


def test_digests_paused_tested_and_sent(api) -> None:  # type: ignore[no-untyped-def]
    from helpers import wait_until

    client, config, sessions, _path, server, _token, _base = api
    with sessions.begin() as session:
        save_subscribers(session, [SubscriberRow("cn@example.org", ("CN",)), SubscriberRow("mn@example.org", ("MN",))],
                         SubscriberStatus.CONFIRMED, utc_now())
    name = config.digests[0].name
    [first, *_] = client.get("/digests").json()
    assert first["name"] == name and first["paused"] is None and first["next_releases"] > 0
    assert client.post(f"/digests/{name}/pause").json() == {"digest": name, "paused": True}
    assert client.get("/digests").json()[0]["paused_by"] == "cms@example.org"
    assert client.post("/digests/no-such-digest/pause").status_code == 404  # names change while it runs
    client.post(f"/digests/{name}/resume")
    tested = client.post(f"/digests/{name}/test", json={"address": "editor@example.org", "language": "mn"})
    assert tested.json() == {"sent": True, "edition": None}
    assert server.to("editor@example.org")[0].message["Subject"].startswith("[Test] ")
    server.refuse_rcpt = lambda address: "550 5.1.1 No such mailbox" if address.startswith("nobody@") else None
    refused = client.post(f"/digests/{name}/test", json={"address": "nobody@example.org"})
    assert refused.status_code == 502 and "550 5.1.1 No such mailbox" in refused.json()["detail"]
    assert client.get("/audit").json()[0]["after"]["sent"].startswith("not taken: 550")
    sent = client.post(f"/digests/{name}/send").json()
    assert sent["sent"] is True
    reader = "cn@example.org" if "CN" in config.digests[0].countries else "mn@example.org"
    wait_until(lambda: server.to(reader))
    wait_until(lambda: client.get(f"/digests/{name}/editions/{sent['edition']}").json()["status"] == "complete")
    report = client.get(f"/digests/{name}/editions/{sent['edition']}").json()
    assert [(o["email"], o["delivery"]) for o in report["outcomes"]] == [(reader, "sent")]
    assert client.post(f"/digests/{name}/send").json() == {"sent": False, "edition": None}
    assert client.get(f"/digests/{name}/editions/99").status_code == 404


@SQLITE_ONLY
def test_schedules_and_an_import_now(api) -> None:  # type: ignore[no-untyped-def]
    client, config, *_ = api
    jobs = {job["id"]: job for job in client.get("/schedules").json()}
    assert {f"source:{config.sources[0].name}", "feeds", f"digest:{config.digests[0].name}"} <= set(jobs)
    done = client.post(f"/sources/{config.sources[0].name}/import").json()
    assert done["imported"] is True and done["outcome"][0].startswith(("imported", "not modified"))
    assert client.post("/sources/nothing/import").status_code == 404  # (sources change while it runs: no fixed list)


def test_subscribers_imported_and_exported_as_csv(api) -> None:  # type: ignore[no-untyped-def]
    client, *_ = api
    csv_type = {"Content-Type": "text/csv"}
    bad = client.post("/subscribers/import", content="email,countries\nok@example.org,CN\nnope,CN\n",
                      headers=csv_type)
    assert bad.status_code == 422 and bad.json()["detail"].startswith("the body: line 3")
    assert client.get("/subscribers", params={"q": "ok@"}).json()["total"] == 0
    good = client.post("/subscribers/import", content="email,countries\nok@example.org,CN MN\n", headers=csv_type)
    assert good.json() == {"new": 1, "updated": 0, "unchanged": 0}
    exported = client.get("/subscribers/export")
    assert exported.headers["content-type"].startswith("text/csv")
    assert "ok@example.org,CN MN,confirmed,en," in exported.text.splitlines()
    actions = [entry["action"] for entry in client.get("/audit").json()[:2]]
    assert actions == ["subscribers.export", "subscribers.import"]


def _raw(base: str, request: bytes, seconds: float = 5.0) -> bytes:
    """Send `request` as it is (a body may be declared and never come) and read the answer's
    head: a server that waits for the body gives nothing within `seconds`."""
    import socket
    from urllib.parse import urlsplit

    where = urlsplit(base)
    with socket.create_connection((where.hostname, where.port), timeout=seconds) as connection:
        connection.sendall(request)
        try:
            return connection.recv(65536)
        except TimeoutError:
            return b""


def test_a_body_is_not_read_before_its_sender_is_known(api) -> None:  # type: ignore[no-untyped-def]
    """An unauthenticated 300 MB POST took the serving process from 173 MB to 1,045 MB before its
    401: FastAPI reads a body before a route's dependencies run."""
    client, *_, base = api
    head = (b"POST /api/v1/releases HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 300000000\r\n")
    answer = _raw(base, head + b"\r\n{")
    assert answer.startswith(b"HTTP/1.1 401") and b"application/problem+json" in answer
    assert b"x-frame-options: DENY" in answer  # the security headers, as on every answer
    token = client.headers["authorization"].encode()
    answer = _raw(base, head + b"Authorization: " + token + b"\r\n\r\n{")
    assert answer.startswith(b"HTTP/1.1 413") and b"Content Too Large" in answer
    console = _raw(base, b"POST /admin/subscribers/import HTTP/1.1\r\nHost: x\r\nContent-Length: 4000000\r\n\r\n--")
    assert console.startswith(b"HTTP/1.1 303") and b"location: /admin/login" in console


def test_a_chunked_body_is_counted_as_it_comes(api) -> None:  # type: ignore[no-untyped-def]
    client, *_ = api

    def chunks():  # type: ignore[no-untyped-def]
        yield b'{"title": "'
        for _ in range(40):
            yield b"x" * 10_000  # no Content-Length: 400 KB in all, past the 256 KB of a release
        yield b'"}'

    refused = client.post("/releases", content=chunks(), headers={"Content-Type": "application/json"})
    assert refused.status_code == 413 and refused.headers["content-type"] == "application/problem+json"
    big = "email,countries\n" + "".join(f"a-reader-with-a-long-address-{i:05d}@example.org,CN\n"
                                        for i in range(6_000))  # 330 KB: an upload
    assert len(big) > 256_000
    assert client.post("/subscribers/import", content=big.encode(), headers={"Content-Type": "text/csv"},
                       timeout=120).json()["new"] == 6_000


def test_odd_requests_get_problems_not_500s(api) -> None:  # type: ignore[no-untyped-def]
    """A NUL in a search made PostgreSQL refuse the query (a plain 500 without the security
    headers); a body nested too deep to parse answered FastAPI's own {"detail": ...}."""
    client, *_ = api
    for path in ("/releases", "/subscribers", "/audit"):
        found = client.get(path, params={"q": "a\x00b"})
        assert found.status_code == 200 and found.headers["x-frame-options"] == "DENY", (path, found.text)
    deep = client.post("/releases", content=b"[" * 100_000 + b"]" * 100_000,
                       headers={"Content-Type": "application/json"})
    assert deep.status_code == 400 and deep.headers["content-type"] == "application/problem+json"
    assert deep.json()["title"] == "Bad Request"


def test_addresses_handed_out_and_test_copies_are_audited_and_bounded(api) -> None:  # type: ignore[no-untyped-def]
    """Reports, lists and a subscriber's page hand out readers' addresses: the audit log says
    to whom. A test copy's address must be one (it went into a header and the audit log raw),
    and an operator sends at most TEST_COPIES an hour."""
    from publisher.jobs.controls import TEST_COPIES

    client, config, sessions, path, _server, _token, _base = api
    name = config.digests[0].name
    with sessions.begin() as session:
        save_subscribers(session, [SubscriberRow(f"r{i}@example.org", config.digests[0].countries[:1])
                                   for i in range(3)], SubscriberStatus.CONFIRMED, utc_now())
    assert CliRunner().invoke(cli, ["--config", str(path), "digest", "send", name]).exit_code == 0
    assert len(client.get(f"/digests/{name}/editions/1").json()["outcomes"]) == 3
    [shown] = client.get("/subscribers", params={"q": "r1@"}).json()["subscribers"]
    client.get(f"/subscribers/{shown['id']}")
    audit = [(e["action"], e["subject"], e["after"]) for e in client.get("/audit").json()[:3]]
    assert audit == [("subscriber.view", "r1@example.org", {"addresses": 1}),
                     ("subscribers.list", "page 1 of search 'r1@'", {"addresses": 1}),
                     ("edition.report", f"{name} 1", {"addresses": 3})]
    crlf = client.post(f"/digests/{name}/test", json={"address": "editor@example.org\r\nBcc: all@example.org"})
    assert crlf.status_code == 422 and "Bcc" not in str(client.get("/audit").json()[0])
    answers = [client.post(f"/digests/{name}/test", json={"address": f"e{i}@example.org"}).status_code
               for i in range(TEST_COPIES + 1)]
    assert answers == [200] * TEST_COPIES + [429]  # (nothing is new since the edition: none is mailed)


def test_a_token_may_do_only_what_its_scopes_say(api) -> None:  # type: ignore[no-untyped-def]
    """Any token (a content system's) could export every subscriber."""
    _client, config, _sessions, path, _server, _token, base = api
    made = CliRunner().invoke(cli, ["--config", str(path), "operators", "token", "cms@example.org",
                                    "--label", "the CMS", "--scope", "releases"])
    assert made.exit_code == 0 and "(releases)" in made.stdout
    token = made.stdout.strip().rsplit(" ", 1)[1]
    with httpx.Client(base_url=base + "/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=20) as cms:
        assert cms.post("/releases", json=RELEASE).status_code == 201
        for refused in (cms.get("/subscribers/export"), cms.get("/subscribers"), cms.get("/audit"),
                        cms.post(f"/digests/{config.digests[0].name}/pause")):
            assert refused.status_code == 403 and refused.headers["content-type"] == "application/problem+json"
            assert "needs the scope" in refused.json()["detail"]
        assert cms.get("/releases").status_code == 403  # reading is "read", not "releases"
    reader = CliRunner().invoke(cli, ["--config", str(path), "operators", "token", "cms@example.org"])
    assert "(read)" in reader.stdout  # the default: read, no reader's address
    listed = CliRunner().invoke(cli, ["--config", str(path), "operators", "list"])
    assert "the CMS (releases)" in listed.stdout
    bad = CliRunner().invoke(cli, ["--config", str(path), "operators", "token", "cms@example.org", "--scope", "root"])
    assert bad.exit_code == 2 and "root" in bad.output
