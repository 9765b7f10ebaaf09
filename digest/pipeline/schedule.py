"""When each edition goes out: APScheduler wiring (its only importer) and the job bodies.

Subscribers who share a send time (clock time, time zone, daily or weekly day) form a
slot, one cron job. A slot's job collects the configured sources if nothing was
collected yet that day, then sends the slot's subscribers their edition: the ledger
makes a second run of the same edition send nothing. Started after a missed send time,
the schedule sends that edition once when it is at most `catch_up_hours` late and
skips older ones with a log line.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger

from digest.config import Settings
from digest.mail.render import Renderer
from digest.pipeline.collect import collect, configured_sources
from digest.pipeline.send import run_send
from digest.pipeline.stopping import stop_on_signals
from digest.state.store import Store
from digest.subscribers import all_subscribers, find_subscriber
from digest.text import plural

log = logging.getLogger(__name__)

# A weekly slot fires at most 7 days apart: the last fire time is found within this.
_LOOK_BACK = timedelta(days=8)


@dataclass(frozen=True, slots=True)
class Slot:
    """The subscribers who get their edition at the same moment."""

    send_at: str
    timezone: str
    weekday: str | None  # None: daily
    emails: tuple[str, ...]

    @property
    def trigger(self) -> CronTrigger:
        clock = time.fromisoformat(self.send_at)
        return CronTrigger(
            day_of_week=self.weekday or "*",
            hour=clock.hour,
            minute=clock.minute,
            second=clock.second,
            timezone=self.timezone,
        )

    def fire_times(self, after: datetime, until: datetime) -> list[datetime]:
        """Every send time in (after, until]."""
        times: list[datetime] = []
        trigger = self.trigger
        moment = trigger.get_next_fire_time(None, after + timedelta(microseconds=1))
        while moment is not None and moment <= until:
            times.append(moment)
            moment = trigger.get_next_fire_time(moment, moment + timedelta(seconds=1))
        return times

    def edition(self, fire_time: datetime) -> date:
        return fire_time.astimezone(ZoneInfo(self.timezone)).date()

    def describe(self) -> str:
        when = f"{self.weekday} " if self.weekday else "daily "
        return f"{when}{self.send_at} {self.timezone} ({plural(len(self.emails), 'subscriber')})"


def slots(settings: Settings) -> list[Slot]:
    """The send slots of the config, in a stable order."""
    groups: dict[tuple[str, str, str | None], list[str]] = {}
    for subscriber in all_subscribers(settings):
        key = (subscriber.send_at, subscriber.timezone, subscriber.weekday)
        groups.setdefault(key, []).append(subscriber.email)
    ordered = sorted(groups.items(), key=lambda item: (item[0][0], item[0][1], item[0][2] or ""))
    return [Slot(*key, emails=tuple(emails)) for key, emails in ordered]


@dataclass(frozen=True, slots=True)
class Due:
    """A slot's send time that has come, and the edition it is for."""

    slot: Slot
    fire_time: datetime
    edition: date


def catch_up(plan: Sequence[Slot], now: datetime, grace: timedelta) -> list[Due]:
    """The last missed edition of each slot if it is within `grace`; older ones are logged
    and skipped. Run at start-up: the ledger keeps an edition already sent from going twice."""
    due = []
    for slot in plan:
        missed = slot.fire_times(now - _LOOK_BACK, now)
        if not missed:
            continue
        last = missed[-1]
        if now - last <= grace:
            due.append(Due(slot, last, slot.edition(last)))
        else:
            log.warning(
                "skipping the missed edition of %s for %s: %s late, past the %s grace",
                slot.edition(last),
                slot.describe(),
                now - last,
                grace,
            )
    return due


@dataclass(slots=True)
class Runner:
    """What a slot's job does: collect once a day, then send; a failure is logged, never
    fatal to the schedule."""

    collect: Callable[[], None]
    send: Callable[[Sequence[str], date], None]
    collected_on: set[date] = field(default_factory=set)

    def run(self, due: Due) -> None:
        try:
            if due.edition not in self.collected_on:
                log.info("collecting before the first send of %s", due.edition)
                self.collect()
                self.collected_on.add(due.edition)
            log.info("sending the edition of %s: %s", due.edition, due.slot.describe())
            self.send(due.slot.emails, due.edition)
        except Exception:
            log.exception("the job for %s failed; the schedule goes on", due.slot.describe())


def run_forever(
    settings: Settings, runner: Runner, *, now: Callable[[], datetime], stop: threading.Event
) -> None:
    """Catch up on a missed edition, then run every slot at its time until SIGTERM or Ctrl-C.

    A stop sets `stop` (a running send finishes its message in flight, records it and
    returns) and waits for the running job before returning.
    """
    plan = slots(settings)
    scheduler = BlockingScheduler()
    for slot in plan:

        def job(slot: Slot = slot) -> None:
            fired = now()
            runner.run(Due(slot, fired, slot.edition(fired)))

        scheduler.add_job(
            job, slot.trigger, name=slot.describe(), coalesce=True, misfire_grace_time=None
        )
        log.info("scheduled %s", slot.describe())

    def shut_down() -> None:
        if scheduler.running:
            scheduler.shutdown(wait=True)

    with stop_on_signals("stopping the schedule", stop=stop, then=shut_down):
        grace = timedelta(hours=settings.digest.catch_up_hours)
        for due in catch_up(plan, now(), grace):
            if stop.is_set():
                return
            log.info("catching up on the missed edition of %s", due.edition)
            runner.run(due)
        if not stop.is_set():
            scheduler.start()


def run_schedule(
    settings: Settings,
    store: Store,
    renderer: Renderer,
    *,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> None:
    """`digest schedule`: each slot's job collects the configured sources once a day, then
    sends its subscribers their edition, until SIGTERM or Ctrl-C."""
    stop = threading.Event()

    def collect_sources() -> None:
        specs = configured_sources(settings)
        if not specs:
            log.info("no [[sources]] configured: sending from the papers already stored")
            return
        report = collect(specs, store, settings=settings.collect, now=now())
        for source in report.sources:
            for problem in (*source.warnings, *source.errors):
                log.warning("%s: %s", source.location, problem)
        log.info("collected %d new papers, %d seen before", report.new, report.seen_before)

    def send_edition(emails: Sequence[str], edition: date) -> None:
        report = run_send(
            settings,
            store,
            renderer,
            subscribers=[find_subscriber(settings, email) for email in emails],
            edition=edition,
            should_stop=stop.is_set,
        )
        for email, reason in report.failed:
            log.warning("failed: %s: %s", email, reason)
        log.info("edition of %s: %s", edition, report.summary())

    run_forever(settings, Runner(collect=collect_sources, send=send_edition), now=now, stop=stop)
