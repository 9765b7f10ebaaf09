"""The relevance benchmark's metrics on hand-computed cases, and its judgments file's coverage.

Neither needs the ranker: bench.relevance_eval imports digest.rank only when asked to.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from bench import relevance_eval as ev

PROFILES = {"gnn", "video", "compression", "recsys", "diffusion"}

GRADES = {"a": 2, "b": 0, "c": 1, "d": 0, "e": 2}


def test_precision_counts_grades_of_one_or_more_over_k() -> None:
    assert ev.precision_at_k(["a", "b", "c", "d"], GRADES, 4) == 0.5
    assert ev.precision_at_k(["a", "c", "b"], GRADES, 2) == 1.0
    assert ev.precision_at_k(["b", "d"], GRADES, 2) == 0.0


def test_precision_counts_missing_picks_and_unjudged_papers_as_misses() -> None:
    assert ev.precision_at_k(["a", "c"], GRADES, 10) == 0.2
    assert ev.precision_at_k(["x", "a"], GRADES, 2) == 0.5
    assert ev.precision_at_k([], GRADES, 10) == 0.0


def test_dcg_discounts_by_log2_of_rank_plus_one() -> None:
    assert ev.dcg([3, 2, 1]) == pytest.approx(3 + 2 / math.log2(3) + 1 / 2)
    assert ev.dcg([]) == 0.0


def test_ndcg_hand_computed() -> None:
    # Picks a(2), b(0), c(1): DCG = 2/1 + 0 + 1/2 = 2.5.
    # Ideal from the judgments 2, 2, 1: 2/1 + 2/log2(3) + 1/2 = 3.7619.
    assert ev.ndcg_at_k(["a", "b", "c"], GRADES, 3) == pytest.approx(0.664565, abs=1e-6)
    # Only the first k picks count: a(2) then c(1) against ideal 2, 2.
    assert ev.ndcg_at_k(["a", "c", "e"], GRADES, 2) == pytest.approx(
        (2 + 1 / math.log2(3)) / (2 + 2 / math.log2(3))
    )


def test_ndcg_is_one_for_the_ideal_order_and_zero_without_relevant_picks() -> None:
    assert ev.ndcg_at_k(["a", "e", "c"], GRADES, 3) == pytest.approx(1.0)
    assert ev.ndcg_at_k(["e", "a", "c", "b"], GRADES, 10) == pytest.approx(1.0)
    assert ev.ndcg_at_k(["b", "d", "x"], GRADES, 3) == 0.0
    assert ev.ndcg_at_k(["a"], {"a": 0, "b": 0}, 3) == 0.0


def test_metrics_refuse_a_k_below_one() -> None:
    with pytest.raises(ValueError):
        ev.precision_at_k(["a"], GRADES, 0)
    with pytest.raises(ValueError):
        ev.ndcg_at_k(["a"], GRADES, 0)


def test_the_judgments_cover_every_seed_paper_for_every_profile(shared: Path) -> None:
    pool = {paper.id for paper in ev.load_pool(shared / "seeds")}
    assert len(pool) == 204
    judgments = ev.load_judgments(ev.JUDGMENTS)
    titles = json.loads(ev.JUDGMENTS.read_text(encoding="utf-8"))["title"]
    assert set(titles) == pool
    assert set(judgments) >= PROFILES
    for name, judged in judgments.items():
        assert judged.interests, name
        assert set(judged.grades) == pool, name
        assert set(judged.grades.values()) <= {0, 1, 2}, name
        assert any(grade == 2 for grade in judged.grades.values()), name


def test_the_votes_rule_likes_the_first_clear_hits_by_id_and_dislikes_shown_misses() -> None:
    judged = ev.Judged(("x",), {"e": 2, "a": 2, "c": 1, "g": 2, "b": 0, "d": 0, "f": 2, "h": 0})
    likes, dislikes = ev.votes_of(judged, ["a", "h", "c", "d", "b", "e"])
    assert likes == ["a", "e", "f"]
    # In the order shown, graded 0, never a liked paper; at most 3.
    assert dislikes == ["h", "d", "b"]
    assert ev.votes_of(judged, ["a", "c"]) == (["a", "e", "f"], [])


class _ListedRanker:
    """Ranks every paper in one fixed order, and notes the likes it was given."""

    def __init__(self, order: list[str]) -> None:
        self.order = order
        self.likes: list[tuple[str, ...]] = []

    def rank(
        self, name: str, interests: tuple[str, ...], k: int, likes: tuple[str, ...] = ()
    ) -> list[str]:
        self.likes.append(tuple(likes))
        return self.order[:k]


def test_random_likes_are_clear_hits_drawn_alike_every_run_and_scored_without_them() -> None:
    judged = {"x": ev.Judged(("x",), {"a": 2, "b": 2, "c": 2, "d": 2, "e": 0, "f": 1})}
    # Every clear hit first: whichever three are liked, the one left leads, then f.
    ranker = _ListedRanker(["a", "b", "c", "d", "f", "e"])
    first = ev.evaluate_draws(ranker, judged, 10, 4)  # type: ignore[arg-type]
    drawn = {likes for likes in ranker.likes if likes}
    assert all(len(likes) == 3 and set(likes) <= {"a", "b", "c", "d"} for likes in drawn)
    assert ev.evaluate_draws(_ListedRanker(ranker.order), judged, 10, 4) == first  # type: ignore[arg-type]
    for name in ev.DRAW_RANKERS:
        assert first["x"][name] == {"p": pytest.approx(0.2), "ndcg": pytest.approx(1.0)}
    assert first["mean"] == first["x"]
