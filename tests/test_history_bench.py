"""bench.history_bench writes its history by direct inserts: the program must read it back
as its own, so that the benchmark stays true to the schema as the schema changes."""

from __future__ import annotations

import zlib
from datetime import date, timedelta
from pathlib import Path

from bench.history_bench import (
    Shape,
    Writer,
    build,
    dump_papers,
    message_id,
    reader,
    write_dump,
)
from digest.collect.dump import parse_dump
from digest.identity import title_key
from digest.mail.envelope import Envelope
from digest.mail.message import message_id as product_message_id
from digest.state.store import Store

SHAPE = Shape(days=3, papers_per_day=5, subscribers=3, per_edition=2, edition=date(2026, 12, 2))
PAGE = ("Your papers of the day", zlib.compress(b"<html><body>ten papers</body></html>", 6))


def test_a_built_history_reads_back_through_the_store(tmp_path: Path, shared: Path) -> None:
    writer = Writer.from_seeds()
    new_keys: set[str] = set()
    dump_papers(writer, 4, new_keys)  # the new day's titles, kept from the history

    built = build(tmp_path / "history.db", SHAPE, writer, [PAGE], taken=new_keys)

    days = SHAPE.history
    readers = [reader(number) for number in range(SHAPE.subscribers)]
    assert days == [date(2026, 11, 29), date(2026, 11, 30), date(2026, 12, 1)]
    assert built.rows["papers"] == 15
    assert built.rows["deliveries"] == 9
    assert built.rows["delivered_papers"] == 18
    with Store(f"sqlite:///{built.path}", create=False) as store:  # the version check too
        assert store.papers.any()
        assert store.papers.count() == 15
        # Each day's candidates are the papers listed that day (Hugging Face's included).
        for day in days:
            found = store.papers.candidates(until=day, days=1)
            assert {candidate.id for candidate in found} == built.listed[day]
        last, before = days[-1], days[-2]
        window = store.papers.candidates(until=last, days=2)
        assert {candidate.id for candidate in window} == built.listed[last] | built.listed[before]
        # What each reader received: the ledger rows' papers, as the delivered table has them.
        received: dict[str, set[str]] = {address: set() for address in readers}
        for day in days:
            rows = store.ledger.rows(day)
            assert [row.subscriber for row in rows] == readers
            for row in rows:
                assert row.status == "sent"
                assert len(row.papers) == SHAPE.per_edition
                assert set(row.papers) <= built.listed[day]
                envelope = Envelope("Paper Digest <digest@example.org>", row.subscriber, None, day)
                assert row.message_id == message_id(row.subscriber, day)
                assert row.message_id == product_message_id(envelope)
                received[row.subscriber].update(row.papers)
        for address in readers:
            assert store.ledger.delivered_ids(address) == received[address]
        listed = store.ledger.delivered_ids_of(readers, listed=(last, 1))
        assert listed == {
            address: frozenset(received[address] & built.listed[last]) for address in readers
        }
        assert store.ledger.delivered_ids_of(readers) == {
            address: frozenset(ids) for address, ids in received.items()
        }
        # The rest of a reader's state: archive, votes, standing.
        copy = store.archive.find(readers[1], last)
        assert copy is not None
        assert copy.html == "<html><body>ten papers</body></html>"
        assert store.archive.find(readers[1], last - timedelta(days=3)) is None
        taste = store.votes.tastes([readers[0]])[readers[0]]
        assert set(taste.likes + taste.dislikes) <= received[readers[0]]
        assert taste.likes + taste.dislikes
        assert store.audience.suppressed() == {readers[0]}
        # No history paper took a title the new day's papers keep.
        for canonical in built.listed[last]:
            paper = store.papers.find(canonical)
            assert paper is not None
            assert title_key(paper.title) not in new_keys


def test_the_new_day_dump_reads_as_its_papers_on_the_edition_day(tmp_path: Path) -> None:
    papers = dump_papers(Writer.from_seeds(), 6, set())

    dump = write_dump(tmp_path / "listing.txt", papers, SHAPE.edition)

    parsed = parse_dump(dump.read_bytes(), today=date(2020, 1, 1))
    assert [(entry.paper.title, entry.paper.abstract) for entry in parsed.entries] == papers
    assert {entry.listed_on for entry in parsed.entries} == {SHAPE.edition}
    assert parsed.warnings == ()
