"""/metrics in Prometheus' text format, read from the store at each scrape (so every process's
work counts, and nothing is lost when one restarts): deliveries, editions and subscribers by
status, releases, per scheduled job its last run, duration, outcome and last success, and what
the readers of each digest's newest edition clicked.

Readable without signing in only from `web.metrics_from`; any other client needs an API token."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from enum import StrEnum
from ipaddress import ip_address

from fastapi import FastAPI, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.orm import Session, sessionmaker

from publisher.clicks.report import ClickReport, click_report
from publisher.config import Config
from publisher.store.editions import newest_editions
from publisher.store.metrics import StoreCounts, seconds, store_counts
from publisher.store.runs import failed
from publisher.store.statuses import DeliveryStatus, EditionStatus, SubscriberStatus
from publisher.web.console.guard import Guard, NotSignedIn

METRICS_PATH = "/metrics"


class StoreCollector(Collector):
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def collect(self) -> Iterator[Metric]:
        with self.sessions() as session:
            counts = store_counts(session)
            clicks = [report for edition in newest_editions(session)
                      if (report := click_report(session, edition)) is not None]
        yield from _statuses("publisher_deliveries", "Deliveries by status, of every edition",
                             counts.deliveries, DeliveryStatus)
        yield from _statuses("publisher_editions", "Editions by status", counts.editions, EditionStatus)
        yield from _statuses("publisher_subscribers", "Subscribers by status", counts.subscribers,
                             SubscriberStatus)
        yield GaugeMetricFamily("publisher_releases", "Releases stored and not withdrawn", counts.releases)
        yield from _jobs(counts)
        yield from _clicks(clicks)


def _clicks(reports: list[ClickReport]) -> Iterator[Metric]:
    """Each digest's newest edition: what its readers clicked (the same figures as its report)."""
    labels = ["digest", "edition"]
    families = {
        "delivered": GaugeMetricFamily("publisher_edition_delivered", "Messages sent, of each digest's newest "
                                       "edition (absent once its deliveries are pruned)", labels=labels),
        "readers": GaugeMetricFamily("publisher_edition_readers_clicked", "Its readers who clicked a counted link "
                                     "(each message once; nobody by name)", labels=labels),
        "clicks": GaugeMetricFamily("publisher_edition_clicks", "Its readers' clicks on counted links",
                                    labels=labels),
        "automatic": GaugeMetricFamily("publisher_edition_automatic_clicks", "Clicks set aside as automatic "
                                       "(HEAD, known crawlers, a message's every link at once)", labels=labels),
    }
    for report in reports:
        key = [report.edition.digest, str(report.edition.number)]
        total = report.total
        if total.delivered is not None:
            families["delivered"].add_metric(key, total.delivered)
        families["readers"].add_metric(key, total.counted.readers)
        families["clicks"].add_metric(key, total.counted.clicks)
        families["automatic"].add_metric(key, total.counted.automatic)
    yield from families.values()


def _statuses(name: str, text: str, counts: dict[str, int], statuses: Iterable[StrEnum]) -> Iterator[Metric]:
    family = GaugeMetricFamily(name, text, labels=["status"])
    for status in statuses:
        family.add_metric([str(status)], counts.get(str(status), 0))
    yield family


def _jobs(counts: StoreCounts) -> Iterator[Metric]:
    last = GaugeMetricFamily("publisher_job_last_run_timestamp_seconds",
                             "When each scheduled job last finished (imports: source:NAME; feeds)", labels=["job"])
    took = GaugeMetricFamily("publisher_job_last_run_duration_seconds", "How long its last run took",
                             labels=["job"])
    bad = GaugeMetricFamily("publisher_job_last_run_failed", "1 when its last run failed (an import error, ...)",
                            labels=["job"])
    good = GaugeMetricFamily("publisher_job_last_success_timestamp_seconds", "When it last ran without failing",
                             labels=["job"])
    for run in counts.runs:
        job = [run.schedule_id]
        if run.finished is not None:
            last.add_metric(job, run.finished.timestamp())
            took.add_metric(job, (run.finished - run.started).total_seconds())
            bad.add_metric(job, 1 if failed(run.outcome) else 0)
        if (success := seconds(run.succeeded)) is not None:
            good.add_metric(job, success)
    yield from (last, took, bad, good)


def add_metrics_route(app: FastAPI, config: Config, sessions: sessionmaker[Session], guard: Guard) -> None:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(sessions))
    allowed = config.web.metrics_from

    def from_allowed(request: Request) -> bool:
        try:
            client = ip_address(request.client.host if request.client else "")
        except ValueError:
            return False
        return any(client in network for network in allowed)

    @app.get(METRICS_PATH, include_in_schema=False)
    def metrics(request: Request) -> Response:
        if not from_allowed(request):
            try:
                guard.api_operator(request)
            except NotSignedIn:
                return Response("Send an API token (Authorization: Bearer TOKEN), or read this from an "
                                "address in web.metrics_from.\n", 401, media_type="text/plain",
                                headers={"WWW-Authenticate": 'Bearer realm="publisher"'})
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST,
                        headers={"Cache-Control": "no-store"})
