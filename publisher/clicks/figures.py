"""What an edition's clicks add up to, per link of each variant: clicks and unique readers (a
reader: one message's random value), and the clicks set aside as automatic."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from publisher.clicks.machines import BURST_WITHIN


@dataclass(frozen=True)
class Counted:
    clicks: int = 0
    readers: int = 0
    automatic: int = 0


@dataclass(frozen=True)
class Seen:
    """One stored click."""

    variant: int
    link: int
    reader: str
    at: datetime
    automatic: str  # why it was set aside when recorded, or ""


def count_clicks(clicks: Iterable[Seen], links: Mapping[int, set[int]]) -> dict[tuple[int, int], Counted]:
    """Per (variant, link): `links` holds each variant's link numbers (for the burst rule: a
    message whose every link was followed within BURST_WITHIN of its first click)."""
    by_reader: dict[tuple[int, str], list[Seen]] = defaultdict(list)
    for click in clicks:
        by_reader[(click.variant, click.reader)].append(click)
    clicks_of: dict[tuple[int, int], int] = defaultdict(int)
    readers_of: dict[tuple[int, int], set[str]] = defaultdict(set)
    automatic_of: dict[tuple[int, int], int] = defaultdict(int)
    for (variant, reader), seen in by_reader.items():
        machine = _burst(seen, links.get(variant, set()))
        for click in seen:
            key = (variant, click.link)
            if machine or click.automatic:
                automatic_of[key] += 1
            else:
                clicks_of[key] += 1
                readers_of[key].add(reader)
    return {key: Counted(clicks_of[key], len(readers_of[key]), automatic_of[key])
            for key in {*clicks_of, *automatic_of}}


def _burst(seen: list[Seen], links: set[int]) -> bool:
    if len(links) < 2:
        return False
    first = min(click.at for click in seen)
    return links <= {click.link for click in seen if click.at - first <= BURST_WITHIN}
