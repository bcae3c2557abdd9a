"""Signing in and out of the console."""

from __future__ import annotations

from fastapi import Depends, FastAPI, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from publisher.config import Config
from publisher.web.console.guard import SESSION_COOKIE, Guard, Operator
from publisher.web.console.views import ADMIN, NO_STORE, ConsolePage

LOGIN = f"{ADMIN}/login"


def add_login_routes(app: FastAPI, config: Config, guard: Guard) -> None:
    def form(request: Request, next_path: str, error: str = "", status: int = 200) -> HTMLResponse:
        page = ConsolePage(request, config)
        token = guard.login_form.token(request)
        response = page.render("login.html", status, title=page._("Sign in"), error=error,
                               next_path=next_path, action=page.link(LOGIN), token=token)
        guard.login_form.send(request, response, token)
        return response

    @app.get(LOGIN, response_class=HTMLResponse, summary="The console's sign-in form",
             include_in_schema=False)
    def login_form(request: Request, next_path: str = Query("", alias="next", max_length=500)) -> HTMLResponse:
        return form(request, _local(next_path))

    @app.post(LOGIN, response_class=HTMLResponse, summary="Sign in", include_in_schema=False)
    def login(request: Request, email: str = Form(..., max_length=320), password: str = Form(..., max_length=1000),
              token: str = Form(..., max_length=200), next_path: str = Form("", alias="next", max_length=500),
              ) -> Response:
        guard.login_form_checked(request, token)
        cookie = guard.sign_in(request, email, password)
        if cookie is None:
            page = ConsolePage(request, config)
            return form(request, _local(next_path), page._("That address and password do not match."), 400)
        response = RedirectResponse(_local(next_path) or ADMIN, status_code=303, headers=NO_STORE)
        guard.set_session(request, response, cookie)
        return response

    @app.post(f"{ADMIN}/logout", summary="Sign out", include_in_schema=False)
    def logout(request: Request, _operator: Operator = Depends(guard.form_operator)) -> Response:
        guard.sign_out(request)
        response = RedirectResponse(LOGIN, status_code=303, headers=NO_STORE)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response


def _local(path: str) -> str:
    """Where to go after signing in: a console page only (never another site)."""
    if path.startswith(ADMIN) and not path.startswith("//") and "\\" not in path:
        return path
    return ""
