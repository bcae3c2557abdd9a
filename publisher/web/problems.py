"""Errors for programs: RFC 9457 problem details, the answer of every /api/ path."""

from __future__ import annotations

from fastapi.responses import JSONResponse

API = "/api/"


def is_api(path: str) -> bool:
    return path.startswith(API)


def problem(status: int, title: str, detail: str = "", headers: dict[str, str] | None = None,
            **extra: object) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, **({"detail": detail} if detail else {}),
            **extra}
    return JSONResponse(body, status, headers=headers, media_type="application/problem+json")


def unauthorized() -> JSONResponse:
    """An /api/ request without a live token."""
    return problem(401, "Unauthorized", "Send a live API token: Authorization: Bearer TOKEN.",
                   {"WWW-Authenticate": 'Bearer realm="publisher"'})
