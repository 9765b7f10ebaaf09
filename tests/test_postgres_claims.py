"""Batch claims and their leases: every subscriber of an edition to exactly one worker at a
time, on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
import sqlalchemy

from digest.errors import StoreError
from digest.state.claims import Claims, Heartbeat, claimed_batches
from digest.state.ledger import EMPTY, FAILED, PENDING, SENDING, SENT
from digest.state.store import Store
from digest.state.workers import this_worker
from tests.pgserver import database_url

NOW = datetime(2026, 11, 21, 7, 0, tzinfo=UTC)
EDITION = date(2026, 11, 21)
LEASE = timedelta(minutes=2)
READERS = [f"reader{number:03d}@example.org" for number in range(12)]
ALL = frozenset(READERS)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    with Store(database_url(request, tmp_path)) as opened:
        opened.ledger.open_edition(EDITION, READERS, now=NOW)
        yield opened  # type: ignore[misc]


def claim(
    claims: Claims,
    worker: str,
    *,
    after: str = "",
    limit: int = 5,
    now: datetime = NOW,
    wanted: frozenset[str] = ALL,
    empty_before: datetime | None = None,
) -> tuple[str, ...]:
    batch = claims.claim_batch(
        EDITION,
        worker=worker,
        wanted=wanted,
        after=after,
        limit=limit,
        now=now,
        lease=LEASE,
        empty_before=empty_before,
    )
    return batch.claimed


def statuses(store: Store) -> Counter[str]:
    return Counter(row.status for row in store.ledger.rows(EDITION))


def test_a_batch_takes_the_next_rows_after_the_cursor_in_subscriber_order(store: Store) -> None:
    first = store.claims.claim_batch(
        EDITION, worker="a:1:1", wanted=ALL, after="", limit=5, now=NOW, lease=LEASE
    )
    assert first.claimed == tuple(READERS[:5]) and first.last == READERS[4]
    second = store.claims.claim_batch(
        EDITION, worker="a:1:1", wanted=ALL, after=first.last, limit=5, now=NOW, lease=LEASE
    )
    assert second.claimed == tuple(READERS[5:10])
    last = store.claims.claim_batch(
        EDITION, worker="a:1:1", wanted=ALL, after=READERS[9], limit=5, now=NOW, lease=LEASE
    )
    assert last.claimed == tuple(READERS[10:]) and last.last is None, "the end of the edition"
    assert statuses(store) == {SENDING: 12}


def test_held_and_unwanted_rows_are_not_claimed(store: Store) -> None:
    assert claim(store.claims, "a:1:1", limit=3) == tuple(READERS[:3])
    only = frozenset(READERS[1:5])
    assert claim(store.claims, "b:1:1", limit=12, wanted=only) == tuple(READERS[3:5])


def test_sent_rows_are_never_claimed_and_failed_and_empty_ones_are(store: Store) -> None:
    ledger = store.ledger
    for reader in READERS[:3]:
        ledger.claim(reader, EDITION, worker="a:1:1", now=NOW)
    ledger.mark_sent(
        READERS[0], EDITION, message_id="<m@x>", reply="250", attempts=1, papers=[], now=NOW
    )
    ledger.mark_empty(READERS[1], EDITION, reason="nothing", now=NOW)
    ledger.mark_failed(READERS[2], EDITION, reply="451", attempts=3, now=NOW)
    assert claim(store.claims, "b:1:1", limit=2) == (READERS[1], READERS[2])


def test_a_row_another_sender_of_the_run_found_empty_is_not_ranked_again(store: Store) -> None:
    # Two senders of one run: what the first found empty, the second would rank again and
    # report as its own. A run started after it takes it again (a late collect).
    started = NOW
    ledger = store.ledger
    ledger.claim(READERS[0], EDITION, worker="a:1:1", now=NOW)
    ledger.mark_empty(READERS[0], EDITION, reason="nothing", now=NOW + timedelta(seconds=5))
    first = frozenset(READERS[:1])
    during = NOW + timedelta(seconds=6)
    assert claim(store.claims, "b:1:1", now=during, wanted=first, empty_before=started) == ()
    later = NOW + timedelta(hours=1)
    assert claim(store.claims, "c:1:1", now=later, wanted=first, empty_before=later) == (
        READERS[0],
    )


def test_a_sender_that_lost_its_claim_never_undoes_the_others_delivery(store: Store) -> None:
    ledger = store.ledger
    ledger.claim(READERS[0], EDITION, worker="a:1:1", now=NOW)
    # a:1:1 retries past its lease; b:1:1 takes the row over and delivers it.
    later = NOW + LEASE + timedelta(seconds=1)
    assert ledger.claim(READERS[0], EDITION, worker="b:1:1", now=later, lease=LEASE) == "claimed"
    ledger.mark_sent(
        READERS[0], EDITION, message_id="<m@x>", reply="250", attempts=1, papers=[], now=later
    )
    ledger.mark_failed(READERS[0], EDITION, reply="451", attempts=3, now=later)
    ledger.mark_empty(READERS[0], EDITION, reason="left", now=later)
    [row] = [row for row in ledger.rows(EDITION) if row.subscriber == READERS[0]]
    assert (row.status, row.reply) == (SENT, "250")
    assert claim(store.claims, "c:1:1", wanted=frozenset(READERS[:1])) == ()


def test_a_lease_not_renewed_lapses_and_any_worker_takes_the_claim_over(store: Store) -> None:
    claims = store.claims
    assert claim(claims, "far.example:1:1", limit=2) == tuple(READERS[:2])
    within = NOW + LEASE - timedelta(seconds=1)
    assert claim(claims, "near:1:1", limit=2, now=within) == tuple(READERS[2:4])
    assert claims.renew("near:1:1", now=within) == 2
    after = NOW + LEASE + timedelta(seconds=1)
    # The far worker's lease lapsed; the near one's was renewed and holds.
    assert claim(claims, "other:1:1", limit=4, now=after) == (*READERS[:2], *READERS[4:6])


def test_released_claims_are_pending_again_for_anyone(store: Store) -> None:
    taken = claim(store.claims, "a:1:1", limit=4)
    store.claims.release(EDITION, taken[2:], worker="a:1:1", now=NOW)
    store.claims.release(EDITION, taken[:2], worker="someone-else:1:1", now=NOW)
    assert statuses(store) == {SENDING: 2, PENDING: 10}
    assert claim(store.claims, "b:1:1", limit=2) == taken[2:]


def test_progress_counts_the_edition_and_names_the_holders(store: Store) -> None:
    claim(store.claims, "a:1:1", limit=3)
    claim(store.claims, "b:2:2", limit=2, now=NOW + timedelta(seconds=30))
    store.ledger.mark_failed(READERS[0], EDITION, reply="550", attempts=1, now=NOW)
    progress = store.claims.progress(EDITION)
    assert progress.counts == {PENDING: 7, SENDING: 4, FAILED: 1}
    assert progress.total == 12
    assert [(held.worker, held.rows) for held in progress.holders] == [("a:1:1", 2), ("b:2:2", 2)]
    assert progress.holders[1].expires(LEASE) == NOW + timedelta(seconds=30) + LEASE
    assert store.claims.latest_edition() == EDITION


def test_claimed_batches_wait_for_a_lapsed_lease_and_serve_everyone_once(store: Store) -> None:
    """A worker that dies holding claims: the others finish the edition after its lease."""
    held = claim(store.claims, "dead.example:1:1", limit=3)
    clock = [NOW]
    batches = claimed_batches(
        store.claims,
        EDITION,
        worker="alive:1:1",
        wanted=ALL,
        size=4,
        lease=LEASE,
        now=lambda: clock[0],
        sleep=lambda seconds: clock.__setitem__(0, clock[0] + timedelta(seconds=seconds)),
        should_stop=lambda: False,
    )
    served = []
    for batch in batches:
        served.extend(batch)
        for reader in batch:  # sent at once: only the dead worker's claims stay open
            store.ledger.mark_empty(reader, EDITION, reason="test", now=clock[0])
    assert sorted(served) == READERS and Counter(served).most_common(1)[0][1] == 1
    assert served[-3:] == list(held), "taken over last, once the lease lapsed"
    assert clock[0] > NOW + LEASE
    assert statuses(store) == {EMPTY: 12}


def test_workers_claiming_together_never_share_a_row(store: Store) -> None:
    claimed: list[str] = []
    lock = threading.Lock()

    def work(worker: str) -> None:
        batches = claimed_batches(
            store.claims,
            EDITION,
            worker=worker,
            wanted=ALL,
            size=2,
            lease=LEASE,
            now=lambda: datetime.now(UTC),
            sleep=lambda _seconds: None,
            should_stop=lambda: False,
        )
        for batch in batches:
            with lock:
                claimed.extend(batch)
            for reader in batch:
                store.ledger.mark_sent(
                    reader, EDITION, message_id="<m>", reply="250", attempts=1, papers=[],
                    now=datetime.now(UTC),
                )  # fmt: skip

    threads = [threading.Thread(target=work, args=(f"w{n}:1:1",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(claimed) == READERS
    assert statuses(store) == {SENT: 12}


def test_a_heartbeat_renews_the_leases_of_its_worker(store: Store) -> None:
    claim(store.claims, "a:1:1", limit=2)
    later = NOW + LEASE * 10
    with Heartbeat(store.claims, "a:1:1", every=0.01, now=lambda: later).running():
        deadline = datetime.now(UTC) + timedelta(seconds=10)
        while store.claims.progress(EDITION).holders[0].renewed_at != later:
            assert datetime.now(UTC) < deadline, "no renewal"
    assert claim(store.claims, "b:1:1", limit=2, now=later + LEASE / 2) == tuple(READERS[2:4])


def test_a_row_another_transaction_is_claiming_is_skipped_not_waited_for(
    postgres_url: str,
) -> None:
    """SKIP LOCKED: a worker never queues behind another's claim transaction."""
    with Store(postgres_url) as store:
        store.ledger.open_edition(EDITION, READERS, now=NOW)
        conninfo = postgres_url.replace("postgresql+psycopg", "postgresql")
        with psycopg.connect(conninfo) as other:
            other.execute(
                "SELECT subscriber FROM deliveries WHERE subscriber <= %s FOR UPDATE",
                (READERS[2],),
            )
            assert claim(store.claims, "b:1:1", limit=3) == tuple(READERS[3:6])


def test_a_value_too_long_for_its_column_is_a_one_line_store_error(postgres_url: str) -> None:
    with Store(postgres_url) as store, pytest.raises(StoreError) as raised:
        store.ledger.open_edition(EDITION, ["x" * 400 + "@example.org"], now=NOW)
    message = str(raised.value)
    assert "\n" not in message and "***" not in message
    assert message.startswith("postgresql+psycopg://digest@127.0.0.1:")
    assert "cannot open the edition in the ledger (value too long" in message


def test_an_index_added_since_a_database_was_made_is_made_when_it_opens(store: Store) -> None:
    url = store.db.url  # no password to hide in the test databases: the URL as given
    with store.db.transaction("drop the index") as conn:
        conn.exec_driver_sql("DROP INDEX deliveries_by_edition")
    store.close()
    with Store(url):
        engine = sqlalchemy.create_engine(url)
        indexes = sqlalchemy.inspect(engine).get_indexes("deliveries")
        engine.dispose()
    assert "deliveries_by_edition" in {index["name"] for index in indexes}


def test_claims_a_worker_left_in_an_earlier_run_are_its_own_again(store: Store) -> None:
    """The schedule runs many sends in one process: a run that failed mid-batch leaves
    claims under the same worker name, which its heartbeat would renew for ever."""
    me = this_worker()
    assert claim(store.claims, me, limit=2) == tuple(READERS[:2])
    assert claim(store.claims, "other:1:1", limit=2) == ()
    assert claim(store.claims, me, limit=2) == tuple(READERS[:2])
