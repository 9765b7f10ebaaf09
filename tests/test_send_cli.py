"""`digest send` end to end against a real SMTP server: each edition exactly once."""

from __future__ import annotations

import json
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from digest.state.ledger import SENT
from digest.state.store import Store
from tests.environment import clean_environment
from tests.seeds import INTERESTS
from tests.smtpserver import (
    DropConnectionHandler,
    RecordingHandler,
    RejectRecipientHandler,
    RejectSenderHandler,
    SlowHandler,
    SmtpServer,
    TemporaryFailureHandler,
    TlsFiles,
    parse_message,
)
from tests.test_collect_cli import digest

EDITION = "2026-03-12"  # the listing date of the seed dumps
StartServer = Callable[..., SmtpServer]


def subscribers(count: int) -> list[str]:
    return [f"reader{number:02d}@example.org" for number in range(count)]


def sender_lines(server: SmtpServer, **smtp: Any) -> list[str]:
    """The config's [digest] and [smtp] tables for sending through `server` (`smtp`: other
    settings, or these overridden)."""
    settings = {
        "host": server.host,
        "port": server.port,
        "security": server.security,
        "timeout": 5,
        "retry_delay": 0.05,
    }
    settings.update(smtp)
    return [
        "[digest]",
        'sender = "Paper Digest <digest@example.org>"',
        "[smtp]",
        *(f"{key} = {json.dumps(value)}" for key, value in settings.items()),
    ]


def write_config(folder: Path, server: SmtpServer, count: int, **smtp: Any) -> None:
    lines = sender_lines(server, **smtp)
    for number, email in enumerate(subscribers(count)):
        interest = INTERESTS[number % len(INTERESTS)]
        lines += ["[[subscribers]]", f'email = "{email}"', f'interests = ["{interest}"]']
    (folder / "digest.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="session")
def seeds_database(tmp_path_factory: pytest.TempPathFactory, shared: Path) -> Path:
    """A database of the collected seed dumps, collected once by `digest collect`."""
    folder = tmp_path_factory.mktemp("seeds-database")
    result = digest("collect", str(shared / "seeds"), cwd=folder)
    assert result.returncode == 0, result.stderr
    assert not (folder / "digest.db-wal").exists(), "the last connection checkpointed it"
    return folder / "digest.db"


@pytest.fixture
def newsroom(tmp_path: Path, seeds_database: Path) -> Path:
    """A folder of its own with a copy of the seeds database: each test sends from it."""
    shutil.copyfile(seeds_database, tmp_path / "digest.db")
    return tmp_path


def send(folder: Path, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    result = digest("send", "--date", EDITION, "--json", *args, cwd=folder, env=env)
    assert "Traceback" not in result.stderr, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    report["exit"] = result.returncode
    return report


def recipients(server: SmtpServer) -> Counter[str]:
    return Counter(rcpt for message in server.received for rcpt in message.rcpt_tos)


def ledger_statuses(folder: Path) -> dict[str, str]:
    from datetime import date

    with Store(f"sqlite:///{folder / 'digest.db'}") as store:
        rows = store.ledger.rows(date.fromisoformat(EDITION))
    return {row.subscriber: row.status for row in rows}


def test_an_edition_reaches_every_subscriber_once(newsroom: Path, smtp_server: StartServer) -> None:
    server = smtp_server(RecordingHandler())
    write_config(newsroom, server, 4)
    report = send(newsroom)
    assert (report["exit"], sorted(report["sent"])) == (0, subscribers(4))
    assert server.connections == 1, "one connection carries the whole run"
    for received in server.received:
        message = parse_message(received.content)
        [to] = received.rcpt_tos
        assert message["To"] == to and message["From"] == "Paper Digest <digest@example.org>"
        assert message.get_content_type() == "multipart/alternative"
        assert message["Subject"].startswith("Paper Digest, 12 Mar: ")
        assert message["List-Unsubscribe"]
        assert max(len(line) for line in received.content.split(b"\r\n")) <= 998
    assert set(ledger_statuses(newsroom).values()) == {SENT}

    again = send(newsroom)
    assert (again["exit"], again["sent"], sorted(again["skipped"])) == (0, [], subscribers(4))
    assert len(server.received) == 4


def test_papers_sent_are_never_sent_again(newsroom: Path, smtp_server: StartServer) -> None:
    server = smtp_server(RecordingHandler())
    write_config(newsroom, server, 1)
    assert send(newsroom)["exit"] == 0
    titles = server.received[0].parsed().get_body(("plain",))
    assert titles is not None
    first = titles.get_content()
    report = send(newsroom, env={})
    assert (report["exit"], report["skipped"]) == (0, subscribers(1))
    picks = digest(
        "rank", "--subscriber", subscribers(1)[0], "--date", EDITION, "--json", cwd=newsroom
    )
    assert picks.returncode == 0, picks.stderr
    sent_first = json.loads(picks.stdout)["papers"]
    assert all(paper["title"][:40] not in first for paper in sent_first[:3])


def test_a_send_forgets_every_readers_online_copies_past_the_days_kept(
    newsroom: Path, smtp_server: StartServer
) -> None:
    """A reader who left gets no newer copy to push theirs out: each send that records
    forgets every copy older than `archive_days` (30), whoever it mails. A dry run
    changes nothing."""
    server = smtp_server(RecordingHandler())
    write_config(newsroom, server, 1)
    now = datetime.now(UTC)
    today = now.date()
    gone = "gone@example.org"  # in no config: no newer copy will push theirs out
    editions = [today - timedelta(days=40), today - timedelta(days=10)]
    with Store(f"sqlite:///{newsroom / 'digest.db'}") as store:
        for edition in editions:
            store.archive.keep(gone, edition, subject="Papers", html="<p>old</p>", now=now)

    def copies() -> list[date]:
        with Store(f"sqlite:///{newsroom / 'digest.db'}") as store:
            return [day for day in editions if store.archive.find(gone, day) is not None]

    assert send(newsroom, "--dry-run")["exit"] == 0
    assert copies() == editions, "a dry run records nothing, forgets nothing"
    assert send(newsroom)["exit"] == 0
    assert copies() == [today - timedelta(days=10)]


def test_temporary_failures_are_retried(newsroom: Path, smtp_server: StartServer) -> None:
    server = smtp_server(TemporaryFailureHandler(every=2))
    write_config(newsroom, server, 3, attempts=3)
    report = send(newsroom)
    assert (report["exit"], sorted(report["sent"]), report["failed"]) == (0, subscribers(3), [])
    assert recipients(server) == Counter(subscribers(3))


def test_a_permanent_failure_marks_one_subscriber_and_the_run_goes_on(
    newsroom: Path, smtp_server: StartServer
) -> None:
    rejected = subscribers(3)[1]
    server = smtp_server(RejectRecipientHandler(rejected))
    write_config(newsroom, server, 3)
    report = send(newsroom)
    assert report["exit"] == 1
    [failure] = report["failed"]
    assert failure["subscriber"] == rejected and "550" in failure["reason"]
    assert sorted(report["sent"]) == [subscribers(3)[0], subscribers(3)[2]]


def test_with_json_each_failure_is_still_one_line_on_stderr(
    newsroom: Path, smtp_server: StartServer
) -> None:
    # A cron job logs stderr: with --json it said nothing there, and exited 1.
    rejected = subscribers(2)[1]
    server = smtp_server(RejectRecipientHandler(rejected, reply="550 5.7.1 <{}>: Relay denied"))
    write_config(newsroom, server, 2)
    result = digest("send", "--date", EDITION, "--json", cwd=newsroom)
    assert result.returncode == 1
    assert json.loads(result.stdout)["failed"][0]["subscriber"] == rejected
    assert result.stderr.startswith(f"failed: {rejected}: 550 5.7.1")
    assert len(result.stderr.splitlines()) == 1


def test_a_mailbox_that_does_not_exist_is_a_hard_bounce_and_is_not_mailed_again(
    newsroom: Path, smtp_server: StartServer
) -> None:
    """550 5.1.1 at RCPT is what a bounce notification would say later: the address is
    suppressed at once, as `digest bounces` would."""
    gone = subscribers(3)[1]
    server = smtp_server(RejectRecipientHandler(gone))
    write_config(newsroom, server, 3)
    report = send(newsroom)
    [failure] = report["failed"]
    assert failure["subscriber"] == gone
    assert failure["reason"].endswith("(after 1 attempt); not mailed again (a hard bounce)")
    result = digest("subscribers", "list", "--json", cwd=newsroom)
    rows = {row["email"]: row for row in json.loads(result.stdout)["subscribers"]}
    assert (rows[gone]["status"], rows[gone]["mailed"]) == ("bounced", False)
    assert send(newsroom)["suppressed"] == [gone]


def test_a_refusal_for_another_cause_is_tried_again_on_the_next_run(
    newsroom: Path, smtp_server: StartServer
) -> None:
    """5.7.1 (policy: relaying, spam) says nothing of the mailbox: the edition fails alone
    and the address stays subscribed."""
    refused = subscribers(3)[1]
    server = smtp_server(RejectRecipientHandler(refused, reply="550 5.7.1 <{}>: Relay denied"))
    write_config(newsroom, server, 3)
    [failure] = send(newsroom)["failed"]
    assert failure["subscriber"] == refused and "hard bounce" not in failure["reason"]
    again = send(newsroom)
    assert ([failure["subscriber"] for failure in again["failed"]], again["suppressed"]) == (
        [refused],
        [],
    )


def test_refused_recipients_in_a_row_never_stop_the_others_mail(
    newsroom: Path, smtp_server: StartServer
) -> None:
    """Greylisting or full mailboxes for three readers in a row: the server answered each
    time, and takes the next reader's message. Only failures of the server itself (no
    connection, no answer) stop a run early."""
    full = subscribers(6)[1:4]
    server = smtp_server(RejectRecipientHandler(*full, reply="452 4.2.2 <{}>: Mailbox full"))
    write_config(newsroom, server, 6, attempts=2)
    report = send(newsroom)
    assert sorted(failure["subscriber"] for failure in report["failed"]) == full
    assert sorted(report["sent"]) == [subscribers(6)[0], *subscribers(6)[4:]]
    assert (report["left"], report["error"]) == ([], None)


def test_a_server_that_refuses_the_sender_stops_the_run_and_gives_every_claim_back(
    newsroom: Path, smtp_server: StartServer
) -> None:
    """A 5xx to MAIL FROM is about the list, not a reader: every message would meet it."""
    server = smtp_server(RejectSenderHandler())
    write_config(newsroom, server, 3)
    report = send(newsroom)
    assert (report["exit"], report["sent"], report["failed"]) == (1, [], [])
    assert "refused the sender digest@example.org: 553 5.7.1" in report["error"]
    assert sorted(report["left"]) == subscribers(3)
    assert set(ledger_statuses(newsroom).values()) == {"pending"}


def test_an_empty_edition_is_sent_by_a_later_run_once_there_is_something_to_send(
    newsroom: Path, smtp_server: StartServer
) -> None:
    """Nothing went out for an empty edition: when a later collect brings a paper for the
    reader (a feed that was down at the morning's collect), the next run sends it, and
    says so, rather than counting the reader as sent already."""
    server = smtp_server(RecordingHandler())
    lines = sender_lines(server)
    lines += ["[[subscribers]]", 'email = "ada@example.org"']
    lines += ['interests = ["quantum error correction"]']
    (newsroom / "digest.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    first = send(newsroom)
    assert ([row["subscriber"] for row in first["empty"]], first["sent"]) == (
        ["ada@example.org"],
        [],
    )
    (newsroom / "late").mkdir()
    late = newsroom / "late" / "dump.txt"
    late.write_text(
        "new\n\nSubscribe\n\nMar 12\n\nQuantum Error Correction with Surface Codes\n\n"
        "We study quantum error correction with surface codes, and propose decoders for "
        "them that run in real time on the syndrome data of superconducting qubits, with "
        "extensive experiments on simulated and measured noise.\n",
        encoding="utf-8",
    )
    assert digest("collect", str(late), cwd=newsroom).returncode == 0
    second = send(newsroom)
    assert (second["sent"], second["skipped"], second["empty"]) == (["ada@example.org"], [], [])
    assert recipients(server) == Counter(["ada@example.org"])
    assert send(newsroom)["skipped"] == ["ada@example.org"]


def test_a_message_the_database_will_not_record_stops_the_run_and_the_report_says_so(
    newsroom: Path, smtp_server: StartServer
) -> None:
    """The server took the message, then the database refused to record it (a full disk,
    a lock held for minutes), after trying again: the next message would go unrecorded
    too, so the run stops, with its report naming the message a later run may repeat."""
    server = smtp_server(RecordingHandler())
    write_config(newsroom, server, 3)
    with sqlite3.connect(newsroom / "digest.db") as connection:
        connection.execute(
            "CREATE TRIGGER refuse_sent BEFORE UPDATE ON deliveries WHEN NEW.status = 'sent'"
            " BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
        )
    report = send(newsroom)
    assert (report["exit"], report["sent"]) == (1, [subscribers(3)[0]])
    assert report["error"].startswith(f"{subscribers(3)[0]}: sent (<")
    assert "but not recorded, so a later run may send it again" in report["error"]
    assert sorted(report["left"]) == subscribers(3)[1:]
    assert recipients(server) == Counter(subscribers(3)[:1])


def test_temporary_failures_that_persist_fail_after_the_last_attempt(
    newsroom: Path, smtp_server: StartServer
) -> None:
    server = smtp_server(TemporaryFailureHandler(recipients=(subscribers(2)[0],)))
    write_config(newsroom, server, 2, attempts=2)
    report = send(newsroom)
    [failure] = report["failed"]
    assert report["exit"] == 1
    assert "451" in failure["reason"] and "after 2 attempts" in failure["reason"]
    # A re-run tries the failed subscriber again, and only them.
    again = send(newsroom)
    assert again["exit"] == 1
    assert again["failed"] and again["skipped"] == [subscribers(2)[1]]


def test_a_connection_dropped_once_the_message_is_whole_is_unconfirmed_and_never_resent(
    newsroom: Path, smtp_server: StartServer
) -> None:
    # The server may have queued it: sent again, it could arrive twice.
    handler = DropConnectionHandler("DATA", times=1)
    server = smtp_server(handler)
    write_config(newsroom, server, 2)
    report = send(newsroom)
    assert report["exit"] == 1, "someone should look"
    [doubtful] = report["unconfirmed"]
    assert doubtful["reason"].endswith("so the server may have taken it (after 1 attempt)")
    assert report["sent"] == [
        subscriber for subscriber in subscribers(2) if subscriber != doubtful["subscriber"]
    ]
    again = send(newsroom)
    assert (again["exit"], again["sent"], again["unconfirmed"]) == (0, [], [])
    assert handler.data_count == 2
    status = digest("status", "--json", cwd=newsroom)
    assert json.loads(status.stdout)["unconfirmed"] == 1


def test_starttls_and_auth_with_a_self_signed_certificate(
    newsroom: Path, smtp_server: StartServer, tls_files: TlsFiles
) -> None:
    server = smtp_server(security="starttls", tls=tls_files, users={"digest": "s3cret"})
    write_config(newsroom, server, 2, username="digest", ca_file=str(tls_files.cert))
    report = send(newsroom, env={"DIGEST_SMTP__PASSWORD": "s3cret"})
    assert (report["exit"], len(report["sent"])) == (0, 2)
    assert all(message.tls and message.login == "digest" for message in server.received)


def test_a_server_that_cannot_be_used_stops_the_run_and_gives_every_claim_back(
    newsroom: Path, smtp_server: StartServer
) -> None:
    """A server without STARTTLS, asked for it: nothing can go out. The run says why
    (in its report too), exits 1, and leaves no claim behind, not even the edition it
    was sending: another host's send (which cannot tell that the first process is gone)
    sends them all at once, instead of waiting out a lease."""
    server = smtp_server(RecordingHandler())
    write_config(newsroom, server, 3, security="starttls")
    report = send(newsroom)
    assert report["exit"] == 1 and report["sent"] == []
    assert "does not offer STARTTLS" in report["error"]
    assert sorted(report["left"]) == subscribers(3)
    assert set(ledger_statuses(newsroom).values()) == {"pending"}
    write_config(newsroom, server, 3)
    again = send(newsroom, env={"DIGEST_WORKER_HOST": "another-host"})
    assert (again["exit"], sorted(again["sent"]), again["error"]) == (0, subscribers(3), None)


def test_an_empty_edition_says_why_it_is_empty(newsroom: Path, smtp_server: StartServer) -> None:
    """No paper listed in the edition's days, no paper on the reader's interests: two
    different reasons, in the report and in the ledger."""
    server = smtp_server(RecordingHandler())
    lines = sender_lines(server)
    lines += [
        "[[subscribers]]",
        'email = "far@example.org"',
        'interests = ["quantum chromodynamics"]',
    ]
    (newsroom / "digest.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    off_topic = send(newsroom)
    assert off_topic["empty"] == [
        {"subscriber": "far@example.org", "reason": "no paper matched the interests and filters"}
    ]
    later = digest("send", "--date", "2026-03-20", "--json", cwd=newsroom)
    assert json.loads(later.stdout)["empty"] == [
        {
            "subscriber": "far@example.org",
            "reason": "no paper was listed in the 2 days up to 2026-03-20",
        }
    ]
    assert server.received == []


def test_outbox_and_dry_run_record_nothing(newsroom: Path, smtp_server: StartServer) -> None:
    server = smtp_server(RecordingHandler())
    write_config(newsroom, server, 3)
    outbox = send(newsroom, "--outbox", "outbox")
    assert (outbox["exit"], len(outbox["written"]), outbox["sent"]) == (0, 3, [])
    files = sorted((newsroom / "outbox").glob("*.eml"))
    assert len(files) == 3
    assert all(b"\r\n" in path.read_bytes() for path in files)
    dry = send(newsroom, "--dry-run")
    assert (dry["exit"], len(dry["built"]), dry["sent"]) == (0, 3, [])
    assert server.received == [] and ledger_statuses(newsroom) == {}
    real = send(newsroom)
    assert (real["exit"], len(real["sent"])) == (0, 3)


def start_send(folder: Path) -> subprocess.Popen[str]:
    environment = clean_environment()
    return subprocess.Popen(
        [sys.executable, "-m", "digest", "send", "--date", EDITION, "--json"],
        cwd=folder,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def test_after_a_sigkill_a_rerun_delivers_the_rest(
    newsroom: Path, smtp_server: StartServer
) -> None:
    server = smtp_server(SlowHandler(0.15))
    write_config(newsroom, server, 12)
    process = start_send(newsroom)
    wait_for(lambda: len(server.received) >= 4)
    process.kill()
    process.communicate(timeout=30)
    report = send(newsroom)
    assert report["exit"] == 0
    counts = recipients(server)
    assert set(counts) == set(subscribers(12))
    twice = [email for email, count in counts.items() if count > 1]
    assert len(twice) <= 1, counts
    for email in twice:  # the one in flight: the same message again
        ids = {m.parsed()["Message-ID"] for m in server.received if email in m.rcpt_tos}
        assert len(ids) == 1
    assert set(ledger_statuses(newsroom).values()) == {SENT}


def test_sigterm_finishes_the_message_in_flight_and_stops(
    newsroom: Path, smtp_server: StartServer
) -> None:
    server = smtp_server(SlowHandler(0.15))
    write_config(newsroom, server, 12)
    process = start_send(newsroom)
    wait_for(lambda: len(server.received) >= 3)
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=30)
    first = json.loads(stdout)
    assert process.returncode == 0, "stopping on request is no failure"
    assert first["left"], "it stopped before the end"
    assert "Traceback" not in stderr
    assert len(server.received) == len(first["sent"]), "what was sent is what was recorded"
    rest = send(newsroom)
    assert rest["exit"] == 0
    assert sorted(rest["sent"]) == sorted(first["left"])
    assert recipients(server) == Counter(subscribers(12))


def test_two_senders_at_once_never_send_a_message_twice(
    newsroom: Path, smtp_server: StartServer
) -> None:
    server = smtp_server(SlowHandler(0.05))
    write_config(newsroom, server, 12)
    processes = [start_send(newsroom) for _ in range(2)]
    reports = [json.loads(process.communicate(timeout=120)[0]) for process in processes]
    assert [process.returncode for process in processes] == [0, 0]
    for report in reports:  # what one did not send, the other held or had sent already
        assert sorted(report["sent"] + report["held"] + report["skipped"]) == subscribers(12)
    assert recipients(server) == Counter(subscribers(12))
    sent = [email for report in reports for email in report["sent"]]
    assert sorted(sent) == subscribers(12)


def test_a_server_that_stays_unreachable_stops_the_run_early(
    newsroom: Path, smtp_server: StartServer
) -> None:
    server = smtp_server(RecordingHandler())
    write_config(newsroom, server, 6, attempts=2)
    server.stop()  # nothing listens on its port any more: every connection is refused
    report = send(newsroom)
    assert report["exit"] == 1 and report["sent"] == []
    assert len(report["failed"]) == 3, "three in a row, then the run stops"
    assert all("cannot connect" in failure["reason"] for failure in report["failed"])
    assert sorted(report["left"]) == subscribers(6)[3:]
    assert report["error"].startswith("the server failed 3 subscribers in a row, the last: ")


def weekly_dump(folder: Path, day: str, title: str) -> None:
    """A listing dump of one graph-neural-network paper listed on `day` ("Mar 6")."""
    abstract = (
        "We study graph neural networks and propose a message passing method that performs "
        "well on many node classification benchmarks, with extensive experiments."
    )
    text = f"new\n\nSubscribe\n\n{day}\n\n{title}\n\n{abstract}\n"
    (folder / f"dump {day}.txt").write_text(text, encoding="utf-8")


def test_a_weekly_reader_gets_the_edition_of_their_day_alone_and_the_whole_week_in_it(
    tmp_path: Path, smtp_server: StartServer
) -> None:
    """`digest send` from cron runs every day: a daily reader gets each edition, a weekly
    one only the edition of their weekday (not a ledger row on the others), and theirs
    ranks the papers of the week since the last one, not the last two days."""
    server = smtp_server(RecordingHandler())
    weekly_dump(tmp_path, "Mar 6", "Graph Neural Networks Listed Last Friday")
    weekly_dump(tmp_path, "Mar 12", "Graph Neural Networks Listed This Thursday")
    readers = {"daily@example.org": None, "thursday@example.org": "thu", "fri@example.org": "fri"}
    lines = [*sender_lines(server), "[[sources]]", 'name = "dumps"', 'location = "dump *.txt"']
    for email, weekday in readers.items():
        lines += ["[[subscribers]]", f'email = "{email}"', 'interests = ["graph neural networks"]']
        lines += [f'frequency = "weekly"\nweekday = "{weekday}"'] if weekday else []
    (tmp_path / "digest.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    collected = digest("collect", cwd=tmp_path)
    assert collected.returncode == 0, collected.stderr
    preview = digest(
        "rank", "--subscriber", "thursday@example.org", "--date", EDITION, "--json", cwd=tmp_path
    )
    assert len(json.loads(preview.stdout)["papers"]) == 2, "a preview ranks what the send does"

    report = send(tmp_path)  # 2026-03-12, a Thursday

    assert report["exit"] == 0
    assert sorted(report["sent"]) == ["daily@example.org", "thursday@example.org"]
    assert report["not_due"] == ["fri@example.org"]
    assert set(ledger_statuses(tmp_path)) == {"daily@example.org", "thursday@example.org"}
    bodies = {}
    for received in server.received:
        body = received.parsed().get_body(("plain",))
        assert body is not None
        bodies[received.rcpt_tos[0]] = body.get_content()
    assert "Listed This Thursday" in bodies["daily@example.org"]
    assert "Listed Last Friday" not in bodies["daily@example.org"], "two days of candidates"
    assert "Listed Last Friday" in bodies["thursday@example.org"], "the week since the last"
    assert "Listed This Thursday" in bodies["thursday@example.org"]
