"""What the next edition of a digest would hold, and why releases were left out, in words
(for `digest send --dry-run` and `publisher schedule`)."""

from __future__ import annotations

from publisher.dates import counted, format_day_month_year
from publisher.digest.editions import Plan
from publisher.store.models import DigestPause


def next_edition(name: str, plan: Plan, pause: DigestPause | None = None) -> str:
    """In words; a paused digest says so first (its fire times are skipped)."""
    said = _what(name, plan)
    if pause is None:
        return said
    return (f"{name} is PAUSED (by {pause.by} since {pause.paused:%Y-%m-%d %H:%M} UTC): its fire times are "
            f"skipped and nothing goes out until it is resumed; then: {said}")


def _what(name: str, plan: Plan) -> str:
    if plan.resumed is not None:
        return (f"{name} edition {plan.number} unfinished: {counted(plan.queued, 'delivery', 'deliveries')}"
                " still queued")
    assert plan.waiting is not None
    period = plan.waiting.period
    since = format_day_month_year(period.cutoff.date())
    if not plan.makes_edition:
        holds = f"{name}: nothing new since the last edition"
    elif plan.waiting.releases:
        holds = (f"{name} edition {plan.number}: would send {counted(plan.releases, 'release')} to "
                 f"{counted(plan.recipients, 'reader')} in {counted(len(plan.variants), 'variant')}")
    else:
        holds = f"{name} edition {plan.number}: would be silent (no release published since {since})"
    parts = [holds]
    if plan.idle_readers and plan.waiting.releases:
        parts.append(f"{counted(plan.idle_readers, 'reader')} with nothing new for their countries")
    if plan.waiting.too_old:
        parts.append(f"{counted(plan.waiting.too_old, 'release')} left out, published before "
                     f"{since} ({period.reason})")
    return "; ".join(parts)
