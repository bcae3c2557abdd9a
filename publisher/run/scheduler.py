"""`publisher run`: APScheduler runs each schedule on its cadence.

Jobs are built on every start, under stable ids, in memory (nothing pickled, nothing to
duplicate): the feeds' and bounces' from the config, the digests' and sources' from those in
effect (store/effect.py), which the scheduler looks at again every `scheduler.changes_poll`, so
that a digest or source an operator adds, changes or retires is scheduled so within seconds,
without a restart (and a job whose schedule changed since does not run: each fire checks the
schedule is still in effect). The database records when each schedule last ran; exactly-once sending rests on the
database too (the unique edition per digest and fire time), so a second process can never send
an edition twice, and only the process holding the scheduler lock schedules at all.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

from apscheduler.events import EVENT_SCHEDULER_STARTED
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.base import SchedulerNotRunningError
from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy.orm import Session, sessionmaker

from publisher.clock import utc_now
from publisher.config import Config
from publisher.dates import counted
from publisher.digest.editions import plan_edition
from publisher.digest.explain import next_edition
from publisher.errors import PublisherError
from publisher.jobs.clicks import close_counting
from publisher.jobs.digests import queue_digest, send_digest
from publisher.jobs.feeds import rebuild_feeds
from publisher.jobs.imports import import_source
from publisher.jobs.mailboxes import fetch_bounces
from publisher.jobs.runs import record_fire
from publisher.run.leader import Leadership, leadership_for
from publisher.run.progress import SendProgress
from publisher.run.schedules import Schedule, schedules
from publisher.store.db import engine_of
from publisher.store.digests import digest_named
from publisher.store.editions import last_edition, unfinished_edition
from publisher.store.effect import in_effect
from publisher.store.models import DigestPause
from publisher.store.pauses import pause_of
from publisher.store.processes import Presence
from publisher.store.runs import REGISTERED, last_fire, last_run
from publisher.store.sources import source_named
from publisher.store.statuses import ProcessRole, ProcessState

log = logging.getLogger("publisher.run.scheduler")


class ScheduleRunner:
    """Does one schedule's work for one fire time, records it, and logs one line."""

    def __init__(self, sessions: sessionmaker[Session], config: Config, stop: threading.Event,
                 clock: Callable[[], datetime] = utc_now, credit: Callable[[int], None] = lambda _n: None) -> None:
        self.sessions, self.config, self.stop, self.clock = sessions, config, stop, clock
        self.credit = credit  # deliveries this process sent (its Presence counts them)

    def when_due(self, schedule: Schedule) -> None:
        """The APScheduler job: run for the fire time that just passed."""
        fire = schedule.latest_fire_time(self.clock())
        if fire is not None and not self.stop.is_set() and self._due(schedule, fire):
            self.run(schedule, fire)

    def _due(self, schedule: Schedule, fire: datetime) -> bool:
        """Whether the schedule is still the one in effect, and the fire time not yet run: a
        change made in the console holds from the moment it is saved (the scheduler replaces the
        job only every changes_poll), and no fire time runs twice."""
        if schedule not in schedules(self.in_effect()):
            log.info("job %s: changed or retired since it was scheduled; not run for %s",
                     schedule.id, fire.isoformat(timespec="minutes"))
            return False
        last = self._last_fire(schedule)
        if last is not None and fire <= last:  # (run already, or a source imported by hand since)
            log.info("job %s: ran for %s already; not run again", schedule.id,
                     last.astimezone(schedule.zone).isoformat(timespec="minutes"))
            return False
        return True

    def run(self, schedule: Schedule, fire: datetime) -> str:
        started = self.clock()
        self._record(schedule, fire, started, None, "running")
        try:
            outcome = self._work(schedule, fire)
        except PublisherError as exc:  # a cause an operator can act on: one line says it
            outcome = f"failed: {exc}"
            log.error("job %s (%s) failed: %s", schedule.id, fire.isoformat(), exc)
        except Exception as exc:  # a bug: its traceback is logged; the next fire time tries again
            outcome = f"failed: {exc}"
            log.exception("job %s (%s) failed", schedule.id, fire.isoformat())
        finished = self.clock()
        self._record(schedule, fire, started, finished, outcome)
        log.info("job %s for %s: %s (%.1f s)", schedule.id, fire.astimezone(schedule.zone)
                 .isoformat(timespec="minutes"), outcome, (finished - started).total_seconds())
        return outcome

    def _work(self, schedule: Schedule, fire: datetime) -> str:
        if schedule.kind == "digest":
            with self.sessions() as session:
                paused = pause_of(session, schedule.target)
            if paused is not None:  # the fire time counts as done: resuming sends nothing late
                return f"skipped: paused by {paused.by} since {paused.paused:%Y-%m-%d %H:%M} UTC"
            period = fire.astimezone(UTC).isoformat()
            if not self.config.scheduler.send_in_process:
                edition = queue_digest(self.sessions, self.config, schedule.target,
                                            now=self.clock(), period=period)
                return (f"{edition.digest} edition {edition.number} queued for the workers"
                        if edition else "no new releases, nothing queued")
            progress = SendProgress(self.sessions, self.config.scheduler.progress_every, now=self.clock,
                                    credit=self.credit)
            totals = send_digest(self.sessions, self.config, schedule.target, now=self.clock(),
                                      period=period, stop=self.stop, progress=progress)
            return totals.line() if totals else "no new releases, nothing sent"
        if schedule.kind == "feeds":
            return rebuild_feeds(self.sessions, self.config).line()
        if schedule.kind == "bounces":
            return "; ".join(f.line() for f in fetch_bounces(self.sessions, self.config, self.clock()))
        with self.sessions() as session:
            source = source_named(session, schedule.target)
        return "; ".join(import_source(self.sessions, self.config, source, self.clock(), self.clock).lines())

    def _record(self, schedule: Schedule, fire: datetime, started: datetime,
                finished: datetime | None, outcome: str) -> None:
        record_fire(self.sessions, schedule.id, fire, started, finished, outcome)

    def in_effect(self) -> Config:
        """The config with the digests in effect now."""
        with self.sessions() as session:
            return in_effect(session, self.config)

    def catch_up(self) -> list[str]:
        """Digests whose fire time passed while no scheduler ran: one edition each (however
        many fire times were missed), if the latest is within scheduler.misfire_grace."""
        now, grace = self.clock(), self.config.scheduler.misfire_grace
        outcomes = []
        for schedule in schedules(self.in_effect()):
            fire = schedule.latest_fire_time(now)
            last = self._last_fire(schedule)
            if schedule.kind == "digest" and fire is not None and self._unfinished(schedule):
                outcomes.append(self.run(schedule, fire))  # resume what a stop interrupted
                continue
            if fire is None or (last is not None and last >= fire):
                continue
            if last is None:  # never ran here: nothing was missed, start counting from now
                self._record(schedule, fire, now, now, REGISTERED)
            elif schedule.kind == "digest" and now - fire <= grace:
                outcomes.append(self.run(schedule, fire))
            else:
                log.info("job %s missed %s; waiting for its next fire time", schedule.id,
                         fire.isoformat(timespec="minutes"))
        return outcomes

    def _unfinished(self, schedule: Schedule) -> bool:
        with self.sessions() as session:
            return unfinished_edition(session, schedule.target) is not None

    def _last_fire(self, schedule: Schedule) -> datetime | None:
        with self.sessions() as session:
            return last_fire(session, schedule.id)


def build_scheduler(runner: ScheduleRunner, config: Config, jobs: ThreadPoolExecutor | None = None
                    ) -> BlockingScheduler:
    """`jobs`: the threads the jobs run in (its caller waits for them: see run_forever)."""
    scheduler = BlockingScheduler(timezone=UTC, executors={"default": jobs or ThreadPoolExecutor()})
    for schedule in schedules(config):
        _add(scheduler, runner, schedule)
    return scheduler


def _add(scheduler: BlockingScheduler, runner: ScheduleRunner, schedule: Schedule) -> None:
    scheduler.add_job(runner.when_due, trigger=schedule.trigger, args=[schedule], id=schedule.id,
                      name=schedule.id, replace_existing=True, coalesce=True, max_instances=1,
                      misfire_grace_time=int(runner.config.scheduler.misfire_grace.total_seconds()))


FOLLOWED = ("digest", "source")  # the kinds of schedule an operator changes while it runs


def follow_changes(scheduler: BlockingScheduler, runner: ScheduleRunner) -> list[str]:
    """Schedule the digests and sources in effect as they are now: a new one added, a changed
    one's trigger replaced, a retired one removed; a line each."""
    wanted = {s.id: s for s in schedules(runner.in_effect()) if s.kind in FOLLOWED}
    have = {job.id: job.args[0] for job in scheduler.get_jobs() if job.id.split(":")[0] in FOLLOWED}
    lines = []
    for job_id in have.keys() - wanted.keys():
        scheduler.remove_job(job_id)
        lines.append(f"{job_id}: retired, no longer scheduled")
    for job_id, schedule in wanted.items():
        if have.get(job_id) != schedule:
            _add(scheduler, runner, schedule)
            lines.append(f"{job_id}: {'now' if job_id in have else 'added,'} {schedule.in_words}")
    for line in lines:
        log.info("%s", line)
    return lines


def wait_for_leadership(leadership: Leadership, config: Config, stop: threading.Event) -> bool:
    """Become the active scheduler, or stand by until the active one is gone."""
    poll = config.scheduler.standby_poll.total_seconds()
    announced = False
    while not stop.is_set():
        if leadership.try_acquire():
            log.info("active scheduler (%s)", leadership.description)
            return True
        if not announced:
            log.info("another `publisher run` is active on this database; standing by")
            announced = True
        stop.wait(poll)
    return False


def run_forever(sessions: sessionmaker[Session], config: Config,
                on_start: Callable[[], None] = lambda: None) -> int:
    """The main job: take the lead, do the start-up work, then run every schedule until
    SIGTERM or SIGINT. Returns the exit code."""
    stop = threading.Event()
    scheduler: BlockingScheduler | None = None
    jobs = ThreadPoolExecutor()

    def shut_down(signum: int, _frame: object) -> None:
        log.info("%s: finishing the running job, starting no new ones", signal.Signals(signum).name)
        stop.set()
        if scheduler is not None:
            # From a thread of its own, and not waiting: the signal may have come in the middle
            # of APScheduler's own work holding a lock that shutdown takes (seen: inside a job's
            # submit, the executor's lock); and shutdown(wait=True) would wait for the running
            # jobs holding its job store lock, which a job that asks for the jobs
            # (follow_changes) waits for (seen: `run` hung after SIGTERM). run_forever waits
            # for the jobs itself.
            threading.Thread(target=_stop_scheduler, args=[scheduler], name="stop", daemon=True).start()

    signal.signal(signal.SIGTERM, shut_down)
    signal.signal(signal.SIGINT, shut_down)
    with Presence(sessions, ProcessRole.SCHEDULER, ProcessState.STANDBY) as presence:
        leadership = leadership_for(engine_of(sessions))
        if not wait_for_leadership(leadership, config, stop):
            return 0
        presence.set_state(ProcessState.ACTIVE)
        try:
            on_start()
            runner = ScheduleRunner(sessions, config, stop, credit=presence.handled)
            runner.catch_up()
            if stop.is_set():
                return 0
            scheduler = build_scheduler(runner, runner.in_effect(), jobs)
            scheduler.add_job(_check_leadership, "interval", seconds=10, id="leadership",
                              args=[leadership, stop, lambda: scheduler])
            scheduler.add_job(follow_changes, "interval", id="changes", args=[scheduler, runner],
                              seconds=config.scheduler.changes_poll.total_seconds())
            # Counting ends on time to within this: then an edition's clicks are folded and deleted.
            scheduler.add_job(_close_counting, "interval", id="clicks", args=[sessions], seconds=600,
                              next_run_time=datetime.now(UTC))
            scheduled = [job.id for job in scheduler.get_jobs() if job.id not in OWN_JOBS]
            log.info("scheduler running %d jobs: %s", len(scheduled), ", ".join(scheduled))
            # A signal that came before the scheduler was running could not stop it: do it now.
            scheduler.add_listener(partial(_stop_if_told, scheduler, stop), EVENT_SCHEDULER_STARTED)
            scheduler.start()
            jobs.shutdown(wait=True)  # the running job finishes, outside APScheduler's locks
            return 0 if leadership.still_held() or stop.is_set() else 1
        finally:
            leadership.release()


OWN_JOBS = ("leadership", "changes", "clicks")  # the scheduler's own upkeep, not a schedule


def _close_counting(sessions: sessionmaker[Session]) -> None:
    try:
        close_counting(sessions, utc_now())
    except Exception:  # the next round tries again; the schedules go on
        log.exception("closing the counting of clicks failed")


def _stop_scheduler(scheduler: BlockingScheduler) -> None:
    with contextlib.suppress(SchedulerNotRunningError):
        scheduler.shutdown(wait=False)


def _stop_if_told(scheduler: BlockingScheduler, stop: threading.Event, _event: object) -> None:
    if stop.is_set():
        _stop_scheduler(scheduler)  # (run_forever waits for the running jobs)


def _check_leadership(leadership: Leadership, stop: threading.Event,
                      scheduler: Callable[[], BlockingScheduler | None]) -> None:
    if leadership.still_held():
        return
    log.error("lost the scheduler lock (the database went away?); stopping")
    stop.set()
    running = scheduler()
    if running is not None:
        _stop_scheduler(running)  # (run_forever waits for the running jobs, this one among them)


@dataclass(frozen=True)
class ScheduleView:
    id: str
    when: str  # the cron line, in words, in its zone
    next_fires: list[str]  # "Mon 2026-11-30 09:00 Asia/Shanghai = 01:00 UTC"
    last_run: str
    last_edition: str
    next_edition: str  # what it would hold if sent now, and what it leaves out


def describe_schedules(session: Session, config: Config, now: datetime) -> list[ScheduleView]:
    views = []
    config = in_effect(session, config)
    for schedule in schedules(config):
        pause = pause_of(session, schedule.target) if schedule.kind == "digest" else None
        skipped = " (paused: skipped)" if pause else ""
        fires = [f"{fire.astimezone(schedule.zone):%a %Y-%m-%d %H:%M} {schedule.zone.key} = "
                 f"{fire.astimezone(UTC):%Y-%m-%d %H:%M} UTC{skipped}"
                 for fire in schedule.next_fire_times(now, 3)]
        run = last_run(session, schedule.id)
        ran = (f"{run.last_fire.astimezone(schedule.zone):%Y-%m-%d %H:%M}: {run.outcome}"
               if run else "never")
        views.append(ScheduleView(schedule.id, schedule.in_words, fires, ran, _last_edition(session, schedule),
                                  _next_edition(session, config, schedule, now, pause)))
    return views


def _next_edition(session: Session, config: Config, schedule: Schedule, now: datetime,
                  pause: DigestPause | None) -> str:
    if schedule.kind != "digest":
        return ""
    return next_edition(schedule.target, plan_edition(session, digest_named(session, schedule.target), now), pause)


def _last_edition(session: Session, schedule: Schedule) -> str:
    if schedule.kind != "digest":
        return ""
    edition = last_edition(session, schedule.target)
    if edition is None:
        return "none yet"
    return f"edition {edition.number}, {edition.status}, {counted(edition.release_count, 'release')}"
