"""schemathesis against the app's own OpenAPI schema, over real HTTP: no request gets a 5xx."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from helpers import mail_config, serve_app, setup_store
from hypothesis import HealthCheck, given, settings
from mailserver import MailServer

from publisher.web.app import create_app

pytestmark = pytest.mark.slow  # schemathesis over the whole API


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from mailserver import start

    server = MailServer()
    controller = start(server)
    folder = tmp_path_factory.mktemp("schema")
    path = mail_config(folder, f"sqlite:///{folder / 'x.db'}", server)
    config, sessions = setup_store(path, {"a@example.org": ("CN", "confirmed")})
    yield from serve_app(create_app(config, sessions))
    controller.stop()


def test_no_request_gets_a_server_error(live: str) -> None:
    schema = schemathesis.openapi.from_url(f"{live}/openapi.json")
    failures: list[str] = []
    calls: list[str] = []

    @settings(max_examples=300, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=schema.as_strategy())
    def check(case) -> None:  # type: ignore[no-untyped-def]
        response = case.call(base_url=live, timeout=10)
        calls.append(f"{case.method} {case.path}")
        if response.status_code >= 500:
            failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}")

    check()
    assert failures == []
    assert len(set(calls)) >= 10  # every operation was tried
    assert httpx.get(f"{live}/healthz").status_code == 200
