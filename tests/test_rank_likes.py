"""Likes and dislikes: how a reader's votes name papers and reshape their picks."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pytest

from digest.config import Settings, SubscriberSettings
from digest.errors import ConfigError
from digest.identity import canonical_id
from digest.models import Candidate, Paper, Profile, ScoredPaper
from digest.rank.pool import Pool, build_pool, typical_closeness
from digest.rank.ranker import rank, rank_many
from digest.rank.text_index import vectorize
from digest.rank.votes import check_vote, vote_key, vote_keys
from digest.subscribers import resolve
from tests.seeds import seed_candidates_seen_once

TODAY = date(2026, 3, 14)
VIDEO = ("video understanding",)


@pytest.fixture(scope="module")
def seed_pool(shared: Path) -> Pool:
    """Every distinct paper of the seed dumps."""
    first_seen = datetime(2026, 3, 12, tzinfo=UTC)
    candidates = seed_candidates_seen_once(shared / "seeds", today=TODAY, first_seen=first_seen)
    return build_pool(candidates, today=TODAY)


def id_of(pool: Pool, title: str) -> str:
    return next(c.id for c in pool.candidates if c.paper.title.startswith(title))


def titles(picks: tuple[ScoredPaper, ...]) -> list[str]:
    return [pick.candidate.paper.title for pick in picks]


def chest(title: str) -> bool:
    """Whether a seed paper's title says it is about chest radiographs."""
    return any(word in title for word in ("Chest", "X-Ray", "Thoracic"))


# Ten papers on ten subjects; the first has an arXiv id to vote by.
TEN_TOPICS = [
    ("Skeleton Action Recognition", "Action recognition from skeleton video of people."),
    ("Video Action Transformers", "Recognizing human actions of people in video."),
    ("Protein Folding Priors", "Protein structures from sequences with priors."),
    ("Speech Enhancement", "Removing noise from speech recordings in rooms."),
    ("Weather Simulators", "Medium-range weather forecasts from learned simulators."),
    ("Tabular Synthesis", "Synthetic tables that protect private records."),
    ("Robot Grasping", "Grasping policies trained in simulation for robots."),
    ("Machine Translation", "One translation model for two hundred languages."),
    ("Graph Databases", "Query optimization for stores of nodes and edges."),
    ("Compiler Autotuning", "Searching loop schedules for tensor compilers."),
]


def ten_topics(*more: Paper) -> Pool:
    """A pool of TEN_TOPICS (the first as arXiv 2501.00001) and `more`."""
    papers = [Paper(title, abstract) for title, abstract in TEN_TOPICS] + list(more)
    papers[0] = dataclasses.replace(papers[0], arxiv_id="2501.00001")
    seen = datetime(2026, 3, 14, tzinfo=UTC)
    return build_pool(
        [Candidate(canonical_id(p), p, 1, 1, None, None, seen) for p in papers], today=TODAY
    )


# How a vote names a paper


@pytest.mark.parametrize(
    ("vote", "key"),
    [
        ("2508.13167", "arxiv:2508.13167"),
        ("2508.13167v2", "arxiv:2508.13167"),
        ("arXiv:2508.13167v1", "arxiv:2508.13167"),
        ("https://arxiv.org/abs/2508.13167v3", "arxiv:2508.13167"),
        ("math/0502287", "arxiv:math/0502287"),
        ("10.1145/3292500.3330919", "doi:10.1145/3292500.3330919"),
        ("doi:10.1145/ABC.1", "doi:10.1145/abc.1"),
        ("https://doi.org/10.1145/abc", "doi:10.1145/abc"),
        ("title:84110ada629060d8", "title:84110ada629060d8"),
        ("  2508.13167  ", "arxiv:2508.13167"),
    ],
)
def test_a_vote_names_a_paper_by_any_id_a_reader_can_copy(vote: str, key: str) -> None:
    assert vote_key(vote) == key


@pytest.mark.parametrize("vote", ["", "hello", "title:xyz", "arxiv:hello", "doi:nothing"])
def test_a_vote_that_names_no_paper_is_refused_with_what_to_give(vote: str) -> None:
    assert vote_key(vote) is None
    with pytest.raises(ValueError, match="names no paper: give an arXiv id"):
        check_vote(vote)


def test_vote_keys_drop_votes_naming_nothing_and_repeats() -> None:
    assert vote_keys(["2508.13167v1", "junk", "arXiv:2508.13167", "10.1234/x"]) == (
        "arxiv:2508.13167",
        "doi:10.1234/x",
    )


# Likes


def test_liked_papers_never_reappear_and_their_kin_come_first(seed_pool: Pool) -> None:
    liked = [
        id_of(seed_pool, "Two-stream Spatiotemporal Feature"),
        id_of(seed_pool, "TS-LSTM and Temporal-Inception"),
    ]
    before = rank(seed_pool, Profile("r", interests=VIDEO))
    after = rank(seed_pool, Profile("r", interests=VIDEO, likes=tuple(liked)))
    assert {p.candidate.id for p in before} >= set(liked)
    assert not {p.candidate.id for p in after} & set(liked)
    assert len(after) == 10
    reasons = [r for pick in after for r in pick.reasons if r.startswith("like: ")]
    assert (
        "like: TS-LSTM and Temporal-Inception: Exploiting Spatiotemporal Dynamics for "
        "Activity Recognition" in reasons
    )


def test_likes_alone_pick_papers_like_the_liked_ones(seed_pool: Pool) -> None:
    liked = tuple(
        id_of(seed_pool, title)
        for title in ("CheXNet", "BoMD: Bag of Multi-label", "Chest ImaGenome")
    )
    picks = rank(seed_pool, Profile("r", likes=liked, max_papers=4))
    assert all(chest(title) for title in titles(picks)), titles(picks)
    assert all(pick.reasons[0].startswith("like: ") for pick in picks)


def test_votes_naming_no_paper_of_the_pool_change_nothing(seed_pool: Pool) -> None:
    plain = Profile("r", interests=VIDEO)
    voted = dataclasses.replace(plain, likes=("2501.00001",), dislikes=("10.1234/none",))
    assert rank(seed_pool, voted) == rank(seed_pool, plain)


def test_a_like_by_arxiv_id_with_version_finds_the_candidate() -> None:
    pool = ten_topics()
    picks = rank(pool, Profile("r", likes=("arXiv:2501.00001v3",)))
    assert titles(picks)[0] == "Video Action Transformers"
    assert "Skeleton Action Recognition" not in titles(picks)


def test_a_broad_paper_close_to_everything_does_not_outrank_the_liked_papers_kin() -> None:
    """A survey that says a little of every paper is closer to the liked one than its
    real kin is, but it is as close to every other paper too: measured against what is
    usual for each paper (`Typical`), the kin comes first."""
    survey = Paper(
        "A Survey of Deep Learning Applications",
        " ".join(abstract for _, abstract in TEN_TOPICS)
        + " Skeleton action recognition of people from video.",
    )
    pool = ten_topics(survey)
    picks = titles(rank(pool, Profile("r", likes=("2501.00001",), max_papers=2)))
    assert picks == ["Video Action Transformers", "A Survey of Deep Learning Applications"]


def test_how_close_a_paper_usually_is_leaves_its_likeness_to_itself_out() -> None:
    topical = np.array([[1.0, 0.2, 0.4], [0.2, 1.0, 0.6], [0.4, 0.6, 1.0]], dtype=np.float32)
    typical = typical_closeness(topical)
    assert typical.mean == pytest.approx([0.3, 0.4, 0.5])
    assert typical.spread == pytest.approx([0.1, 0.2, 0.1])
    alone = typical_closeness(np.ones((1, 1), dtype=np.float32))
    assert (alone.mean.tolist(), alone.spread.tolist()) == ([0.0], [0.0])


def test_a_liked_paper_outside_the_pool_counts_when_its_text_is_given(seed_pool: Pool) -> None:
    outside = Paper(
        "Chest X-Ray Classification with Noisy Radiology Labels",
        "We classify thoracic diseases in chest X-ray images from radiology reports, "
        "training on noisy labels of a large chest X-ray dataset.",
        arxiv_id="2601.00001",
    )
    profile = Profile("r", likes=("2601.00001",), max_papers=3)
    assert rank(seed_pool, profile) == rank(seed_pool, Profile("r", max_papers=3))
    picks = rank(seed_pool, profile, voted={"arxiv:2601.00001": outside})
    assert all(chest(title) for title in titles(picks)), titles(picks)
    assert picks[0].reasons[0] == f"like: {outside.title}"


def test_a_text_outside_the_pool_is_placed_as_the_pool_places_its_own(seed_pool: Pool) -> None:
    index = seed_pool.phrases.index
    docs = [0, 57, 150]
    texts = [
        (seed_pool.candidates[d].paper.title, seed_pool.candidates[d].paper.abstract) for d in docs
    ]
    cosines = np.asarray((vectorize(index, texts) @ index.vectors.T).toarray())
    placed = seed_pool.similar.topical_to(cosines)
    assert np.allclose(placed, seed_pool.similar.topical[docs], atol=1e-5)


# Dislikes


def test_dislikes_push_similar_papers_down(seed_pool: Pool) -> None:
    generation = "StreamingT2V: Consistent, Dynamic, and Extendable Long Video Generation from Text"
    profile = Profile("r", interests=VIDEO, max_papers=20)
    before = titles(rank(seed_pool, profile))
    disliked = (id_of(seed_pool, "Video-Infinity"), id_of(seed_pool, "STREAM: Spatio-TempoRal"))
    after = titles(rank(seed_pool, dataclasses.replace(profile, dislikes=disliked)))
    assert generation in before
    assert generation not in after or after.index(generation) > before.index(generation)
    assert not {"Video-Infinity: Distributed Long Video Generation"} & set(after)


def test_a_profile_scores_the_same_alone_or_in_a_batch_with_votes(seed_pool: Pool) -> None:
    ids = [c.id for c in seed_pool.candidates]
    profiles = [
        Profile("a", interests=VIDEO, likes=(ids[0], ids[2])),
        Profile("b", interests=("graph neural networks",)),
        Profile("c", likes=(ids[5],), dislikes=(ids[7],)),
        Profile("d", interests=("diffusion models",), dislikes=(ids[49],)),
    ]
    alone = [rank(seed_pool, profile) for profile in profiles]
    assert list(rank_many(seed_pool, profiles, batch_size=3)) == alone


# Where votes come from


def test_a_subscriber_profile_merges_configured_and_given_votes() -> None:
    settings = Settings(subscribers=[])
    member = resolve(
        SubscriberSettings(email="a@example.org", likes=("2501.00001", "2501.00002")), settings
    )
    profile = member.profile(frozenset(), likes=["2501.00003"], dislikes=["2501.00002"])
    assert profile.likes == ("2501.00001", "2501.00003")
    assert profile.dislikes == ("2501.00002",)
    assert member.profile().likes == ("2501.00001", "2501.00002")


def test_a_vote_from_the_web_overrules_the_config_however_the_paper_is_written() -> None:
    # Web votes are stored as paper ids ("arxiv:..."); the config says "2501.00002".
    settings = Settings(subscribers=[])
    member = resolve(
        SubscriberSettings(email="a@example.org", likes=("2501.00001", "2501.00002v3")), settings
    )
    profile = member.profile(frozenset(), likes=["arxiv:2501.00001"], dislikes=["arxiv:2501.00002"])
    assert profile.likes == ("2501.00001",)  # the same paper once, not twice
    assert profile.dislikes == ("arxiv:2501.00002",)


def test_the_config_refuses_a_vote_that_names_no_paper(tmp_path: Path) -> None:
    from digest.config import load_config

    path = tmp_path / "digest.toml"
    path.write_text(
        '[[subscribers]]\nemail = "a@example.org"\ndislikes = ["2501.00001", "a paper"]\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=r"subscribers\.0\.dislikes: .*'a paper' names no paper"):
        load_config(path)


def test_a_liked_paper_older_than_the_edition_is_read_from_the_store(tmp_path: Path) -> None:
    from digest.models import Sighting
    from digest.pipeline.pick import rank_stored
    from digest.state.store import Store

    def listed(paper: Paper, day: date) -> tuple[Paper, Sighting]:
        seen = datetime(day.year, day.month, day.day, 8, tzinfo=UTC)
        return paper, Sighting("feed", "feed.xml", 1, day, seen)

    old = Paper(
        "Skeleton-Based Action Recognition with Graph Convolutions",
        "We recognize human actions in video from skeleton joints over time.",
        arxiv_id="2501.00001",
    )
    today = [
        Paper("Temporal Action Detection in Untrimmed Video", "Finding human actions in video."),
        Paper("Protein Folding Priors", "Protein structures from sequences with priors."),
        Paper("Speech Enhancement", "Removing noise from speech recordings in rooms."),
        Paper("Weather Simulators", "Medium-range weather forecasts from learned simulators."),
        Paper("Tabular Synthesis", "Synthetic tables that protect private records."),
        Paper("Robot Grasping", "Grasping policies trained in simulation for robots."),
        Paper("Machine Translation", "One translation model for two hundred languages."),
    ]
    with Store(f"sqlite:///{tmp_path / 'digest.db'}") as store:
        now = datetime(2026, 3, 14, 9, tzinfo=UTC)
        store.papers.save([listed(old, date(2026, 3, 1))], now=now)
        store.papers.save([listed(paper, TODAY) for paper in today], now=now)
        profile = Profile("r", likes=("2501.00001v2",), max_papers=2)
        picks = rank_stored(store, profile, edition=TODAY, days=1)
    assert old.title not in titles(picks)
    assert titles(picks)[0] == "Temporal Action Detection in Untrimmed Video"
    assert picks[0].reasons[0] == f"like: {old.title}"
