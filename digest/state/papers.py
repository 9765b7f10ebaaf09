"""The papers: every paper seen, each under every identity key, and each sighting of it.

Papers have a surrogate integer key because their canonical id can improve (a paper
first known by its title gets its arXiv id from a later feed); every identity key a
paper was ever seen under maps to it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.engine import Connection

from digest.dedup import merge_papers
from digest.identity import canonical_id, identity_keys, strongest_key
from digest.models import Candidate, Paper, Sighting, StoreResult
from digest.state.db import Database, execute_many
from digest.state.schema import (
    paper_from_row,
    paper_keys,
    paper_row,
    papers,
    read_date,
    sightings,
    timestamp,
)


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass(slots=True)
class _Group:
    """The items of one batch that are one paper, and the row they belong to if it exists."""

    paper: Paper
    keys: dict[str, None]
    sightings: list[Sighting]
    paper_id: int | None = None
    stored: Paper | None = None


class Papers:
    """The papers and sightings of a database."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def save(self, items: Sequence[tuple[Paper, Sighting]], *, now: datetime) -> StoreResult:
        """Store papers with their sightings in one transaction, merging known papers.

        Returns how many distinct papers were new and how many were already stored.
        """
        if not items:
            return StoreResult(new=frozenset(), seen_before=frozenset())
        with self._db.transaction("save papers") as conn:
            return self._save(conn, items, now)

    def _save(
        self, conn: Connection, items: Sequence[tuple[Paper, Sighting]], now: datetime
    ) -> StoreResult:
        groups = _group_by_identity(items)
        self._attach_stored(conn, groups)
        new = [group for group in groups if group.paper_id is None]
        self._insert_papers(conn, new, now)
        self._update_papers(conn, [group for group in groups if group.stored is not None], now)
        key_rows = [
            {"key": key, "paper_id": group.paper_id} for group in groups for key in group.keys
        ]
        execute_many(conn, self._db.insert(paper_keys).on_conflict_do_nothing(), key_rows)
        self._upsert_sightings(conn, groups)
        return StoreResult(
            new=frozenset(group.paper_id for group in new if group.paper_id is not None),
            seen_before=frozenset(
                group.paper_id for group in groups if group.stored is not None and group.paper_id
            ),
        )

    def _attach_stored(self, conn: Connection, groups: list[_Group]) -> None:
        by_key = {key: group for group in groups for key in group.keys}
        found: dict[str, int] = {}
        query = select(paper_keys.c.key, paper_keys.c.paper_id).where(
            paper_keys.c.key.in_(bindparam("chunk", expanding=True))
        )
        for chunk in _chunks(list(by_key), 5000):
            found.update({row.key: row.paper_id for row in conn.execute(query, {"chunk": chunk})})
        for group in groups:
            # Strongest key first: an arXiv id match beats a title match.
            group.paper_id = next((found[key] for key in group.keys if key in found), None)
        ids = sorted({group.paper_id for group in groups if group.paper_id is not None})
        stored: dict[int, Paper] = {}
        for chunk in _chunks(ids, 5000):
            rows = conn.execute(select(papers).where(papers.c.id.in_(chunk)))
            stored.update({row.id: paper_from_row(row) for row in rows})
        for group in groups:
            if group.paper_id is not None:
                group.stored = stored[group.paper_id]

    def _insert_papers(self, conn: Connection, groups: list[_Group], now: datetime) -> None:
        if not groups:
            return
        first_id = self._reserve_paper_ids(conn, len(groups))
        stamp = timestamp(now)
        rows = []
        for offset, group in enumerate(groups):
            group.paper_id = first_id + offset
            row = paper_row(group.paper, strongest_key(group.keys))
            rows.append(row | {"id": group.paper_id, "first_seen": stamp, "updated_at": stamp})
        execute_many(conn, insert(papers), rows)

    def _reserve_paper_ids(self, conn: Connection, count: int) -> int:
        """The first of `count` free paper ids, held until the transaction ends.

        Ids are handed out here rather than read back after the insert: RETURNING
        in order makes SQLAlchemy insert row by row on SQLite, and reading them back
        by canonical id would need an index on a random key, slow to write at scale.
        SQLite's write transactions hold the database lock already (BEGIN IMMEDIATE).
        """
        if self._db.dialect == "postgresql":
            conn.exec_driver_sql("LOCK TABLE papers IN SHARE ROW EXCLUSIVE MODE")
        return (conn.scalar(select(func.max(papers.c.id))) or 0) + 1

    def _update_papers(self, conn: Connection, groups: list[_Group], now: datetime) -> None:
        changed = []
        for group in groups:
            assert group.stored is not None
            merged = merge_papers(group.stored, group.paper)
            if merged != group.stored:
                row = paper_row(merged, canonical_id(merged))
                changed.append(row | {"updated_at": timestamp(now), "row_id": group.paper_id})
        statement = update(papers).where(papers.c.id == bindparam("row_id"))
        execute_many(conn, statement, changed)

    def _upsert_sightings(self, conn: Connection, groups: list[_Group]) -> None:
        timestamps = functools.cache(timestamp)  # a batch's sightings share one or two
        rows = [
            {
                "paper_id": group.paper_id,
                "source": sighting.source,
                "location": sighting.location,
                "listing": listing_day(sighting).isoformat(),
                "listed_on": sighting.listed_on and sighting.listed_on.isoformat(),
                "position": sighting.position,
                "upvotes": sighting.upvotes,
                "announce_type": sighting.announce_type,
                "seen_at": timestamps(sighting.seen_at),
            }
            for group in groups
            for sighting in group.sightings
        ]
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

    def sighting_count(self) -> int:
        with self._db.reading("count sightings") as conn:
            return conn.scalar(select(func.count()).select_from(sightings)) or 0

    def by_canonical_id(self) -> dict[str, Paper]:
        """Every stored paper, keyed by canonical id (for inspection and tests)."""
        with self._db.reading("read papers") as conn:
            rows = conn.execute(select(papers).order_by(papers.c.canonical_id))
            return {row.canonical_id: paper_from_row(row) for row in rows}

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
            first = (until - timedelta(days=days - 1)).isoformat()
            stats = stats.having(func.max(sightings.c.listing) >= first)
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


def _group_by_identity(items: Sequence[tuple[Paper, Sighting]]) -> list[_Group]:
    """Gather the items of one batch that share any identity key into one group."""
    groups: list[_Group] = []
    by_key: dict[str, _Group] = {}
    for paper, sighting in items:
        keys = identity_keys(paper)
        group = next((by_key[key] for key in keys if key in by_key), None)
        if group is None:
            group = _Group(paper=paper, keys=dict.fromkeys(keys), sightings=[sighting])
            groups.append(group)
        else:
            group.paper = merge_papers(group.paper, paper)
            group.keys.update(dict.fromkeys(keys))
            group.sightings.append(sighting)
        for key in keys:
            by_key.setdefault(key, group)
    return groups


def listing_day(sighting: Sighting) -> date:
    """The day a sighting counts for: the listing's own date, else the day it was read."""
    return sighting.listed_on or sighting.seen_at.date()
