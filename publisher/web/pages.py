"""HTML pages of the web app: templates/web through the one template environment."""

from __future__ import annotations

from typing import Any

from fastapi.responses import HTMLResponse

from publisher.templating import render


def render_page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    """templates/web/`name` as a response."""
    return HTMLResponse(render(f"web/{name}", context), status_code=status)
