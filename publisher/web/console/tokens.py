"""The API tokens in the console: every operator's, with what each may do, when it was made and
last used, and whether it was revoked (`publisher operators token` makes them)."""

from __future__ import annotations

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session, sessionmaker

from publisher.config import Config
from publisher.operators.accounts import all_operators
from publisher.operators.tokens import tokens_of
from publisher.web.console.guard import Guard, Operator
from publisher.web.console.views import ADMIN, ConsolePage

TOKENS = f"{ADMIN}/tokens"


def add_token_page(app: FastAPI, config: Config, sessions: sessionmaker[Session], guard: Guard) -> None:
    @app.get(TOKENS, response_class=HTMLResponse, include_in_schema=False)
    def token_list(request: Request, operator: Operator = Depends(guard.operator)) -> HTMLResponse:
        page = ConsolePage(request, config, operator)
        zone = config.site.zone
        with sessions() as session:
            rows = [{"number": token.id, "operator": owner.email, "label": token.label,
                     "scopes": token.scopes.split(), "created": token.created.astimezone(zone),
                     "used": token.used.astimezone(zone) if token.used else None,
                     "revoked": token.revoked.astimezone(zone) if token.revoked else None}
                    for owner in all_operators(session) for token in tokens_of(session, owner)]
        return page.render("tokens.html", title=page._("API tokens"), rows=rows)
