"""Ranking: which papers each subscriber gets, in which order, and why."""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from digest.identity import canonical_id
from digest.models import Candidate, Paper, Profile, ScoredPaper
from digest.rank.pool import Pool, build_pool
from digest.rank.ranker import rank, rank_many
from digest.rank.text_index import build_index, phrase_counts, phrase_stems, phrase_terms
from tests.seeds import seed_candidates_seen_once

TODAY = date(2026, 3, 14)


def candidate(
    title: str,
    abstract: str = "",
    *,
    id: str | None = None,
    authors: tuple[str, ...] = (),
    categories: tuple[str, ...] = (),
    code: bool = False,
    sources: int = 1,
    listings: int = 1,
    position: int | None = None,
    upvotes: int | None = None,
    age: int = 0,
) -> Candidate:
    paper = Paper(
        title=title,
        abstract=abstract,
        authors=authors,
        categories=categories,
        code_urls=("https://github.com/example/code",) if code else (),
    )
    seen = datetime(TODAY.year, TODAY.month, TODAY.day, 9, tzinfo=UTC) - timedelta(days=age)
    return Candidate(
        id=id or canonical_id(paper),
        paper=paper,
        sources=sources,
        listings=listings,
        best_position=position,
        upvotes=upvotes,
        first_seen=seen,
    )


# Papers on other subjects, so that every pool has a background to stand out from.
BACKGROUND = [
    candidate(
        "Protein Folding with Diffusion Priors",
        "We predict protein structures from sequences with a denoising diffusion prior and "
        "evaluate on folding benchmarks.",
    ),
    candidate(
        "A Survey of Reinforcement Learning for Robot Grasping",
        "Robotic grasping policies trained with reinforcement learning in simulation "
        "transfer to real robots.",
    ),
    candidate(
        "Multilingual Machine Translation at Scale",
        "A single translation model covers two hundred languages; we study tokenization "
        "and low-resource language pairs.",
    ),
    candidate(
        "Speech Enhancement in Noisy Rooms",
        "We remove reverberation and background noise from speech recordings with a "
        "lightweight convolutional model.",
    ),
    candidate(
        "Weather Forecasting with Learned Simulators",
        "Medium-range weather forecasts from a learned simulator trained on reanalysis "
        "data outperform numerical prediction.",
    ),
    candidate(
        "Tabular Data Synthesis for Privacy",
        "Synthetic tables preserve the statistics of private records while protecting "
        "individuals through differential privacy.",
    ),
]

GNN = candidate(
    "Scalable Graph Neural Networks for Molecules",
    "Message passing graph neural networks learn molecular properties from atoms and bonds.",
)
GNN_ACRONYM = candidate(
    "Pruning GNNs Without Retraining",
    "Graph neural networks (GNNs) are costly at inference. We prune GNNs after training "
    "and keep the accuracy of every pruned GNN.",
)
GRAPH_DATABASE = candidate(
    "Query Optimization for Graph Databases",
    "Graph databases store nodes and edges; we optimize graph queries, graph joins and "
    "graph storage layouts for transactional workloads.",
)
LINK_PREDICTION = candidate(
    "Link Prediction in Citation Networks",
    "We predict missing links between papers with graph neural networks trained on "
    "citation graphs; link prediction improves on every dataset.",
)


def pool_of(*candidates: Candidate, today: date = TODAY) -> Pool:
    return build_pool([*candidates, *BACKGROUND], today=today)


def titles(picks: tuple[ScoredPaper, ...]) -> list[str]:
    return [pick.candidate.paper.title for pick in picks]


def reasons_of(picks: tuple[ScoredPaper, ...], title: str) -> tuple[str, ...]:
    return next(pick.reasons for pick in picks if pick.candidate.paper.title == title)


@pytest.fixture(scope="module")
def seed_pool(shared: Path) -> Pool:
    """Every distinct paper of the seed dumps, as the quality evaluation sees them."""
    first_seen = datetime(2026, 3, 12, tzinfo=UTC)
    candidates = seed_candidates_seen_once(shared / "seeds", today=TODAY, first_seen=first_seen)
    return build_pool(candidates, today=TODAY)


# Phrase matching


def test_a_phrase_matches_its_plural_and_other_word_forms() -> None:
    pool = pool_of(GNN)
    picks = rank(pool, Profile("reader", interests=("Graph Neural Network",)))
    assert titles(picks)[0] == GNN.paper.title
    assert reasons_of(picks, GNN.paper.title)[0] == "matches: Graph Neural Network"


def test_an_acronym_the_text_defines_counts_as_the_phrase() -> None:
    index = build_index([(GNN_ACRONYM.paper.title, GNN_ACRONYM.paper.abstract)])
    terms = phrase_terms(index, phrase_stems(index, "graph neural networks"))
    assert terms is not None
    # Title: "GNNs". Abstract: the definition, then "GNNs" and "GNN" (the "(GNNs)" of the
    # definition itself does not count again).
    assert phrase_counts(index, terms).tolist() == [[1, 3]]


def test_an_acronym_counts_only_where_the_text_defines_it() -> None:
    undefined = candidate(
        "Fast GNN Training on GPUs", "We speed up GNN training with fused GPU kernels."
    )
    index = build_index([(c.paper.title, c.paper.abstract) for c in (GNN_ACRONYM, undefined)])
    terms = phrase_terms(index, phrase_stems(index, "graph neural networks"))
    assert terms is not None
    assert phrase_counts(index, terms).tolist() == [[1, 3], [0, 0]]


def test_the_acronym_ranks_a_paper_as_the_phrase_would() -> None:
    pool = pool_of(GNN_ACRONYM)
    picks = rank(pool, Profile("reader", interests=("graph neural networks",)))
    assert titles(picks)[0] == GNN_ACRONYM.paper.title
    assert "matches: graph neural networks" in reasons_of(picks, GNN_ACRONYM.paper.title)


def test_one_word_of_a_phrase_is_no_match() -> None:
    pool = pool_of(GNN, GNN_ACRONYM, LINK_PREDICTION, GRAPH_DATABASE)
    picks = rank(pool, Profile("reader", interests=("graph neural networks",)))
    assert set(titles(picks)[:3]) == {
        GNN.paper.title,
        GNN_ACRONYM.paper.title,
        LINK_PREDICTION.paper.title,
    }
    assert GRAPH_DATABASE.paper.title not in titles(picks)  # "graph" alone, many times


def test_a_title_match_outweighs_an_abstract_match() -> None:
    in_title = candidate(
        "Link Prediction with Random Walks", "We sample random walks over large social graphs."
    )
    in_abstract = candidate(
        "Random Walks over Large Social Graphs", "We sample random walks for link prediction."
    )
    picks = rank(pool_of(in_title, in_abstract), Profile("r", interests=("link prediction",)))
    assert titles(picks)[:2] == [in_title.paper.title, in_abstract.paper.title]
    assert picks[0].score > picks[1].score


def test_words_of_a_phrase_close_together_match_in_any_order() -> None:
    reworded = candidate(
        "Compressing Large Language Models", "Models shrink fourfold with no loss of accuracy."
    )
    picks = rank(pool_of(reworded), Profile("r", interests=("model compression",)))
    assert titles(picks)[0] == reworded.paper.title
    assert reasons_of(picks, reworded.paper.title)[0] == "matches: model compression"


# The hard case: relevant papers that never say the phrase


def test_video_understanding_finds_action_recognition(seed_pool: Pool) -> None:
    picks = rank(seed_pool, Profile("r", interests=("video understanding",), max_papers=10))
    found = " ".join(titles(picks))
    assert "Action Recognition" in found
    assert "Activity Recognition" in found
    semantic = [p for p in picks if "related to: video understanding" in p.reasons]
    assert len(semantic) >= 5


# Filters


def test_exclude_phrases_drop_papers_in_any_word_form() -> None:
    pool = pool_of(GNN, GNN_ACRONYM, LINK_PREDICTION)
    profile = Profile("r", interests=("graph neural networks",), exclude=("pruned GNN",))
    picked = titles(rank(pool, profile))
    assert GNN_ACRONYM.paper.title not in picked  # says "prune GNNs", "pruned GNN"
    assert GNN.paper.title in picked


def test_category_filters() -> None:
    vision = candidate("Video Action Recognition", "Action recognition.", categories=("cs.CV",))
    language = candidate("Action Recognition in Text", "Action recognition.", categories=("cs.CL",))
    physics = candidate("Action Principles", "Action recognition.", categories=("physics.gen-ph",))
    unknown = candidate("Action Recognition Benchmarks", "Action recognition.")
    pool = pool_of(vision, language, physics, unknown)

    def picked(
        categories: tuple[str, ...] = (), exclude_categories: tuple[str, ...] = ()
    ) -> set[str]:
        profile = Profile(
            "r",
            interests=("action recognition",),
            categories=categories,
            exclude_categories=exclude_categories,
        )
        return set(titles(rank(pool, profile)))

    everything = {vision.paper.title, language.paper.title, physics.paper.title}
    assert everything | {unknown.paper.title} <= picked()
    # A paper without categories passes: not knowing is not a mismatch.
    assert picked(categories=("CS.CV",)) == {vision.paper.title, unknown.paper.title}
    assert picked(categories=("cs",)) == {
        vision.paper.title,
        language.paper.title,
        unknown.paper.title,
    }
    assert physics.paper.title not in picked(exclude_categories=("physics",))
    assert picked(categories=("cs",), exclude_categories=("cs.CL",)) == {
        vision.paper.title,
        unknown.paper.title,
    }


def test_delivered_papers_never_come_back() -> None:
    pool = pool_of(GNN, GNN_ACRONYM, LINK_PREDICTION)
    first = rank(pool, Profile("r", interests=("graph neural networks",), max_papers=1))
    delivered = frozenset(pick.candidate.id for pick in first)
    again = rank(pool, Profile("r", interests=("graph neural networks",), delivered=delivered))
    assert again
    assert not delivered & {pick.candidate.id for pick in again}
    trending = rank(pool, Profile("r", delivered=delivered, max_papers=100))
    assert not delivered & {pick.candidate.id for pick in trending}


def test_pinned_authors_boost_and_say_so() -> None:
    hers = candidate("Notes on Translation Engines", "Engines.", authors=("Ádá Lovelace",))
    pool = pool_of(GNN, LINK_PREDICTION, hers)
    picks = rank(
        pool, Profile("r", interests=("graph neural networks",), authors=("ada lovelace",))
    )
    assert titles(picks)[0] == hers.paper.title  # not relevant, but pinned
    assert "by pinned author: Ádá Lovelace" in picks[0].reasons
    assert picks[0].score >= 1.0


def test_no_match_gives_nothing() -> None:
    pool = pool_of(GNN, LINK_PREDICTION)
    assert rank(pool, Profile("r", interests=("quantum chromodynamics",))) == ()


def test_min_score_drops_weaker_papers() -> None:
    pool = pool_of(GNN, GNN_ACRONYM, LINK_PREDICTION)
    picks = rank(pool, Profile("r", interests=("graph neural networks",)))
    cut = picks[1].score
    kept = rank(pool, Profile("r", interests=("graph neural networks",), min_score=cut))
    assert kept == tuple(pick for pick in picks if pick.score >= cut)
    assert rank(pool, Profile("r", interests=("graph neural networks",), min_score=5.0)) == ()


# Everything trending


def test_an_interest_of_stop_words_alone_matches_nothing_rather_than_everything() -> None:
    """A reader who wrote interests wants papers on them: "the of and" leaves no word to
    match, so nothing, not every trending paper; one with no letter at all is no interest."""
    pool = build_pool(
        [candidate("Graph neural networks at scale", "We train graph neural networks.")],
        today=TODAY,
    )
    assert rank(pool, Profile("r", interests=("the of and", "a"))) == ()
    assert titles(rank(pool, Profile("r", interests=("the", "graph neural networks")))) == [
        "Graph neural networks at scale"
    ]
    assert len(rank(pool, Profile("r", interests=(";;;",)))) == 1, "as without interests"


def test_without_interests_trending_then_freshness_decide() -> None:
    hot = candidate("Hot", "Text one.", sources=3, listings=4, position=1, upvotes=118, age=1)
    # Ids that would put "Old" first on a tie: freshness alone must put "New" first.
    new = candidate("New", "Text two.", age=0, id="arxiv:2603.00002")
    old = candidate("Old", "Text three.", age=5, id="arxiv:2603.00001")
    picks = rank(build_pool([old, new, hot], today=TODAY), Profile("r"))
    assert titles(picks) == ["Hot", "New", "Old"]
    assert picks[0].reasons == (
        "from 3 sources",
        "in 4 listings",
        "#1 in a listing",
        "118 upvotes",
        "first seen yesterday",
    )
    assert picks[1].reasons == ("new today",)
    assert picks[2].reasons == ("first seen 5 days ago",)
    assert all(0.0 <= pick.score <= 0.35 for pick in picks)


def test_max_papers_caps_the_picks() -> None:
    pool = pool_of()
    assert len(rank(pool, Profile("r", max_papers=4))) == 4
    assert rank(pool, Profile("r", max_papers=0)) == ()


# Diversity


def test_near_identical_papers_do_not_both_make_the_top() -> None:
    abstract = (
        "We compress vision transformers with structured pruning of attention heads and "
        "distillation, halving latency on mobile phones with no loss of accuracy."
    )
    first = candidate("Pruning Vision Transformers for Mobile", abstract, upvotes=50)
    second = candidate("Pruning Vision Transformers for Mobile Phones", abstract, upvotes=40)
    other = candidate(
        "Quantized Language Models on Laptops",
        "Four-bit quantization is a form of model compression that lets language models "
        "run on laptops.",
    )
    pool = pool_of(first, second, other)
    profile = Profile("r", interests=("model compression", "pruning"), max_papers=2)
    # By score alone the twins would take both places...
    everything = rank(pool, dataclasses.replace(profile, max_papers=3))
    assert titles(everything) == [first.paper.title, second.paper.title, other.paper.title]
    # ...but the second twin adds nothing: the distinct paper takes its place.
    assert titles(rank(pool, profile)) == [first.paper.title, other.paper.title]


# Reasons


def test_reasons_tell_what_contributed() -> None:
    both = candidate(
        "Graph Neural Networks for Link Prediction",
        "Link prediction with graph neural networks.",
        code=True,
        listings=3,
        position=12,
        age=2,
    )
    picks = rank(
        pool_of(both, GNN), Profile("r", interests=("link prediction", "graph neural network"))
    )
    assert picks[0].candidate is both
    assert picks[0].reasons == (
        "matches: link prediction, graph neural network",
        "in 3 listings",  # position 12 is not worth telling
        "code available",
        "first seen 2 days ago",
    )


def test_scores_are_non_negative_rounded_and_best_first(seed_pool: Pool) -> None:
    picks = rank(seed_pool, Profile("r", interests=("diffusion models", "graph neural networks")))
    assert len(picks) == 10
    scores = [pick.score for pick in picks]
    assert scores == sorted(scores, reverse=True)
    assert all(score >= 0 and round(score, 4) == score for score in scores)


# Determinism


def test_ties_break_on_id() -> None:
    twins = [
        candidate("Paper B", "Words about birds.", id="arxiv:2601.00002"),
        candidate("Paper A", "Words about fish.", id="arxiv:2601.00001"),
        candidate("Paper C", "Words about trees.", id="arxiv:2601.00003"),
    ]
    picks = rank(build_pool(twins, today=TODAY), Profile("r"))
    assert len({pick.score for pick in picks}) == 1
    assert [pick.candidate.id for pick in picks] == [
        "arxiv:2601.00001",
        "arxiv:2601.00002",
        "arxiv:2601.00003",
    ]


def test_the_order_of_candidates_does_not_matter(seed_pool: Pool) -> None:
    shuffled = list(seed_pool.candidates)
    random.Random(7).shuffle(shuffled)
    again = build_pool(shuffled, today=TODAY)
    profile = Profile("r", interests=("video understanding", "recommender systems"))
    assert rank(again, profile) == rank(seed_pool, profile)


PROFILES = [
    Profile("gnn", interests=("graph neural networks", "link prediction")),
    Profile("video", interests=("video understanding",), max_papers=5),
    Profile("trending"),
    Profile("compression", interests=("model compression", "efficient inference"), max_papers=20),
    Profile("recsys", interests=("recommender systems",), exclude=("graph neural networks",)),
    Profile("nothing", interests=("quantum chromodynamics",)),
    Profile("pinned", interests=("diffusion models",), authors=("Nobody Known",), min_score=0.3),
    Profile("cv", categories=("cs.CV",), exclude_categories=("cs.LG",), max_papers=3),
]


@pytest.mark.parametrize("batch_size", [1, 3, 2048])
def test_rank_many_gives_what_rank_gives(seed_pool: Pool, batch_size: int) -> None:
    alone = [rank(seed_pool, profile) for profile in PROFILES]
    assert list(rank_many(seed_pool, PROFILES, batch_size=batch_size)) == alone
    assert [len(picks) for picks in alone] == [10, 5, 10, 20, 5, 0, 10, 3]


def test_an_empty_pool_gives_nothing() -> None:
    pool = build_pool([], today=TODAY)
    assert rank(pool, Profile("r", interests=("graph neural networks",))) == ()
    assert list(rank_many(pool, [Profile("a"), Profile("b")])) == [(), ()]


def test_a_batch_holds_one_profile_at_least() -> None:
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        rank_many(build_pool([], today=TODAY), [Profile("a")], batch_size=0)


def test_by_words_every_judged_profile_but_traffic_ranks_as_well_as_plain_bm25(
    shared: Path,
) -> None:
    """The hand-judged seed set (bench.relevance_eval): nDCG@10 against BM25 over title
    and abstract. Traffic is the known exception: its papers never say the phrase, and
    its words are road traffic's too; the sentence encoder settles it (test_semantic)."""
    from bench import relevance_eval as ev

    pool = ev.load_pool(shared / "seeds")
    rankers = {"bm25": ev.Bm25Baseline(pool), "ours": ev.OurRanker(pool, "off")}
    results = ev.evaluate(rankers, ev.load_judgments(), ev.K)
    below = {
        name for name, scores in results.items() if scores["ours"]["ndcg"] < scores["bm25"]["ndcg"]
    }
    assert below == {"traffic"}
    assert results["mean"]["ours"]["ndcg"] > 0.8


def test_interests_the_pool_holds_nothing_about_get_no_papers_by_words(shared: Path) -> None:
    """Scores standardized over the pool leave a tail for any phrase. No seed paper is
    about these fields (bench.relevance_eval.OFF_TOPIC); each has a word no paper says
    ("protein" is said, in a GNN paper's list of datasets, "folding" is not) or no
    two words any paper holds together: nothing is sent on them, where BM25 has papers
    holding one of their words for each."""
    from bench import relevance_eval as ev

    pool = ev.load_pool(shared / "seeds")
    picks = ev.off_topic_picks(ev.Bm25Baseline(pool), ev.OurRanker(pool, "off"), ev.K)
    assert {phrase: found["ours"] for phrase, found in picks.items()} == dict.fromkeys(
        ev.OFF_TOPIC, 0
    )
    assert all(found["bm25"] > 0 for found in picks.values())


def test_a_phrase_no_paper_holds_every_word_of_is_seeded_by_papers_with_most_of_them(
    shared: Path,
) -> None:
    """No seed paper has all of "network pruning and quantization": the papers with two
    of its three words stand for the topic, and the reader gets pruning and quantization
    papers instead of nothing."""
    from bench import relevance_eval as ev

    pool = build_pool(ev.load_pool(shared / "seeds"), today=ev.TODAY)
    reader = Profile("r", interests=("network pruning and quantization",), max_papers=10)
    grades = ev.load_judgments()["compression"].grades
    picked = [grades[pick.candidate.id] for pick in rank(pool, reader)]
    assert len(picked) == 10 and sum(grade >= 1 for grade in picked) >= 9


def test_by_words_the_profiles_reworded_rank_as_well_as_plain_bm25_on_average(
    shared: Path,
) -> None:
    """Each judged profile asked in other words (bench.relevance_eval.REWORDINGS). By
    words one wording still finds nothing ("radiology scans": no paper says either
    word with another of the phrase), and the mean stays at or above BM25's."""
    from bench import relevance_eval as ev

    pool = ev.load_pool(shared / "seeds")
    rankers = {"bm25": ev.Bm25Baseline(pool), "ours": ev.OurRanker(pool, "off")}
    results = ev.evaluate_rewordings(rankers, ev.load_judgments(), ev.K)
    nothing = {name for name, scores in results.items() if scores["ours"]["p"] == 0}
    assert nothing == {"medical"}
    assert results["mean"]["ours"]["ndcg"] >= results["mean"]["bm25"]["ndcg"]
