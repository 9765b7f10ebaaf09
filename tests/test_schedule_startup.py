"""Start-up of the real scheduler: a send time that passes while catch-up is still sending
is not lost, and a job started late is for the day it was due."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from digest.config import Settings
from digest.pipeline.schedule import Runner, Slot, run_forever


def settings_with(*subscribers: dict[str, object]) -> Settings:
    return Settings.model_validate(
        {
            "digest": {"sender": "Paper Digest <digest@example.org>", "catch_up_hours": 6},
            "smtp": {"host": "127.0.0.1", "port": 25, "security": "none"},
            "subscribers": list(subscribers),
        }
    )


def test_a_send_time_passing_during_a_slow_catch_up_is_still_sent_that_day() -> None:
    """Catch-up runs before the scheduler starts; the next fire of every slot used to be
    asked for only then, so a slot due during a catch-up of a few seconds (a slow relay,
    a long list, a slow collect) waited for tomorrow, without a log line."""
    now = datetime.now(UTC).replace(microsecond=0)
    missed = (now - timedelta(seconds=30)).strftime("%H:%M:%S")
    due_soon = (now + timedelta(seconds=2)).strftime("%H:%M:%S")
    settings = settings_with(
        {"email": "missed@example.org", "send_at": missed},
        {"email": "soon@example.org", "send_at": due_soon},
    )
    sent: list[tuple[str, date]] = []
    both = threading.Event()

    def send(emails: Sequence[str], edition: date) -> None:
        sent.append((emails[0], edition))
        if emails[0] == "missed@example.org":
            time.sleep(4)  # the catch-up send outlasts the other slot's send time
        if len(sent) == 2:
            both.set()

    stop = threading.Event()
    runner = Runner(collect=lambda: None, send=send)
    stopper = threading.Thread(target=lambda: (both.wait(15), stop.set()), daemon=True)
    stopper.start()
    run_forever(settings, runner, now=lambda: datetime.now(UTC), stop=stop)
    stopper.join(5)
    assert [email for email, _ in sent] == ["missed@example.org", "soon@example.org"]


def test_a_stop_that_comes_while_the_scheduler_starts_ends_the_schedule(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SIGTERM in the moment APScheduler was starting (longer with hundreds of slots) was
    logged and then ignored: the shutdown found no running scheduler, and the schedule
    ran on until systemd killed it, mid-send maybe."""
    stop = threading.Event()
    original = BackgroundScheduler.start

    def start_and_be_stopped(self: BackgroundScheduler, *args: Any, **kwargs: Any) -> None:
        stop.set()  # as the signal handler does
        original(self, *args, **kwargs)

    monkeypatch.setattr(BackgroundScheduler, "start", start_and_be_stopped)
    settings = settings_with({"email": "ada@example.org", "send_at": "07:00"})
    runner = Runner(collect=lambda: None, send=lambda _emails, _edition: None)
    done = threading.Event()

    def watchdog() -> None:  # ends a schedule that ran on, so that the test fails, not hangs
        if not done.wait(10):
            os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watchdog, daemon=True).start()
    began = time.monotonic()
    run_forever(settings, runner, now=lambda: datetime.now(UTC), stop=stop)
    done.set()
    assert time.monotonic() - began < 5, "the schedule ran on after its stop"


def test_a_fire_started_after_local_midnight_is_for_the_day_it_was_due() -> None:
    """A job the scheduler starts late (its executor busy, the machine paused) used to
    take its edition from the clock: 23:59:30's edition went out at 00:00:26 as the next
    day's, that day's was never sent, and the next day's fire was skipped as a repeat."""
    slot = Slot("23:59:30", "Europe/London", None, ("late@example.org",))
    started_late = datetime(2026, 3, 28, 0, 0, 26, tzinfo=UTC)
    fired = slot.last_fire(started_late)
    assert fired == datetime(2026, 3, 27, 23, 59, 30, tzinfo=UTC)
    assert slot.edition(fired) == date(2026, 3, 27)
