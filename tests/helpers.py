"""Helpers the test modules share (fixtures are in conftest.py): stores made from the shipped
config and the seed, `publisher run` and `publisher worker` as processes, waiting for a state."""

from __future__ import annotations

import atexit
import contextlib
import filecmp
import functools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from mailserver import MailServer
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from publisher.config import Config, load_config
from publisher.jobs.imports import ImportRequest, import_files
from publisher.store.db import HEAD, database_url, engine_of, make_engine, open_store, upgrade
from publisher.store.models import Edition, ScheduleRun, Subscriber
from publisher.store.statuses import SubscriberStatus
from publisher.subscribers.people import SubscriberRow, normalize_email, save_subscribers

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_CONFIG = ROOT / "config.toml"
SEED = ROOT / "publisher" / "data" / "ilo-china-mongolia-news.txt"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
# CI sets this so that a missing PostgreSQL server or tool (jing) fails instead of skipping.
REQUIRE_ALL = os.environ.get("PUBLISHER_REQUIRE_ALL") == "1"


NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
SITE = "http://127.0.0.1:8080"  # site.base_url of the shipped config
HOME = "https://www.ilo.org/beijing"  # site.home_url of the shipped config
ATOM_SCHEMA = ROOT / "tests" / "schemas" / "atom.rnc"
# For what does not depend on the store: the PostgreSQL run would only double the time.
SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
PEOPLE = {
    "cn@example.org": ("CN", "confirmed"),
    "Both@Example.ORG": ("CN MN", "confirmed"),
    "mn@example.org": ("MN", "confirmed"),
    "pending@example.org": ("CN", "pending"),
    "gone@example.org": ("CN", "unsubscribed"),
}
# Readers of the scheduler and worker tests: enough for a send to take a moment.
READERS = {f"reader{i:02d}@example.org": ("CN", "confirmed") for i in range(30)}
# `publisher run` with each digest firing every few seconds (tests/fast_fire.py).
FAST_FIRE = ROOT / "tests" / "fast_fire.py"
FAST_FIRE_EVERY = 2


def need(what: str) -> None:
    """Skip for lack of `what`, except in CI, where everything must be there."""
    if REQUIRE_ALL:
        pytest.fail(f"PUBLISHER_REQUIRE_ALL=1 but {what}")
    pytest.skip(what)


def write_config(folder: Path, db_url: str, text: str | None = None, *,
                 first_edition_window: str | None = '"3650d"') -> Path:
    """The shipped config (or `text`) with its database pointed at `db_url`. The seed releases
    date from 2021-2022: unless told otherwise (None: the config's own), every digest's first
    edition reaches back ten years, so they are news to it."""
    text = SHIPPED_CONFIG.read_text("utf-8") if text is None else text
    text = re.sub(r'(?m)^url = ".*"', f'url = "{db_url}"', text, count=1)
    # Tests serve the app themselves where they need it (several runs at once share no port).
    text = text.replace("\nenabled = true ", "\nenabled = false", 1)
    if first_edition_window is not None:
        text = re.sub(r"(?m)^\[\[digests\]\]$",
                      f"[[digests]]\nfirst_edition_window = {first_edition_window}", text)
    path = folder / "config.toml"
    path.write_text(text, "utf-8")
    return path


def sqlite_store(folder: Path, name: str = "x.db") -> str:
    """The URL of a migrated SQLite store in `folder` (a copy of this process's template, unless
    the file is there already): migrating costs a third of a second, copying a millisecond."""
    path = folder / name
    if not path.exists():
        shutil.copyfile(_sqlite_template(), path)
    return f"sqlite:///{path}"


@functools.cache
def _scratch() -> Path:
    """This test process's folder for what it keeps between tests, removed when it ends."""
    folder = Path(tempfile.mkdtemp(prefix="publisher-template-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


@functools.cache
def _sqlite_template() -> Path:
    engine = make_engine(f"sqlite:///{_scratch() / 'store.db'}")
    upgrade(engine)
    engine.dispose()  # the last connection closes: everything is in the main file
    return _scratch() / "store.db"


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


# --- stores -----------------------------------------------------------------------------------

def mail_config(tmp_path: Path, db_url: str, server: MailServer | None, **smtp: str) -> Path:
    """The shipped config on `db_url`, sending to `server` (None: into the outbox)."""
    path = write_config(tmp_path, db_url)
    if server is not None:
        set_keys(path, "smtp", host=f'"{server.host}"', port=str(server.port), security='"none"',
                 retry_delay="0.05", **smtp)
    return path


def setup_store(path: Path, people: dict[str, tuple[str, str]] = PEOPLE
                ) -> tuple[Config, sessionmaker[Session]]:
    """The seed releases, and `people` (address: (countries, status)) as subscribers."""
    config = load_config(path, environ={})
    seeded_copy = _SeededCopy.of(path, config, people)
    if seeded_copy is not None and seeded_copy.restore():
        return config, open_store(config)
    sessions = open_store(config)
    import_files(sessions, config, [ImportRequest(str(SEED))], NOW)
    add_people(sessions, people)
    if seeded_copy is not None:
        seeded_copy.keep(engine_of(sessions))
    return config, sessions


@dataclass(frozen=True)
class _SeededCopy:
    """A store seeded (imported, feeds built, people added) once per test process for each
    config text and set of people, and copied after: seeding costs 80 ms of CPU and more,
    copying a few, and the web tests alone seed a few hundred stores. Only a store still as
    migrated (a `sqlite_store` copy, or the shared PostgreSQL database just emptied), with no
    feeds yet, in the config's folder, is seeded from a copy."""

    store: _SqliteFile | _PostgresRows
    feeds: Path
    key: tuple[object, ...]

    @classmethod
    def of(cls, path: Path, config: Config, people: dict[str, tuple[str, str]]) -> _SeededCopy | None:
        folder = path.resolve().parent
        url = database_url(config)
        store = (_SqliteFile(Path(url.removeprefix("sqlite:///"))) if url.startswith("sqlite:///") else
                 _PostgresRows(url) if url.startswith("postgresql") else None)
        feeds = Path(config.feeds.dir) if Path(config.feeds.dir).is_absolute() else folder / config.feeds.dir
        if store is None or feeds.parent != folder or feeds.exists() or not store.as_migrated(folder):
            return None
        text = path.read_text("utf-8").replace(str(folder), "<folder>")
        # Seeding reads no [smtp] (each test's mail server has a port of its own): left out of the key.
        text = re.sub(r"(?ms)^\[smtp\]\n.*?(?=^\[)", "", text)
        return cls(store, feeds, (text, store.name, feeds.name, tuple(sorted(people.items()))))

    def restore(self) -> bool:
        kept = _SEEDED.get(self.key)
        if kept is None:
            return False
        self.store.load(kept)
        shutil.copytree(kept / "feeds", self.feeds)
        return True

    def keep(self, engine: Engine) -> None:
        engine.dispose()  # the last connection closes: (SQLite) everything is in the main file
        kept = Path(tempfile.mkdtemp(prefix="publisher-seeded-", dir=_scratch()))
        self.store.save(kept)
        shutil.copytree(self.feeds, kept / "feeds")
        _SEEDED[self.key] = kept


@dataclass(frozen=True)
class _SqliteFile:
    path: Path

    @property
    def name(self) -> str:
        return self.path.name

    def as_migrated(self, folder: Path) -> bool:
        return (self.path.parent == folder and self.path.exists() and not Path(f"{self.path}-wal").exists()
                and filecmp.cmp(self.path, _sqlite_template(), shallow=False))

    def save(self, kept: Path) -> None:
        shutil.copyfile(self.path, kept / "store.db")

    def load(self, kept: Path) -> None:
        shutil.copyfile(kept / "store.db", self.path)


@dataclass(frozen=True)
class _PostgresRows:
    """A PostgreSQL database's rows, kept and written back with COPY (binary: the same schema
    both ways), and its sequences where they stood."""

    url: str
    name = "postgresql"

    def _connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.url.replace("postgresql+psycopg://", "postgresql://", 1))

    def as_migrated(self, _folder: Path) -> bool:
        with self._connect() as connection:
            if connection.execute("SELECT to_regclass('alembic_version') IS NULL").fetchone() != (False,):
                return False
            if connection.execute("SELECT version_num FROM alembic_version").fetchall() != [(HEAD,)]:
                return False
            rows = " OR ".join(f'EXISTS (SELECT 1 FROM "{table}")' for table in pg_tables(connection))
            return connection.execute(f"SELECT {rows}").fetchone() == (False,)

    def save(self, kept: Path) -> None:
        with self._connect() as connection:
            for table in pg_tables(connection):
                with connection.cursor().copy(f'COPY "{table}" TO STDOUT (FORMAT binary)') as copy:
                    (kept / f"{table}.rows").write_bytes(b"".join(bytes(block) for block in copy))
            sequences = pg_sequences(connection)
        (kept / "sequences.json").write_text(json.dumps(sequences), "utf-8")

    def load(self, kept: Path) -> None:
        with self._connect() as connection, pg_without_triggers(connection):
            for rows in kept.glob("*.rows"):
                with connection.cursor().copy(f'COPY "{rows.stem}" FROM STDIN (FORMAT binary)') as copy:
                    copy.write(rows.read_bytes())
            for sequence, value in json.loads((kept / "sequences.json").read_text("utf-8")):
                if value is not None:
                    connection.execute("SELECT setval(%s, %s)", (f'"{sequence}"', value))


@contextlib.contextmanager
def pg_without_triggers(connection: psycopg.Connection[Any]) -> Iterator[None]:
    """A transaction whose foreign keys' triggers are off: its tables written in any order."""
    with connection.transaction():
        connection.execute("SET LOCAL session_replication_role = replica")
        yield


def pg_tables(connection: psycopg.Connection[Any]) -> list[str]:
    """The store's tables on a PostgreSQL connection (alembic_version aside)."""
    return [row[0] for row in connection.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'")]


def pg_sequences(connection: psycopg.Connection[Any]) -> list[tuple[str, int | None]]:
    """The store's sequences and the last value each gave (None: none since it was made or restarted)."""
    return [(row[0], row[1]) for row in connection.execute(
        "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = 'public'")]


_SEEDED: dict[tuple[object, ...], Path] = {}


def add_people(sessions: sessionmaker[Session], people: dict[str, tuple[str, str]] = PEOPLE) -> None:
    """`people` (address: (countries, status)) as subscribers."""
    with sessions.begin() as session:
        for address, (countries, status) in people.items():
            row = SubscriberRow(normalize_email(address), tuple(countries.split()), SubscriberStatus(status))
            save_subscribers(session, [row], SubscriberStatus.CONFIRMED, NOW)


def seeded(folder: Path, db_url: str, **feeds: str) -> tuple[Config, sessionmaker[Session]]:
    """The shipped config, with `feeds` keys replaced (TOML values), and the seed imported."""
    path = write_config(folder, db_url)
    set_keys(path, "feeds", **feeds)
    return setup_store(path, {})


def add_releases(sessions: sessionmaker[Session], config: Config, folder: Path,
                 *releases: dict[str, object]) -> None:
    """Import `releases` (JSON records) now, from a new file in `folder`."""
    news = folder / f"news-{len(list(folder.glob('news-*')))}.json"
    news.write_text(json.dumps(list(releases), ensure_ascii=False), "utf-8")
    import_files(sessions, config, [ImportRequest(str(news))], datetime.now(UTC))


def status_of(sessions: sessionmaker[Session], email: str) -> str | None:
    with sessions() as session:
        return session.scalar(select(Subscriber.status).where(Subscriber.email_key == email.lower()))


def editions(sessions: sessionmaker[Session]) -> list[tuple[int, str]]:
    """(number, status) of every edition."""
    with sessions() as session:
        return [(number, status) for number, status in session.execute(select(Edition.number, Edition.status))]


def local(url: str, base: str) -> str:
    """A link from a mail, pointed at the server the test runs."""
    return url.replace(SITE, base)


def target_of(sessions: sessionmaker[Session], config: Config, link: str) -> str:
    """Where a counted link from a mail leads (its MAC checked), as the edition stored it."""
    from publisher.clicks.links import LinkSigner
    from publisher.store.models import EditionLink
    from publisher.subscribers.keys import signing_key

    click = LinkSigner(signing_key(config.secrets)).check(link.split("/r/", 1)[1])
    assert click is not None, link
    with sessions() as session:
        link_row = session.get(EditionLink, (click.variant, click.link))
        assert link_row is not None, link
        return link_row.target


def open_link(url: str, base: str, **options: Any) -> httpx.Response:
    """A link from a mail, opened as a reader's browser opens it: a counted link (/r/) through
    its redirect, at the server the test runs."""
    url = local(url, base)
    if "/r/" in url:
        redirect = httpx.get(url, follow_redirects=False)
        assert redirect.status_code == 302, redirect.text
        url = local(redirect.headers["location"], base)
    return httpx.get(url, **options)


def jing(paths: list[Path]) -> None:
    """Validate Atom files against RFC 4287's RELAX NG schema."""
    if shutil.which("jing") is None:
        need("jing is not installed (apt-get install jing)")
    # Debian's wrapper passes JAVA_ARGS on: for one short run, the quick compiler alone and the
    # serial collector halve the JVM's CPU time.
    quick = {**os.environ, "JAVA_ARGS": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"}
    result = subprocess.run(["jing", "-c", str(ATOM_SCHEMA), *map(str, paths)],
                            capture_output=True, text=True, timeout=120, check=False, env=quick)
    assert result.returncode == 0, result.stdout + result.stderr


# --- processes --------------------------------------------------------------------------------

def prepare_scheduled(tmp_path: Path, db_url: str, server: MailServer) -> tuple[Path, sessionmaker[Session]]:
    """A store where china-weekly (hourly) last ran two days ago: starting catches up."""
    path = mail_config(tmp_path, db_url, server, connections="1")
    set_keys(path, "digests", cron='"0 * * * *"')
    set_keys(path, "scheduler", standby_poll='"0.5s"')
    _, sessions = setup_store(path, READERS)
    long_ago = datetime.now(UTC) - timedelta(days=2)
    with sessions.begin() as session:
        session.add(ScheduleRun(schedule_id="digest:china-weekly", last_fire=long_ago,
                                started=long_ago, finished=long_ago, outcome="sent"))
    return path, sessions


def _environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("PUBLISHER_")}


def start_run(path: Path, log: Path, *, fast_fire: bool = False) -> subprocess.Popen[bytes]:
    """`publisher run` on the config at `path`, its log into `log`."""
    program = [str(FAST_FIRE)] if fast_fire else ["-m", "publisher"]
    process = subprocess.Popen([sys.executable, *program, "--config", str(path), "run"],
                               env=_environment(), stdout=subprocess.DEVNULL, stderr=open(log, "wb"))  # noqa: SIM115 (the child writes it)
    LOGS[process.pid] = log
    return process


LOGS: dict[int, Path] = {}  # a process started here: its log, shown when it does not stop


def start_worker(path: Path, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "publisher", "--config", str(path), "worker",
                             "--poll", "0.2", "--batch", "5"], env=_environment(),
                            stdout=subprocess.DEVNULL, stderr=open(log, "wb"))


def start_workers(path: Path, folder: Path, count: int) -> list[subprocess.Popen[bytes]]:
    """`count` workers (logs: folder/worker{n}.log), each running (its start logged) when this
    returns: a loaded machine takes seconds to start one, and a test about running workers must
    not race their start."""
    workers = [start_worker(path, folder / f"worker{n}.log") for n in range(count)]
    try:
        wait_until(lambda: all(" started" in (folder / f"worker{n}.log").read_text("utf-8", "replace")
                               for n in range(count)), 60)
    except BaseException:
        stop_all(workers)
        raise
    return workers


def wait_until(condition: Callable[[], object], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def stop(process: subprocess.Popen[bytes]) -> int:
    """SIGTERM if it still runs; its exit code."""
    return stop_all([process])[0]


def stop_all(processes: list[subprocess.Popen[bytes]]) -> list[int]:
    """SIGTERM to those still running; every exit code. One that does not stop within 30 s is
    asked for its threads' stacks (SIGUSR1), killed, and its log shown."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    return [_exit_code(process) for process in processes]


def _exit_code(process: subprocess.Popen[bytes]) -> int:
    try:
        return process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGUSR1)
        time.sleep(1)
        process.kill()
        process.wait(10)
        log = LOGS.get(process.pid)
        tail = log.read_text("utf-8", "replace")[-6000:] if log else "(no log)"
        raise AssertionError(f"{process.args} did not stop within 30 s of SIGTERM; its log ends:\n{tail}") from None


def serve_app(app: object, **options: Any) -> Iterator[str]:
    """Run an ASGI app under uvicorn on 127.0.0.1 in a thread; yield its base URL."""
    import threading
    import time

    import uvicorn
    from mailserver import free_port

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, **{"log_level": "warning", **options}))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


class Swappable:
    """An ASGI app that hands every request to the app a test put in it: one server, started
    once, serves each test's own app (a server costs a quarter of a second to start and stop)."""

    def __init__(self) -> None:
        self.app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert self.app is not None, "no app to serve"
        await self.app(scope, receive, send)


_LOG_LINE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z [A-Z]+ ")


def printed(stdout: str, stderr: str) -> str:
    """What a command printed for its user: its output and its error messages, without the
    time-stamped log lines it wrote to stderr as well."""
    return stdout + "".join(line for line in stderr.splitlines(keepends=True) if not _LOG_LINE.match(line))


# --- a web site of the test's own -------------------------------------------------------------

class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that logs nothing, with one way to answer."""

    def answer(self, status: int, body: bytes, content_type: str = "text/plain", **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class QuietServer(ThreadingHTTPServer):
    """Says nothing of a client that hung up mid-answer (as ours does on a body too large)."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exception(), ConnectionError):
            super().handle_error(request, client_address)


def serve_http(handler: Callable[..., BaseHTTPRequestHandler], port: int = 0) -> Iterator[str]:
    """An HTTP server on 127.0.0.1 (`port`, else a free one) in a thread; yield its base URL."""
    import threading

    server = QuietServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
