"""Real fixtures: SQLite files in tmp folders, and throwaway databases on the local PostgreSQL."""

from __future__ import annotations

import atexit
import compileall
import contextlib
import gc
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from argon2 import PasswordHasher, profiles
from helpers import (
    PG_ADMIN,
    ROOT,
    Swappable,
    mail_config,
    need,
    pg_sequences,
    pg_tables,
    pg_without_triggers,
    serve_app,
    serve_http,
    setup_store,
    sqlite_store,
    write_config,
)
from mailserver import MailServer, start
from sqlalchemy.orm import Session, sessionmaker

from publisher.cli import GC_THRESHOLDS
from publisher.config import Config, load_config
from publisher.operators import accounts
from publisher.store.db import make_engine, open_store, upgrade
from publisher.web.app import create_app

# Each test process holds a large heap (SQLAlchemy, pydantic, a FastAPI app per web test): it is
# collected as a command's is (publisher/cli), with what is loaded by now frozen out of every
# collection (12% less CPU for the web tests, paired runs), except that the middle generation is
# collected five times less often: what a test makes lives until it ends, and each of its
# collections went over all of that again (the fast set, each test process: 4.6-6.4 s of
# collecting, 2.6-3.5 s after).
gc.set_threshold(GC_THRESHOLDS[0], GC_THRESHOLDS[1] * 5, GC_THRESHOLDS[2])
gc.freeze()

# Operators' passwords hashed in the test processes with argon2id at the cost argon2-cffi keeps
# for tests (profiles.CHEAPEST), not the RFC 9106 profile the product uses: a tenth of a second
# of CPU for each hash and each check, some 130 of them in the console and API tests alone (a
# twentieth of the suite's CPU). The commands the tests start (`publisher operators add`) hash as
# the product does, and a hash made either way is checked by the other, as argon2 keeps its
# parameters in the hash.
accounts._HASHER = PasswordHasher.from_parameters(profiles.CHEAPEST)

# Hypothesis, when the first test module imports it, runs the plugins other packages register
# with it: trio's imported trio into every test process and had Hypothesis collect the whole heap
# to check what it registered (0.24 s of CPU a process, where no test uses trio).
os.environ["HYPOTHESIS_NO_PLUGINS"] = "1"


_TRUST = "publisher-trust-"


def _trust_one_certificate() -> None:
    """The tests reach 127.0.0.1 only, and their TLS servers' certificates are named where they
    are trusted: every HTTP client a test makes (hundreds: `httpx.get` makes one a call) parsed
    a bundle of 140-odd certificates all the same (the system's, which SSL_CERT_FILE names
    here, or certifi's), 40 ms of CPU a client here, 5 ms with one (paired runs of
    test_clicks.py: 0.80x CPU). One of them stands for the system's, in this process and those
    it starts."""
    if Path(os.environ.get("SSL_CERT_FILE", "")).parent.name.startswith(_TRUST):
        return  # (an xdist worker: the controller made it)
    import certifi

    bundle = Path(certifi.where()).read_text("ascii")
    end = "-----END CERTIFICATE-----\n"
    folder = Path(tempfile.mkdtemp(prefix=_TRUST))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)  # (xdist's workers end first)
    one = folder / "one.pem"
    one.write_text(bundle[bundle.index("-----BEGIN CERTIFICATE-----"):bundle.index(end) + len(end)], "ascii")
    os.environ["SSL_CERT_FILE"] = str(one)


_trust_one_certificate()


def pytest_sessionstart(session: pytest.Session) -> None:
    """Compile the package once: with PYTHONDONTWRITEBYTECODE set (as on these machines) every
    `python -m publisher` the tests start would otherwise compile it again (a third of a
    second each, for some sixty processes)."""
    compileall.compile_dir(ROOT / "publisher", quiet=1)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto` (pyproject.toml): two workers a core. Much of the suite's time is spent waiting
    on processes, servers and browsers, not computing (two cores: 4 min 57 s with two workers,
    4 min 12 s with three; on 2026-12-08, runs back to back: 2 min 51 s to 2 min 54 s with three,
    2 min 31 s to 2 min 43 s with four, 2 min 51 s with five)."""
    return max(2, len(os.sched_getaffinity(0)) * 2)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests that start processes, servers or a browser (`slow`, up to 20 s each) first, the
    quick ones after, and idle workers take from busy ones (`--dist worksteal`, pyproject.toml):
    the workers then finish together on small tests, instead of one of them running a 10-second
    test alone at the end (three workers ended 189-192 s in, where they had ended 210-221 s)."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true",
                     help="Rewrite the golden files in tests/golden from the current output.")


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


@pytest.fixture(scope="session")
def shared_postgres(postgres_available: bool) -> Iterator[str | None]:
    """One migrated database that the quick tests share, emptied before each (creating a
    database costs ten times as much as emptying one)."""
    if not postgres_available:
        yield None
        return
    name = _create_database()
    engine = make_engine(_url(name))
    upgrade(engine)
    engine.dispose()
    try:
        yield name
    finally:
        _drop_database(name)


@pytest.fixture
def postgres_url(request: pytest.FixtureRequest, postgres_available: bool,
                 shared_postgres: str | None) -> Iterator[str]:
    """A database on the local server: the shared one, emptied; a new one, dropped afterwards,
    for tests that start processes (marked `slow`) or need no tables (`empty_database`)."""
    if not postgres_available:
        need("no PostgreSQL server answers at 127.0.0.1:5432")
    own = any(request.node.get_closest_marker(mark) for mark in ("slow", "empty_database"))
    if not own and shared_postgres is not None:
        _empty_database(shared_postgres)
        yield _url(shared_postgres)
        return
    name = _create_database()
    try:
        yield _url(name)
    finally:
        _drop_database(name)


def _empty_database(name: str) -> None:
    """No rows, ids from 1 again, and nobody else connected (a connection the last test left
    open could hold a lock). DELETE, not TRUNCATE: a test leaves a few hundred rows, and
    TRUNCATE makes every table's files anew (66 ms for the 30 tables, DELETE 18 ms); the
    foreign keys' triggers are off meanwhile, so the order of the tables does not matter."""
    import psycopg

    with psycopg.connect(PG_ADMIN.rsplit("/", 1)[0] + f"/{name}", autocommit=True) as connection:
        connection.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                           "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        tables = pg_tables(connection)
        sequences = [name for name, _last in pg_sequences(connection)]
        with pg_without_triggers(connection):
            for table in tables:
                connection.execute(f'DELETE FROM "{table}"')
            for sequence in sequences:
                connection.execute(f'ALTER SEQUENCE "{sequence}" RESTART')


def _url(name: str) -> str:
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def _create_database() -> str:
    import psycopg

    name = f"publisher_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return name


def _drop_database(name: str) -> None:
    import psycopg

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
        with contextlib.suppress(Exception):  # the test may have left it stopped
            cluster.stop("immediate")
        shutil.rmtree(cluster.folder, ignore_errors=True)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param != "sqlite":
        return str(request.getfixturevalue("postgres_url"))
    if request.node.get_closest_marker("empty_database") is not None:
        return f"sqlite:///{tmp_path / 'store.db'}"
    return sqlite_store(tmp_path, "store.db")


@pytest.fixture
def mail_server() -> Iterator[MailServer]:
    server = MailServer()
    controller = start(server, enable_SMTPUTF8=True)  # as most relays today
    yield server
    controller.stop()


@pytest.fixture(autouse=True)
def _no_app_outlives_its_test() -> Iterator[None]:
    """FastAPI keeps each route's endpoint in caches of its own (4,096 entries each, strong
    references): every app a test made, with its store and configuration, stayed alive some
    forty tests more, a million objects in each test process, collected again and again and
    freed at the end (seconds of every run). A server makes one app; the tests make hundreds."""
    yield
    from fastapi.dependencies import models

    for name in ("_is_gen_callable_cached", "_is_async_gen_callable_cached", "_is_coroutine_callable_cached"):
        cached = getattr(models, name, None)
        if cached is not None:
            cached.cache_clear()


@pytest.fixture(autouse=True)
def _one_tests_logging() -> Iterator[None]:
    """A command run in-process sets up publisher's log handler on the root logger; it goes
    with the test (pytest's own capture stays)."""
    yield
    from publisher.logs import remove_handlers

    remove_handlers()


@pytest.fixture
def imap_server() -> Iterator[object]:
    """Debian's Dovecot on loopback ports with a throwaway config (tests/imapserver.py)."""
    if not (shutil.which("dovecot") and shutil.which("openssl")):
        need("dovecot-imapd and openssl are not installed")
    from imapserver import dovecot

    with dovecot() as server:
        yield server


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


@pytest.fixture
def web(tmp_path: Path, db_url: str, mail_server: MailServer,
        live_server: tuple[Swappable, str]) -> Iterator[tuple]:  # type: ignore[type-arg]
    path = mail_config(tmp_path, db_url, mail_server)
    config, sessions = setup_store(path, {})
    front = live_server[0].app = create_app(config, sessions)
    yield live_server[1], path, config, sessions, mail_server
    # The clicks it noted (a counted link a test followed) written now, into this test's store:
    # a second later they could land in the next one's (the shared PostgreSQL database).
    front.clicks.stop()
    live_server[0].app = None


@pytest.fixture(scope="session")
def live_server() -> Iterator[tuple[Swappable, str]]:
    """One uvicorn for the whole session; a test puts its app in the holder (no lifespan: the
    apps have no start-up work)."""
    holder = Swappable()
    for base in serve_app(holder, lifespan="off"):
        yield holder, base


@dataclass
class Site:
    """What a local web server serves at /news, and what it was asked."""

    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    etag: str = '"v1"'
    requests: list[dict[str, str]] = field(default_factory=list)


@pytest.fixture
def site() -> Iterator[tuple[Site, str]]:
    state = Site()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append(dict(self.headers))
            if self.headers.get("If-None-Match") == state.etag:
                self.send_response(304)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", state.content_type)
            self.send_header("ETag", state.etag)
            self.send_header("Last-Modified", "Fri, 27 Nov 2026 10:00:00 GMT")
            self.end_headers()
            self.wfile.write(state.body)

        def log_message(self, *args: object) -> None:
            pass

    for base in serve_http(Handler):
        yield state, f"{base}/news"
