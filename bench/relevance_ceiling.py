"""How far a per-reader model could go on the judged seed pool with far more votes than
three: the ceiling under issue 13's aim of nDCG@10 0.95 with three likes.

    python -m bench.relevance_ceiling [--semantic-model auto] [--json]

For each judged profile, a per-reader L2 logistic regression (the model the issue
names, as Scholar Inbox trains one per user) learns from four fifths of the profile's
judgments, about 160 papers, every one of them a vote: graded 1 or 2 is liked (2 counting
`CLEAR_WEIGHT` times), 0 is disliked, the two classes balanced. It scores the fifth it
did not see. Five folds, dealt by grade in a seeded order so that each holds its share
of the relevant papers, score every paper by a model that never saw its grade; those
scores rank the whole pool, and P@10 and nDCG@10 are taken as `bench.relevance_eval`
takes them for a ranking of the whole pool (its first table).

Features, each alone and with our ranker's score for the profile's interests added as
one more column:

  emb    the papers' sentence embeddings (with --semantic-model: 384 dimensions for
         MiniLM, 768 for MPNet, side by side for several)
  lsa    the pool's latent semantic projection (`digest.rank.text_index`)
  tfidf  the papers' TF-IDF vectors (3,110 terms)
  all    those of the three the pool has, side by side

The regularization C is chosen from `CS` for each feature set by its mean nDCG@10, after
seeing the held-out grades: optimistic on purpose, since this is a ceiling. If a model
told about 160 votes per profile, and tuned on its test set, stays below 0.95, then
three likes cannot reach it with these representations of a paper.
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize

from bench.relevance_eval import (
    JUDGMENTS,
    Judged,
    K,
    OurRanker,
    load_judgments,
    load_pool,
    ndcg_at_k,
    precision_at_k,
)

FOLDS = 5
FOLD_SEED = 7
CS = (0.3, 3.0, 30.0)
# A paper graded 2 counts this many times one graded 1 among the liked.
CLEAR_WEIGHT = 1.5
# Our ranker's score is in [0, ~1.5]; the other columns are unit vectors' coordinates.
SCORE_SCALE = 4.0


def folds(grades: Sequence[int], count: int = FOLDS, seed: int = FOLD_SEED) -> list[list[int]]:
    """`count` folds of positions 0..len(grades)-1, every position in exactly one: the
    positions shuffled (seeded), then ordered by grade, highest first, and dealt in turn,
    so that each fold holds its share of every grade."""
    order = list(range(len(grades)))
    random.Random(seed).shuffle(order)
    order.sort(key=lambda position: -grades[position])
    return [order[start::count] for start in range(count)]


def fit_logistic(
    features: NDArray[np.float64], liked: NDArray[np.bool_], weights: NDArray[np.float64], c: float
) -> tuple[NDArray[np.float64], float]:
    """Coefficients and intercept of a weighted L2 logistic regression (the intercept is
    not penalized), by L-BFGS."""

    def loss(theta: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        coefficients, intercept = theta[:-1], theta[-1]
        margin = features @ coefficients + intercept
        # log(1 + e^m) - y m, written so that no large margin overflows.
        value = float(np.sum(weights * (np.logaddexp(0.0, margin) - liked * margin)))
        value += 0.5 / c * float(coefficients @ coefficients)
        residual = weights * (1.0 / (1.0 + np.exp(-margin)) - liked)
        gradient = np.append(features.T @ residual + coefficients / c, residual.sum())
        return value, gradient

    start = np.zeros(features.shape[1] + 1)
    theta = minimize(loss, start, jac=True, method="L-BFGS-B").x
    return theta[:-1], float(theta[-1])


def cross_validated_scores(
    features: NDArray[np.float64], grades: Sequence[int], c: float
) -> NDArray[np.float64]:
    """Every paper's score from the model trained on the other folds (`folds`)."""
    graded = np.asarray(grades)
    liked = graded >= 1
    scores = np.zeros(len(graded))
    for held_out in folds(list(grades)):
        train = np.setdiff1d(np.arange(len(graded)), held_out)
        taught = liked[train]
        # Each class weighs as much as the other, however few the liked papers are.
        share = np.where(taught, 2 * taught.sum(), 2 * (~taught).sum()) / len(train)
        weights = np.where(graded[train] == 2, CLEAR_WEIGHT, 1.0) / share
        coefficients, intercept = fit_logistic(features[train], taught, weights, c)
        scores[held_out] = features[held_out] @ coefficients + intercept
    return scores


def feature_sets(ours: OurRanker) -> dict[str, NDArray[np.float64]]:
    """The paper representations of the pool ours ranks, by name (see the docstring)."""
    pool = ours.pool
    found = {
        "lsa": np.asarray(pool.similar.latent, dtype=np.float64),
        "tfidf": np.asarray(pool.phrases.index.vectors.toarray(), dtype=np.float64),
    }
    if pool.embedding is not None:
        found = {"emb": np.asarray(pool.embedding.vectors, dtype=np.float64), **found}
    # With the encoder the pool keeps no latent projection.
    found = {name: values for name, values in found.items() if len(values) == pool.size}
    return {**found, "all": np.hstack(list(found.values()))}


def evaluate(
    ours: OurRanker, judgments: Mapping[str, Judged]
) -> dict[str, dict[str, dict[str, float]]]:
    """{feature set: {profile: {"p", "ndcg", "c"}}} at each set's best C, plus "mean"."""
    ids = [candidate.id for candidate in ours.pool.candidates]
    ours_scores = {
        name: np.array([[ours.scores(name, judged.interests).get(paper, 0.0)] for paper in ids])
        for name, judged in judgments.items()
    }
    results: dict[str, dict[str, dict[str, float]]] = {}
    for set_name, base in feature_sets(ours).items():
        for with_ours in (False, True):
            label = f"{set_name} + ours" if with_ours else set_name
            best: dict[str, dict[str, float]] | None = None
            for c in CS:
                tried: dict[str, dict[str, float]] = {}
                for name, judged in judgments.items():
                    columns = [base, SCORE_SCALE * ours_scores[name]] if with_ours else [base]
                    grades = [judged.grades[paper] for paper in ids]
                    scores = cross_validated_scores(np.hstack(columns), grades, c)
                    ranked = [ids[at] for at in np.argsort(-scores, kind="stable")]
                    tried[name] = {
                        "p": precision_at_k(ranked, judged.grades, K),
                        "ndcg": ndcg_at_k(ranked, judged.grades, K),
                        "c": c,
                    }
                tried["mean"] = {
                    metric: float(np.mean([row[metric] for row in tried.values()]))
                    for metric in ("p", "ndcg", "c")
                }
                if best is None or tried["mean"]["ndcg"] > best["mean"]["ndcg"]:
                    best = tried
            assert best is not None
            results[label] = best
    return results


def table(results: Mapping[str, Mapping[str, Mapping[str, float]]]) -> str:
    """nDCG@10 per profile (rows) and feature set (columns), each set at its best C."""
    labels = list(results)
    profiles = list(next(iter(results.values())))
    lines = ["profile      " + "".join(f"{label:>14}" for label in labels)]
    for profile in profiles:
        cells = "".join(f"{results[label][profile]['ndcg']:14.3f}" for label in labels)
        lines.append(f"{profile:12} {cells}")
    lines.append("best C       " + "".join(f"{results[label]['gnn']['c']:14g}" for label in labels))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON")
    parser.add_argument(
        "--semantic-model",
        default="off",
        help='the sentence encoder: "off" (latent semantic analysis), "auto", a folder, '
        "or several separated by commas (averaged)",
    )
    args = parser.parse_args()
    ours = OurRanker(load_pool(), args.semantic_model)
    results = evaluate(ours, load_judgments(JUDGMENTS))
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"nDCG@{K}, cross-validated in {FOLDS} folds (about 160 votes per profile):")
    print(table(results))


if __name__ == "__main__":
    main()
