"""Ranking at scale: one edition for many subscribers over a pool of candidate papers.

Run by hand:  .venv/bin/python -m bench.rank_bench [--subscribers 100000] [--papers 2000]
              .venv/bin/python -m bench.rank_bench --pool-only [--papers 1000 2000]

Candidates are made from the seed dumps' text (titles and abstracts recombined, so
vocabulary and phrase statistics are real); each subscriber gets 1-4 interest phrases
drawn from 2-3 word spans of real titles, a few an excluded phrase, a category filter,
a pinned author, and a handful of already-delivered papers; `--voters` of them (10% by
default) 1-5 liked papers of the pool, and half of those also 1-3 disliked ones (drawn
from their own random stream, so the rest of every profile is the same with any
--voters). It reports the time to
vectorize the pool, the time to rank every subscriber with `rank_many` (batched sparse
products), subscribers per second, and the process's peak memory.

Aim (issue #3): 100,000 subscribers over 2,000 papers in under 60 s on 2 cores, peak
memory under 2 GB.

--pool-only times building the pool alone (text index, similarities, signals) for each
number of papers given: the cost every edition pays once before ranking anyone.

--semantic-model auto (or a folder) ranks with the sentence encoder: the papers are
encoded first, timed apart (a send encodes each paper once in its life and keeps its
vector, `digest.state.vectors`), then the pool is built from those vectors and every
interest phrase is embedded while ranking. With --keep-phrases, the phrases go through
`digest.pipeline.pool.KeptEncoder` over a throwaway database, as sends do, and the
edition is ranked twice: the first time encodes and keeps the phrases, the second (the
next day's send, the same readers) reads them back.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from bench.common import encoder_of, peak_mb
from digest.identity import canonical_id
from digest.models import Candidate, Paper, Profile
from digest.pipeline.pool import KeptEncoder
from digest.rank.encoder import Model, TextEncoder
from digest.rank.pool import build_pool
from digest.rank.ranker import rank_many
from digest.rank.semantic import paper_text
from digest.state.store import Store
from tests.seeds import SEEDS, seed_papers

TODAY = date(2026, 11, 21)
CATEGORIES = ("cs.LG", "cs.CV", "cs.CL", "cs.AI", "stat.ML", "cs.IR", "cs.NE")


def make_candidates(count: int, rng: random.Random) -> list[Candidate]:
    """`count` papers whose titles and abstracts are recombined sentences of the seeds."""
    seeds = seed_papers(SEEDS, today=TODAY)
    sentences = [s for paper in seeds for s in paper.abstract.split(". ") if len(s) > 40]
    candidates = []
    for number in range(count):
        base = seeds[number % len(seeds)]
        title = f"{base.title} ({number})" if number >= len(seeds) else base.title
        abstract = ". ".join(rng.sample(sentences, 6)) + "."
        paper = Paper(
            title=title,
            abstract=f"{base.abstract} {abstract}",
            authors=tuple(f"Author {rng.randint(1, 3000)}" for _ in range(rng.randint(1, 6))),
            categories=tuple(rng.sample(CATEGORIES, rng.randint(1, 3))),
            code_urls=("https://github.com/x/y",) if rng.random() < 0.3 else (),
        )
        candidates.append(
            Candidate(
                id=canonical_id(paper),
                paper=paper,
                sources=rng.randint(1, 4),
                listings=rng.randint(1, 6),
                best_position=rng.randint(1, 50),
                upvotes=rng.choice([None, rng.randint(0, 300)]),
                first_seen=datetime(2026, 11, 21, tzinfo=UTC) - timedelta(days=rng.randint(0, 3)),
            )
        )
    return candidates


def interest_phrases(papers: list[Paper], rng: random.Random, count: int = 3000) -> list[str]:
    """2-3 word spans of real titles: the kind of phrase people write as interests
    (`count` of them, or every span there is when the titles hold fewer)."""
    spans = {
        " ".join(words[start : start + size]).strip(":,.").lower()
        for words in (paper.title.split() for paper in papers)
        for size in (2, 3)
        for start in range(len(words) - size + 1)
    }
    phrases: set[str] = set()
    while len(phrases) < min(count, len(spans)):
        words = rng.choice(papers).title.split()
        size = rng.choice((2, 2, 3))
        if len(words) >= size:
            start = rng.randrange(len(words) - size + 1)
            phrases.add(" ".join(words[start : start + size]).strip(":,.").lower())
    return sorted(phrases)


def make_profiles(
    count: int, candidates: list[Candidate], rng: random.Random, voters: float = 0.0
) -> list[Profile]:
    phrases = interest_phrases([candidate.paper for candidate in candidates], rng)
    ids = [candidate.id for candidate in candidates]
    profiles = [
        Profile(
            name=f"reader{number}@example.org",
            interests=tuple(rng.sample(phrases, rng.randint(1, 4))),
            exclude=tuple(rng.sample(phrases, 1)) if rng.random() < 0.2 else (),
            categories=tuple(rng.sample(CATEGORIES, 2)) if rng.random() < 0.2 else (),
            exclude_categories=("cs.NE",) if rng.random() < 0.1 else (),
            authors=(f"Author {rng.randint(1, 3000)}",) if rng.random() < 0.1 else (),
            max_papers=10,
            delivered=frozenset(rng.sample(ids, rng.randint(0, 20))),
        )
        for number in range(count)
    ]
    votes = random.Random(rng.random())
    return [with_votes(profile, ids, votes, voters) for profile in profiles]


def with_votes(profile: Profile, ids: list[str], rng: random.Random, share: float) -> Profile:
    """The profile with likes (and, half the time, dislikes) with probability `share`."""
    if rng.random() >= share:
        return profile
    likes = tuple(rng.sample(ids, rng.randint(1, 5)))
    dislikes = tuple(rng.sample(ids, rng.randint(1, 3))) if rng.random() < 0.5 else ()
    return replace(profile, likes=likes, dislikes=dislikes)


def time_pools(sizes: list[int]) -> None:
    """Build the pool of each size once and print how long it took."""
    for size in sizes:
        candidates = make_candidates(size, random.Random(20261121))
        started = time.perf_counter()
        build_pool(candidates, today=TODAY)
        print(f"pool: {size} papers built in {time.perf_counter() - started:.2f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--papers", type=int, nargs="+", default=[2_000])
    parser.add_argument("--pool-only", action="store_true", help="time building pools alone")
    parser.add_argument("--voters", type=float, default=0.1, help="share with likes")
    parser.add_argument(
        "--semantic-model",
        default="off",
        help='"off", "auto", a model\'s folder, or several separated by commas',
    )
    parser.add_argument(
        "--keep-phrases", action="store_true", help="keep phrase vectors, rank twice"
    )
    args = parser.parse_args()
    if args.pool_only:
        time_pools(args.papers)
        return
    if len(args.papers) != 1:
        parser.error("give one --papers count unless --pool-only")
    papers = args.papers[0]
    rng = random.Random(20261121)
    candidates = make_candidates(papers, rng)
    profiles = make_profiles(args.subscribers, candidates, rng, args.voters)
    encoder, vectors = _encoded(args.semantic_model, candidates)
    if not args.keep_phrases:
        _rank(candidates, profiles, encoder, vectors)
    elif encoder is None:
        parser.error("--keep-phrases needs --semantic-model")
    else:
        with (
            tempfile.TemporaryDirectory(prefix="rank-bench-") as folder,
            Store(f"sqlite:///{Path(folder) / 'bench.db'}") as store,
        ):
            kept = KeptEncoder(encoder, store.vectors)
            for day in ("first send, phrases encoded and kept", "next send, read back"):
                print(f"{day}:")
                _rank(candidates, profiles, kept, vectors)
    print(f"peak memory: {peak_mb():,.0f} MB (aim: 100,000 in < 60 s, < 2 GB)")


def _rank(
    candidates: list[Candidate],
    profiles: list[Profile],
    encoder: TextEncoder | None,
    vectors: dict[str, NDArray[np.float32]] | None,
) -> None:
    """Build the pool, rank every profile, and print how long each took."""
    started = time.perf_counter()
    pool = build_pool(candidates, today=TODAY, encoder=encoder, vectors=vectors)
    vectorized = time.perf_counter()
    cpu = time.process_time()
    picked = sum(len(picks) for picks in rank_many(pool, profiles))
    ranked = time.perf_counter()
    seconds = ranked - vectorized
    # On a shared machine wall time swings with the neighbours' load; CPU time less so.
    cpu_seconds = time.process_time() - cpu
    print(f"pool: {len(candidates)} papers vectorized in {vectorized - started:.2f} s")
    print(
        f"ranked {len(profiles)} subscribers in {seconds:.2f} s "
        f"({len(profiles) / seconds:,.0f} per second), {picked} picks, "
        f"{sum(bool(p.likes) for p in profiles)} with likes; {cpu_seconds:.2f} s of CPU",
        flush=True,
    )


def _encoded(
    setting: str, candidates: list[Candidate]
) -> tuple[Model | None, dict[str, NDArray[np.float32]] | None]:
    """The encoder the setting names and every candidate's vector, or (None, None)."""
    encoder = encoder_of(setting)
    if encoder is None:
        return None, None
    started = time.perf_counter()
    texts = [paper_text(c.paper.title, c.paper.abstract) for c in candidates]
    vectors = dict(zip([c.id for c in candidates], encoder.encode(texts), strict=True))
    seconds = time.perf_counter() - started
    print(
        f"encoded {len(texts)} papers in {seconds:.1f} s "
        f"({1000 * seconds / len(texts):.0f} ms a paper, once in its life)",
        flush=True,
    )
    return encoder, vectors


if __name__ == "__main__":
    main()
