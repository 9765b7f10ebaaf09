"""Ranking quality on the seed papers, against hand-made relevance judgments.

Run by hand:  .venv/bin/python -m bench.relevance_eval [--json] [--baseline-only] [--votes]
                  [--draws N] [--wordings] [--semantic-model auto]

The pool is every distinct paper of the seed dumps (../shared/seeds/*.txt), one
per canonical id (tests.seeds.seed_candidates). tests/data/relevance/judgments.json
grades each of them for each profile: 0 not relevant, 1 partly, 2 clearly (README.md
beside it has the rules). Two rankers are scored for each profile:

  bm25  rank_bm25.BM25Okapi over the lower-cased \\w+ tokens of title + abstract,
        queried with the profile's interests joined by spaces
  ours  digest.rank.pool.build_pool + digest.rank.ranker.rank, every paper seen at
        one fixed time so freshness is neutral

Metrics, at k = 10: precision@k (a grade of 1 or more is relevant; fewer than k
picks count the missing ones as misses) and nDCG@k (gains are the grades, log2
discount, ideal from the judgments). --json prints the numbers as JSON instead of
the table; --baseline-only skips our ranker.

--votes scores what a reader's likes and dislikes add, per profile, by a fixed rule
that no profile was tuned to (`votes_of`):

  likes     the first 3 papers graded 2, by canonical id
  dislikes  the first 3 papers graded 0 among the first 20 that plain BM25 picks: what
            a keyword search showed the reader that they did not want (fewer when
            there are fewer). Drawn from BM25, not from our ranker: taking them out
            of the judgments then favours BM25 alone, never one of our configurations

and five rankers on the remaining papers (the voted ones leave the judgments and
every ranking): bm25, phrases (ours, interests only), +likes (interests and the 3
likes), +dislikes (interests, the 3 likes and the dislikes), likes alone (the 3 likes,
no interests: a reader who only votes).

--draws N scores the same without depending on which three papers the rule picks: the
likes are drawn at random (seeded, so every run draws the same) among each profile's
papers graded 2, N times, and each ranker's metrics are averaged over the draws, for
phrases, +likes and likes alone.

--wordings scores two things a reader's own wording tests, neither tuned to:

  reworded   each profile asked in other words (`REWORDINGS`: one wording per profile,
             written once, scored against the profile's judgments as they are)
  off topic  interests the pool holds nothing about (`OFF_TOPIC`: no seed paper's
             title or abstract is on them): how many papers each gets, where the right
             number is 0. BM25 has no threshold; its count is the papers holding any
             word of the phrase, up to k.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.common import encoder_of
from digest.models import Candidate
from tests.seeds import SEEDS, seed_candidates

if TYPE_CHECKING:
    from digest.rank.pool import Pool

JUDGMENTS = Path(__file__).resolve().parents[1] / "tests" / "data" / "relevance" / "judgments.json"
TODAY = date(2026, 11, 21)
# One first-seen time for every paper: freshness must not separate them.
FIRST_SEEN = datetime(2026, 11, 21, 6, 0, tzinfo=UTC)
K = 10
RANKERS = ("bm25", "ours")
VOTE_RANKERS = ("bm25", "phrases", "+likes", "+dislikes", "likes alone")
DRAW_RANKERS = ("phrases", "+likes", "likes alone")
DRAW_SEED = 13
VOTES = 3
# Dislikes are drawn from this many of the phrase ranking's first picks.
SHOWN = 20
# Each profile's interests said in other words.
REWORDINGS = {
    "gnn": ("graph representation learning",),
    "video": ("video comprehension",),
    "compression": ("network pruning and quantization",),
    "recsys": ("recommendation engines",),
    "diffusion": ("denoising generative models",),
    "medical": ("radiology scans",),
    "traffic": ("internet packet classification",),
    "memory": ("reducing GPU memory during training",),
}
# Fields no seed paper is about (checked against every title and abstract).
OFF_TOPIC = (
    "protein folding",
    "quantum error correction",
    "galaxy classification",
    "stock price prediction",
    "legal documents",
    "music generation",
)
METRICS = ("p", "ndcg")

_TOKEN = re.compile(r"\w+")


@dataclass(frozen=True, slots=True)
class Judged:
    """One profile of the judgments file."""

    interests: tuple[str, ...]
    grades: dict[str, int]


# --- metrics ---------------------------------------------------------------------------


def precision_at_k(ranked: Sequence[str], grades: Mapping[str, int], k: int) -> float:
    """The share of the first k picks graded 1 or more; missing picks count as misses."""
    if k <= 0:
        raise ValueError("k must be positive")
    return sum(1 for paper in ranked[:k] if grades.get(paper, 0) >= 1) / k


def dcg(gains: Sequence[float]) -> float:
    """Discounted cumulative gain: the gain at 1-based rank i is divided by log2(i + 1)."""
    return sum(gain / math.log2(rank + 2) for rank, gain in enumerate(gains))


def ndcg_at_k(ranked: Sequence[str], grades: Mapping[str, int], k: int) -> float:
    """DCG of the first k picks over the best DCG the judgments allow; 0 with nothing relevant."""
    if k <= 0:
        raise ValueError("k must be positive")
    ideal = dcg(sorted(grades.values(), reverse=True)[:k])
    if ideal == 0:
        return 0.0
    return dcg([grades.get(paper, 0) for paper in ranked[:k]]) / ideal


# --- data ------------------------------------------------------------------------------


def load_pool(seeds: Path = SEEDS) -> list[Candidate]:
    """The distinct papers of the seed dumps as candidates, in the order first seen (dumps
    by name), every one first seen at one time."""
    if not any(seeds.glob("*.txt")):
        raise SystemExit(f"no seed dumps in {seeds}")
    return seed_candidates(seeds, today=TODAY, first_seen=FIRST_SEEN)


def load_judgments(path: Path = JUDGMENTS) -> dict[str, Judged]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return {
        name: Judged(tuple(profile["interests"]), dict(profile["judgments"]))
        for name, profile in data["profiles"].items()
    }


# --- rankers ---------------------------------------------------------------------------


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


class Bm25Baseline:
    """Plain BM25 over title + abstract: what ranking gets with no knowledge of the field."""

    def __init__(self, pool: Sequence[Candidate]) -> None:
        from rank_bm25 import BM25Okapi

        self._ids = [item.id for item in pool]
        self._bm25 = BM25Okapi(
            [tokenize(f"{item.paper.title} {item.paper.abstract}") for item in pool]
        )

    def rank(self, name: str, interests: Sequence[str], k: int) -> list[str]:
        scores = self._bm25.get_scores(tokenize(" ".join(interests)))
        # Highest score first; ties keep pool order.
        order = sorted(range(len(self._ids)), key=lambda index: -float(scores[index]))
        return [self._ids[index] for index in order[:k]]

    def matching(self, interests: Sequence[str]) -> int:
        """How many papers hold a word of the interests (a positive score)."""
        return int((self._bm25.get_scores(tokenize(" ".join(interests))) > 0).sum())


class OurRanker:
    """digest.rank, fed the seed pool as candidates with neutral freshness."""

    def __init__(self, pool: Sequence[Candidate], model: str = "off") -> None:
        try:
            from digest.rank.pool import build_pool
            from digest.rank.ranker import rank
        except ImportError as error:
            raise SystemExit(
                f"our ranker is not available ({error}): bench.relevance_eval needs "
                "digest.rank.pool.build_pool and digest.rank.ranker.rank; run with "
                "--baseline-only to score the BM25 baseline alone"
            ) from error
        from digest.models import Profile

        self._rank = rank
        self._profile = Profile
        self._pool = build_pool(pool, today=TODAY, encoder=encoder_of(model))

    def rank(
        self,
        name: str,
        interests: Sequence[str],
        k: int,
        likes: Sequence[str] = (),
        dislikes: Sequence[str] = (),
    ) -> list[str]:
        profile = self._profile(
            name=name,
            interests=tuple(interests),
            max_papers=k,
            likes=tuple(likes),
            dislikes=tuple(dislikes),
        )
        return [pick.candidate.id for pick in self._rank(self._pool, profile)][:k]

    @property
    def pool(self) -> Pool:
        """The pool it ranks: the seed papers, in id order."""
        return self._pool

    def scores(self, name: str, interests: Sequence[str]) -> dict[str, float]:
        """{paper id: score} of every paper it would pick for the interests."""
        profile = self._profile(name=name, interests=tuple(interests), max_papers=self._pool.size)
        return {pick.candidate.id: pick.score for pick in self._rank(self._pool, profile)}


# --- report ----------------------------------------------------------------------------


def evaluate(
    rankers: Mapping[str, Bm25Baseline | OurRanker], judgments: Mapping[str, Judged], k: int
) -> dict[str, dict[str, dict[str, float]]]:
    """{profile: {ranker: {"p": precision@k, "ndcg": nDCG@k}}}, plus a "mean" profile."""
    results: dict[str, dict[str, dict[str, float]]] = {}
    for name, judged in judgments.items():
        results[name] = {}
        for ranker_name, ranker in rankers.items():
            ranked = ranker.rank(name, judged.interests, k)
            results[name][ranker_name] = {
                "p": precision_at_k(ranked, judged.grades, k),
                "ndcg": ndcg_at_k(ranked, judged.grades, k),
            }
    results["mean"] = _means(results, list(rankers))
    return results


def evaluate_rewordings(
    rankers: Mapping[str, Bm25Baseline | OurRanker], judgments: Mapping[str, Judged], k: int
) -> dict[str, dict[str, dict[str, float]]]:
    """`evaluate` with each profile's interests in other words (`REWORDINGS`)."""
    reworded = {
        name: Judged(REWORDINGS[name], judged.grades)
        for name, judged in judgments.items()
        if name in REWORDINGS
    }
    return evaluate(rankers, reworded, k)


def off_topic_picks(bm25: Bm25Baseline, ours: OurRanker, k: int) -> dict[str, dict[str, int]]:
    """{phrase: {"bm25": papers with a word of it (up to k), "ours": our picks}} for
    each of `OFF_TOPIC`."""
    return {
        phrase: {
            "bm25": min(bm25.matching([phrase]), k),
            "ours": len(ours.rank("off topic", [phrase], k)),
        }
        for phrase in OFF_TOPIC
    }


def _means(
    results: Mapping[str, Mapping[str, Mapping[str, float]]], rankers: Sequence[str]
) -> dict[str, dict[str, float]]:
    """Each ranker's metrics averaged over the profiles of `results`."""
    profiles = list(results.values())
    return {
        ranker: {
            metric: sum(profile[ranker][metric] for profile in profiles) / len(profiles)
            for metric in METRICS
        }
        for ranker in rankers
    }


def votes_of(judged: Judged, shown_first: Sequence[str]) -> tuple[list[str], list[str]]:
    """The fixed rule's likes (the first papers graded 2 by id) and dislikes (the first
    papers graded 0 among the first SHOWN of `shown_first`, in their order)."""
    likes = sorted(paper for paper, grade in judged.grades.items() if grade == 2)[:VOTES]
    shown = [paper for paper in shown_first[:SHOWN] if paper not in likes]
    dislikes = [paper for paper in shown if judged.grades.get(paper, 0) == 0][:VOTES]
    return likes, dislikes


def evaluate_votes(
    bm25: Bm25Baseline, ours: OurRanker, judgments: Mapping[str, Judged], k: int
) -> dict[str, dict[str, dict[str, float]]]:
    """{profile: {ranker: metrics}} for VOTE_RANKERS on the papers left once the votes
    are taken out, plus a "mean" profile."""
    results: dict[str, dict[str, dict[str, float]]] = {}
    for name, judged in judgments.items():
        deep = k + 2 * VOTES
        keyword = bm25.rank(name, judged.interests, max(SHOWN, deep))
        likes, dislikes = votes_of(judged, keyword)
        voted = set(likes) | set(dislikes)
        rankings = {
            "bm25": keyword,
            "phrases": ours.rank(name, judged.interests, deep),
            "+likes": ours.rank(name, judged.interests, deep, likes),
            "+dislikes": ours.rank(name, judged.interests, deep, likes, dislikes),
            "likes alone": ours.rank(name, (), deep, likes),
        }
        left = {paper: grade for paper, grade in judged.grades.items() if paper not in voted}
        results[name] = {}
        for ranker_name, ranked in rankings.items():
            kept = [paper for paper in ranked if paper not in voted]
            results[name][ranker_name] = {
                "p": precision_at_k(kept, left, k),
                "ndcg": ndcg_at_k(kept, left, k),
                "likes": len(likes),
                "dislikes": len(dislikes),
            }
    results["mean"] = _means(results, VOTE_RANKERS)
    return results


def evaluate_draws(
    ours: OurRanker, judgments: Mapping[str, Judged], k: int, draws: int
) -> dict[str, dict[str, dict[str, float]]]:
    """{profile: {ranker: metrics}} for DRAW_RANKERS, each the mean over `draws` random
    draws of VOTES likes among the profile's papers graded 2 (on the papers left once
    they are taken out), plus a "mean" profile."""
    chance = random.Random(DRAW_SEED)
    results: dict[str, dict[str, dict[str, float]]] = {}
    for name, judged in judgments.items():
        clear = sorted(paper for paper, grade in judged.grades.items() if grade == 2)
        sums = {ranker: dict.fromkeys(METRICS, 0.0) for ranker in DRAW_RANKERS}
        phrases = ours.rank(name, judged.interests, k + VOTES)
        for _ in range(draws):
            likes = chance.sample(clear, min(VOTES, len(clear)))
            left = {paper: grade for paper, grade in judged.grades.items() if paper not in likes}
            rankings = {
                "phrases": phrases,
                "+likes": ours.rank(name, judged.interests, k, likes),
                "likes alone": ours.rank(name, (), k, likes),
            }
            for ranker, ranked in rankings.items():
                kept = [paper for paper in ranked if paper not in likes]
                sums[ranker]["p"] += precision_at_k(kept, left, k)
                sums[ranker]["ndcg"] += ndcg_at_k(kept, left, k)
        results[name] = {
            ranker: {metric: total / draws for metric, total in metrics.items()}
            for ranker, metrics in sums.items()
        }
    results["mean"] = _means(results, DRAW_RANKERS)
    return results


_VOTE_NAMES = {
    "bm25": "BM25",
    "phrases": "phrases",
    "+likes": "+3 likes",
    "+dislikes": "+dislikes",
    "likes alone": "likes alone",
}


def _metric_columns(rankers: Sequence[str], k: int) -> tuple[list[str], list[tuple[str, str]]]:
    """Headers ("P@10 phrases", ...) and their (ranker, metric), precision first."""
    headers, columns = [], []
    for metric, label in (("p", f"P@{k}"), ("ndcg", f"nDCG@{k}")):
        for ranker in rankers:
            headers.append(f"{label} {_VOTE_NAMES[ranker]}")
            columns.append((ranker, metric))
    return headers, columns


def draws_table(results: Mapping[str, Mapping[str, Mapping[str, float]]], k: int) -> str:
    headers, columns = _metric_columns(DRAW_RANKERS, k)
    rows = [["profile", *headers]]
    for name, scores in results.items():
        rows.append([name] + [f"{scores[ranker][metric]:.3f}" for ranker, metric in columns])
    return _aligned(rows)


def votes_table(results: Mapping[str, Mapping[str, Mapping[str, float]]], k: int) -> str:
    headers, columns = _metric_columns(VOTE_RANKERS, k)
    rows = [["profile", "dislikes", *headers]]
    for name, scores in results.items():
        dislikes = scores["+dislikes"].get("dislikes")
        rows.append(
            [name, "" if dislikes is None else str(int(dislikes))]
            + [f"{scores[ranker][metric]:.3f}" for ranker, metric in columns]
        )
    return _aligned(rows)


def table(results: Mapping[str, Mapping[str, Mapping[str, float]]], k: int) -> str:
    headers = ["profile", f"P@{k} BM25", f"P@{k} ours", f"nDCG@{k} BM25", f"nDCG@{k} ours"]
    columns = [("bm25", "p"), ("ours", "p"), ("bm25", "ndcg"), ("ours", "ndcg")]
    rows = [headers]
    for name, scores in results.items():
        rows.append(
            [name]
            + [
                f"{scores[ranker][metric]:.3f}" if ranker in scores else "-"
                for ranker, metric in columns
            ]
        )
    return _aligned(rows)


def off_topic_table(picks: Mapping[str, Mapping[str, int]], k: int) -> str:
    rows = [["interest", f"BM25 (any word, up to {k})", "ours"]]
    rows += [[phrase, str(found["bm25"]), str(found["ours"])] for phrase, found in picks.items()]
    rows.append(["total", *(str(sum(f[r] for f in picks.values())) for r in ("bm25", "ours"))])
    return _aligned(rows)


def _aligned(rows: list[list[str]]) -> str:
    """Rows as text columns, the first left-aligned, a rule above the last row."""
    headers = rows[0]
    widths = [max(len(row[column]) for row in rows) for column in range(len(headers))]
    lines = [
        "  ".join(
            value.ljust(width) if column == 0 else value.rjust(width)
            for column, (value, width) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    lines.insert(len(lines) - 1, "-" * len(lines[0]))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON")
    parser.add_argument("--baseline-only", action="store_true", help="skip our ranker")
    parser.add_argument("--votes", action="store_true", help="score likes and dislikes too")
    parser.add_argument(
        "--draws",
        type=int,
        default=0,
        metavar="N",
        help="score likes drawn at random N times too, averaged",
    )
    parser.add_argument(
        "--wordings", action="store_true", help="score reworded and off-topic interests too"
    )
    parser.add_argument(
        "--semantic-model",
        default="off",
        help='the sentence encoder: "off" (latent semantic analysis), "auto", a folder, '
        "or several separated by commas (averaged)",
    )
    parser.add_argument("--seeds", type=Path, default=SEEDS, help="folder of seed dumps")
    parser.add_argument("--judgments", type=Path, default=JUDGMENTS, help="judgments file")
    args = parser.parse_args()

    pool = load_pool(args.seeds)
    judgments = load_judgments(args.judgments)
    pool_ids = {item.id for item in pool}
    for name, judged in judgments.items():
        if set(judged.grades) != pool_ids:
            raise SystemExit(
                f"judgments for {name!r} do not match the pool: "
                f"{len(pool_ids - set(judged.grades))} unjudged, "
                f"{len(set(judged.grades) - pool_ids)} not in the pool"
            )

    rankers: dict[str, Bm25Baseline | OurRanker] = {"bm25": Bm25Baseline(pool)}
    if not args.baseline_only:
        rankers["ours"] = OurRanker(pool, args.semantic_model)
    results = evaluate(rankers, judgments, K)
    voting = None
    if args.votes and not args.baseline_only:
        bm25, ours = rankers["bm25"], rankers["ours"]
        assert isinstance(bm25, Bm25Baseline) and isinstance(ours, OurRanker)
        voting = evaluate_votes(bm25, ours, judgments, K)
    drawn = None
    if args.draws > 0 and not args.baseline_only:
        ours = rankers["ours"]
        assert isinstance(ours, OurRanker)
        drawn = evaluate_draws(ours, judgments, K, args.draws)
    reworded = off_topic = None
    if args.wordings and not args.baseline_only:
        bm25, ours = rankers["bm25"], rankers["ours"]
        assert isinstance(bm25, Bm25Baseline) and isinstance(ours, OurRanker)
        reworded = evaluate_rewordings(rankers, judgments, K)
        off_topic = off_topic_picks(bm25, ours, K)
    if args.json:
        found: dict[str, Any] = {"k": K, "papers": len(pool), "results": results}
        if voting is not None:
            found["votes"] = voting
        if drawn is not None:
            found["draws"] = {"draws": args.draws, "results": drawn}
        if reworded is not None:
            found["reworded"] = reworded
            found["off_topic"] = off_topic
        print(json.dumps(found, indent=2))
        return
    print(f"{len(pool)} papers, {len(judgments)} profiles, k = {K}")
    print(table(results, K))
    if voting is not None:
        print(f"\nwith votes, on the papers left once they are taken out (k = {K}):")
        print(votes_table(voting, K))
    if drawn is not None:
        print(f"\n{VOTES} likes drawn at random among the clearly relevant, {args.draws} times:")
        print(draws_table(drawn, K))
    if reworded is not None and off_topic is not None:
        print(f"\neach profile in other words (`REWORDINGS`, k = {K}):")
        print(table(reworded, K))
        print("\ninterests the pool holds nothing about: papers picked (right: 0)")
        print(off_topic_table(off_topic, K))


if __name__ == "__main__":
    main()
