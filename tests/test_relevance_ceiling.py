"""The ceiling benchmark's folds and per-reader model, on cases small enough to check by
hand (the benchmark itself, on the seed pool, is run by hand: `bench.relevance_ceiling`)."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from bench.relevance_ceiling import cross_validated_scores, fit_logistic, folds

GRADES = [2, 0, 0, 1, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0]


def test_folds_hold_every_paper_once_and_each_its_share_of_every_grade() -> None:
    dealt = folds(GRADES, 5)
    assert sorted(position for fold in dealt for position in fold) == list(range(len(GRADES)))
    for grade, total in Counter(GRADES).items():
        per_fold = [sum(GRADES[position] == grade for position in fold) for fold in dealt]
        assert max(per_fold) - min(per_fold) <= 1, (grade, per_fold)
        assert sum(per_fold) == total


def test_folds_are_the_same_every_run_and_change_with_the_seed() -> None:
    assert folds(GRADES, 5, seed=7) == folds(GRADES, 5, seed=7)
    assert folds(GRADES, 5, seed=7) != folds(GRADES, 5, seed=8)


def test_without_features_the_model_predicts_the_weighted_share_of_liked_papers() -> None:
    """With nothing to tell papers apart, the best a logistic regression can do is the
    log-odds of being liked, each paper counted by its weight."""
    liked = np.array([True, True, False, False, False])
    weights = np.array([1.0, 2.0, 1.0, 1.0, 1.0])
    coefficients, intercept = fit_logistic(np.zeros((5, 2)), liked, weights, c=1.0)
    assert coefficients == pytest.approx([0.0, 0.0])
    assert intercept == pytest.approx(math.log(3.0 / 3.0), abs=1e-4)
    _, intercept = fit_logistic(np.zeros((5, 1)), liked, np.ones(5), c=1.0)
    assert intercept == pytest.approx(math.log(2.0 / 3.0), abs=1e-4)


def test_a_feature_that_tells_liked_from_disliked_ranks_the_liked_first() -> None:
    rng = np.random.default_rng(3)
    liked = np.arange(40) < 10
    features = np.column_stack([np.where(liked, 1.0, -1.0), rng.normal(size=40)])
    features[:, 0] += rng.normal(scale=0.3, size=40)
    coefficients, intercept = fit_logistic(features, liked, np.ones(40), c=10.0)
    scores = features @ coefficients + intercept
    assert set(np.argsort(-scores)[:10]) == set(range(10))
    assert coefficients[0] > 10 * abs(coefficients[1])


def test_no_paper_is_scored_by_a_model_that_saw_its_grade() -> None:
    """Each paper's only feature is its own indicator: a model that saw a paper's grade
    would score it by that grade; one that did not knows nothing of it, so every paper of
    a held-out fold gets the same score."""
    scores = cross_validated_scores(np.eye(len(GRADES)), GRADES, c=10.0)
    for fold in folds(GRADES):
        assert np.ptp(scores[fold]) == pytest.approx(0.0, abs=1e-6), fold
    assert np.ptp(scores) > 0, "the folds' intercepts differ with what each was taught"


def test_cross_validated_scores_find_relevant_papers_by_what_they_share() -> None:
    grades = [2, 1, 0, 0, 0, 0, 0, 0, 0, 0] * 3
    rng = np.random.default_rng(5)
    features = np.column_stack(
        [np.array(grades, dtype=float) + rng.normal(scale=0.2, size=30), rng.normal(size=30)]
    )
    scores = cross_validated_scores(features, grades, c=10.0)
    relevant = {at for at, grade in enumerate(grades) if grade}
    assert set(np.argsort(-scores)[: len(relevant)].tolist()) == relevant
