"""The one "now" of the project: timezone-aware UTC, as every datetime is stored."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)
