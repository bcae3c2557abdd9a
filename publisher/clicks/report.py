"""What readers did with an edition's links: per link (a release's across every variant that
carried it), per language and per choice of countries, with the click rate (readers who clicked,
of those it was delivered to). The report behind `publisher report`, the console, the API and
/metrics."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from publisher.clicks.counts import edition_clicks, edition_links
from publisher.clicks.figures import Counted
from publisher.csvfile import write_rows
from publisher.store.models import Delivery, Edition, EditionVariant, Release
from publisher.store.statuses import DeliveryStatus


@dataclass(frozen=True)
class Line:
    """A row of the report: what it is about, whom it was delivered to, what they did."""

    label: str  # a release's title, a link's address, a language, a choice of countries
    delivered: int | None  # None: the deliveries were pruned
    counted: Counted
    kind: str = ""  # of a link: release, more, feed, feeds, site

    @property
    def rate(self) -> float | None:
        return self.counted.readers / self.delivered if self.delivered else None


@dataclass(frozen=True)
class ClickReport:
    edition: Edition
    total: Line
    links: list[Line]  # releases first, in the mail's order
    languages: list[Line]
    choices: list[Line]  # per choice of countries

    @property
    def counting_ended(self) -> datetime | None:
        return self.edition.counted

    def summary(self) -> str:
        """One clause of `publisher report`'s line."""
        total = self.total.counted
        rate = f" ({self.total.rate:.1%} of {self.total.delivered})" if self.total.rate is not None else ""
        return (f"{total.readers} readers clicked{rate}, {total.clicks} clicks, "
                f"{total.automatic} set aside as automatic")

    def csv(self) -> str:
        rows = [("link", line.kind, line.label, line) for line in self.links]
        rows += [("language", "", line.label, line) for line in self.languages]
        rows += [("countries", "", line.label, line) for line in self.choices]
        return write_rows(("row", "kind", "what", "delivered", "readers", "rate", "clicks", "automatic"),
                          ((row, kind, label, _text(line.delivered), str(line.counted.readers),
                            "" if line.rate is None else f"{line.rate:.4f}", str(line.counted.clicks),
                            str(line.counted.automatic)) for row, kind, label, line in rows))


def click_report(session: Session, edition: Edition) -> ClickReport | None:
    """None when the edition's links were not counted (track_links = false)."""
    links = edition_links(session, edition.id)
    if not links:
        return None
    figures = edition_clicks(session, edition, links)
    variants = list(session.scalars(select(EditionVariant).where(EditionVariant.edition_id == edition.id)
                                    .order_by(EditionVariant.id)))
    delivered = _delivered(session, edition)
    titles = dict(session.execute(select(Release.id, Release.title).where(
        Release.id.in_({link.release_id for link in links if link.release_id is not None}))).all())
    per_link: dict[tuple[str, str], list[tuple[int, Counted]]] = defaultdict(list)
    kinds: dict[tuple[str, str], str] = {}
    for link in links:
        key = (f"release {link.release_id}", titles.get(link.release_id, link.target)) if link.release_id \
            else (link.target, link.target)
        per_link[key].append((link.variant_id, figures.links.get((link.variant_id, link.number), Counted())))
        kinds[key] = link.kind
    by_variant = {variant.id: (variant, figures.variants.get(variant.id, Counted())) for variant in variants}
    return ClickReport(
        edition,
        _line("", delivered, [(v.id, counted) for v, counted in by_variant.values()]),
        [_line(label, delivered, counts, kinds[(key, label)]) for (key, label), counts in per_link.items()],
        _grouped(by_variant.values(), delivered, lambda variant: variant.language),
        _grouped(by_variant.values(), delivered, lambda variant: variant.countries),
    )


def _delivered(session: Session, edition: Edition) -> dict[int, int] | None:
    """Messages sent per variant; None when the deliveries were pruned."""
    if edition.pruned is not None:
        return None
    return dict(session.execute(select(Delivery.variant_id, func.count())
                                .where(Delivery.edition_id == edition.id, Delivery.status == DeliveryStatus.SENT)
                                .group_by(Delivery.variant_id)).all())


def _line(label: str, delivered: dict[int, int] | None, counts: Iterable[tuple[int, Counted]],
          kind: str = "") -> Line:
    """Summed over variants: their readers are different people, so their readers add up."""
    counts = list(counts)
    return Line(label, None if delivered is None else sum(delivered.get(variant, 0) for variant, _ in counts),
                Counted(sum(c.clicks for _, c in counts), sum(c.readers for _, c in counts),
                        sum(c.automatic for _, c in counts)), kind)


def _grouped(variants: Iterable[tuple[EditionVariant, Counted]], delivered: dict[int, int] | None,
             key: Callable[[EditionVariant], str]) -> list[Line]:
    groups: dict[str, list[tuple[int, Counted]]] = defaultdict(list)
    for variant, counted in variants:
        groups[key(variant)].append((variant.id, counted))
    return [_line(label, delivered, counts) for label, counts in sorted(groups.items())]


def percent(rate: float | None) -> str:
    """A click rate as the console and `publisher report` show it: "4.1%", or nothing."""
    return "" if rate is None else f"{rate:.1%}"


def _text(value: int | None) -> str:
    return "" if value is None else str(value)
