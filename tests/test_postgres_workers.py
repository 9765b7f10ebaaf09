"""Many senders on many machines: `digest send` processes sharing one edition on a real
PostgreSQL, each as a host of its own, and one of them killed mid-run."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from digest.state.ledger import SENT
from digest.state.store import Store
from tests.environment import clean_environment
from tests.seeds import INTERESTS
from tests.smtpserver import RecordingHandler, SmtpServer
from tests.test_collect_cli import digest

EDITION = "2026-03-12"  # the listing date of the seed dumps
READERS = [f"reader{number:04d}@example.org" for number in range(1000)]
LEASE_SECONDS = 2.0


def write_config(folder: Path, server: SmtpServer, *, batch: int) -> Path:
    lines = [
        "[digest]",
        'sender = "Paper Digest <digest@example.org>"',
        "[delivery]",
        f"lease_seconds = {LEASE_SECONDS}",
        f"batch_size = {batch}",
        "[smtp]",
        f'host = "{server.host}"',
        f"port = {server.port}",
        'security = "none"',
        "timeout = 10",
    ]
    for number, email in enumerate(READERS):
        interest = INTERESTS[number % len(INTERESTS)]
        lines += ["[[subscribers]]", f'email = "{email}"', f'interests = ["{interest}"]']
    config = folder / "digest.toml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config


def start_sender(folder: Path, url: str, host: str) -> subprocess.Popen[str]:
    environment = clean_environment()
    return subprocess.Popen(
        [sys.executable, "-m", "digest", "send", "--date", EDITION, "--json", "--db", url],
        cwd=folder,
        env=environment | {"DIGEST_WORKER_HOST": host},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def rows_held_by(store: Store, host: str) -> int:
    progress = store.claims.progress(date.fromisoformat(EDITION))
    return sum(held.rows for held in progress.holders if held.worker.startswith(f"{host}:"))


@pytest.mark.slow
@pytest.mark.network
def test_three_hosts_serve_every_subscriber_once_though_one_is_killed(
    tmp_path: Path,
    shared: Path,
    postgres_url: str,
    smtp_server: Callable[..., SmtpServer],
) -> None:
    collected = digest("collect", str(shared / "seeds"), "--db", postgres_url, cwd=tmp_path)
    assert collected.returncode == 0, collected.stderr
    server = smtp_server(RecordingHandler())
    write_config(tmp_path, server, batch=20)
    hosts = ("host-a", "host-b", "host-c")
    senders = [start_sender(tmp_path, postgres_url, host) for host in hosts]
    with Store(postgres_url) as store:
        # Killed while it holds a batch, after the edition is well under way.
        wait_for(lambda: len(server.received) >= 150 and rows_held_by(store, "host-a") > 0)
        senders[0].send_signal(signal.SIGKILL)
        senders[0].communicate(timeout=30)
        orphaned = rows_held_by(store, "host-a")
        reports = [json.loads(sender.communicate(timeout=120)[0]) for sender in senders[1:]]
        statuses = Counter(row.status for row in store.ledger.rows(date.fromisoformat(EDITION)))
    assert orphaned > 0, "the killed sender held claims that its lease had to give up"
    assert [sender.returncode for sender in senders[1:]] == [0, 0]
    assert statuses == {SENT: len(READERS)}
    counts = Counter(rcpt for message in server.received for rcpt in message.rcpt_tos)
    assert set(counts) == set(READERS), "every subscriber served"
    twice = [email for email, count in counts.items() if count > 1]
    assert len(twice) <= 1 and max(counts.values()) <= 2, "at most the message in flight"
    for email in twice:
        ids = {m.parsed()["Message-ID"] for m in server.received if email in m.rcpt_tos}
        assert len(ids) == 1, "sent again as the same message"
    for report in reports:  # the survivors waited for the lease, and finished the edition
        assert report["held"] == [] and report["left"] == [] and report["failed"] == []
        assert sorted(report["sent"] + report["skipped"]) == READERS
