"""schemathesis against the app's own OpenAPI schema, over real HTTP: no request gets a 5xx."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from helpers import mail_config, serve_app, setup_store, sqlite_store
from hypothesis import HealthCheck, given, settings
from mailserver import MailServer

from publisher.clock import utc_now
from publisher.operators.accounts import add_operator
from publisher.operators.tokens import make_token
from publisher.web.app import create_app

pytestmark = pytest.mark.slow  # schemathesis over the whole API


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    from mailserver import start

    server = MailServer()
    controller = start(server)
    folder = tmp_path_factory.mktemp("schema")
    path = mail_config(folder, sqlite_store(folder), server)
    config, sessions = setup_store(path, {"a@example.org": ("CN", "confirmed")})
    with sessions.begin() as session:
        operator = add_operator(session, "ops@example.org", "a long enough password", utc_now())
        _row, token = make_token(session, operator, "schemathesis", utc_now(), ("all",))
    for base in serve_app(create_app(config, sessions)):
        yield base, token
    controller.stop()


def test_no_request_gets_a_server_error(live: tuple[str, str]) -> None:
    """Over every operation, the API's with an operator's token (so its bodies reach the code)."""
    import schemathesis  # here, not at the top: every test process would load it at collection

    base, token = live
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    answered: list[str] = []
    failures: list[str] = []
    calls: list[str] = []

    @settings(max_examples=300, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=schema.as_strategy())
    def check(case) -> None:  # type: ignore[no-untyped-def]
        response = case.call(base_url=base, timeout=10, headers={"Authorization": f"Bearer {token}"})
        calls.append(f"{case.method} {case.path}")
        if case.path.startswith("/api/v1/") and response.status_code < 300:
            answered.append(f"{case.method} {case.path}")
        if response.status_code >= 500:
            failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}")

    check()
    assert failures == []
    assert len(set(calls)) >= 16  # every operation was tried
    assert len(set(answered)) >= 5  # the API's operations got past the token and the schema
    assert httpx.get(f"{base}/healthz").status_code == 200
