"""Scheduling: each subscriber's edition at their hour, missed ones caught up once."""

from __future__ import annotations

import logging
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP, Envelope

from digest.collect.locate import SourceSpec
from digest.config import Settings
from digest.errors import DigestError
from digest.mail.render import Renderer
from digest.mail.transport import SmtpTransport
from digest.pipeline.collect import collect
from digest.pipeline.delivery import SendReport
from digest.pipeline.schedule import Due, Runner, Slot, catch_up, slots
from digest.pipeline.send import send_editions
from digest.state.store import Store
from digest.subscribers import find_subscriber
from tests.environment import clean_environment
from tests.smtpserver import RecordingHandler, SmtpServer
from tests.test_send_cli import wait_for

StartServer = Callable[..., SmtpServer]
MORNING = datetime(2026, 3, 12, 6, 50, tzinfo=UTC)  # the seed dumps' listing day


def settings_for(server: SmtpServer | None, *subscribers: dict[str, object]) -> Settings:
    smtp = {"host": "127.0.0.1", "port": server.port if server else 25, "security": "none"}
    return Settings.model_validate(
        {
            "digest": {"sender": "Paper Digest <digest@example.org>", "catch_up_hours": 6},
            "smtp": smtp | {"timeout": 5, "retry_delay": 0.01},
            "subscribers": list(subscribers),
        }
    )


ADA = {"email": "ada@example.org", "interests": ["graph neural networks"], "send_at": "07:00"}
BOB = {
    "email": "bob@example.org",
    "interests": ["video understanding"],
    "send_at": "08:30",
    "timezone": "Europe/Paris",  # 07:30 UTC in March
}


def test_subscribers_sharing_a_send_time_share_a_slot() -> None:
    carol = ADA | {"email": "carol@example.org"}
    weekly = ADA | {"email": "dan@example.org", "frequency": "weekly", "weekday": "fri"}
    plan = slots(settings_for(None, ADA, BOB, carol, weekly))
    assert [(slot.describe(), slot.emails) for slot in plan] == [
        ("daily 07:00 UTC (2 subscribers)", ("ada@example.org", "carol@example.org")),
        ("fri 07:00 UTC (1 subscriber)", ("dan@example.org",)),
        ("daily 08:30 Europe/Paris (1 subscriber)", ("bob@example.org",)),
    ]


def test_fire_times_follow_the_subscribers_time_zone_and_day() -> None:
    paris = Slot("08:30", "Europe/Paris", None, ("bob@example.org",))
    day = paris.fire_times(MORNING, MORNING + timedelta(days=1))
    assert day == [datetime(2026, 3, 12, 7, 30, tzinfo=UTC)]
    weekly = Slot("07:00", "UTC", "fri", ("dan@example.org",))
    fridays = weekly.fire_times(MORNING, MORNING + timedelta(days=14))
    assert [moment.date() for moment in fridays] == [date(2026, 3, 13), date(2026, 3, 20)]


def test_a_missed_edition_within_the_grace_is_caught_up_and_an_older_one_skipped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    plan = slots(settings_for(None, ADA, BOB))
    start = datetime(2026, 3, 12, 9, 0, tzinfo=UTC)
    with caplog.at_level(logging.WARNING, logger="digest.pipeline.schedule"):
        due = catch_up(plan, start, grace=timedelta(hours=1, minutes=45))
    assert [(item.slot.emails, item.edition) for item in due] == [
        (("bob@example.org",), date(2026, 3, 12))
    ]
    [skipped] = caplog.records
    assert "skipping the missed edition of 2026-03-12 for daily 07:00 UTC" in skipped.message


def test_many_slots_past_the_grace_are_skipped_in_one_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A first start with readers in many time zones: every slot's last send time was
    yesterday or earlier, and one line says so, not one per slot."""
    readers = [
        {"email": f"reader{hour}@example.org", "send_at": f"{hour:02d}:00"} for hour in range(9)
    ]
    plan = slots(settings_for(None, *readers))
    with caplog.at_level(logging.WARNING, logger="digest.pipeline.schedule"):
        due = catch_up(plan, datetime(2026, 3, 12, 12, 0, tzinfo=UTC), grace=timedelta(hours=1))
    assert due == []
    [skipped] = caplog.records
    assert "for daily 00:00 UTC (1 subscriber) and 8 other slots: 12:00:00 late" in skipped.message


def test_a_failing_job_is_logged_and_the_schedule_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[date] = []

    def send(emails: Sequence[str], edition: date) -> None:
        calls.append(edition)
        if len(calls) == 1:
            raise RuntimeError("the server is on fire")

    runner = Runner(collect=lambda: None, send=send)
    slot = slots(settings_for(None, ADA))[0]
    with caplog.at_level(logging.ERROR, logger="digest.pipeline.schedule"):
        runner.run(Due(slot, MORNING, date(2026, 3, 12)))
        runner.run(Due(slot, MORNING, date(2026, 3, 13)))
    assert calls == [date(2026, 3, 12), date(2026, 3, 13)]
    assert "failed; the schedule goes on" in caplog.records[0].message


class FlakyCollect:
    """A collect that fails its first `failures` calls, counting every call."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    def __call__(self) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise RuntimeError("the feed host is down")


def test_a_failing_collect_still_sends_the_edition_from_what_is_stored_and_the_log_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sent: list[tuple[Sequence[str], date]] = []
    runner = Runner(collect=FlakyCollect(failures=1), send=lambda *args: sent.append(args))
    slot = slots(settings_for(None, ADA))[0]
    with caplog.at_level(logging.INFO, logger="digest.pipeline.schedule"):
        runner.run(Due(slot, MORNING, date(2026, 3, 12)))
    assert sent == [(("ada@example.org",), date(2026, 3, 12))]
    messages = [record.message for record in caplog.records]
    assert "collecting for the edition of 2026-03-12 failed" in messages[1]
    assert "the feed host is down" in (caplog.records[1].exc_text or "")
    assert "from the papers already stored (the collect failed)" in messages[2]


def test_a_failure_the_user_can_act_on_is_one_line_without_a_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Every source down, retried every 15 minutes for hours: two tracebacks a retry.
    def collect() -> None:
        raise DigestError("every source failed, s0 (http://127.0.0.1:9/feed.xml): refused")

    def send(_emails: Sequence[str], _edition: date) -> None:
        raise DigestError("digest.db holds no papers yet", hint="run digest collect first")

    runner = Runner(collect=collect, send=send)
    slot = slots(settings_for(None, ADA))[0]
    with caplog.at_level(logging.INFO, logger="digest.pipeline.schedule"):
        runner.run(Due(slot, MORNING, date(2026, 3, 12)))
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert [record.exc_info for record in errors] == [None, None]
    assert (
        errors[0]
        .getMessage()
        .endswith("collects again: every source failed, s0 (http://127.0.0.1:9/feed.xml): refused")
    )
    assert (
        errors[1]
        .getMessage()
        .endswith("the schedule goes on: digest.db holds no papers yet (run digest collect first)")
    )


def test_only_a_failed_collect_is_retried_at_the_next_slot_of_that_day() -> None:
    collect = FlakyCollect(failures=1)
    sent: list[Sequence[str]] = []
    runner = Runner(collect=collect, send=lambda emails, _edition: sent.append(emails))
    ada, bob = slots(settings_for(None, ADA, BOB))
    carol = Slot("10:00", "UTC", None, ("carol@example.org",))
    for slot in (ada, bob, carol):
        runner.run(Due(slot, MORNING, date(2026, 3, 12)))
    assert collect.calls == 2, "failed for ada's slot, collected for bob's, not again for carol's"
    assert sent == [ada.emails, bob.emails, carol.emails]


def test_a_send_that_leaves_readers_unsent_asks_to_be_tried_again() -> None:
    """Failed readers, or readers left when the server kept failing: a later try may reach
    them. Empty editions only when the collect failed: papers may come with the next."""
    reports = iter(
        [
            SendReport(failed=[("ada@example.org", "451 4.7.1 greylisted")]),
            SendReport(sent=["ada@example.org"]),
            SendReport(empty=[("ada@example.org", "no paper was listed")]),
            SendReport(empty=[("ada@example.org", "no paper was listed")]),
        ]
    )
    collect = FlakyCollect(failures=1)
    runner = Runner(collect=lambda: None, send=lambda _emails, _edition: next(reports))
    slot = slots(settings_for(None, ADA))[0]
    due = Due(slot, MORNING, date(2026, 3, 12))
    assert runner.run(due) is True
    assert runner.again(due) is False, "everyone reached"
    assert runner.run(Due(slot, MORNING, date(2026, 3, 12))) is False, "a second fire"
    flaky = Runner(collect=collect, send=lambda _emails, _edition: next(reports))
    tomorrow = Due(slot, MORNING + timedelta(days=1), date(2026, 3, 13))
    assert flaky.run(tomorrow) is True, "empty, and the collect failed"
    assert flaky.again(tomorrow) is False, "empty from a collect that worked"
    assert collect.calls == 2


def test_slots_due_at_one_moment_collect_once_between_them() -> None:
    """The scheduler runs slots due together in threads of their own: the first collects,
    the other waits for it and sends from what it stored, instead of collecting again."""
    calls: list[str] = []
    collecting = threading.Event()

    def slow_collect() -> None:
        calls.append(threading.current_thread().name)
        collecting.set()
        time.sleep(0.3)  # a collect is slow: long enough for the other slot to ask

    sent: list[Sequence[str]] = []
    runner = Runner(collect=slow_collect, send=lambda emails, _edition: sent.append(emails))
    ada, bob = slots(settings_for(None, ADA, BOB))
    first = threading.Thread(target=runner.run, args=(Due(ada, MORNING, date(2026, 3, 12)),))
    first.start()
    collecting.wait(5)
    runner.run(Due(bob, MORNING, date(2026, 3, 12)))
    first.join(5)
    assert len(calls) == 1
    assert sorted(sent) == sorted([ada.emails, bob.emails])


class Newsroom:
    """A database with the seed dumps and a runner that sends through a real SMTP server."""

    def __init__(self, folder: Path, shared: Path, settings: Settings) -> None:
        self.settings = settings
        self.store = Store(f"sqlite:///{folder / 'digest.db'}")
        self.shared = shared
        self.collects = 0
        self.renderer = Renderer.load()

    def collect(self) -> None:
        self.collects += 1
        spec = SourceSpec(name="seeds", location=str(self.shared / "seeds"))
        collect([spec], self.store, settings=self.settings.collect, now=MORNING)

    def send(self, emails: Sequence[str], edition: date) -> None:
        chosen = [find_subscriber(self.settings, email) for email in emails]
        with SmtpTransport(self.settings.smtp) as transport:
            send_editions(
                self.settings,
                self.store,
                self.renderer,
                transport,
                subscribers=chosen,
                now=lambda: MORNING,
                edition=edition,
                sleep=lambda _seconds: None,
            )

    def runner(self) -> Runner:
        return Runner(collect=self.collect, send=self.send)


def recipients(server: SmtpServer) -> Counter[str]:
    return Counter(rcpt for message in server.received for rcpt in message.rcpt_tos)


def test_a_fake_clock_crossing_two_send_times_sends_each_edition_once_then_a_restart_sends_none(
    tmp_path: Path, shared: Path, smtp_server: StartServer
) -> None:
    server = smtp_server(RecordingHandler())
    settings = settings_for(server, ADA, BOB)
    newsroom = Newsroom(tmp_path, shared, settings)
    plan, runner = slots(settings), newsroom.runner()
    sent_at: dict[str, datetime] = {}
    clock = MORNING
    while clock < MORNING + timedelta(hours=1):  # 06:50 to 07:50 UTC, a minute a tick
        tick = clock + timedelta(minutes=1)
        for slot in plan:
            for fired in slot.fire_times(clock, tick):
                runner.run(Due(slot, fired, slot.edition(fired)))
                for email in slot.emails:
                    sent_at[email] = fired
        clock = tick
    assert sent_at == {
        "ada@example.org": datetime(2026, 3, 12, 7, 0, tzinfo=UTC),
        "bob@example.org": datetime(2026, 3, 12, 7, 30, tzinfo=UTC),
    }
    assert recipients(server) == Counter(["ada@example.org", "bob@example.org"])
    assert newsroom.collects == 1, "collected once, before the first send of the day"

    # Restarted at 08:00 within the grace: both editions are due again, the ledger says sent.
    restarted = newsroom.runner()
    for due in catch_up(plan, MORNING + timedelta(hours=1, minutes=10), timedelta(hours=6)):
        restarted.run(due)
    assert recipients(server) == Counter(["ada@example.org", "bob@example.org"])
    newsroom.store.close()


def test_a_restart_after_a_missed_send_time_sends_that_edition_once(
    tmp_path: Path, shared: Path, smtp_server: StartServer
) -> None:
    server = smtp_server(RecordingHandler())
    settings = settings_for(server, ADA, BOB)
    newsroom = Newsroom(tmp_path, shared, settings)
    plan = slots(settings)
    # The machine was off from 06:50 to 07:45: both send times passed.
    for restart in (
        datetime(2026, 3, 12, 7, 45, tzinfo=UTC),
        datetime(2026, 3, 12, 8, 5, tzinfo=UTC),
    ):
        runner = newsroom.runner()
        for due in catch_up(plan, restart, timedelta(hours=6)):
            runner.run(due)
    assert recipients(server) == Counter(["ada@example.org", "bob@example.org"])
    newsroom.store.close()


def run_schedule_until_sent(
    tmp_path: Path,
    shared: Path,
    server: SmtpServer,
    env: dict[str, str] | None = None,
    extra: str = "",
) -> tuple[int, str]:
    """`digest schedule` for one subscriber due 4 s from now, stopped with SIGTERM once the
    server has her email: (exit code, log). `extra`: more TOML at the end of the config."""
    send_at = (datetime.now(UTC) + timedelta(seconds=4)).strftime("%H:%M:%S")
    # A start-up slower than 4 s (a busy machine) catches up on the edition instead: one
    # email either way. Yesterday's, a day late, is past the hour of grace.
    (tmp_path / "digest.toml").write_text(
        f"""
[digest]
sender = "Paper Digest <digest@example.org>"
catch_up_hours = 1
[smtp]
host = "127.0.0.1"
port = {server.port}
security = "none"
[[sources]]
name = "seeds"
location = "{shared / "seeds"}"
[[subscribers]]
email = "ada@example.org"
interests = ["graph neural networks"]
send_at = "{send_at}"
{extra}""",
        encoding="utf-8",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "digest", "schedule"],
        cwd=tmp_path,
        env=clean_environment() | (env or {}),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: len(server.received) == 1, timeout=90)
        time.sleep(0.5)
    finally:
        process.send_signal(signal.SIGTERM)
        _, log_text = process.communicate(timeout=30)
    return process.returncode, log_text


class FailsTheFirstMessage(RecordingHandler):
    """A relay that answers 451 to its first message (greylisting), then takes them all."""

    async def reply(self, server: SMTP, envelope: Envelope, number: int) -> str:
        if number == 1:
            return "451 4.7.1 Greylisted, try again later"
        return await super().reply(server, envelope, number)


def test_digest_schedule_tries_an_edition_again_when_a_reader_was_not_reached(
    tmp_path: Path, shared: Path, smtp_server: StartServer
) -> None:
    """The slot's send fails for its reader (retries spent); `delivery.retry_minutes`
    later the schedule sends again, and the reader gets the edition once."""
    server = smtp_server(FailsTheFirstMessage())
    more = "[delivery]\nretry_minutes = 0.02\n"
    code, log_text = run_schedule_until_sent(
        tmp_path, shared, server, env={"DIGEST_SMTP__ATTEMPTS": "1"}, extra=more
    )
    assert code == 0, log_text
    assert "1 failed" in log_text and "trying the edition of" in log_text
    assert "1 sent" in log_text
    assert recipients(server) == Counter(["ada@example.org"])


def test_digest_schedule_sends_at_the_hour_and_stops_on_sigterm(
    tmp_path: Path, shared: Path, smtp_server: StartServer
) -> None:
    server = smtp_server(RecordingHandler())
    code, log_text = run_schedule_until_sent(tmp_path, shared, server)
    assert code == 0, log_text
    assert "scheduled daily" in log_text and "collecting before the first send" in log_text
    assert "1 sent" in log_text and "stopping the schedule" in log_text
    assert recipients(server) == Counter(["ada@example.org"])
    # A service's log redirected to a file: each line says when, in UTC.
    stamped = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ (INFO|WARNING|ERROR) digest")
    lines = [line for line in log_text.splitlines() if " digest" in line]
    assert lines and all(stamped.match(line) for line in lines), log_text
