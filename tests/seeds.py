"""The seed dumps as ranking candidates, for tests and benchmarks that need a realistic pool."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from pathlib import Path

from digest.collect.dump import parse_dump
from digest.identity import canonical_id
from digest.models import Candidate, Entry, Paper
from tests.golden import SHARED

SEEDS = SHARED / "seeds"
# Interest phrases that each match several seed papers.
INTERESTS = (
    "graph neural networks",
    "video understanding",
    "model compression",
    "recommender systems",
    "diffusion models",
    "link prediction",
)


def _entries(seeds: Path, today: date) -> Iterator[tuple[str, Entry]]:
    """Every entry of the dumps in `seeds`, dumps by name, with its paper's canonical id."""
    for path in sorted(seeds.glob("*.txt")):
        for entry in parse_dump(path.read_bytes(), today=today).entries:
            yield canonical_id(entry.paper), entry


def seed_candidates(seeds: Path, *, today: date, first_seen: datetime) -> list[Candidate]:
    """One candidate per distinct paper of the dumps in `seeds`: the dumps carrying it as
    its sources, its sightings as listings, its best position; one `first_seen` for all,
    so that freshness does not separate them."""
    found: dict[str, Candidate] = {}
    for key, entry in _entries(seeds, today):
        seen = found.get(key)
        best = entry.position
        if seen is not None and seen.best_position is not None:
            best = min(best, seen.best_position)
        found[key] = Candidate(
            id=key,
            paper=seen.paper if seen else entry.paper,
            sources=(seen.sources if seen else 0) + 1,
            listings=(seen.listings if seen else 0) + 1,
            best_position=best,
            upvotes=None,
            first_seen=first_seen,
        )
    return list(found.values())


def seed_candidates_seen_once(seeds: Path, *, today: date, first_seen: datetime) -> list[Candidate]:
    """One candidate per distinct paper of the dumps in `seeds`, as if each were seen once:
    one source, one listing, its first position; no trending signal separates them."""
    found: dict[str, Candidate] = {}
    for key, entry in _entries(seeds, today):
        found.setdefault(key, Candidate(key, entry.paper, 1, 1, entry.position, None, first_seen))
    return list(found.values())


def seed_papers(seeds: Path, *, today: date) -> list[Paper]:
    """The distinct papers of the dumps in `seeds`, in the order first seen."""
    midnight = datetime.combine(today, time(), UTC)
    return [
        candidate.paper for candidate in seed_candidates(seeds, today=today, first_seen=midnight)
    ]
