"""Console pages: templates/web/admin in the operator's language, never cached, with the
navigation and the signed-in operator's form token."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse

from publisher.config import Config
from publisher.web.console.guard import Operator
from publisher.web.pages import Page

ADMIN = "/admin"
NO_STORE = {"Cache-Control": "no-store"}  # a console page may hold subscribers' addresses


class ConsolePage(Page):
    def __init__(self, request: Request, config: Config, operator: Operator | None = None) -> None:
        super().__init__(request, config.site)
        self.config, self.operator = config, operator

    def render(self, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        _ = self._
        sections = [(ADMIN, _("Dashboard")), (f"{ADMIN}/releases", _("Releases")),
                    (f"{ADMIN}/subscribers", _("Subscribers")), (f"{ADMIN}/digests", _("Digests")),
                    (f"{ADMIN}/sources", _("Sources")), (f"{ADMIN}/tokens", _("API tokens")),
                    (f"{ADMIN}/audit", _("Audit log"))]
        path = self.request.url.path
        nav = [{"url": self.link(url), "name": name, "current": path == url or
                (url != ADMIN and path.startswith(url + "/"))} for url, name in sections]
        response = super().render(f"admin/{name}", status, operator=self.operator, nav=nav,
                                  csrf=self.operator.csrf if self.operator else "", page=self,
                                  **context)
        response.headers.update(NO_STORE)
        return response

    def message(self, title: str, text: str, status: int = 200, **context: Any) -> HTMLResponse:
        return self.render("message.html", status, title=title, message=text, **context)

    def redirect(self, path: str, **query: str) -> RedirectResponse:
        """After a form post: see the result with a GET (303)."""
        return RedirectResponse(self.link(path, **query), status_code=303, headers=NO_STORE)
