"""Real fixtures: SQLite files in tmp folders, and throwaway databases on the local PostgreSQL."""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from mailserver import MailServer, start
from sqlalchemy.orm import Session, sessionmaker

from publisher.config import Config, load_config
from publisher.store.db import open_store

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_CONFIG = ROOT / "config.toml"
SEED = ROOT / "publisher" / "data" / "ilo-china-mongolia-news.txt"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
# CI sets this so that a missing PostgreSQL server or tool (jing) fails instead of skipping.
REQUIRE_ALL = os.environ.get("PUBLISHER_REQUIRE_ALL") == "1"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true",
                     help="Rewrite the golden files in tests/golden from the current output.")


def need(what: str) -> None:
    """Skip for lack of `what`, except in CI, where everything must be there."""
    if REQUIRE_ALL:
        pytest.fail(f"PUBLISHER_REQUIRE_ALL=1 but {what}")
    pytest.skip(what)


def _postgres_answers() -> bool:
    import psycopg

    try:
        with psycopg.connect(PG_ADMIN, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


@pytest.fixture(scope="session")
def postgres_available() -> bool:
    return _postgres_answers()


@pytest.fixture
def postgres_url(postgres_available: bool) -> Iterator[str]:
    """A new, empty database on the local server, dropped afterwards."""
    if not postgres_available:
        need("no PostgreSQL server answers at 127.0.0.1:5432")
    import psycopg

    name = f"publisher_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_cluster() -> Iterator[object]:
    """A PostgreSQL server of the test's own, which it may stop and start."""
    from pgcluster import make_cluster

    cluster = make_cluster()
    if cluster is None:
        need("no PostgreSQL binaries under /usr/lib/postgresql")
    try:
        yield cluster
    finally:
        try:
            cluster.stop("immediate")
        except Exception:  # noqa: BLE001 (the test may have left it stopped)
            pass
        shutil.rmtree(cluster.folder, ignore_errors=True)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("postgres_url")


def write_config(folder: Path, db_url: str, text: str | None = None) -> Path:
    """The shipped config (or `text`) with its database pointed at `db_url`."""
    text = SHIPPED_CONFIG.read_text("utf-8") if text is None else text
    text = re.sub(r'(?m)^url = ".*"', f'url = "{db_url}"', text, count=1)
    path = folder / "config.toml"
    path.write_text(text, "utf-8")
    return path


def set_keys(path: Path, section: str, **values: str) -> None:
    """Replace keys of a [section] (or [[section]]: its first table) in a config file; values
    are TOML. A key the section lacks is added at its top."""
    text = path.read_text("utf-8")
    for key, value in values.items():
        pattern = rf"(?ms)^(\[\[?{section}\]\]?\n(?:(?!^\[).)*?^{key} = )[^\n#]*"
        text, found = re.subn(pattern, rf"\g<1>{value} ", text, count=1)
        if not found:
            text, added = re.subn(rf"(?m)^(\[\[?{section}\]\]?)$", rf"\1\n{key} = {value}",
                                  text, count=1)
            assert added, f"no [{section}] in {path}"
    path.write_text(text, "utf-8")


@pytest.fixture
def mail_server() -> Iterator[MailServer]:
    server = MailServer()
    controller = start(server)
    yield server
    controller.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Headless Debian Chromium through chromedriver (no driver or browser downloads)."""
    import shutil

    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        need("chromium and chromium-driver are not installed")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or ""
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync", "--hide-scrollbars"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    yield driver
    driver.quit()


@pytest.fixture
def config_path(tmp_path: Path, db_url: str) -> Path:
    return write_config(tmp_path, db_url)


@pytest.fixture
def config(config_path: Path) -> Config:
    return load_config(config_path, environ={})


@pytest.fixture
def sessions(config: Config, monkeypatch: pytest.MonkeyPatch) -> sessionmaker[Session]:
    monkeypatch.delenv(config.database.url_env, raising=False)
    return open_store(config)


def serve_app(app: object) -> Iterator[str]:
    """Run an ASGI app under uvicorn on 127.0.0.1 in a thread; yield its base URL."""
    import threading
    import time

    import uvicorn
    from mailserver import free_port

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
