"""One write batch of papers: several sources merged in memory, in order, exactly as if
each were saved alone, then written to the database at once.

Saving each source alone is the reference. A later source finds the papers and keys an
earlier one created; a source finds its papers by the state before it (so two of its
groups that meet one stored paper both merge into that state, the later write winning);
a listing seen twice is one sighting refreshed by the later (a paper one document lists
twice keeps its best place in it). Batching so changes how
often the database is written, never what it holds. No SQL here: `Papers.save_sources`
reads what the database holds under the batch's keys and writes the rows this ends with.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any, TypeVar

from digest.dedup import merge_papers
from digest.identity import canonical_id, strongest_key
from digest.models import Paper, Sighting, StoreResult

# One item of a source: its paper's identity keys (strongest first), the paper, where seen.
Keyed = tuple[tuple[str, ...], Paper, Sighting]
_T = TypeVar("_T")


@dataclass(slots=True)
class _Group:
    """The items of one source that are one paper (they share an identity key)."""

    paper: Paper
    keys: dict[str, None]
    sightings: list[Sighting]


@dataclass(slots=True)
class _Record:
    """A paper as the batch leaves it, with what the database must be told about it."""

    paper: Paper
    canonical: str = ""
    new: bool = False
    changed: bool = False


class PaperBatch:
    """Sources added in order to what the database held when the batch began."""

    def __init__(self, keys: dict[str, int], stored: dict[int, Paper], next_id: int) -> None:
        # Every key of the batch that maps to a paper, in the database or by an earlier source.
        self._keys = keys
        self._records = {paper_id: _Record(paper) for paper_id, paper in stored.items()}
        self._next_id = next_id
        self._new_keys: dict[str, int] = {}
        self._sightings: dict[tuple[int, str, str], dict[str, Any]] = {}

    def add(self, items: Sequence[Keyed]) -> StoreResult:
        """Merge one source's items in; which papers were new and which known before it."""
        new: list[int] = []
        seen: list[int] = []
        merged: list[tuple[int, Paper]] = []
        placed: list[tuple[int, _Group]] = []
        for group in group_by_identity(items):
            paper_id = _first_found(self._keys, group.keys)
            if paper_id is None:
                paper_id = self._create(group)
                new.append(paper_id)
            else:
                # Against the state before this source, as its own transaction reads it.
                stored = self._records[paper_id].paper
                paper = merge_papers(stored, group.paper)
                if paper != stored:
                    merged.append((paper_id, paper))
                seen.append(paper_id)
            placed.append((paper_id, group))
        for paper_id, paper in merged:
            self._update(paper_id, paper)
        for paper_id, group in placed:
            self._remember(paper_id, group)
        return StoreResult(new=frozenset(new), seen_before=frozenset(seen))

    def _create(self, group: _Group) -> int:
        paper_id, self._next_id = self._next_id, self._next_id + 1
        self._records[paper_id] = _Record(
            group.paper, strongest_key(group.keys), new=True, changed=True
        )
        return paper_id

    def _update(self, paper_id: int, merged: Paper) -> None:
        record = self._records[paper_id]
        record.paper, record.canonical, record.changed = merged, canonical_id(merged), True

    def _remember(self, paper_id: int, group: _Group) -> None:
        """The group's keys (a key another paper holds stays that paper's) and sightings."""
        for key in group.keys:
            if key not in self._keys:
                self._keys[key] = self._new_keys[key] = paper_id
        for sighting in _best_places(group.sightings):
            listing = listing_day(sighting).isoformat()
            row = self._sightings.get((paper_id, sighting.location, listing))
            if row is None:
                self._sightings[paper_id, sighting.location, listing] = {
                    "paper_id": paper_id,
                    "source": sighting.source,
                    "location": sighting.location,
                    "listing": listing,
                    "listed_on": sighting.listed_on and sighting.listed_on.isoformat(),
                    "position": sighting.position,
                    "upvotes": sighting.upvotes,
                    "announce_type": sighting.announce_type,
                    "seen_at": sighting.seen_at,
                }
            else:  # the same listing again: what the stored sighting's upsert does
                row["position"], row["seen_at"] = sighting.position, sighting.seen_at
                if sighting.upvotes is not None:
                    row["upvotes"] = sighting.upvotes

    # -- what to write -------------------------------------------------------------------

    def created(self) -> list[tuple[int, Paper, str]]:
        """The new papers: id, record and canonical id."""
        return [(id_, rec.paper, rec.canonical) for id_, rec in self._records.items() if rec.new]

    def changed(self) -> list[tuple[int, Paper, str]]:
        """The stored papers a source enriched: id, merged record and canonical id."""
        return [
            (paper_id, record.paper, record.canonical)
            for paper_id, record in self._records.items()
            if record.changed and not record.new
        ]

    def new_keys(self) -> list[dict[str, Any]]:
        return [
            {"key": key, "paper_id": paper_id} for key, paper_id in sorted(self._new_keys.items())
        ]

    def sightings(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """One row per paper per listing, those of new papers (no stored row can share
        their key) apart from the others; `seen_at` is still a datetime."""
        of_new: list[dict[str, Any]] = []
        of_stored: list[dict[str, Any]] = []
        for (paper_id, _, _), row in self._sightings.items():
            (of_new if self._records[paper_id].new else of_stored).append(row)
        return of_new, of_stored


def group_by_identity(items: Sequence[Keyed]) -> list[_Group]:
    """Gather the items of one source that share any identity key into one group."""
    groups: list[_Group] = []
    by_key: dict[str, _Group] = {}
    for keys, paper, sighting in items:
        group = _first_found(by_key, keys)
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


def _first_found(found: dict[str, _T], keys: Iterable[str]) -> _T | None:
    """What the first of `keys` maps to in `found`: keys come strongest first, so an arXiv
    id match beats a title match. (A loop: a generator per item cost more than the rest.)"""
    for key in keys:
        value = found.get(key)
        if value is not None:
            return value
    return None


def listing_day(sighting: Sighting) -> date:
    """The day a sighting counts for: the listing's own date, else the day it was read."""
    return sighting.listed_on or sighting.seen_at.date()


def _best_places(sightings: Sequence[Sighting]) -> list[Sighting]:
    """One source's sightings of one paper, one per listing: a paper a document lists twice
    (as v1 and v2) keeps its best place there, not the last ("#1 in a listing", not #3),
    and the last upvotes it was given."""
    kept: dict[tuple[str, date], Sighting] = {}
    for sighting in sightings:
        key = (sighting.location, listing_day(sighting))
        before = kept.get(key)
        if before is not None:
            upvotes = before.upvotes if sighting.upvotes is None else sighting.upvotes
            position = min(before.position, sighting.position)
            sighting = replace(sighting, position=position, upvotes=upvotes)
        kept[key] = sighting
    return list(kept.values())
