"""Scheduling across a clock change: one edition a local day, and the schedule never hangs.

New York in 2026: the clocks go forward at 02:00 on 8 March (02:00-02:59 does not happen)
and back at 02:00 on 1 November (01:00-01:59 happens twice). Both days are Sundays.
"""

from __future__ import annotations

import logging
import signal
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from types import FrameType
from zoneinfo import ZoneInfo

import pytest

from digest.pipeline.schedule import Due, Runner, Slot, catch_up

NEW_YORK = ZoneInfo("America/New_York")
SPRING_FORWARD = date(2026, 3, 8)
FALL_BACK = date(2026, 11, 1)
SKIPPED = "02:30"  # does not happen on SPRING_FORWARD
REPEATED = "01:30"  # happens twice on FALL_BACK
EMAILS = ("ada@example.org",)


@contextmanager
def fails_after(seconds: float) -> Iterator[None]:
    """A call that never returns fails the test instead of stalling the suite: SIGALRM
    interrupts it (tests run in the main thread, under xdist too)."""

    def give_up(_signum: int, _frame: FrameType | None) -> None:
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, give_up)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def local_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=NEW_YORK)


def local_dates(moments: Sequence[datetime]) -> list[date]:
    return [moment.astimezone(NEW_YORK).date() for moment in moments]


def expected_dates(first: date, last: date, weekday: str | None) -> list[date]:
    """Every date in [first, last), or only its Sundays for a weekly slot on "sun"."""
    days = [first + timedelta(days=offset) for offset in range((last - first).days)]
    return [day for day in days if weekday is None or day.strftime("%a").lower() == weekday]


def assert_one_fire_a_day(slot: Slot, change: date, after: datetime, until: datetime) -> None:
    with fails_after(5):
        fires = slot.fire_times(after, until)
    assert fires == sorted(set(fires)), "strictly increasing"
    first, last = after.astimezone(NEW_YORK).date(), until.astimezone(NEW_YORK).date()
    assert local_dates(fires) == expected_dates(first, last, slot.weekday)
    assert change in local_dates(fires)


@pytest.mark.parametrize("weekday", [None, "sun"], ids=["daily", "weekly"])
@pytest.mark.parametrize(
    ("send_at", "change", "fire_that_day"),
    [
        (SKIPPED, SPRING_FORWARD, datetime(2026, 3, 8, 7, 30, tzinfo=UTC)),  # 03:30 EDT
        (REPEATED, FALL_BACK, datetime(2026, 11, 1, 5, 30, tzinfo=UTC)),  # 01:30 EDT
    ],
    ids=["a-skipped-time-fires-as-late-as-the-clocks-jump", "a-repeated-time-at-its-first-pass"],
)
def test_a_send_time_the_clocks_skip_or_repeat_fires_once_that_day_and_once_every_other_day(
    send_at: str, change: date, fire_that_day: datetime, weekday: str | None
) -> None:
    slot = Slot(send_at, "America/New_York", weekday, EMAILS)
    week = timedelta(days=7)
    assert_one_fire_a_day(
        slot, change, local_midnight(change) - week, local_midnight(change) + week
    )
    next_day = change + timedelta(days=1)
    assert slot.fire_times(local_midnight(change), local_midnight(next_day)) == [fire_that_day]


def test_the_week_after_the_clocks_go_back_returns_at_once_instead_of_hanging() -> None:
    # This window once looped for ever: CronTrigger, asked for the fire after 01:30 EST with
    # "now" one wall-clock second later (01:30:01, read as EDT: an hour earlier), handed
    # back 01:30 EST again and again.
    slot = Slot(REPEATED, "America/New_York", None, EMAILS)
    after, until = local_midnight(FALL_BACK), local_midnight(date(2026, 11, 9))
    assert_one_fire_a_day(slot, FALL_BACK, after, until)


@pytest.mark.parametrize("weekday", [None, "sun"], ids=["daily", "weekly"])
@pytest.mark.parametrize(
    ("send_at", "change", "restart", "fired"),
    [
        # 03:45 EDT: a quarter of an hour after the skipped 02:30 went out as 03:30.
        (
            SKIPPED,
            SPRING_FORWARD,
            datetime(2026, 3, 8, 3, 45, tzinfo=NEW_YORK),
            datetime(2026, 3, 8, 7, 30, tzinfo=UTC),
        ),
        # 01:10 EST, the second pass of the hour: 40 minutes after 01:30 EDT.
        (
            REPEATED,
            FALL_BACK,
            datetime(2026, 11, 1, 1, 10, tzinfo=NEW_YORK, fold=1),
            datetime(2026, 11, 1, 5, 30, tzinfo=UTC),
        ),
    ],
    ids=["spring-forward", "fall-back"],
)
def test_a_restart_right_after_the_clocks_change_catches_up_that_days_edition_once(
    send_at: str, change: date, restart: datetime, fired: datetime, weekday: str | None
) -> None:
    plan = [Slot(send_at, "America/New_York", weekday, EMAILS)]
    with fails_after(5):
        due = catch_up(plan, restart, grace=timedelta(hours=6))
    assert [(item.fire_time, item.edition) for item in due] == [(fired, change)]


def scheduler_fires(slot: Slot, after: datetime, until: datetime) -> list[datetime]:
    """The fires BlockingScheduler works out with the slot's real trigger: after each
    fire it asks for the next one from that fire, with the clock a moment later as "now"."""
    trigger = slot.trigger
    fires: list[datetime] = []
    fired = trigger.get_next_fire_time(None, after)
    while fired.astimezone(UTC) <= until:
        fires.append(fired.astimezone(UTC))
        clock = fired.astimezone(UTC) + timedelta(milliseconds=50)
        following = trigger.get_next_fire_time(fired, clock)
        # Were it not later, the scheduler would spin: it loops while the next run is due.
        assert following.astimezone(UTC) > fired.astimezone(UTC), f"stuck at {fired}"
        fired = following
    return fires


@pytest.mark.parametrize(
    ("send_at", "change", "fires_on_the_day"),
    [(SKIPPED, SPRING_FORWARD, 1), (REPEATED, FALL_BACK, 1)],
    ids=["spring-forward", "fall-back"],
)
def test_the_real_scheduler_moves_on_after_each_fire_and_the_runner_runs_each_edition_once(
    send_at: str, change: date, fires_on_the_day: int, caplog: pytest.LogCaptureFixture
) -> None:
    slot = Slot(send_at, "America/New_York", None, EMAILS)
    week = timedelta(days=7)
    with fails_after(5):
        fires = scheduler_fires(slot, local_midnight(change) - week, local_midnight(change) + week)
    assert Counter(local_dates(fires))[change] == fires_on_the_day

    collects: list[None] = []
    sent: list[date] = []
    runner = Runner(collect=lambda: collects.append(None), send=lambda _e, day: sent.append(day))
    with caplog.at_level(logging.INFO, logger="digest.pipeline.schedule"):
        for fired in fires:  # the job's edition is the local date of its clock
            runner.run(Due(slot, fired, slot.edition(fired)))
    assert sent == sorted(set(local_dates(fires))) and len(collects) == len(sent)
    skips = [record for record in caplog.records if "skipping this second fire" in record.message]
    assert len(skips) == fires_on_the_day - 1


@pytest.mark.parametrize(
    ("zone", "send_at", "change", "fired"),
    [
        # Clocks go from 23:59:59 to 01:00: the day has no midnight, and no 00:30.
        ("America/Santiago", "00:00", date(2027, 9, 5), "2027-09-05T01:00:00-03:00"),
        ("America/Havana", "00:30", date(2027, 3, 14), "2027-03-14T01:30:00-04:00"),
        ("Africa/Cairo", "00:00", date(2027, 4, 30), "2027-04-30T01:00:00+03:00"),
    ],
)
def test_a_day_whose_midnight_the_clocks_skip_still_gets_its_edition(
    zone: str, send_at: str, change: date, fired: str
) -> None:
    """CronTrigger skipped such a day altogether, in the scheduler and in catch-up."""
    slot = Slot(send_at, zone, None, EMAILS)
    local = ZoneInfo(zone)
    noon = datetime.min.time().replace(hour=12)
    before = datetime.combine(change - timedelta(days=2), noon, tzinfo=local)
    after = before + timedelta(days=4)
    fires = scheduler_fires(slot, before, after)
    assert [slot.edition(fire) for fire in fires] == [
        change + timedelta(days=offset) for offset in range(-1, 3)
    ]
    assert datetime.fromisoformat(fired) in fires
    assert slot.fire_times(before, after) == fires
