"""The papers: every paper seen, each under every identity key, and each sighting of it.

Papers have a surrogate integer key because their canonical id can improve (a paper
first known by its title gets its arXiv id from a later feed); every identity key a
paper was ever seen under maps to it. A save reads what is stored under its keys in a
few bulk lookups, merges its sources in memory (`paper_batch`) and writes the outcome in
one statement per table.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.engine import Connection, CursorResult
from sqlalchemy.sql import Select

from digest.identity import identity_keys
from digest.models import Candidate, Paper, Sighting, StoreResult
from digest.state.db import Database, chunks, execute_many
from digest.state.paper_batch import Keyed, PaperBatch
from digest.state.schema import (
    paper_from_row,
    paper_keys,
    paper_row,
    papers,
    read_date,
    sightings,
    timestamp,
)

# Values per `IN (...)` lookup: well under SQLite's 32,766 variables and PostgreSQL's 65,535
# parameters, and large enough that a batch of 20,000 keys takes a handful of queries. A
# power of two, as lookups are padded to one (see `_rows_in`).
LOOKUP_CHUNK = 4096


class Papers:
    """The papers and sightings of a database."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._lookups: dict[tuple[str, int], tuple[str, bool]] = {}

    def save(self, items: Sequence[tuple[Paper, Sighting]], *, now: datetime) -> StoreResult:
        """Store papers with their sightings in one transaction, merging known papers.

        Returns which distinct papers were new and which were already stored.
        """
        [result] = self.save_sources([items], now=now)
        return result

    def save_sources(
        self, sources: Sequence[Sequence[tuple[Paper, Sighting]]], *, now: datetime
    ) -> list[StoreResult]:
        """Store several sources' papers in one transaction: the same records, keys and
        sightings as saving each alone in order, one result per source. All or nothing:
        to keep the others when one fails, save them again one by one."""
        keyed = [
            [(identity_keys(paper), paper, seen) for paper, seen in items] for items in sources
        ]
        if not any(keyed):
            return [StoreResult(new=frozenset(), seen_before=frozenset()) for _ in sources]
        with self._db.transaction("save papers") as conn:
            return self._save(conn, keyed, now)

    def _save(
        self, conn: Connection, sources: list[list[Keyed]], now: datetime
    ) -> list[StoreResult]:
        if self._db.dialect == "postgresql":
            # Paper ids are handed out below from max(id): one writer at a time. SQLite's
            # write transactions hold the database lock already (BEGIN IMMEDIATE).
            conn.exec_driver_sql("LOCK TABLE papers IN SHARE ROW EXCLUSIVE MODE")
        wanted = dict.fromkeys(key for items in sources for keys, _, _ in items for key in keys)
        found = self._paper_ids(conn, list(wanted))
        batch = PaperBatch(
            found,
            self._stored(conn, sorted(set(found.values()))),
            next_id=(conn.scalar(select(func.max(papers.c.id))) or 0) + 1,
        )
        results = [batch.add(items) for items in sources]
        self._write(conn, batch, now)
        return results

    def _paper_ids(self, conn: Connection, keys: list[str]) -> dict[str, int]:
        """The stored paper each of `keys` names, for those stored."""
        query = select(paper_keys.c.key, paper_keys.c.paper_id)
        rows = self._rows_in(conn, "keys", query, paper_keys.c.key, keys)
        return {row.key: row.paper_id for row in rows}

    def _stored(self, conn: Connection, ids: list[int]) -> dict[int, Paper]:
        rows = self._rows_in(conn, "papers", select(papers), papers.c.id, ids)
        return {row.id: paper_from_row(row) for row in rows}

    def _rows_in(
        self, conn: Connection, name: str, query: Select[Any], column: Any, values: list[Any]
    ) -> Iterator[Any]:
        """The rows of `query` where `column` is one of `values`, a chunk per statement.

        Each chunk is padded to a power of two by repeating its last value, and the SQL
        of each size compiled once per process: SQLAlchemy's expanding IN rebuilds the
        statement text per call, and compiling 4,096 parameters costs more than the
        lookup itself.
        """
        for chunk in chunks(values, LOOKUP_CHUNK):
            size = 1 << (len(chunk) - 1).bit_length()
            padded = [*chunk, *[chunk[-1]] * (size - len(chunk))]
            sql, positional = self._lookup_sql(conn, name, query, column, size)
            parameters = tuple(padded) if positional else {f"v{i}": v for i, v in enumerate(padded)}
            result: CursorResult[Any] = conn.exec_driver_sql(sql, parameters)
            yield from result

    def _lookup_sql(
        self, conn: Connection, name: str, query: Select[Any], column: Any, size: int
    ) -> tuple[str, bool]:
        if (name, size) not in self._lookups:
            statement = query.where(column.in_([bindparam(f"v{i}") for i in range(size)]))
            compiled = statement.compile(dialect=conn.dialect)
            self._lookups[name, size] = (compiled.string, compiled.positional)
        return self._lookups[name, size]

    def _write(self, conn: Connection, batch: PaperBatch, now: datetime) -> None:
        stamp = timestamp(now)
        created = [
            paper_row(paper, canonical) | {"id": paper_id, "first_seen": stamp, "updated_at": stamp}
            for paper_id, paper, canonical in batch.created()
        ]
        self._db.insert_new(conn, papers, created)
        changed = [
            paper_row(paper, canonical) | {"updated_at": stamp, "row_id": paper_id}
            for paper_id, paper, canonical in batch.changed()
        ]
        execute_many(conn, update(papers).where(papers.c.id == bindparam("row_id")), changed)
        # Keys no paper held at the lookup: this transaction has held the write lock since.
        self._db.insert_new(conn, paper_keys, batch.new_keys())
        of_new, of_stored = batch.sightings()
        timestamps = functools.cache(timestamp)  # a batch's sightings share one or two
        for row in (*of_new, *of_stored):
            row["seen_at"] = timestamps(row["seen_at"])
        self._db.insert_new(conn, sightings, of_new)
        self._upsert_sightings(conn, of_stored)

    def _upsert_sightings(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        statement = self._db.insert(sightings)
        statement = statement.on_conflict_do_update(
            index_elements=["paper_id", "location", "listing"],
            set_={
                "position": statement.excluded.position,
                "upvotes": func.coalesce(statement.excluded.upvotes, sightings.c.upvotes),
                "seen_at": statement.excluded.seen_at,
            },
        )
        execute_many(conn, statement, rows)

    # -- reading -------------------------------------------------------------------------

    def count(self) -> int:
        with self._db.reading("count papers") as conn:
            return conn.scalar(select(func.count()).select_from(papers)) or 0

    def any(self) -> bool:
        """Whether any paper is stored (without counting them all)."""
        with self._db.reading("look for papers") as conn:
            return conn.scalar(select(papers.c.id).limit(1)) is not None

    def sighting_count(self) -> int:
        with self._db.reading("count sightings") as conn:
            return conn.scalar(select(func.count()).select_from(sightings)) or 0

    def by_canonical_id(self) -> dict[str, Paper]:
        """Every stored paper, keyed by canonical id (for inspection and tests)."""
        with self._db.reading("read papers") as conn:
            rows = conn.execute(select(papers).order_by(papers.c.canonical_id))
            return {row.canonical_id: paper_from_row(row) for row in rows}

    def find(self, key: str) -> Paper | None:
        """The paper known by `key`: its canonical id or any identity key it ever had."""
        return self.find_many([key]).get(key)

    def find_many(self, keys: Sequence[str]) -> dict[str, Paper]:
        """The stored papers `keys` name (canonical ids or any identity key), by key; keys
        that name none are left out. Two bulk lookups, whatever the number of keys."""
        if not keys:  # most send batches: nobody in it voted on an older paper
            return {}
        with self._db.reading("find papers") as conn:
            ids = self._paper_ids(conn, sorted(set(keys)))
            stored = self._stored(conn, sorted(set(ids.values())))
        return {key: stored[paper_id] for key, paper_id in ids.items()}

    def sightings_of(self, key: str) -> list[Sighting]:
        """Every sighting of the paper known by `key`: its canonical id or any identity key."""
        query = (
            select(sightings)
            .join(paper_keys, paper_keys.c.paper_id == sightings.c.paper_id)
            .where(paper_keys.c.key == key)
            .order_by(sightings.c.listing, sightings.c.location)
        )
        with self._db.reading("read sightings") as conn:
            return [
                Sighting(
                    source=row.source,
                    location=row.location,
                    position=row.position,
                    listed_on=read_date(row.listed_on),
                    seen_at=datetime.fromisoformat(row.seen_at),
                    upvotes=row.upvotes,
                    announce_type=row.announce_type,
                )
                for row in conn.execute(query)
            ]

    # -- editions ------------------------------------------------------------------------

    def candidates(self, *, until: date, days: int | None) -> list[Candidate]:
        """The papers up for the edition of `until`, with their trending signals.

        A candidate was listed within the `days` days ending on `until` (every stored
        paper when `days` is None); its signals count its sightings up to `until`.
        """
        last = until.isoformat()
        stats = (
            select(
                sightings.c.paper_id,
                func.count(sightings.c.source.distinct()).label("sources"),
                func.count().label("listings"),
                func.min(sightings.c.position).label("best_position"),
                func.max(sightings.c.upvotes).label("upvotes"),
                func.min(sightings.c.listing).label("first_listing"),
            )
            .where(sightings.c.listing <= last)
            .group_by(sightings.c.paper_id)
        )
        if days is not None:
            # Only the papers listed in the window (by `sightings_by_listing`): their
            # latest listing up to `until` is then in it, as the edition asks.
            stats = stats.where(sightings.c.paper_id.in_(listed_between(until, days)))
        signals = stats.subquery()
        query = (
            select(papers, signals)
            .join(signals, signals.c.paper_id == papers.c.id)
            .order_by(papers.c.canonical_id)
        )
        with self._db.reading("read the candidates") as conn:
            return [
                Candidate(
                    id=row.canonical_id,
                    paper=paper_from_row(row),
                    sources=row.sources,
                    listings=row.listings,
                    best_position=row.best_position,
                    upvotes=row.upvotes,
                    first_seen=datetime.combine(date.fromisoformat(row.first_listing), time(), UTC),
                )
                for row in conn.execute(query)
            ]


def listed_between(until: date, days: int) -> Select[Any]:
    """The ids of the papers with a sighting in the `days` days ending on `until`."""
    first = (until - timedelta(days=days - 1)).isoformat()
    return select(sightings.c.paper_id).where(
        sightings.c.listing >= first, sightings.c.listing <= until.isoformat()
    )
