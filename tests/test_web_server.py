"""How `publisher serve` starts uvicorn: forwarded headers believed only from trusted proxies."""

from __future__ import annotations

import logging

import httpx
import pytest
from fastapi import FastAPI, Request
from helpers import serve_app, sqlite_store
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


@pytest.mark.slow
@pytest.mark.parametrize("log_format", ["text", "json"])
def test_serve_logs_its_address_and_each_request_with_the_time(tmp_path, log_format: str) -> None:  # type: ignore[no-untyped-def]
    import json
    import os
    import re
    import subprocess
    import sys
    import time

    from helpers import write_config

    path = write_config(tmp_path, sqlite_store(tmp_path))
    port = free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("PUBLISHER_")},
           "PUBLISHER_SECRET_KEY": "a signing key for this test, long enough"}
    server = subprocess.Popen([sys.executable, "-m", "publisher", "--config", str(path), "--log-format", log_format,
                               "serve", "--port", str(port)], env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and server.poll() is None
                time.sleep(0.1)
        assert httpx.get(f"http://127.0.0.1:{port}/feeds/nope.xml").status_code == 404
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:  # lines written on stop too
            assert all(client.get(f"/healthz?n={n}").status_code == 200 for n in range(50))
    finally:
        server.terminate()
        _, err = server.communicate(timeout=20)
    lines = err.strip().splitlines()
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
    if log_format == "json":
        events = [json.loads(line) for line in lines]  # every line one object
        assert all(re.fullmatch(stamp, event["time"]) for event in events)
        messages = [event["message"] for event in events]
    else:
        assert all(re.match(stamp + r" (INFO|WARNING|ERROR) ", line) for line in lines), lines
        messages = lines
    assert any(f"http://127.0.0.1:{port}" in message for message in messages), messages
    assert any(re.search(r'(^|: )127\.0\.0\.1:\d+ - "GET /feeds/nope.xml HTTP/1.1" 404$', message)
               for message in messages), messages
    assert sorted(int(n) for message in messages for n in re.findall(r'"GET /healthz\?n=(\d+) HTTP/1.1" 200$',
                                                                      message)) == list(range(50))
