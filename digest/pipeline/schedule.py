"""When each edition goes out: APScheduler wiring (its only importer) and the job bodies.

Subscribers who share a send time (clock time, time zone, daily or weekly day) form a
slot, one scheduled job. A slot's job collects the configured sources if nothing was
collected yet that day (a failed collect is logged and the send goes on from what is
stored), then sends the slot's subscribers their edition, once a day even where the
clocks change: a second fire of the same edition is skipped, and the ledger would send
nothing anyway. A send that leaves readers unfinished (failed, or left when the server
kept failing; empty ones too when the collect failed) is tried again
`delivery.retry_minutes` later (a relay back up, a greylisting server that now takes
the message, a feed that answers again), collecting first if the collect failed, for as
long as `catch_up_hours` after the send time. Started after a missed send time, the
schedule sends that edition once when it is at most `catch_up_hours` late and skips
older ones with a log line.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger

from digest.config import Settings
from digest.errors import DigestError
from digest.mail.render import Renderer
from digest.pipeline.collect import collect, configured_sources
from digest.pipeline.delivery import SendReport
from digest.pipeline.pool import encode_recent, encoder_for
from digest.pipeline.send import run_send
from digest.pipeline.stopping import stop_on_signals
from digest.state.store import Store
from digest.subscribers import WEEKDAYS, all_subscribers
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
    def trigger(self) -> SendTimeTrigger:
        return SendTimeTrigger(
            time.fromisoformat(self.send_at),
            ZoneInfo(self.timezone),
            WEEKDAYS.index(self.weekday) if self.weekday else None,
        )

    def fire_times(self, after: datetime, until: datetime) -> list[datetime]:
        """Every send time in (after, until], in UTC: one on each local date (of the slot's
        weekday, if weekly), as `SendTimeTrigger` places it."""
        trigger, zone = self.trigger, ZoneInfo(self.timezone)
        start, end = after.astimezone(UTC), until.astimezone(UTC)
        day, last = start.astimezone(zone).date(), end.astimezone(zone).date()
        times = []
        while day <= last:
            moment = trigger.on(day)
            if moment is not None and start < moment <= end:
                times.append(moment)
            day += timedelta(days=1)
        return times

    def last_fire(self, now: datetime) -> datetime | None:
        """The latest send time at or before `now` (a job the scheduler starts late, past
        local midnight say, is still for the edition of the time it was due)."""
        fires = self.fire_times(now - _LOOK_BACK, now)
        return fires[-1] if fires else None

    def edition(self, fire_time: datetime) -> date:
        return fire_time.astimezone(ZoneInfo(self.timezone)).date()

    def describe(self) -> str:
        when = f"{self.weekday} " if self.weekday else "daily "
        return f"{when}{self.send_at} {self.timezone} ({plural(len(self.emails), 'subscriber')})"


class SendTimeTrigger(BaseTrigger):  # type: ignore[misc]  # APScheduler has no types
    """APScheduler's trigger of a slot: a clock time of a time zone, on every local date
    or on one weekday, once per date. A time the clocks skip fires as much later as they
    jumped (02:30 becomes 03:30; midnight becomes 01:00 where a day starts at 01:00, as in
    Santiago or Cairo); a time they repeat fires at its first pass, once. (CronTrigger
    fires a repeated time twice and skips a day whose midnight does not exist.)"""

    def __init__(self, clock: time, zone: ZoneInfo, weekday: int | None) -> None:
        self.clock, self.zone, self.weekday = clock, zone, weekday

    def on(self, day: date) -> datetime | None:
        """The fire time (UTC) on a local date; None on another weekday. A time that does
        not exist is read with the offset before the change (fold 0), which lands it
        past the gap; one that exists twice at its first pass (fold 0)."""
        if self.weekday is not None and day.weekday() != self.weekday:
            return None
        return datetime.combine(day, self.clock, tzinfo=self.zone).astimezone(UTC)

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        """The first fire time after `previous_fire_time` and not before `now`."""
        start = now.astimezone(UTC)
        if previous_fire_time is not None:
            start = max(start, previous_fire_time.astimezone(UTC) + timedelta(microseconds=1))
        # From the day before: a late send time pushed past a gap may land on the next date.
        day = start.astimezone(self.zone).date() - timedelta(days=1)
        for _ in range(9):  # a weekly slot fires within 8 days
            moment = self.on(day)
            if moment is not None and moment >= start:
                return moment.astimezone(self.zone)
            day += timedelta(days=1)
        return None


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
    due, skipped = [], []
    for slot in plan:
        missed = slot.fire_times(now - _LOOK_BACK, now)
        if not missed:
            continue
        last = missed[-1]
        if now - last <= grace:
            due.append(Due(slot, last, slot.edition(last)))
        else:
            skipped.append((slot, last))
    if skipped:  # one line: a list of many time zones has hundreds of slots
        slot, last = skipped[0]
        others = f" and {plural(len(skipped) - 1, 'other slot')}" if len(skipped) > 1 else ""
        log.warning(
            "skipping the missed edition of %s for %s%s: %s late, past the %s grace",
            slot.edition(last),
            slot.describe(),
            others,
            now - last,
            grace,
        )
    return due


@dataclass(slots=True)
class Runner:
    """What a slot's job does: collect once a day, then send; a failure is logged, never
    fatal to the schedule.

    A failing collect never cancels the send: the slot's subscribers get their edition from
    the papers already stored, and the log says the collect failed. Only a collect that
    succeeded counts for the day, so the next slot due for the same edition collects again
    (a failed collect is retried; one that worked is not repeated).

    Each slot runs once per edition: a catch-up at start-up may already have run the
    edition the scheduler then fires. The second fire is logged and skipped.

    Slots due at one moment run in threads of their own: one collects while the others
    wait for it, then send from what it stored.
    """

    collect: Callable[[], None]
    # The report of a slot's send (None: nothing to tell, as in tests).
    send: Callable[[Sequence[str], date], SendReport | None]
    collected_on: set[date] = field(default_factory=set)
    ran: set[tuple[Slot, date]] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, due: Due) -> bool:
        """Run a slot's fire; whether its edition should be tried again later."""
        with self._lock:  # slots due at once: one collects, the others wait for it
            repeated = (due.slot, due.edition) in self.ran
            self.ran.add((due.slot, due.edition))
            collected = False if repeated else self._collect_once(due.edition)
        if repeated:
            log.info(
                "the edition of %s already ran for %s: skipping this second fire",
                due.edition,
                due.slot.describe(),
            )
            return False
        return self._send(due, collected=collected)

    def again(self, due: Due) -> bool:
        """Try an edition again that left readers unfinished (collecting first, if the
        collect failed); whether it should be tried once more."""
        with self._lock:
            collected = self._collect_once(due.edition)
        return self._send(due, collected=collected)

    def _collect_once(self, edition: date) -> bool:
        """Whether the papers of `edition`'s day are collected; a failure is logged."""
        if edition in self.collected_on:
            return True
        log.info("collecting before the first send of %s", edition)
        try:
            self.collect()
        except Exception as error:
            _log_failure(
                error,
                "collecting for the edition of %s failed: sending from the papers already "
                "stored; the next slot of that day collects again",
                edition,
            )
            return False
        self.collected_on.add(edition)
        return True

    def _send(self, due: Due, *, collected: bool) -> bool:
        stale = "" if collected else " from the papers already stored (the collect failed)"
        log.info("sending the edition of %s%s: %s", due.edition, stale, due.slot.describe())
        try:
            report = self.send(due.slot.emails, due.edition)
        except Exception as error:
            _log_failure(error, "the job for %s failed; the schedule goes on", due.slot.describe())
            return True
        return report is not None and _unfinished(report, collected=collected)


def _log_failure(error: Exception, message: str, *args: object) -> None:
    """A failure the user can act on (a DigestError: every source down, no papers yet) in
    one line, its traceback only with -v; anything else with its traceback, a bug. Retried
    every few minutes through an outage, tracebacks buried the log."""
    if isinstance(error, DigestError):
        log.error(message + ": %s", *args, error)
        log.debug("the traceback", exc_info=error)
    else:
        log.exception(message, *args)


def _unfinished(report: SendReport, *, collected: bool) -> bool:
    """Whether a send left readers a later try may reach: failed ones, ones left when the
    server kept failing, and empty ones when the collect failed (papers may come)."""
    return bool(report.failed or report.left or report.error or (report.empty and not collected))


def run_forever(
    settings: Settings, runner: Runner, *, now: Callable[[], datetime], stop: threading.Event
) -> None:
    """Catch up on a missed edition, then run every slot at its time until SIGTERM or Ctrl-C.

    A stop sets `stop` (a running send finishes its message in flight, records it and
    returns) and waits for the running job before returning.
    """
    plan = slots(settings)
    started = now()
    scheduler = BackgroundScheduler()
    grace = timedelta(hours=settings.digest.catch_up_hours)
    retry_after = timedelta(minutes=settings.delivery.retry_minutes)

    def attempt(due: Due, *, retry: bool = False) -> None:
        unfinished = runner.again(due) if retry else runner.run(due)
        if not unfinished or stop.is_set():
            return
        at = now() + retry_after
        if at - due.fire_time > grace:
            log.warning(
                "the edition of %s for %s still has readers not sent to, and is past the "
                "%s of catch_up_hours: `digest send --date %s` sends them",
                due.edition,
                due.slot.describe(),
                grace,
                due.edition,
            )
            return
        log.info("trying the edition of %s again at %s", due.edition, at.isoformat())
        scheduler.add_job(
            attempt,
            "date",
            run_date=at,
            args=(due,),
            kwargs={"retry": True},
            name=f"again: {due.slot.describe()}",
            misfire_grace_time=None,
        )

    for slot in plan:
        # The scheduler asks the trigger for the fire after the last one with the real
        # clock: one per local date, and always later than the last.
        def job(slot: Slot = slot) -> None:
            # The send time that came, not the clock: a job started late (a busy executor,
            # a paused machine) past local midnight is still for the day it was due.
            fired = slot.last_fire(now()) or now()
            attempt(Due(slot, fired, slot.edition(fired)))

        # The first fire is the first after `started`, the moment catch-up looked: a send
        # time that passes while catch-up sends runs as soon as the scheduler starts,
        # rather than tomorrow (APScheduler would ask the trigger only once it starts).
        scheduler.add_job(
            job,
            slot.trigger,
            name=slot.describe(),
            coalesce=True,
            misfire_grace_time=None,
            next_run_time=slot.trigger.get_next_fire_time(None, started),
        )
        log.info("scheduled %s", slot.describe())

    with stop_on_signals("stopping the schedule", stop=stop):
        for due in catch_up(plan, started, grace):
            if stop.is_set():
                return
            log.info("catching up on the missed edition of %s", due.edition)
            attempt(due)
        if stop.is_set():
            return
        # The jobs run on the scheduler's threads; this one waits for the stop. A stop that
        # came while the scheduler started (with hundreds of slots, a while) is seen here:
        # shut down from the signal handler, it found no running scheduler to stop, and the
        # schedule ran on.
        scheduler.start()
        try:
            stop.wait()
        finally:
            scheduler.shutdown(wait=True)


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
    # Resolved once: a slot names its subscribers by address (as `slots` wrote them), and
    # looking each one up in the config would scan every subscriber for each.
    by_email = {subscriber.email: subscriber for subscriber in all_subscribers(settings)}

    def collect_sources() -> None:
        specs = configured_sources(settings)
        if not specs:
            log.info("no [[sources]] configured: sending from the papers already stored")
            return
        report = collect(
            specs, store, settings=settings.collect, now=now(), should_stop=stop.is_set
        )
        for source in report.sources:
            for problem in (*source.warnings, *source.errors):
                log.warning("%s: %s", source.label, problem)
        log.info("collected %d new papers, %d seen before", report.new, report.seen_before)
        if report.sources and all(source.failed for source in report.sources):
            # Nothing could be read: as failed as a collect that raised, so the next slot
            # of the day (or the retry) collects again.
            first = report.sources[0]
            raise DigestError(f"every source failed, {first.label}: {first.errors[0]}")
        # The encoder's work now, once, rather than in the sends (preflight checked it loads).
        encoder = encoder_for(settings.digest.semantic_model)
        if encoder is not None:
            encode_recent(
                store,
                encoder,
                now=now(),
                days=settings.digest.candidate_days,
                should_stop=stop.is_set,
            )

    def send_edition(emails: Sequence[str], edition: date) -> SendReport:
        report = run_send(
            settings,
            store,
            renderer,
            subscribers=[by_email[email] for email in emails],
            edition=edition,
            should_stop=stop.is_set,
            # After a failed collect an empty day is the feeds' fault: no "nothing new
            # matched" note, which would count as sent; a retry may find the papers.
            empty_notes=edition in runner.collected_on,
        )
        for email, reason in report.failed:
            log.warning("failed: %s: %s", email, reason)
        if report.error:
            log.error("the send of %s stopped: %s", edition, report.error)
        log.info("edition of %s: %s", edition, report.summary())
        return report

    runner = Runner(collect=collect_sources, send=send_edition)
    run_forever(settings, runner, now=now, stop=stop)
