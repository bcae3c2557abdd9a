"""A page of a query's rows with the count of them all, and the LIKE pattern of a search."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

ESCAPE = "\\"


def paged(session: Session, query: Select[Any], page: int, per_page: int) -> tuple[list[Any], int]:
    """Page `page` (from 1) of the query's rows, and how many there are in all."""
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    return list(session.scalars(query.limit(per_page).offset((page - 1) * per_page))), total


def page_count(total: int, per_page: int) -> int:
    return max(1, -(-total // per_page))


def containing(words: str) -> str:
    """A LIKE pattern (with ESCAPE) matching text that holds `words` as typed: % and _ are letters.
    A NUL is dropped: no stored text holds one, and PostgreSQL refuses it in a string."""
    escaped = words.replace("\x00", "").replace(ESCAPE, ESCAPE * 2)
    escaped = escaped.replace("%", ESCAPE + "%").replace("_", ESCAPE + "_")
    return f"%{escaped}%"
