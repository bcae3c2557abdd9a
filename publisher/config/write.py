"""Digests and sources written as config.toml holds them: the values each is stored with, and
the `[[digests]]` tables `publisher digests export` prints (read back, they are the same digests)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from publisher.config.model import Digest, Source

_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def duration_text(value: timedelta) -> str:
    """A duration as the file writes it: "14d", "6h", "90s"."""
    seconds = round(value.total_seconds())
    unit, size = next((unit, size) for unit, size in _UNITS if seconds % size == 0)
    return f"{seconds // size}{unit}"


def digest_values(digest: Digest) -> dict[str, Any]:
    """Every key of a digest, defaults included, as config.toml writes it."""
    values = digest.model_dump(mode="python")
    values["countries"] = list(digest.countries)
    values["first_edition_window"] = duration_text(digest.first_edition_window)
    values["count_clicks_for"] = duration_text(digest.count_clicks_for)
    return values


def source_values(source: Source) -> dict[str, Any]:
    """Every key of a source that has a value, as config.toml writes it (TOML has no null)."""
    values = source.model_dump(mode="python")
    values["timeout"] = duration_text(source.timeout)
    values["page_delay"] = duration_text(source.page_delay)
    return {key: value for key, value in values.items() if value is not None}


def digests_toml(digests: Iterable[Digest]) -> str:
    """`[[digests]]` tables, one per digest, keys in the model's order."""
    tables = []
    for digest in digests:
        lines = ["[[digests]]"]
        for key, value in digest_values(digest).items():
            lines.append(f"{key} = {_toml(value)}")
        tables.append("\n".join(lines))
    return "\n\n".join(tables) + "\n"


def _toml(value: Any) -> str:
    # JSON's strings (with \\uXXXX escapes) are TOML basic strings; its integers are TOML's too.
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{key} = {_toml(item)}" for key, item in sorted(value.items())) + " }" \
            if value else "{}"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    return json.dumps(value, ensure_ascii=False)
