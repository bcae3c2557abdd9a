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


@dataclass(frozen=True)
class Figures:
    links: dict[tuple[int, int], Counted]  # per (variant, link)
    variants: dict[int, Counted]  # per variant: its readers who clicked any link, counted once


def count_clicks(clicks: Iterable[Seen], links: Mapping[int, set[int]]) -> Figures:
    """Per (variant, link) and per variant: `links` holds each variant's link numbers (for the
    burst rule: a message whose every link was followed within BURST_WITHIN of its first click)."""
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
    per_link = {key: Counted(clicks_of[key], len(readers_of[key]), automatic_of[key])
                 for key in {*clicks_of, *automatic_of}}
    return Figures(per_link, _per_variant(per_link, readers_of))


def _per_variant(per_link: dict[tuple[int, int], Counted],
                 readers_of: dict[tuple[int, int], set[str]]) -> dict[int, Counted]:
    clicks: dict[int, int] = defaultdict(int)
    automatic: dict[int, int] = defaultdict(int)
    readers: dict[int, set[str]] = defaultdict(set)
    for (variant, link), counted in per_link.items():
        clicks[variant] += counted.clicks
        automatic[variant] += counted.automatic
        readers[variant] |= readers_of.get((variant, link), set())
    return {variant: Counted(clicks[variant], len(readers[variant]), automatic[variant]) for variant in clicks}


def _burst(seen: list[Seen], links: set[int]) -> bool:
    if len(links) < 2:
        return False
    first = min(click.at for click in seen)
    return links <= {click.link for click in seen if click.at - first <= BURST_WITHIN}
