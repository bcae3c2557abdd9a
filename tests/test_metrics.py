"""/metrics over real HTTP, parsed as Prometheus reads it: what it counts, and who may read it."""

from __future__ import annotations

from ipaddress import ip_network

import httpx
from helpers import SQLITE_ONLY, serve_app
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from publisher.clock import utc_now
from publisher.operators.accounts import add_operator
from publisher.operators.tokens import make_token, revoke_token
from publisher.store.models import Release
from publisher.store.runs import record_run
from publisher.web.app import create_app


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def test_counts_by_status_and_each_jobs_last_run(web) -> None:  # type: ignore[no-untyped-def]
    base, _path, _config, sessions, _server = web
    with sessions() as session:
        stored = session.scalar(select(func.count()).select_from(Release))
    now = utc_now()
    with sessions.begin() as session:
        record_run(session, "source:ilo-news", now, now, now, "failed: the server answered 503")
        record_run(session, "feeds", now, now, now, "feeds: 0 changed")
    response = httpx.get(f"{base}/metrics", timeout=20)  # from 127.0.0.1: the default metrics_from
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    found = samples(response.text)
    assert found[("publisher_releases", ())] == stored
    assert found[("publisher_deliveries", (("status", "sent"),))] == 0
    assert found[("publisher_editions", (("status", "complete"),))] == 0
    assert found[("publisher_job_last_run_failed", (("job", "source:ilo-news"),))] == 1
    assert found[("publisher_job_last_run_failed", (("job", "feeds"),))] == 0
    assert found[("publisher_job_last_success_timestamp_seconds", (("job", "feeds"),))] == now.timestamp()
    assert ("publisher_job_last_success_timestamp_seconds", (("job", "source:ilo-news"),)) not in found


@SQLITE_ONLY
def test_other_addresses_need_a_live_token(web) -> None:  # type: ignore[no-untyped-def]
    _base, _path, config, sessions, _server = web
    elsewhere = config.model_copy(update={"web": config.web.model_copy(
        update={"metrics_from": (ip_network("192.0.2.0/24"),)})})
    with sessions.begin() as session:
        operator = add_operator(session, "ops@example.org", "a long enough password", utc_now())
        row, token = make_token(session, operator, "prometheus", utc_now(), ("read",))
    for base in serve_app(create_app(elsewhere, sessions)):
        refused = httpx.get(f"{base}/metrics", timeout=20)
        assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Bearer")
        assert "publisher_" not in refused.text
        bearer = {"Authorization": f"Bearer {token}"}
        assert httpx.get(f"{base}/metrics", headers=bearer, timeout=20).status_code == 200
        with sessions.begin() as session:
            revoke_token(session, row.id, utc_now())
        assert httpx.get(f"{base}/metrics", headers=bearer, timeout=20).status_code == 401
