"""Sources kept in the database: seeded from config.toml and following it while nobody changed
them; created, changed and retired in the console and the API over real HTTP (checked as
`config check` checks them, never a file on the server, audited, each setting's origin shown);
and followed by a `publisher run` that was already running, without a restart."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from helpers import FAST_FIRE_EVERY, SEED, set_keys, sqlite_store, start_run, stop, wait_until, write_config
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from test_console import csrf_of
from test_console_digests import saved_form, signed_in  # noqa: F401 (a fixture)
from test_sources import SHANGHAI, office_page

from publisher.clock import utc_now
from publisher.config import Config, load_config
from publisher.errors import ConfigError, InvalidValue, NotFound
from publisher.ingest.listing import parse_listing
from publisher.jobs.source_settings import change_source, create_source, retire_source, source_divergences
from publisher.operators.accounts import add_operator
from publisher.operators.tokens import make_token
from publisher.store.db import open_store
from publisher.store.effect import in_effect
from publisher.store.models import AuditEntry, Release, SourceState
from publisher.store.runs import remember_validators
from publisher.store.sources import source_named

NOW = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)
SHIPPED = "bundled:ilo-china-mongolia-news.txt"


def audit(sessions: sessionmaker[Session]) -> list[tuple[str, str, str]]:
    with sessions() as session:
        return [(e.actor, e.action, e.subject) for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))
                if e.action.startswith("source.")]


def effective(sessions: sessionmaker[Session], config: Config) -> dict[str, str | None]:
    """Each source in effect and its cron."""
    with sessions() as session:
        return {source.name: source.cron for source in in_effect(session, config).sources}


def test_sources_are_seeded_from_the_file_and_follow_it_until_an_operator_changes_one(
        config_path: Path, config: Config, sessions: sessionmaker[Session]) -> None:
    assert effective(sessions, config) == {"ilo-news": None}
    set_keys(config_path, "sources", cron='"0 6 * * *"')
    open_store(load_config(config_path, environ={}), clock=lambda: NOW)
    assert effective(sessions, config) == {"ilo-news": "0 6 * * *"}
    assert audit(sessions) == [("config.toml", "source.change", "source ilo-news")]

    change_source(sessions, "cms@example.org", "ilo-news", {"cron": "30 5 * * MON-FRI"}, NOW)
    set_keys(config_path, "sources", cron='"0 7 * * *"')
    changed = load_config(config_path, environ={})
    open_store(changed, clock=lambda: NOW)  # the file says 07:00: the operator's stays
    assert effective(sessions, config) == {"ilo-news": "30 5 * * MON-FRI"}
    assert source_divergences(sessions, changed) == [
        "source ilo-news.cron: '30 5 * * MON-FRI' in effect (by cms@example.org), config.toml: '0 7 * * *'"]


def test_a_console_source_reads_a_url_or_a_shipped_file_never_a_file_on_the_server(
        config: Config, sessions: sessionmaker[Session], tmp_path: Path) -> None:
    secret = tmp_path / "secret.csv"
    secret.write_text("title,published\nx,2024-01-01\n")
    for location in (str(secret), "bundled:../../config.toml", "bundled:config.toml", "ftp://example.org/x"):
        with pytest.raises(ConfigError, match="location: expected an http\\(s\\) URL or one of " + SHIPPED):
            create_source(sessions, "cms@example.org", {"name": "x", "location": location}, NOW)
    with pytest.raises(ConfigError) as bad:
        create_source(sessions, "cms@example.org", {"name": "Bad Name", "location": SHIPPED, "format": "pdf",
                                                    "cron": "0 25 * * *", "max_bytes": 0}, NOW)
    assert [problem.split(":")[0] for problem in bad.value.problems] == ["name", "format", "cron", "max_bytes"]
    with pytest.raises(InvalidValue, match="exists"):
        create_source(sessions, "cms@example.org", {"name": "ilo-news", "location": SHIPPED}, NOW)
    with pytest.raises(InvalidValue, match="keeps its name"):
        change_source(sessions, "cms@example.org", "ilo-news", {"name": "other"}, NOW)
    with pytest.raises(NotFound, match="no source named 'nope' \\(there are: ilo-news\\)"):
        change_source(sessions, "cms@example.org", "nope", {"cron": "0 6 * * *"}, NOW)
    assert audit(sessions) == []  # nothing refused was written

    create_source(sessions, "cms@example.org", {"name": "office", "location": "https://example.org/news"}, NOW)
    assert change_source(sessions, "cms@example.org", "office", {"location": "https://example.org/news"}, NOW) is None
    assert retire_source(sessions, "cms@example.org", "office", NOW)
    assert not retire_source(sessions, "cms@example.org", "office", NOW)
    assert audit(sessions) == [("cms@example.org", "source.create", "source office"),
                               ("cms@example.org", "source.retire", "source office")]


def test_a_new_location_forgets_the_old_ones_fetch_validators(config: Config, sessions: sessionmaker[Session]) -> None:
    create_source(sessions, "cms@example.org", {"name": "office", "location": "https://example.org/a"}, NOW)
    with sessions.begin() as session:
        remember_validators(session, "office", '"v1"', None, NOW)
    change_source(sessions, "cms@example.org", "office", {"cron": "0 6 * * *"}, NOW)
    with sessions() as session:
        assert session.get(SourceState, "office") is not None  # (the same address: its ETag holds)
    change_source(sessions, "cms@example.org", "office", {"location": "https://example.org/b"}, NOW)
    with sessions() as session:
        assert session.get(SourceState, "office") is None
        assert source_named(session, "office").location == "https://example.org/b"


def test_a_source_created_changed_and_retired_in_the_console(signed_in) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    client, _config, sessions = signed_in
    new = client.get("/admin/sources/new")
    assert new.status_code == 200 and f'<option value="{SHIPPED}">' in new.text
    form = {"csrf": csrf_of(new), "name": "office", "location": "/etc/passwd", "format": "", "cron": "0 25 * * *",
            "timeout": "30s", "max_bytes": "100000"}
    refused = client.post("/admin/sources/new", data=form)
    assert refused.status_code == 400 and "cron:" in refused.text and 'value="/etc/passwd"' in refused.text
    refused = client.post("/admin/sources/new", data={**form, "cron": "0 6 * * *"})
    assert refused.status_code == 400 and "a file on the server is config.toml&#39;s to name" in refused.text
    made = client.post("/admin/sources/new", data={**form, "location": "https://example.org/news", "cron": "0 6 * * *"})
    assert made.headers["location"] == "/admin/sources/office/settings?done=created"
    settings = client.get("/admin/sources/office/settings")
    assert "Made by press@example.org (config.toml has no such source)." in settings.text
    assert "At 06:00 (Asia/Shanghai; 0 6 * * *)" in settings.text

    shipped = client.get("/admin/sources/ilo-news/settings")
    assert "These settings come from config.toml." in shipped.text
    saved = client.post("/admin/sources/ilo-news/settings", data={
        "csrf": csrf_of(shipped), "location": SHIPPED, "format": "listing", "cron": "0 5 * * *", "timeout": "10s",
        "max_bytes": "5000000"})
    assert saved.headers["location"].endswith("done=saved")
    after = client.get("/admin/sources/ilo-news/settings").text
    assert "changed by press@example.org; config.toml says: 30s" in after  # beside the timeout
    assert "changed by press@example.org; config.toml says: None" in after  # beside the schedule
    listing = client.get("/admin/sources").text
    assert "office" in listing and "0 5 * * *" in listing

    retired = client.post("/admin/sources/office/retire", data={"csrf": csrf_of(settings)})
    assert retired.status_code == 303
    assert client.get("/admin/sources/office/settings").status_code == 404
    assert [action for _, action, _ in audit(sessions)] == ["source.create", "source.change", "source.retire"]


def test_a_source_form_opened_before_an_upgrade_leaves_what_it_did_not_show(signed_in) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    client, _config, _sessions = signed_in
    values = {"location": SHIPPED, "format": "listing", "cron": "0 5 * * *", "timeout": "10s", "max_bytes": "5000000"}

    def save(extra: dict[str, str]) -> str:
        return saved_form(client, "/admin/sources/ilo-news/settings", {**values, **extra},
                          {"fetch_pages", "format", "cron"})

    assert 'name="fetch_pages" value="yes" checked' in save({"fetch_pages": "yes"})
    kept = save({"fields": "name location format cron timeout max_bytes", "timeout": "20s"})
    assert 'name="fetch_pages" value="yes" checked' in kept and 'value="20s"' in kept
    assert 'name="fetch_pages" value="yes">' in save({"fields": ""})  # naming none: what it sent is all


def test_sources_created_changed_and_retired_through_the_api(web) -> None:  # type: ignore[no-untyped-def]
    base, _path, _config, sessions, _server = web
    with sessions.begin() as session:
        operator = add_operator(session, "cms@example.org", "a long enough password", utc_now())
        _row, reader = make_token(session, operator, "reader", utc_now(), ("read",))
        _row, editor = make_token(session, operator, "editor", utc_now(), ("releases",))
    body = {"name": "office", "location": "https://example.org/news.csv", "format": "csv", "cron": "@hourly"}
    with httpx.Client(base_url=base + "/api/v1", timeout=20) as client:
        as_reader = {"Authorization": f"Bearer {reader}"}
        assert client.post("/sources", json=body, headers=as_reader).status_code == 403
        client.headers["Authorization"] = f"Bearer {editor}"
        bad = client.post("/sources", json={**body, "location": "/var/lib/x.csv", "timeout": "soon"})
        assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
        assert [problem.split(":")[0] for problem in bad.json()["problems"]] == ["timeout"]
        made = client.post("/sources", json=body)
        assert made.status_code == 201 and made.json()["timeout"] == "30s" and made.json()["source"] == "operator"
        changed = client.patch("/sources/office", json={"cron": None, "max_bytes": 1000})
        assert (changed.json()["cron"], changed.json()["max_bytes"]) == (None, 1000)
        listed = {s["name"]: s for s in client.get("/sources", headers=as_reader).json()}
        assert listed["ilo-news"]["source"] == "config.toml" and listed["office"]["changed_by"] == "cms@example.org"
        schedules = {job["id"]: job for job in client.get("/schedules", headers=as_reader).json()}
        assert (schedules["source:office"]["cron"], schedules["source:office"]["next_fire"]) == (None, None)
        assert client.delete("/sources/office").json() == {"source": "office", "retired": True}
        assert client.delete("/sources/office").status_code == 404
        assert client.post("/sources/office/import").status_code == 404
    assert [action for _, action, _ in audit(sessions)] == ["source.create", "source.change", "source.retire"]


def test_a_source_made_through_the_api_is_imported_by_the_running_scheduler_and_retired_stops(
        tmp_path: Path, site) -> None:  # type: ignore[no-untyped-def]
    state, url = site
    state.body = office_page(parse_listing(SEED.read_text("utf-8"), "s", SHANGHAI)).encode()
    path = write_config(tmp_path, sqlite_store(tmp_path))
    set_keys(path, "scheduler", changes_poll='"0.5s"')
    config = load_config(path, environ={})
    sessions = open_store(config)
    with sessions.begin() as session:
        operator = add_operator(session, "cms@example.org", "a long enough password", utc_now())
    running = start_run(path, tmp_path / "run.log", fast_fire=True)
    try:
        wait_until(lambda: "scheduler running" in (tmp_path / "run.log").read_text())
        create_source(sessions, operator.email, {"name": "office", "location": url, "cron": "* * * * *"}, utc_now())
        wait_until(lambda: "source:office: added, Every minute" in (tmp_path / "run.log").read_text())
        wait_until(lambda: len(state.requests) >= 2, 20)  # imported, then asked again (a 304)
        assert state.requests[-1].get("If-None-Match") == '"v1"'
        with sessions() as session:
            assert session.scalar(select(func.count()).select_from(Release).where(
                Release.url.like(url.removesuffix("/news") + "%"))) == 20
        retire_source(sessions, operator.email, "office", utc_now())
        wait_until(lambda: "source:office: retired, no longer scheduled" in (tmp_path / "run.log").read_text())
        asked = len(state.requests)
        time.sleep(FAST_FIRE_EVERY * 2 + 1)  # every-minute fire times would have come twice
        assert len(state.requests) == asked
    finally:
        assert stop(running) == 0


def test_a_sources_pages_and_words_for_countries_are_checked_and_kept_in_the_console(signed_in) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    from datetime import timedelta

    client, _config, sessions = signed_in
    new = client.get("/admin/sources/new")
    form = {"csrf": csrf_of(new), "name": "desk", "location": "https://example.org/feed.xml", "format": "feed",
            "cron": "", "timeout": "30s", "max_bytes": "100000", "fetch_pages": "yes", "page_delay": "2s",
            "categories": "Inner Asia desk = mn\nno country here\n"}
    refused = client.post("/admin/sources/new", data=form)
    assert refused.status_code == 400 and "categories.no country here" in refused.text
    refused = client.post("/admin/sources/new", data={**form, "categories": "Inner Asia desk = XX"})
    assert refused.status_code == 400 and "categories.Inner Asia desk: unknown country &#39;XX&#39;" in refused.text
    made = client.post("/admin/sources/new", data={**form, "categories": "Inner Asia desk = mn\n"})
    assert made.status_code == 303
    shown = client.get("/admin/sources/desk/settings").text
    assert "Inner Asia desk = MN" in shown and 'name="fetch_pages" value="yes" checked' in shown
    assert 'id="page_delay" name="page_delay" value="2s"' in shown
    with sessions() as session:
        source = source_named(session, "desk")
    assert (source.categories, source.fetch_pages, source.page_delay) == ({"Inner Asia desk": "MN"}, True,
                                                                          timedelta(seconds=2))
