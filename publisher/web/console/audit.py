"""The audit log in the console: who changed what, when, and how it was before and after."""

from __future__ import annotations

import json

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session, sessionmaker

from publisher.config import Config
from publisher.operators.audit import entries
from publisher.store.paging import page_count
from publisher.web.console.guard import Guard, Operator
from publisher.web.console.views import ADMIN, ConsolePage

PER_PAGE = 50


def changes(before: str | None, after: str | None) -> list[tuple[str, str, str]]:
    """(field, before, after) of every field that differs, as text."""
    old, new = json.loads(before or "{}"), json.loads(after or "{}")
    return [(key, _text(old.get(key)), _text(new.get(key))) for key in sorted({*old, *new})
            if old.get(key) != new.get(key)]


def _text(value: object) -> str:
    if value is None:
        return "–"
    return " ".join(map(str, value)) if isinstance(value, list) else str(value)


def add_audit_route(app: FastAPI, config: Config, sessions: sessionmaker[Session], guard: Guard) -> None:
    @app.get(f"{ADMIN}/audit", response_class=HTMLResponse, include_in_schema=False)
    def audit_log(request: Request, page_number: int = Query(1, alias="page", ge=1, le=100_000),
                  operator: Operator = Depends(guard.operator)) -> HTMLResponse:
        page = ConsolePage(request, config, operator)
        with sessions() as session:
            found, total = entries(session, page_number, PER_PAGE)
            rows = [{"at": entry.at.astimezone(config.site.zone), "actor": entry.actor, "action": entry.action,
                     "subject": entry.subject, "changes": changes(entry.before, entry.after)}
                    for entry in found]
        return page.render("audit.html", title=page._("Audit log"), rows=rows, total=total,
                           page_number=page_number, pages=page_count(total, PER_PAGE))
