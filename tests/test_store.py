"""The store: one record per paper, every sighting kept, nothing stored twice."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from digest.errors import StoreError
from digest.identity import title_key
from digest.models import HttpValidators, Paper, Sighting
from digest.state.store import Store
from tests.pgserver import database_url

NOW = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    """A new store on each backend: a SQLite file, and a schema of the test PostgreSQL."""
    with Store(database_url(request, tmp_path)) as opened:
        yield opened  # type: ignore[misc]


def seen(location: str, position: int = 1, **fields: object) -> Sighting:
    values: dict[str, object] = {
        "source": location,
        "location": location,
        "position": position,
        "listed_on": None,
        "seen_at": NOW,
    }
    values.update(fields)
    return Sighting(**values)  # type: ignore[arg-type]


DUMPED = Paper(title="Rewrite the Stars", abstract="Short abstract.")
FROM_ARXIV = Paper(
    title="Rewrite the Stars",
    abstract="A longer abstract from the arXiv feed, with more detail.",
    authors=("Xu Ma", "Xiyang Dai"),
    arxiv_id="2403.19967",
    arxiv_version=1,
    categories=("cs.CV",),
    published=datetime(2024, 3, 29, 17, 0, tzinfo=UTC),
)


def test_a_new_paper_is_stored_once_with_its_sighting(store: Store) -> None:
    result = store.papers.save([(DUMPED, seen("dump.txt"))], now=NOW)
    assert (len(result.new), len(result.seen_before)) == (1, 0)
    assert list(store.papers.by_canonical_id()) == [title_key(DUMPED.title)]
    assert store.papers.sightings_of(title_key(DUMPED.title)) == [seen("dump.txt")]


def test_saving_the_same_listing_again_adds_neither_paper_nor_sighting(store: Store) -> None:
    store.papers.save([(DUMPED, seen("dump.txt"))], now=NOW)
    again = store.papers.save([(DUMPED, seen("dump.txt"))], now=NOW)
    assert (len(again.new), len(again.seen_before)) == (0, 1)
    assert (store.papers.count(), store.papers.sighting_count()) == (1, 1)


def test_a_title_only_paper_gets_its_arxiv_id_when_a_feed_brings_it(store: Store) -> None:
    store.papers.save([(DUMPED, seen("dump.txt"))], now=NOW)
    result = store.papers.save([(FROM_ARXIV, seen("arxiv.xml", position=4))], now=NOW)
    assert (len(result.new), len(result.seen_before)) == (0, 1)
    stored = store.papers.by_canonical_id()
    assert list(stored) == ["arxiv:2403.19967"]
    assert stored["arxiv:2403.19967"].abstract == FROM_ARXIV.abstract
    assert stored["arxiv:2403.19967"].authors == FROM_ARXIV.authors
    assert [s.location for s in store.papers.sightings_of("arxiv:2403.19967")] == [
        "arxiv.xml",
        "dump.txt",
    ]


def test_a_later_dump_finds_the_paper_an_arxiv_feed_stored_first(store: Store) -> None:
    store.papers.save([(FROM_ARXIV, seen("arxiv.xml"))], now=NOW)
    store.papers.save([(DUMPED, seen("dump.txt"))], now=NOW)
    stored = store.papers.by_canonical_id()
    assert list(stored) == ["arxiv:2403.19967"]
    assert stored["arxiv:2403.19967"].abstract == FROM_ARXIV.abstract
    assert len(store.papers.sightings_of("arxiv:2403.19967")) == 2


def test_the_same_paper_twice_in_one_batch_is_one_paper(store: Store) -> None:
    v2 = Paper(title="Rewrite the Stars (v2)", arxiv_id="2403.19967", arxiv_version=2)
    result = store.papers.save(
        [(FROM_ARXIV, seen("a.xml")), (v2, seen("b.xml")), (DUMPED, seen("c.txt"))], now=NOW
    )
    assert (len(result.new), len(result.seen_before)) == (1, 0)
    [paper] = store.papers.by_canonical_id().values()
    assert paper.arxiv_version == 2
    assert store.papers.sighting_count() == 3


def test_a_paper_listed_twice_in_one_document_keeps_its_best_place(store: Store) -> None:
    """A feed listing 2403.19967 at places 1, 2 and 3 (as v1, v2, v1): "#1 in a listing",
    not the last place it was seen at."""
    v2 = Paper(title="Rewrite the Stars (v2)", arxiv_id="2403.19967", arxiv_version=2)
    day = date(2026, 11, 21)
    versions = [FROM_ARXIV, v2, FROM_ARXIV]
    store.papers.save(
        [(paper, listed("a.xml", day, place)) for place, paper in enumerate(versions, 1)],
        now=NOW,
    )
    [candidate] = store.papers.candidates(until=day, days=1)
    assert (candidate.best_position, candidate.listings) == (1, 1)


def test_a_listing_on_another_day_is_another_sighting(store: Store) -> None:
    store.papers.save([(DUMPED, seen("dump.txt", listed_on=date(2026, 3, 12)))], now=NOW)
    store.papers.save([(DUMPED, seen("dump.txt", listed_on=date(2026, 3, 13)))], now=NOW)
    assert store.papers.sighting_count() == 2


def test_seeing_a_listing_again_refreshes_its_upvotes(store: Store) -> None:
    store.papers.save([(DUMPED, seen("hf.json", upvotes=3))], now=NOW)
    store.papers.save([(DUMPED, seen("hf.json", upvotes=40))], now=NOW)
    [sighting] = store.papers.sightings_of(title_key(DUMPED.title))
    assert sighting.upvotes == 40


def test_published_dates_come_back_time_zone_aware(store: Store) -> None:
    store.papers.save([(FROM_ARXIV, seen("arxiv.xml"))], now=NOW)
    paper = store.papers.by_canonical_id()["arxiv:2403.19967"]
    assert paper.published == FROM_ARXIV.published
    assert paper.published is not None and paper.published.tzinfo is not None


def test_the_data_survives_reopening_the_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'digest.db'}"
    with Store(url) as first:
        first.papers.save([(FROM_ARXIV, seen("arxiv.xml"))], now=NOW)
    with Store(url) as second:
        assert list(second.papers.by_canonical_id()) == ["arxiv:2403.19967"]


def test_http_validators_are_remembered_per_url(store: Store) -> None:
    assert store.http_cache.validators("https://x/feed") == HttpValidators()
    store.http_cache.remember("https://x/feed", HttpValidators('"v1"', None), now=NOW)
    store.http_cache.remember("https://x/feed", HttpValidators('"v2"', "Sat"), now=NOW)
    assert store.http_cache.validators("https://x/feed") == HttpValidators('"v2"', "Sat")


def test_a_database_that_cannot_be_opened_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"cannot open the database \(unable to open"):
        Store(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'x.db'}")


def listed(location: str, day: date, position: int = 1, **fields: object) -> Sighting:
    return seen(location, position, listed_on=day, **fields)


def test_candidates_are_papers_listed_within_the_window_with_their_signals(store: Store) -> None:
    old = Paper(title="Old news")
    store.papers.save([(old, listed("a.txt", date(2026, 11, 10)))], now=NOW)
    store.papers.save(
        [
            (FROM_ARXIV, listed("a.txt", date(2026, 11, 19), position=5)),
            (FROM_ARXIV, listed("b.xml", date(2026, 11, 20), position=2, upvotes=7)),
            (FROM_ARXIV, listed("b.xml", date(2026, 11, 22), position=1, upvotes=99)),
        ],
        now=NOW,
    )
    [candidate] = store.papers.candidates(until=date(2026, 11, 21), days=2)
    assert candidate.id == "arxiv:2403.19967"
    assert candidate.paper.authors == FROM_ARXIV.authors
    # Signals count sightings up to the edition date only: not the listing of the 22nd.
    assert (candidate.sources, candidate.listings) == (2, 2)
    assert (candidate.best_position, candidate.upvotes) == (2, 7)
    assert candidate.first_seen == datetime(2026, 11, 19, tzinfo=UTC)


def test_without_a_window_every_stored_paper_is_a_candidate(store: Store) -> None:
    store.papers.save([(Paper(title="Old news"), listed("a.txt", date(2026, 1, 1)))], now=NOW)
    store.papers.save([(FROM_ARXIV, listed("b.xml", date(2026, 11, 21)))], now=NOW)
    ids = [
        candidate.id for candidate in store.papers.candidates(until=date(2026, 11, 21), days=None)
    ]
    assert ids == sorted(ids) and len(ids) == 2


def test_delivered_papers_are_remembered_per_subscriber(store: Store) -> None:
    store.papers.save([(FROM_ARXIV, seen("b.xml")), (DUMPED, seen("a.txt"))], now=NOW)
    assert store.ledger.delivered_ids("ada@example.org") == frozenset()
    store.ledger.record_delivery(
        "Ada@Example.org", date(2026, 11, 21), ["arxiv:2403.19967"], now=NOW
    )
    store.ledger.record_delivery(
        "ada@example.org", date(2026, 11, 22), ["arxiv:2403.19967"], now=NOW
    )
    assert store.ledger.delivered_ids("ada@example.org") == {"arxiv:2403.19967"}
    assert store.ledger.delivered_ids("bob@example.org") == frozenset()


def test_any_database_failure_is_a_store_error_naming_the_database_and_the_work(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'digest.db'}"
    with Store(url) as store:
        with sqlite3.connect(tmp_path / "digest.db") as other:
            other.execute("DROP TABLE deliveries")
        with pytest.raises(StoreError, match=r"digest\.db: cannot read the ledger \(no such"):
            store.ledger.rows(date(2026, 11, 21))
        with pytest.raises(StoreError, match=r"cannot claim a ledger row \(no such table"):
            store.ledger.claim("ada@example.org", date(2026, 11, 21), worker="w", now=NOW)
        # What does not touch the broken table still works.
        store.papers.save([(FROM_ARXIV, seen("arxiv.xml"))], now=NOW)
        assert store.papers.count() == 1
