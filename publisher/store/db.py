"""Engine and sessions: SQLite pragmas, migrations applied on start, countries and the digests
that follow config.toml synced from it."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from importlib import resources
from typing import TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from publisher.clock import utc_now
from publisher.config import Config
from publisher.errors import ConfigError, StoreError
from publisher.store import locks
from publisher.store.effect import follow_file
from publisher.store.models import Country

log = logging.getLogger(__name__)
T = TypeVar("T")


def database_url(config: Config, environ: Mapping[str, str] = os.environ) -> str:
    return environ.get(config.database.url_env) or config.database.url


def display_url(url: str) -> str:
    """The URL with its password hidden, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparsable URL>"


def make_engine(url: str, connect_timeout: int | None = None) -> Engine:
    """`connect_timeout`: seconds a PostgreSQL server is given to answer (default: the driver's,
    which waits as long as the system does)."""
    try:
        parsed = make_url(url)
        if parsed.get_backend_name() != "sqlite":
            waits = {} if connect_timeout is None else {"connect_args": {"connect_timeout": connect_timeout}}
            return create_engine(parsed, pool_pre_ping=True, **waits)
    except ArgumentError as exc:  # not a URL, or no driver for it (nodb://)
        raise ConfigError("database.url", [f"not a database URL this installation can use: {exc}"]) from None
    engine = create_engine(parsed, connect_args={"timeout": 30})
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


# The newest migration (tests/test_db.py checks it is Alembic's head): a store already there
# opens without loading Alembic and its scripts, a third of a command's start-up.
HEAD = "0030"


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to the newest migration, or `revision` (a no-op when it is there)."""
    if revision == "head" and _revision(engine) == HEAD:
        return
    from alembic import command
    from alembic.config import Config as AlembicConfig

    alembic_config = AlembicConfig()
    alembic_config.set_main_option(
        "script_location", str(resources.files("publisher.store").joinpath("migrations"))
    )
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as connection:
        if sqlite:
            # SQLite alters a table by copying it and dropping the old one, and with foreign keys
            # on, that drop deletes every row that refers to it (deliveries, variants...).
            _foreign_keys(connection, on=False)
        try:
            with connection.begin():
                # Two processes starting at once must not both create the tables.
                locks.take_turn(connection, locks.MIGRATIONS)
                alembic_config.attributes["connection"] = connection
                command.upgrade(alembic_config, revision)
        finally:
            if sqlite:
                _foreign_keys(connection, on=True)


def _revision(engine: Engine) -> str | None:
    """The store's migration, None when it has none yet."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _foreign_keys(connection: Connection, *, on: bool) -> None:
    """Outside any transaction (SQLite ignores the pragma inside one)."""
    connection.exec_driver_sql(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    connection.commit()


def sync_countries(session: Session, config: Config) -> None:
    """Make the countries table say what the config says (names, zones and languages may change).
    Only when it does not already: then processes starting at once take turns, so that each
    country is added once (the common start, with nothing to change, writes nothing and takes
    no lock)."""
    if {(c.code, c.name, c.timezone, c.language) for c in config.countries} <= _countries(session):
        return  # (a country the config no longer names is kept: releases may still be tagged with it)
    locks.take_turn(session.connection(), locks.MIGRATIONS)
    stored = {country.code: country for country in session.scalars(select(Country))}
    for item in config.countries:
        country = stored.get(item.code) or Country(code=item.code)
        country.name, country.timezone, country.language = item.name, item.timezone, item.language
        session.add(country)


def _countries(session: Session) -> set[tuple[str, str, str, str]]:
    return {tuple(row) for row in session.execute(  # type: ignore[misc]
        select(Country.code, Country.name, Country.timezone, Country.language))}


def engine_of(sessions: sessionmaker[Session]) -> Engine:
    engine = sessions.kw["bind"]
    assert isinstance(engine, Engine)
    return engine


def open_store(config: Config, clock: Callable[[], datetime] = utc_now) -> sessionmaker[Session]:
    """What every command does first: connect, migrate, sync countries and the digests that
    follow config.toml; returns the session factory."""
    url = database_url(config)
    engine = make_engine(url)
    try:
        upgrade(engine)
    except OperationalError as exc:
        raise StoreError(f"cannot open the database {display_url(url)}: {exc.orig}") from exc
    sessions = sessionmaker(engine, expire_on_commit=False)
    with sessions.begin() as session:
        sync_countries(session, config)
        follow_file(session, config, clock())
    return sessions


_LOOK_TIMEOUT = 5  # seconds: a check that only looks does not wait on a server that does not answer


def stored_as_is(config: Config) -> sessionmaker[Session] | None:
    """The store as it is, to read only: nothing migrated, synced or followed (`config check`).
    None when there is nothing to read yet: an SQLite file not made (reading would make it), or
    a schema older than this version's (its tables may lack what is read)."""
    url = database_url(config)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:" \
            and not os.path.exists(parsed.database):
        return None
    engine = make_engine(url, connect_timeout=_LOOK_TIMEOUT)
    try:
        current = _revision(engine) == HEAD
    except SQLAlchemyError:
        engine.dispose()
        raise
    if not current:
        engine.dispose()
        return None
    return sessionmaker(engine, expire_on_commit=False)


def ping(sessions: sessionmaker[Session]) -> str:
    """"ok" when the database answers, else why not."""
    try:
        with sessions() as session:
            session.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        return f"unreachable: {exc.__class__.__name__}"
    return "ok"


RETRY_PAUSE_MAX = 10.0  # seconds between tries while the database cannot be reached


def retrying(action: Callable[[], T], stop: threading.Event, what: str,
             unreachable: type[Exception] = OperationalError) -> T:
    """Run `action` (one transaction) again while the database cannot be reached, as during a
    restart or a failover: after 0.5 s, 1 s, 2 s ... 10 s. Gives up (raises) once `stop` is set.
    The pool drops the dead connections, so the next try connects afresh. `unreachable`: the
    error that means it, SQLAlchemy's by default, the driver's own for raw connections."""
    pause = 0.5
    while True:
        try:
            return action()
        except unreachable as exc:
            if stop.is_set():
                raise
            log.warning("%s: the database cannot be reached (%s); trying again in %.1f s",
                        what, first_line(getattr(exc, "orig", exc)), pause)
            if stop.wait(pause):
                raise
            pause = min(pause * 2, RETRY_PAUSE_MAX)


def first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
