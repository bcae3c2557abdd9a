"""/api/v1/digests: each digest's schedule, pause and next edition; pause, resume, send now, a
test copy; an edition's report.

(No `from __future__ import annotations`: see api_releases.py.)"""

from datetime import datetime
from typing import Literal

from fastapi import Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from publisher.clicks.report import ClickReport, Line, click_report
from publisher.config.write import digest_values
from publisher.digest.report import existing_report
from publisher.jobs import controls
from publisher.jobs.disclosures import disclosed
from publisher.languages import LANGUAGES
from publisher.mail.transport import Transport
from publisher.store.digests import FILE, OPERATOR
from publisher.web.console.api import Api, Id
from publisher.web.console.digests import DigestView, Name, digest_views
from publisher.web.console.guard import Operator
from publisher.web.problems import problem

Language = Literal.__getitem__(LANGUAGES)


class VariantOut(BaseModel):
    countries: list[str]
    language: str
    readers: int
    releases: int


class DigestOut(BaseModel):
    name: str
    countries: list[str]
    cron: str
    cron_in_words: str = Field(description="The cron line as crontab(5) reads it, in words")
    timezone: str
    max_items: int
    subject: str
    subjects: dict[str, str]
    title: str
    titles: dict[str, str]
    first_edition_window: str = Field(description='As config.toml writes it: "14d", "12h"')
    pictures: bool = Field(description="Each release's picture is shown, when it has one over https")
    track_links: bool = Field(description="Its links are counted (never who follows them)")
    count_clicks_for: str = Field(description='How long an edition\'s clicks are counted: "30d"')
    utm_source: str
    utm_medium: str
    utm_campaign: str
    source: str = Field(description='"config.toml": its settings follow the file; "operator": changed in the console, '
                                    'the API or with `publisher digests apply`, and in effect whatever the file says')
    changed_by: str
    paused: datetime | None
    paused_by: str | None
    next_fire: datetime | None = Field(description="Skipped while the digest is paused")
    next_number: int
    next_releases: int = Field(description="What its next edition would carry (0: it would send nothing)")
    next_readers: int
    variants: list[VariantOut]


class TestCopyIn(BaseModel):
    address: str = Field(min_length=3, max_length=320)
    countries: list[str] | None = Field(None, max_length=50, description="A reader's choice; none: all")
    language: Language = "en"  # type: ignore[valid-type]


class SendOut(BaseModel):
    sent: bool = Field(description="False: nothing was new (or no reader had anything new)")
    edition: int | None = None


class OutcomeOut(BaseModel):
    email: str
    delivery: str
    reply: str
    bounce: str
    unsubscribed_since: bool


class ClickLineOut(BaseModel):
    what: str = Field(description="A release's title, a link's address, a language, or a choice of countries")
    kind: str = Field(description="Of a link: release, more, feed, feeds, site")
    delivered: int | None = Field(description="Messages sent to the readers it concerns (null: pruned)")
    readers: int = Field(description="Readers who clicked (each message counted once)")
    rate: float | None = Field(description="readers / delivered")
    clicks: int
    automatic: int = Field(description="Clicks set aside: HEAD, known crawlers, a message's every link at once")


class ClicksOut(BaseModel):
    total: ClickLineOut
    links: list[ClickLineOut]
    languages: list[ClickLineOut]
    countries: list[ClickLineOut]
    counting_ended: datetime | None = Field(description="When its clicks were folded into these counts and deleted")


class EditionOut(BaseModel):
    digest: str
    number: int
    status: str
    created: datetime
    completed: datetime | None
    subject: str
    releases: int
    pruned: datetime | None
    outcomes: list[OutcomeOut]
    clicks: ClicksOut | None = Field(description="What readers clicked, nobody by name (null: links not counted)")


def add_digest_api(api: Api, transport: Transport | None) -> None:
    config, sessions, clock, operator = api.config, api.sessions, api.clock, api.operator

    @api.route("GET", "/digests", summary="Every digest: schedule, pause, and what its next edition would be")
    def list_digests(_who: Operator = Depends(operator)) -> list[DigestOut]:
        with sessions() as session:
            views = digest_views(session, config, clock())
        return [_digest(view) for view in views]

    @api.route("POST", "/digests/{name}/pause", summary="Pause a digest: its schedule makes no edition")
    def pause(name: str = Name, who: Operator = Depends(operator)) -> JSONResponse:
        controls.pause(sessions, config, who.email, name, clock())
        return JSONResponse({"digest": name, "paused": True})

    @api.route("POST", "/digests/{name}/resume", summary="Resume a paused digest")
    def resume(name: str = Name, who: Operator = Depends(operator)) -> JSONResponse:
        controls.resume(sessions, config, who.email, name, clock())
        return JSONResponse({"digest": name, "paused": False})

    @api.route("POST", "/digests/{name}/send", summary="Send the next edition now (queued at once, then sent)",
               responses={409: {"description": "The digest is paused"}})
    def send_now(name: str = Name, who: Operator = Depends(operator)) -> SendOut:
        edition = controls.send_now(sessions, config, who.email, name, clock())
        if edition is None:
            return SendOut(sent=False)
        controls.send_in_background(sessions, config, edition, transport)
        return SendOut(sent=True, edition=edition.number)

    @api.route("POST", "/digests/{name}/test", summary="Mail a test copy of the next edition",
               response_model=SendOut, responses={502: {"description": "The mail server did not take it"}})
    def test_copy(body: TestCopyIn, name: str = Name,
                  who: Operator = Depends(operator)) -> SendOut | JSONResponse:
        try:
            reply = controls.test_copy(sessions, config, who.email, name, body.address, body.countries or (),
                                       body.language, clock(), transport)
        except controls.NotSent as exc:
            return problem(502, "Bad Gateway", str(exc))
        return SendOut(sent=reply is not None)

    @api.route("GET", "/digests/{name}/editions/{number}", summary="How an edition went, per recipient")
    def report(number: Id, name: str = Name,
               who: Operator = Depends(operator)) -> EditionOut:
        with sessions() as session:
            found = existing_report(session, name, number)
            e = found.edition
            shown = EditionOut(digest=e.digest, number=e.number, status=str(e.status), created=e.created,
                               completed=e.completed, subject=e.subject, releases=e.release_count,
                               pruned=e.pruned, outcomes=[OutcomeOut(**vars(outcome)) for outcome in found.outcomes],
                               clicks=_clicks(click_report(session, e)))
        disclosed(sessions, who.email, "edition.report", f"{name} {number}", clock(), len(shown.outcomes))
        return shown


def _clicks(report: ClickReport | None) -> ClicksOut | None:
    if report is None:
        return None
    return ClicksOut(total=_click_line(report.total), links=[_click_line(line) for line in report.links],
                     languages=[_click_line(line) for line in report.languages],
                     countries=[_click_line(line) for line in report.choices], counting_ended=report.counting_ended)


def _click_line(line: Line) -> ClickLineOut:
    return ClickLineOut(what=line.label, kind=line.kind, delivered=line.delivered, readers=line.counted.readers,
                        rate=line.rate, clicks=line.counted.clicks, automatic=line.counted.automatic)


def _digest(view: DigestView) -> DigestOut:
    digest, plan, pause = view.digest, view.plan, view.pause
    return DigestOut(
        **digest_values(digest), cron_in_words=view.when, source=FILE if view.follows_file else OPERATOR,
        changed_by=view.changed_by,
        paused=pause.paused if pause else None, paused_by=pause.by if pause else None,
        next_fire=view.next_fire, next_number=plan.number,
        next_releases=plan.releases if plan.makes_edition else 0,
        next_readers=plan.recipients if plan.makes_edition else 0,
        variants=[VariantOut(countries=list(v.countries), language=v.language, readers=v.readers,
                             releases=v.releases) for v in plan.variants])
