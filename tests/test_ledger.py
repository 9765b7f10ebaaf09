"""The ledger: each (subscriber, edition) is claimed by one sender and sent once."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from digest.models import Paper, Sighting
from digest.state.ledger import (
    CLAIMED,
    DONE,
    EMPTY,
    FAILED,
    HELD,
    PENDING,
    SENDING,
    SENT,
    Ledger,
)
from digest.state.store import Store
from digest.state.workers import is_dead, this_worker
from tests.pgserver import database_url

NOW = datetime(2026, 11, 21, 7, 0, tzinfo=UTC)
EDITION = date(2026, 11, 21)
ADA, BOB, CAROL = "ada@example.org", "bob@example.org", "carol@example.org"


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    """A new store on each backend: a SQLite file, and a schema of the test PostgreSQL."""
    with Store(database_url(request, tmp_path)) as opened:
        yield opened  # type: ignore[misc]


@pytest.fixture
def ledger(store: Store) -> Ledger:
    ledger = store.ledger
    ledger.open_edition(EDITION, [ADA, BOB], now=NOW)
    return ledger


def statuses(ledger: Ledger) -> dict[str, str]:
    return {row.subscriber: row.status for row in ledger.rows(EDITION)}


def test_an_edition_opens_with_a_pending_row_per_subscriber(ledger: Ledger) -> None:
    assert statuses(ledger) == {ADA: PENDING, BOB: PENDING}
    ledger.open_edition(EDITION, [ADA, "Carol@example.org"], now=NOW)
    assert statuses(ledger) == {ADA: PENDING, BOB: PENDING, "carol@example.org": PENDING}


def test_a_claimed_row_cannot_be_claimed_again_by_a_live_worker(ledger: Ledger) -> None:
    assert ledger.claim(ADA, EDITION, worker=this_worker(), now=NOW) == CLAIMED
    assert ledger.claim(ADA, EDITION, worker="another:1:1", now=NOW) == HELD
    assert statuses(ledger)[ADA] == SENDING


def test_a_sent_row_stays_sent_and_records_its_papers(store: Store, ledger: Ledger) -> None:
    paper = Paper(title="A Study", arxiv_id="2603.01234")
    sighting = Sighting(source="x", location="x", position=1, listed_on=EDITION, seen_at=NOW)
    store.papers.save([(paper, sighting)], now=NOW)
    assert ledger.claim(ADA, EDITION, worker=this_worker(), now=NOW) == CLAIMED
    ledger.mark_sent(
        ADA,
        EDITION,
        message_id="<m@x>",
        reply="250 OK",
        attempts=1,
        papers=["arxiv:2603.01234"],
        now=NOW,
    )
    [row] = [row for row in ledger.rows(EDITION) if row.subscriber == ADA]
    assert (row.status, row.message_id, row.papers) == (SENT, "<m@x>", ("arxiv:2603.01234",))
    assert ledger.claim(ADA, EDITION, worker=this_worker(), now=NOW) != CLAIMED
    assert store.ledger.delivered_ids(ADA) == {"arxiv:2603.01234"}


def test_failed_and_empty_rows_are_claimed_again_and_sent_ones_are_not(ledger: Ledger) -> None:
    """Nothing went out for a failed or an empty edition: a later run may send it (papers
    may have been collected since the empty one); a sent one is done."""
    ledger.open_edition(EDITION, [CAROL], now=NOW)
    for subscriber in (ADA, BOB, CAROL):
        assert ledger.claim(subscriber, EDITION, worker=this_worker(), now=NOW) == CLAIMED
    ledger.mark_failed(ADA, EDITION, reply="451 try later", attempts=3, now=NOW)
    ledger.mark_empty(BOB, EDITION, reason="nothing matched", now=NOW)
    ledger.mark_sent(
        CAROL, EDITION, message_id="<m@x>", reply="250", attempts=1, papers=[], now=NOW
    )
    assert statuses(ledger) == {ADA: FAILED, BOB: EMPTY, CAROL: SENT}
    assert ledger.claim(ADA, EDITION, worker=this_worker(), now=NOW) == CLAIMED
    assert ledger.claim(BOB, EDITION, worker=this_worker(), now=NOW) == CLAIMED
    assert ledger.claim(CAROL, EDITION, worker=this_worker(), now=NOW) == DONE


def dead_worker() -> str:
    """The name of a process that ran on this host and has exited."""
    code = "from digest.state.workers import this_worker; print(this_worker())"
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_a_claim_left_by_a_dead_process_is_taken_over(ledger: Ledger) -> None:
    gone = dead_worker()
    assert is_dead(gone) and not is_dead(this_worker())
    assert ledger.claim(ADA, EDITION, worker=gone, now=NOW) == CLAIMED
    assert ledger.claim(ADA, EDITION, worker=this_worker(), now=NOW) == CLAIMED


def test_a_worker_of_another_host_is_never_declared_dead() -> None:
    assert not is_dead("elsewhere.example.org:1:1")


def test_unknown_rows_are_not_claimed(ledger: Ledger) -> None:
    assert ledger.claim("nobody@example.org", EDITION, worker=this_worker(), now=NOW) == DONE


def test_a_claim_of_another_host_is_taken_over_once_its_lease_runs_out(ledger: Ledger) -> None:
    """A container restarted elsewhere never releases its claim: the lease does."""
    lease = timedelta(minutes=15)
    other_host = "elsewhere.example.org:1:1"
    assert ledger.claim(ADA, EDITION, worker=other_host, now=NOW, lease=lease) == CLAIMED
    soon = NOW + timedelta(minutes=14)
    assert ledger.claim(ADA, EDITION, worker=this_worker(), now=soon, lease=lease) == HELD
    later = NOW + timedelta(minutes=16)
    assert ledger.claim(ADA, EDITION, worker=this_worker(), now=later, lease=lease) == CLAIMED
    assert ledger.claim(ADA, EDITION, worker=other_host, now=later, lease=lease) == HELD
    assert statuses(ledger)[ADA] == SENDING


def test_the_papers_delivered_to_a_batch_are_read_at_once(store: Store) -> None:
    papers = [Paper(title="A Study", arxiv_id="2603.01234"), Paper(title="Another Study")]
    sighting = Sighting(source="x", location="x", position=1, listed_on=EDITION, seen_at=NOW)
    store.papers.save([(paper, sighting) for paper in papers], now=NOW)
    store.ledger.record_delivery(ADA, EDITION, ["arxiv:2603.01234"], now=NOW)
    store.ledger.record_delivery("Bob@Example.org", EDITION, ["arxiv:2603.01234"], now=NOW)
    carol = "carol@example.org"
    found = store.ledger.delivered_ids_of(["Ada@Example.org", BOB, carol])
    assert found == {
        "Ada@Example.org": {"arxiv:2603.01234"},
        BOB: {"arxiv:2603.01234"},
        carol: frozenset(),
    }
    assert found[BOB] == store.ledger.delivered_ids(BOB)


def test_a_batch_reads_only_what_it_received_among_the_editions_candidates(store: Store) -> None:
    """A year of deliveries is thousands of papers per reader, and ranking can only pick
    the edition's candidates: with the edition's window, only those are read. A paper
    received long ago and listed again today is one of them, and stays out of the picks."""
    old = Paper(title="Received a year ago, listed again today", arxiv_id="2511.00001")
    gone = Paper(title="Received a year ago, never listed since", arxiv_id="2511.00002")
    fresh = Paper(title="Received yesterday", arxiv_id="2611.00003")
    year_ago = EDITION - timedelta(days=365)

    def listing(day: date) -> Sighting:
        return Sighting(source="x", location="x", position=1, listed_on=day, seen_at=NOW)

    store.papers.save([(old, listing(year_ago)), (gone, listing(year_ago))], now=NOW)
    store.papers.save([(fresh, listing(EDITION - timedelta(days=1)))], now=NOW)
    store.papers.save([(old, listing(EDITION))], now=NOW)
    store.ledger.record_delivery(ADA, year_ago, ["arxiv:2511.00001", "arxiv:2511.00002"], now=NOW)
    store.ledger.record_delivery(ADA, EDITION - timedelta(days=1), ["arxiv:2611.00003"], now=NOW)

    window = store.ledger.delivered_ids_of([ADA, BOB], listed=(EDITION, 2))
    assert window == {ADA: {"arxiv:2511.00001", "arxiv:2611.00003"}, BOB: frozenset()}
    candidates = {c.id for c in store.papers.candidates(until=EDITION, days=2)}
    assert store.ledger.delivered_ids(ADA) & candidates == window[ADA]
    everything = store.ledger.delivered_ids_of([ADA], listed=(EDITION, None))
    assert everything[ADA] == store.ledger.delivered_ids(ADA) == window[ADA] | {"arxiv:2511.00002"}
