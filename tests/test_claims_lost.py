"""A sender that lost its claims sends nothing more, and claims stay cheap at scale.

A worker paused past its lease (a suspended VM, SIGSTOP, a long GC pause) finds on waking
that another worker took its rows over: each message is confirmed against the ledger
right before it goes out, so the paused worker sends none of them, and each subscriber
still gets the edition once. Rows of readers who left since an earlier run opened them
are closed, not left pending for ever.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from digest.collect.locate import SourceSpec
from digest.config import Settings
from digest.mail.message import WireMessage
from digest.mail.render import Renderer
from digest.mail.transport import Delivered, SmtpTransport
from digest.pipeline.collect import collect
from digest.pipeline.delivery import SendReport
from digest.pipeline.send import send_editions
from digest.state.ledger import EMPTY, PENDING, SENDING, SENT
from digest.state.store import Store
from digest.subscribers import all_subscribers
from tests.pgserver import database_url
from tests.smtpserver import RecordingHandler, SmtpServer

EDITION = date(2026, 3, 12)
NOW = datetime(2026, 3, 12, 7, 0, tzinfo=UTC)
LEASE = timedelta(minutes=15)
READERS = [f"reader{number}@example.org" for number in range(6)]


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    with Store(database_url(request, tmp_path)) as opened:
        yield opened


Newsroom = tuple[SmtpServer, Settings, Store]


@pytest.fixture
def newsroom(
    tmp_path: Path, shared: Path, smtp_server: Callable[..., SmtpServer]
) -> Iterator[Newsroom]:
    """A recording SMTP server, a config of READERS sending to it, and a SQLite database
    of the collected seed dumps."""
    server = smtp_server(RecordingHandler())
    settings = settings_for(server.port)
    with Store(f"sqlite:///{tmp_path / 'digest.db'}") as store:
        seeds = SourceSpec("seeds", str(shared / "seeds"))
        collect([seeds], store, settings=settings.collect, now=NOW)
        yield server, settings, store


def settings_for(port: int) -> Settings:
    return Settings.model_validate(
        {
            "digest": {"sender": "Paper Digest <digest@example.org>"},
            "smtp": {"host": "127.0.0.1", "port": port, "security": "none", "timeout": 5},
            "delivery": {"batch_size": 25},
            "subscribers": [{"email": email} for email in READERS],
        }
    )


def test_a_claim_taken_over_is_no_longer_confirmed(store: Store) -> None:
    store.ledger.open_edition(EDITION, READERS, now=NOW)
    mine = store.claims.claim_batch(
        EDITION, worker="a:1:1", wanted=READERS, after="", limit=10, now=NOW, lease=LEASE
    )
    assert mine.claimed == tuple(READERS)
    assert store.claims.confirm(EDITION, READERS[0], worker="a:1:1", now=NOW)
    later = NOW + 2 * LEASE  # a:1:1 sat paused past its lease; b takes its rows over
    theirs = store.claims.claim_batch(
        EDITION, worker="b:1:1", wanted=READERS, after="", limit=10, now=later, lease=LEASE
    )
    assert theirs.claimed == tuple(READERS)
    assert not store.claims.confirm(EDITION, READERS[0], worker="a:1:1", now=later)
    assert store.claims.confirm(EDITION, READERS[0], worker="b:1:1", now=later)


def send(settings: Settings, store: Store, transport: Any) -> SendReport:
    """One run of the edition for every configured reader, at NOW."""
    return send_editions(
        settings,
        store,
        Renderer.load(),
        transport,
        subscribers=all_subscribers(settings),
        now=lambda: NOW,
        edition=EDITION,
        sleep=lambda _seconds: None,
    )


class TakenOverAfterFirst:
    """A transport whose first message is followed by another worker taking every claim
    left: what the sender sees when it wakes from a pause longer than its lease."""

    def __init__(self, inner: SmtpTransport, store: Store) -> None:
        self.inner, self.store, self.sent = inner, store, 0

    def send(self, message: WireMessage) -> Delivered:
        delivered = self.inner.send(message)
        self.sent += 1
        if self.sent == 1:
            self.store.claims.claim_batch(
                EDITION,
                worker="other-host:1:1",
                wanted=READERS,
                after="",
                limit=100,
                now=NOW + 2 * LEASE,
                lease=LEASE,
            )
        return delivered

    def close(self) -> None:
        self.inner.close()


def test_a_sender_that_lost_its_claims_sends_none_of_them(newsroom: Newsroom) -> None:
    server, settings, store = newsroom
    with SmtpTransport(settings.smtp) as inner:
        report = send(settings, store, TakenOverAfterFirst(inner, store))
    rows = {row.subscriber: row.status for row in store.ledger.rows(EDITION)}
    assert report.sent == READERS[:1]
    assert report.held == READERS[1:]  # the other worker's now: it sends them
    assert len(server.received) == 1
    assert rows == {READERS[0]: SENT} | dict.fromkeys(READERS[1:], SENDING)


def test_rows_of_readers_who_left_since_are_closed_not_left_pending(newsroom: Newsroom) -> None:
    server, settings, store = newsroom
    store.ledger.open_edition(EDITION, READERS, now=NOW)  # an earlier run, stopped early
    store.audience.unsubscribe(READERS[0], how="one-click", now=NOW)
    with SmtpTransport(settings.smtp) as transport:
        report = send(settings, store, transport)
    rows = {row.subscriber: row for row in store.ledger.rows(EDITION)}
    left = store.claims.unfinished(EDITION)
    assert report.suppressed == READERS[:1] and sorted(report.sent) == READERS[1:]
    assert (rows[READERS[0]].status, rows[READERS[0]].reply) == (EMPTY, "unsubscribed or bounced")
    assert left == frozenset() and PENDING not in {row.status for row in rows.values()}
    assert [list(message.rcpt_tos) for message in server.received].count([READERS[0]]) == 0


def test_a_batch_claim_walks_the_edition_in_order_without_sorting_it(tmp_path: Path) -> None:
    # With only an (edition, status) index, each claim read and sorted the whole edition:
    # 100 ms a claim at 100,000 readers, 4,000 claims an edition, under the write lock.
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_rest: Any) -> None:
        if statement.lstrip().startswith("SELECT") and "LIMIT" in statement:
            seen.append((statement, parameters))

    with Store(f"sqlite:///{tmp_path / 'digest.db'}") as store:
        store.ledger.open_edition(EDITION, READERS, now=NOW)
        event.listen(Engine, "before_cursor_execute", record)
        try:
            store.claims.claim_batch(
                EDITION, worker="a:1:1", wanted=READERS, after="", limit=2, now=NOW, lease=LEASE
            )
        finally:
            event.remove(Engine, "before_cursor_execute", record)
        [(statement, parameters)] = seen
        with store.db.reading("explain the claim") as conn:
            rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            plan = " | ".join(str(row[-1]) for row in rows)
    assert "deliveries_in_order" in plan, plan
    assert "TEMP B-TREE" not in plan, plan
