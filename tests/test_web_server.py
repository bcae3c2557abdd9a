"""How `publisher serve` starts uvicorn: forwarded headers believed only from trusted proxies."""

from __future__ import annotations

import logging

import httpx
import pytest
from fastapi import FastAPI, Request
from helpers import serve_app
from mailserver import free_port

from publisher.config import Web
from publisher.run.reachable import warn_unless_served
from publisher.web.server import server_options


def _echo_client() -> FastAPI:
    app = FastAPI()

    @app.get("/who")
    def who(request: Request) -> dict[str, str]:
        return {"client": request.client.host if request.client else ""}

    return app


@pytest.mark.parametrize(("trusted", "seen"), [((), "127.0.0.1"), (("127.0.0.1",), "203.0.113.9")])
def test_x_forwarded_for_is_believed_only_from_a_trusted_proxy(trusted: tuple[str, ...], seen: str) -> None:
    options = server_options(Web(trusted_proxies=trusted))
    for base in serve_app(_echo_client(), **options):
        answer = httpx.get(base + "/who", headers={"X-Forwarded-For": "203.0.113.9"}).json()
        assert answer["client"] == seen


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_base_url_that_nothing_serves_is_warned_about(web, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.WARNING, "publisher.run.reachable")
    nobody = f"http://127.0.0.1:{free_port()}"
    warn_unless_served(nobody, within=0.3).join(5)
    assert f"site.base_url {nobody} does not answer" in caplog.text
    caplog.clear()
    base = web[0]  # the app, with /healthz, served
    warn_unless_served(base, within=0.3).join(5)
    assert "does not answer" not in caplog.text
