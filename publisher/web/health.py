"""`/healthz`: whether the database answers, when the feeds were last built, the next digest."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session, sessionmaker

from publisher.config import Config
from publisher.feeds.files import feeds_changed
from publisher.run.schedules import next_digest
from publisher.store.db import ping
from publisher.store.effect import in_effect
from publisher.urls import HEALTH_PATH


def add_health_route(app: FastAPI, config: Config, sessions: sessionmaker[Session],
                     clock: Callable[[], datetime]) -> None:
    @app.get(HEALTH_PATH, summary="Database reachable, last feed build, next digest")
    def health() -> JSONResponse:
        return health_report(config, sessions, clock())


def health_report(config: Config, sessions: sessionmaker[Session], now: datetime) -> JSONResponse:
    database = ping(sessions)
    with sessions() as session:
        upcoming = next_digest(in_effect(session, config), now)
        built = feeds_changed(session, Path(config.feeds.dir)) if database == "ok" else None
    body = {"database": database, "feeds_built": built.isoformat() if built else None,
            "next_digest": {"name": upcoming[1], "at": upcoming[0].isoformat()} if upcoming else None}
    return JSONResponse(body, status_code=200 if database == "ok" else 503)
