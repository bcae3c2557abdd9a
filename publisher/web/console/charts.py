"""Small bar charts drawn on the server as SVG: one bar per row of a report, its length the
row's readers who clicked, beside the table that holds the same figures."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from publisher.clicks.report import Line

WIDTH = 640  # the drawing's own units: it scales to the page
_ROW = 34
_LABEL = 60  # characters of a title shown above its bar


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    y: int  # the top of its row
    length: float


@dataclass(frozen=True)
class Chart:
    bars: list[Bar]
    height: int
    width: int = WIDTH


def readers_chart(lines: Sequence[Line]) -> Chart:
    most = max((line.counted.readers for line in lines), default=0) or 1
    bars = [Bar(_short(line.label), line.counted.readers, index * _ROW,
                (WIDTH - 60) * line.counted.readers / most) for index, line in enumerate(lines)]
    return Chart(bars, len(bars) * _ROW)


def _short(label: str) -> str:
    return label if len(label) <= _LABEL else label[:_LABEL - 1] + "…"


@dataclass(frozen=True)
class Column:
    label: str  # the edition's number
    rate: float  # its click rate, 0 to 1
    x: int
    height: float


TREND_HEIGHT = 60
_COLUMN = 28


def rate_trend(rates: Sequence[tuple[int, float | None]]) -> list[Column]:
    """Editions' click rates, oldest first (`rates`: newest first, as the page lists them), each
    column as tall as its rate against the highest; editions without one are left out."""
    known = [(number, rate) for number, rate in reversed(rates) if rate is not None]
    most = max((rate for _, rate in known), default=0.0) or 1.0
    return [Column(str(number), rate, index * _COLUMN, (TREND_HEIGHT - 14) * rate / most)
            for index, (number, rate) in enumerate(known)]
