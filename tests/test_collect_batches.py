"""Several sources stored in one transaction: the same papers, keys and sightings as storing
each alone in order, and a source the database refuses still fails alone."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from digest.collect.locate import SourceSpec
from digest.config import CollectSettings
from digest.errors import StoreError
from digest.models import CollectReport, Paper, Sighting
from digest.pipeline import collect as pipeline
from digest.state import papers as papers_module
from digest.state.schema import paper_keys, papers, sightings
from digest.state.store import Store
from tests.test_collect_cli import database_refusing_sources

NOW = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
NewDatabase = Callable[[], str]
_schemas = count(1)


@pytest.fixture(params=["sqlite", "postgresql"])
def new_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[NewDatabase]:
    """Makes new empty databases on one backend: SQLite files, or schemas of the test
    PostgreSQL cluster (dropped at the end)."""
    made: list[str] = []
    if request.param == "sqlite":
        yield lambda: f"sqlite:///{tmp_path / f'{next(_schemas)}.db'}"
        return
    server = request.getfixturevalue("postgres_server")

    def new_schema() -> str:
        schema = f"batches_{os.getpid()}_{next(_schemas)}"
        server.execute(f"CREATE SCHEMA {schema}")
        made.append(schema)
        return str(server.url(options=f"-csearch_path%3D{schema}"))

    yield new_schema
    for schema in made:
        server.execute(f"DROP SCHEMA {schema} CASCADE")


def stored_rows(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the papers, their keys and their sightings, in primary-key order."""
    with store.db.reading("read every row") as conn:
        return {
            table.name: [
                tuple(row) for row in conn.execute(select(table).order_by(*table.primary_key))
            ]
            for table in (papers, paper_keys, sightings)
        }


def seen(location: str, position: int, *, day: int = 12, upvotes: int | None = None) -> Sighting:
    return Sighting(
        source=location,
        location=location,
        position=position,
        listed_on=date(2026, 3, day),
        seen_at=NOW,
        upvotes=upvotes,
    )


STARS = "Rewrite the Stars"
TITLE_ONLY = Paper(title=STARS, abstract="Short.")
FROM_ARXIV = Paper(
    title="Rewrite the stars",
    abstract="A longer abstract from the arXiv feed, with more detail.",
    authors=("Xu Ma", "Xiyang Dai"),
    arxiv_id="2403.19967",
    arxiv_version=1,
    categories=("cs.CV",),
    published=datetime(2024, 3, 29, 13, 0, tzinfo=timezone(timedelta(hours=-4))),
)
DOI_ONLY = Paper(title="A paper known by its DOI", doi="10.1000/xyz")

# Each a source, in order; each a way the same paper meets itself across sources.
SOURCES: list[list[tuple[Paper, Sighting]]] = [
    [(TITLE_ONLY, seen("dump.txt", 1)), (DOI_ONLY, seen("dump.txt", 2))],
    # The title-only paper gets its arXiv id and richer fields.
    [(FROM_ARXIV, seen("arxiv.xml", 1))],
    # A later version, listed with upvotes; and the same listing twice in one source.
    [
        (
            Paper(title=f"{STARS} (v2)", arxiv_id="2403.19967", arxiv_version=2),
            seen("hf", 3, upvotes=5),
        ),
        (Paper(title="Something else entirely"), seen("hf", 4)),
        (Paper(title="Something else entirely"), seen("hf", 2, upvotes=9)),
    ],
    # The same listing again: a new position, and upvotes kept when it has none.
    [(Paper(title=STARS), seen("hf", 1)), (Paper(title="Something else entirely"), seen("hf", 7))],
    # Two items sharing no key that both meet one stored paper (by arXiv id, by title):
    # each merges into the paper as it was before this source, the later write winning.
    [
        (Paper(title="An unrelated title", arxiv_id="2403.19967", doi="10.1/a"), seen("x", 1)),
        (
            Paper(
                title=STARS,
                abstract="The longest abstract of them all: longer than any other source gave.",
            ),
            seen("x", 2),
        ),
    ],
    # A DOI paper gains an arXiv id and another day's listing.
    [
        (
            Paper(title="Its DOI title", doi="10.1000/xyz", arxiv_id="2501.00001"),
            seen("y", 1, day=13),
        )
    ],
    [(TITLE_ONLY, seen("dump.txt", 1)), (DOI_ONLY, seen("dump.txt", 2))],
]


def test_sources_saved_in_one_batch_store_what_saving_each_alone_stores(
    new_database: NewDatabase,
) -> None:
    with Store(new_database()) as alone, Store(new_database()) as batched:
        one_by_one = [alone.papers.save(items, now=NOW) for items in SOURCES]
        at_once = batched.papers.save_sources(SOURCES, now=NOW)
        assert at_once == one_by_one
        assert stored_rows(batched) == stored_rows(alone)
        assert stored_rows(batched)["papers"][0][1] == "arxiv:2403.19967"  # not a trivial case


def test_a_batch_after_stored_papers_merges_into_them_as_each_source_alone_would(
    new_database: NewDatabase,
) -> None:
    with Store(new_database()) as alone, Store(new_database()) as batched:
        for store in (alone, batched):
            store.papers.save(SOURCES[0], now=NOW)
        one_by_one = [alone.papers.save(items, now=NOW) for items in SOURCES[1:]]
        assert batched.papers.save_sources(SOURCES[1:], now=NOW) == one_by_one
        assert stored_rows(batched) == stored_rows(alone)


def test_lookups_of_more_keys_than_one_statement_takes_are_split(
    new_database: NewDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(papers_module, "LOOKUP_CHUNK", 4)
    listed = [(Paper(title=f"Paper number {n}"), seen("dump.txt", n)) for n in range(1, 12)]
    with Store(new_database()) as store:
        first = store.papers.save(listed, now=NOW)
        again = store.papers.save(listed, now=NOW)
        assert (len(first.new), len(first.seen_before)) == (11, 0)
        assert (again.new, again.seen_before) == (frozenset(), first.new)
        assert (store.papers.count(), store.papers.sighting_count()) == (11, 11)


def shared_files(shared: Path) -> list[Path]:
    files = [*sorted((shared / "seeds").glob("*.txt")), *sorted((shared / "feeds").glob("*.*"))]
    return [path for path in files if path.suffix != ".md"]


def collect_files(store: Store, paths: list[Path]) -> CollectReport:
    specs = [SourceSpec(name=path.name, location=str(path)) for path in paths]
    return pipeline.collect(specs, store, settings=CollectSettings(), now=NOW)


def batching(monkeypatch: pytest.MonkeyPatch, *, papers: int) -> None:
    """Store a batch once `papers` piled up (1: each source alone), however long it takes."""
    monkeypatch.setattr(pipeline, "BATCH_PAPERS", papers)
    monkeypatch.setattr(pipeline, "BATCH_SECONDS", float("inf"))


def test_collecting_files_in_one_batch_equals_collecting_them_one_by_one(
    new_database: NewDatabase, shared: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = shared_files(shared)
    with Store(new_database()) as alone, Store(new_database()) as batched:
        batching(monkeypatch, papers=1)
        reports_alone = [collect_files(alone, files) for _ in range(2)]  # the second: seen
        batching(monkeypatch, papers=10**9)
        reports_batched = [collect_files(batched, files) for _ in range(2)]
        assert reports_batched == reports_alone
        assert (reports_alone[0].new, reports_alone[1].seen_before) == (418, 418)
        assert stored_rows(batched) == stored_rows(alone)


def test_a_source_the_database_refuses_in_a_batch_fails_alone_and_the_rest_are_kept(
    tmp_path: Path, shared: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = shared_files(shared)
    refused = tmp_path / "refused.txt"
    refused.write_bytes(files[0].read_bytes())
    with Store(f"sqlite:///{tmp_path / 'reference.db'}") as reference:
        collect_files(reference, files)
    url = database_refusing_sources(tmp_path / "refusing.db")
    batching(monkeypatch, papers=10**9)
    with Store(url) as store:
        report = collect_files(store, [*files[:3], refused, *files[3:]])
        assert [source.location for source in report.sources if source.errors] == [str(refused)]
        assert report.sources[3].errors == (
            f"{url}: cannot save papers (database or disk is full)",
        )
        assert stored_rows(store) == stored_rows(reference)


def test_a_batch_postgresql_refuses_stores_nothing_and_says_why(postgres_url: str) -> None:
    # New papers go in by COPY there: its errors read as any other statement's.
    too_long = Paper(title="A DOI longer than its column", doi="10.1000/" + "x" * 300)
    with Store(postgres_url) as store:
        with pytest.raises(StoreError, match=r"cannot save papers \(value too long for type"):
            store.papers.save_sources([SOURCES[0], [(too_long, seen("z.xml", 1))]], now=NOW)
        assert (store.papers.count(), store.papers.sighting_count()) == (0, 0)
        store.papers.save_sources([SOURCES[0]], now=NOW)
        assert (store.papers.count(), store.papers.sighting_count()) == (2, 2)
